/**
 * Decoder throughput against iced-x86 (npm, WASM) on the same bytes in the same process:
 * decode-only and decode + Intel formatting, instructions per second and the ratio.
 *
 *   pnpm --filter @ringzero/decoder fetch-real-code   # once: busybox i386/amd64, the i386 kernel
 *   pnpm --filter @ringzero/decoder bench
 */
import {
  DecoderOptions,
  Formatter,
  FormatterSyntax,
  Decoder as IcedDecoder,
  Instruction as IcedInstruction,
} from 'iced-x86';
import { loadRealCode } from '../scripts/real-code';
import { Decoder } from '../src/decoder';
import { formatIntel } from '../src/format';
import { Instruction } from '../src/instruction';

const LIMIT = Number(process.env.RINGZERO_BENCH_BYTES ?? 1_000_000);
const ROUNDS = Number(process.env.RINGZERO_BENCH_ROUNDS ?? 7);

/**
 * The machine is shared, so its speed changes while the benchmark runs: the four contenders run
 * one pass each in turn, round after round, and each keeps its fastest pass. Ratios then compare
 * passes measured seconds apart, not minutes apart.
 */
function race(fns: readonly (() => number)[]): { count: number; ms: number }[] {
  const best = fns.map((fn) => ({ count: fn(), ms: Number.POSITIVE_INFINITY })); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    fns.forEach((fn, i) => {
      const t0 = performance.now();
      fn();
      const ms = performance.now() - t0;
      const b = best[i];
      if (b !== undefined && ms < b.ms) b.ms = ms;
    });
  }
  return best;
}

// Separate functions for decode-only and decode+format, so each keeps its own type feedback.
function oursDecode(bytes: Uint8Array, bitness: 32 | 64, address: number): number {
  const d = new Decoder(bitness);
  const ins = new Instruction();
  let off = 0;
  let n = 0;
  while (off < bytes.length) {
    d.decodeOut(bytes, off, address + off, ins);
    off += ins.length;
    n++;
  }
  return n;
}

function oursFormat(bytes: Uint8Array, bitness: 32 | 64, address: number): number {
  const d = new Decoder(bitness);
  const ins = new Instruction();
  let off = 0;
  let n = 0;
  let chars = 0;
  while (off < bytes.length) {
    d.decodeOut(bytes, off, address + off, ins);
    chars += formatIntel(ins).length;
    off += ins.length;
    n++;
  }
  if (chars < 0) throw new Error('unreachable');
  return n;
}

function iced(bytes: Uint8Array, bitness: 32 | 64, address: number, format: boolean): number {
  const d = new IcedDecoder(bitness, bytes, DecoderOptions.None);
  d.ip = BigInt(address);
  const ins = new IcedInstruction();
  const f = new Formatter(FormatterSyntax.Intel);
  let n = 0;
  let chars = 0;
  while (d.canDecode) {
    d.decodeOut(ins);
    if (format) chars += f.format(ins).length;
    n++;
  }
  d.free();
  ins.free();
  f.free();
  if (chars < 0) throw new Error('unreachable');
  return n;
}

const samples = loadRealCode().filter((s) => !process.env.SAMPLE || s.name === process.env.SAMPLE);
if (samples.length === 0) {
  console.error('no real code cached: run `pnpm --filter @ringzero/decoder fetch-real-code` first');
  process.exit(1);
}
console.log(
  `decoder benchmark: instructions per second, same bytes, same process, best of ${ROUNDS} interleaved passes`,
);
for (const s of samples) {
  const bytes = s.bytes.subarray(0, LIMIT);
  const [ourDecode, icedDecode, ourFormat, icedFormat] = race([
    () => oursDecode(bytes, s.bitness, s.address),
    () => iced(bytes, s.bitness, s.address, false),
    () => oursFormat(bytes, s.bitness, s.address),
    () => iced(bytes, s.bitness, s.address, true),
  ]);
  const rate = (r: { count: number; ms: number } | undefined) =>
    r === undefined ? 0 : (r.count / r.ms) * 1000;
  for (const [what, a, b] of [
    ['decode      ', ourDecode, icedDecode],
    ['decode+format', ourFormat, icedFormat],
  ] as const) {
    const ra = rate(a);
    const rb = rate(b);
    console.log(
      `${s.name.padEnd(14)} ${what}  ringzero ${(ra / 1e6).toFixed(2).padStart(6)} M/s   iced-x86 ${(rb / 1e6).toFixed(2).padStart(6)} M/s   ratio ${(ra / rb).toFixed(2)}x`,
    );
  }
}
