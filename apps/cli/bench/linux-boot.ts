/**
 * Boots the same Debian i386 kernel and busybox initramfs (from `pnpm fetch-linux-guest`) in
 * ringzero and in v86, one after the other in the same process, drives the same scripted serial
 * session in both, and prints wall time to the shell prompt and to the end of the session,
 * retired instructions, MIPS and the ringzero/v86 ratios.
 *
 *   pnpm --filter @ringzero/cli bench
 *
 * v86 needs a SeaBIOS image, which its npm package does not ship: the bench takes Debian's
 * (`apt-get install seabios`) or the files named by V86_BIOS and V86_VGA_BIOS.
 * RINGZERO_BENCH_V86_TIMEOUT (seconds, default 300) bounds the v86 run. ringzero runs as the CLI
 * does by default (tier 1 emits WebAssembly, compiled on a worker thread, with the CLI's V8
 * tiering budget); RINGZERO_JIT_BACKEND=js runs it with tier 1 emitting JavaScript.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  describeExpectation,
  indexAfter,
  runSession,
  SerialCollector,
  type SessionStep,
  VirtualMachine,
} from '@ringzero/hypervisor';
import { V86 } from 'v86';
import { fetchLinuxGuest, type LinuxGuest } from '../../../scripts/fetch-linux-guest';
import { backendOptions } from '../src/run';

const MEMORY = 128 << 20;
const CMDLINE = 'console=ttyS0 cryptomgr.notests';
const PROMPT = '/root # ';
/** The same script for both peers: wait for the expectation, then type the command. */
const STEPS: readonly SessionStep[] = [
  { expect: PROMPT, send: 'uname -a\r' },
  { expect: PROMPT, send: 'cat /proc/cpuinfo\r' },
  { expect: PROMPT, send: 'seq 1 20000 > /tmp/f; sha256sum /tmp/f\r' },
  {
    expect: PROMPT,
    send: `awk 'BEGIN { s = 0; for (i = 1; i <= 1000; i++) s += 1 / (i * i); printf "%.12f %.6e\\n", s, s * 6 }'\r`,
  },
  { expect: PROMPT, send: 'poweroff -f\r' },
  // Neither machine has ACPI, so the kernel halts; either message ends the session.
  { expect: /reboot: (System halted|Power down)/ },
];
const V86_TIMEOUT_S = Number(process.env.RINGZERO_BENCH_V86_TIMEOUT ?? 300);
const RINGZERO_STEP_BUDGET = 6e9;
/** busybox ash asks the terminal for the cursor position before each prompt. */
const CURSOR_QUERY = '\x1b[6n';

interface PeerResult {
  readonly peer: string;
  /** Seconds from creating the machine to the first prompt. */
  readonly promptS: number;
  /** Seconds from creating the machine to the last expectation. */
  readonly endS: number;
  readonly promptInstructions: number;
  readonly totalInstructions: number;
  readonly transcript: string;
}

class PeerFailure extends Error {
  constructor(
    readonly peer: string,
    readonly reason: string,
    readonly transcript: string,
  ) {
    super(`${peer}: ${reason}`);
  }
}

function bytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}

function arrayBuffer(path: string): ArrayBuffer {
  const b = readFileSync(path);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

function guest(): LinuxGuest {
  try {
    return fetchLinuxGuest();
  } catch (e) {
    process.stderr.write(
      `linux-boot: the Linux guest is not cached and could not be fetched (${(e as Error).message});\n` +
        'run `pnpm fetch-linux-guest` at the repository root (needs root and apt)\n',
    );
    process.exit(1);
  }
}

function tail(text: string, n = 600): string {
  return text.slice(-n).replaceAll(CURSOR_QUERY, '');
}

/** Tier 1's back end for ringzero's run, as the CLI's default: `RINGZERO_JIT_BACKEND=js` for JavaScript. */
const JIT_BACKEND = process.env.RINGZERO_JIT_BACKEND === 'js' ? 'js' : 'wasm';

function runRingzero(g: LinuxGuest): PeerResult {
  const kernel = bytes(g.kernel);
  const initrd = bytes(g.initrd);
  const t0 = performance.now();
  // As the CLI runs it (V8's tiering budget is set here, after v86 ran with V8's default).
  const backend = backendOptions(JIT_BACKEND);
  const serial = new SerialCollector();
  const vm = new VirtualMachine({
    memory: MEMORY,
    deterministic: true,
    onSerial: serial.push,
    ...backend,
  });
  vm.bootLinux(kernel, { initrd, cmdline: CMDLINE });
  let promptAt = 0;
  let lastReport = t0;
  const result = runSession(vm, serial, STEPS, {
    stepBudget: RINGZERO_STEP_BUDGET,
    onSlice: () => {
      const now = performance.now();
      if (promptAt === 0 && serial.text.includes(PROMPT)) promptAt = now;
      if (now - lastReport > 10_000) {
        lastReport = now;
        const mi = (vm.cpu.instructions / 1e6).toFixed(0);
        process.stderr.write(`  ringzero: ${((now - t0) / 1000).toFixed(0)} s, ${mi} M instructions\n`);
      }
    },
  });
  const end = performance.now();
  if (result.failure) {
    throw new PeerFailure(
      'ringzero',
      `step ${result.failure.step}: ${result.failure.reason}`,
      result.transcript,
    );
  }
  return {
    peer: 'ringzero',
    promptS: (promptAt - t0) / 1000,
    endS: (end - t0) / 1000,
    promptInstructions: result.marks[0]!,
    totalInstructions: result.marks[result.marks.length - 1]!,
    transcript: result.transcript,
  };
}

interface V86Bios {
  readonly bios: string;
  readonly vgaBios: string;
}

function v86Bios(): V86Bios | string {
  const bios = process.env.V86_BIOS ?? '/usr/share/seabios/bios.bin';
  const vgaBios = process.env.V86_VGA_BIOS ?? '/usr/share/seabios/vgabios-stdvga.bin';
  for (const f of [bios, vgaBios]) {
    if (!existsSync(f)) {
      return `no BIOS image at ${f}: the v86 npm package ships none; install Debian's (apt-get install seabios) or set V86_BIOS and V86_VGA_BIOS`;
    }
  }
  return { bios, vgaBios };
}

function v86Version(): string {
  const require = createRequire(import.meta.url);
  const pkg = JSON.parse(readFileSync(require.resolve('v86/package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function v86WasmPath(): string {
  // The ESM build looks for build/v86.wasm relative to the working directory unless told.
  return join(dirname(createRequire(import.meta.url).resolve('v86')), 'v86.wasm');
}

async function runV86(g: LinuxGuest, firmware: V86Bios): Promise<PeerResult> {
  const bzimage = arrayBuffer(g.kernel);
  const initrd = arrayBuffer(g.initrd);
  const bios = arrayBuffer(firmware.bios);
  const vgaBios = arrayBuffer(firmware.vgaBios);
  const t0 = performance.now();
  const emulator = new V86({
    wasm_path: v86WasmPath(),
    memory_size: MEMORY,
    vga_memory_size: 2 << 20,
    bios: { buffer: bios },
    vga_bios: { buffer: vgaBios },
    bzimage: { buffer: bzimage },
    initrd: { buffer: initrd },
    cmdline: CMDLINE,
    acpi: false,
    autostart: true,
    disable_speaker: true,
  });
  // v86's counter is a u32 in wasm memory: widen it by watching for wrap-around.
  let high = 0;
  let last = 0;
  const instructions = (): number => {
    const now = emulator.get_instruction_counter();
    if (now < last) high += 2 ** 32;
    last = now;
    return high + now;
  };
  const poll = setInterval(instructions, 20);
  let text = '';
  let step = 0;
  let searchFrom = 0;
  let promptAt = 0;
  const marks: number[] = [];
  const encoder = new TextEncoder();
  try {
    return await new Promise<PeerResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        const expect = STEPS[step]?.expect ?? '';
        reject(
          new PeerFailure(
            'v86',
            `timed out after ${V86_TIMEOUT_S} s waiting for ${describeExpectation(expect)} (step ${step}, ${instructions()} instructions)`,
            text,
          ),
        );
      }, V86_TIMEOUT_S * 1000);
      emulator.add_listener('serial0-output-byte', (byte: number) => {
        text += String.fromCharCode(byte);
        const s = STEPS[step];
        if (s === undefined) return;
        const found = indexAfter(text, s.expect, searchFrom);
        if (found < 0) return;
        const now = performance.now();
        searchFrom = found;
        marks.push(instructions());
        if (step === 0) promptAt = now;
        if (s.send !== undefined) emulator.serial_send_bytes(0, encoder.encode(s.send));
        step++;
        if (step === STEPS.length) {
          clearTimeout(timer);
          resolve({
            peer: 'v86',
            promptS: (promptAt - t0) / 1000,
            endS: (now - t0) / 1000,
            promptInstructions: marks[0]!,
            totalInstructions: marks[marks.length - 1]!,
            transcript: text,
          });
        }
      });
    });
  } finally {
    clearInterval(poll);
    await emulator.destroy();
  }
}

function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) =>
      r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '),
    )
    .join('\n');
}

/** The session's output from the first prompt on, for a glance that both peers did the same work. */
function sessionTail(r: PeerResult): string {
  const i = r.transcript.indexOf(PROMPT);
  return r.transcript.slice(i).replaceAll(CURSOR_QUERY, '').replace(/\r/g, '');
}

async function main(): Promise<void> {
  const g = guest();
  const firmware = v86Bios();
  const version = v86Version();
  console.log(`guest:   ${g.kernel}`);
  console.log(`         ${g.initrd}`);
  console.log(`memory:  ${MEMORY >> 20} MiB on both`);
  console.log(
    `cmdline: ringzero "${CMDLINE}" (direct Linux boot, deterministic time, no BIOS, tier 1 emits ${JIT_BACKEND === 'wasm' ? 'WebAssembly' : 'JavaScript'})`,
  );
  const results: PeerResult[] = [];
  let failed = false;
  if (typeof firmware === 'string') {
    console.log(`cmdline: v86 skipped: ${firmware}`);
    failed = true;
  } else {
    console.log(`cmdline: v86 ${version} "${CMDLINE}" (bzimage via ${firmware.bios}, real time, JIT)`);
    process.stderr.write('running v86...\n');
    try {
      results.push(await runV86(g, firmware));
    } catch (e) {
      if (!(e instanceof PeerFailure)) throw e;
      failed = true;
      console.log(`\nv86 FAILED: ${e.reason}\nlast output:\n${tail(e.transcript)}\n`);
    }
  }
  process.stderr.write('running ringzero (a few minutes)...\n');
  try {
    results.push(runRingzero(g));
  } catch (e) {
    if (!(e instanceof PeerFailure)) throw e;
    failed = true;
    console.log(`\nringzero FAILED: ${e.reason}\nlast output:\n${tail(e.transcript)}\n`);
  }

  const rows: string[][] = [
    ['peer', 'to prompt (s)', 'to end (s)', 'instr. to prompt', 'instr. total', 'MIPS'],
    ...results.map((r) => [
      r.peer,
      r.promptS.toFixed(2),
      r.endS.toFixed(2),
      fmtInt(r.promptInstructions),
      fmtInt(r.totalInstructions),
      (r.totalInstructions / r.endS / 1e6).toFixed(1),
    ]),
  ];
  const rz = results.find((r) => r.peer === 'ringzero');
  const v = results.find((r) => r.peer === 'v86');
  if (rz && v) {
    rows.push([
      'ringzero/v86',
      `${(rz.promptS / v.promptS).toFixed(1)}x`,
      `${(rz.endS / v.endS).toFixed(1)}x`,
      `${(rz.promptInstructions / v.promptInstructions).toFixed(2)}x`,
      `${(rz.totalInstructions / v.totalInstructions).toFixed(2)}x`,
      `${(rz.totalInstructions / rz.endS / (v.totalInstructions / v.endS)).toFixed(3)}x`,
    ]);
  }
  console.log('');
  console.log(table(rows));
  if (process.env.RINGZERO_BENCH_TRANSCRIPT) {
    for (const r of results) console.log(`\n--- ${r.peer} session ---\n${sessionTail(r)}`);
  }
  process.exit(failed ? 1 : 0);
}

await main();
