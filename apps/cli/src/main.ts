#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ESCAPE_HELP, EscapeReader } from './escape';
import { describeOutcome, exitStatus, prepare, type RunOptions, statsText, UsageError } from './run';

const program = new Command();
program.name('ringzero').description('Run x86 guests in the terminal').exitOverride();

program
  .command('run')
  .description('boot a Linux bzImage with the serial console on this terminal (C-a h for help)')
  .requiredOption('--kernel <file>', 'Linux bzImage (boot protocol 2.05 or newer)')
  .option('--initrd <file>', 'initial ramdisk')
  .option('--append <cmdline>', 'kernel command line', 'console=ttyS0')
  .option('--memory <size>', 'guest RAM, e.g. 128M or 1G', '128M')
  .option('--deterministic', 'virtual time from the instruction count; same inputs, same output', false)
  .option('--max-instructions <n>', 'stop after this many guest instructions')
  .option('--stats', 'print statistics when the run ends', false)
  .action(async (opts: RunOptions) => {
    const out = process.stdout;
    const t0 = performance.now();
    const { vm, limit } = prepare(opts, (b) => out.write(Buffer.of(b)));
    const escapeReader = new EscapeReader();
    let quit = false;
    const stdin = process.stdin;
    if (stdin.isTTY) stdin.setRawMode(true);
    stdin.on('data', (chunk: Buffer) => {
      const { guest, actions } = escapeReader.feed(new Uint8Array(chunk));
      if (guest.length > 0) vm.serialInput(guest);
      for (const a of actions) {
        if (a === 'quit') quit = true;
        else if (a === 'help') process.stderr.write(`\r\n${ESCAPE_HELP}\r\n`);
        else
          process.stderr.write(`\r\n${statsText(vm, performance.now() - t0).replaceAll('\n', '\r\n')}\r\n`);
      }
    });
    stdin.resume();
    let outcome = vm.run(0);
    for (;;) {
      const left = limit - vm.cpu.instructions;
      if (quit || left <= 0) break;
      outcome = vm.run(Math.min(2_000_000, left));
      if (outcome.kind === 'limit') {
        await new Promise((r) => setImmediate(r));
        continue;
      }
      if (outcome.kind === 'idle') {
        // Host-paced time: sleep (briefly) until the next device event or host input.
        const waitMs = Number.isFinite(outcome.untilNs)
          ? Math.min(10, Math.max(1, (outcome.untilNs - vm.now()) / 1e6))
          : 10;
        await new Promise((r) => setTimeout(r, waitMs));
        vm.skipTo(Number.isFinite(outcome.untilNs) ? outcome.untilNs : vm.now() + waitMs * 1e6);
        continue;
      }
      break;
    }
    if (stdin.isTTY) stdin.setRawMode(false);
    stdin.pause();
    const ms = performance.now() - t0;
    process.stderr.write(`\nringzero: ${quit ? 'quit from the console' : describeOutcome(outcome, vm)}\n`);
    if (opts.stats) process.stderr.write(`${statsText(vm, ms)}\n`);
    process.exitCode = quit ? 0 : exitStatus(outcome);
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode;
    return;
  }
  process.stderr.write(`ringzero: ${e instanceof UsageError ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
