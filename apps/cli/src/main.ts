#!/usr/bin/env node
import { closeSync, openSync, writeSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ESCAPE_HELP, EscapeReader } from './escape';
import {
  describeOutcome,
  exitStatus,
  prepare,
  type RunOptions,
  statsText,
  statusLine,
  UsageError,
} from './run';
import { parseTraceItems, TRACE_ITEMS, traceHooks } from './trace';

const program = new Command();
program.name('ringzero').description('Run x86 guests in the terminal').exitOverride();

program
  .command('run')
  .description(
    'boot a guest with its serial console on this terminal (C-a h for help); without --kernel, the bundled demo kernel',
  )
  .option(
    '--kernel <file>',
    'Linux bzImage (boot protocol 2.05+) or Multiboot kernel; default: the demo kernel',
  )
  .option('--initrd <file>', 'initial ramdisk (a module for Multiboot kernels)')
  .option('--append <cmdline>', 'kernel command line (default: console=ttyS0 for Linux)')
  .option('--memory <size>', 'guest RAM, e.g. 128M or 1G', '128M')
  .option('--deterministic', 'virtual time from the instruction count; same inputs, same output', false)
  .option('--max-instructions <n>', 'stop after this many guest instructions')
  .option('--stats', 'print statistics when the run ends (counts I/O by port)', false)
  .option('--no-status', 'no live status (MIPS, virtual time) on stderr')
  .option('--no-jit', 'run every instruction in tier 0 (no block translation)')
  .option(
    '--jit-backend <kind>',
    'what tier 1 emits: wasm (WebAssembly, compiled on a worker thread; the default up to 4 GiB of RAM) or js (JavaScript)',
  )
  .option('--trace <items>', `log ${TRACE_ITEMS.join(',')} (comma separated) to stderr or --trace-file`)
  .option('--trace-file <file>', 'where --trace writes (default: stderr)')
  .action(async (opts: RunOptions & { status: boolean; trace?: string; traceFile?: string }) => {
    const out = process.stdout;
    const t0 = performance.now();
    let items: ReturnType<typeof parseTraceItems> | undefined;
    if (opts.trace !== undefined) {
      try {
        items = parseTraceItems(opts.trace);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
    const { vm, limit } = prepare(opts, (b) => out.write(Buffer.of(b)));
    let traceFd: number | undefined;
    if (items) {
      const fd = opts.traceFile === undefined ? 2 : openTraceFile(opts.traceFile);
      traceFd = fd;
      vm.cpu.trace = traceHooks(items, (line) => writeSync(fd, `${line}\n`));
    }
    vm.bus.countAccesses = opts.stats;
    // The live status stays out of the serial stream: in the terminal's title when the console
    // shares the terminal, as a rewritten line when only stderr is a terminal.
    const err = process.stderr;
    const statusMode = !opts.status || !err.isTTY ? 'off' : out.isTTY ? 'title' : 'line';
    let statusAt = performance.now();
    let statusInstructions = 0;
    const showStatus = () => {
      const now = performance.now();
      if (statusMode === 'off' || now - statusAt < 1000) return;
      const text = statusLine(vm, statusInstructions, now - statusAt);
      statusAt = now;
      statusInstructions = vm.cpu.instructions;
      err.write(statusMode === 'title' ? `\x1b]0;${text}\x07` : `\r${text}\x1b[K`);
    };
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
      showStatus();
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
    if (statusMode === 'title') err.write('\x1b]0;\x07');
    if (statusMode === 'line') err.write('\r\x1b[K');
    if (traceFd !== undefined && traceFd !== 2) closeSync(traceFd);
    if (stdin.isTTY) stdin.setRawMode(false);
    stdin.pause();
    const ms = performance.now() - t0;
    process.stderr.write(`\nringzero: ${quit ? 'quit from the console' : describeOutcome(outcome, vm)}\n`);
    if (opts.stats) process.stderr.write(`${statsText(vm, ms)}\n`);
    process.exitCode = quit ? 0 : exitStatus(outcome);
  });

function openTraceFile(path: string): number {
  try {
    return openSync(path, 'w');
  } catch (e) {
    throw new UsageError(`cannot write the trace file "${path}": ${(e as Error).message}`);
  }
}

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode;
    return;
  }
  process.stderr.write(`ringzero: ${e instanceof UsageError ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
