/**
 * Tier-0 throughput on CPU-bound guest loops (flat 32-bit protected mode, no paging):
 * a sieve of Eratosthenes, a bitwise CRC-32 and a dword memcpy loop. Prints guest MIPS
 * (retired instructions per microsecond of host time). Run: pnpm --filter @ringzero/translator bench
 */
import { exportSnapshot, importSnapshot, Reg } from '../src/cpu-state';
import { createHarness } from '../src/harness';
import { StopReason } from '../src/tier0';
import type { Tier1Stats } from '../src/tier1';

/** A tiny byte emitter with rel8 label fix-ups (the assembler package is not available yet). */
class Code {
  readonly bytes: number[] = [];
  private readonly labels = new Map<string, number>();
  private readonly fixups: [number, string][] = [];
  emit(...b: number[]): this {
    this.bytes.push(...b.map((x) => x & 0xff));
    return this;
  }
  imm32(v: number): this {
    return this.emit(v, v >>> 8, v >>> 16, v >>> 24);
  }
  label(name: string): this {
    this.labels.set(name, this.bytes.length);
    return this;
  }
  /** Short jump/jcc with opcode `op` to `name`. */
  j8(op: number, name: string): this {
    this.emit(op, 0);
    this.fixups.push([this.bytes.length - 1, name]);
    return this;
  }
  build(): Uint8Array {
    for (const [at, name] of this.fixups) {
      const target = this.labels.get(name);
      if (target === undefined) throw new Error(`undefined label ${name}`);
      const rel = target - (at + 1);
      if (rel < -128 || rel > 127) throw new Error(`label ${name} out of rel8 range`);
      this.bytes[at] = rel & 0xff;
    }
    return new Uint8Array(this.bytes);
  }
}

const FLAGS = 0x100000;
const N = 8190;

function sieve(): Uint8Array {
  return new Code()
    .emit(0xbf)
    .imm32(FLAGS) // mov edi, FLAGS
    .emit(0xb9)
    .imm32(N) // mov ecx, N
    .emit(0xb0, 1) // mov al, 1
    .emit(0xf3, 0xaa) // rep stosb
    .emit(0x31, 0xdb) // xor ebx, ebx
    .emit(0x31, 0xd2) // xor edx, edx
    .label('outer')
    .emit(0x80, 0xbb)
    .imm32(FLAGS)
    .emit(0) // cmp byte [FLAGS+ebx], 0
    .j8(0x74, 'next') // je next
    .emit(0x8d, 0x44, 0x1b, 0x03) // lea eax, [ebx+ebx+3]
    .emit(0x8d, 0x34, 0x03) // lea esi, [ebx+eax]
    .label('inner')
    .emit(0x81, 0xfe)
    .imm32(N) // cmp esi, N
    .j8(0x73, 'counted') // jae counted
    .emit(0xc6, 0x86)
    .imm32(FLAGS)
    .emit(0) // mov byte [FLAGS+esi], 0
    .emit(0x01, 0xc6) // add esi, eax
    .j8(0xeb, 'inner') // jmp inner
    .label('counted')
    .emit(0x42) // inc edx
    .label('next')
    .emit(0x43) // inc ebx
    .emit(0x81, 0xfb)
    .imm32(N) // cmp ebx, N
    .j8(0x72, 'outer') // jb outer
    .emit(0xf4) // hlt
    .build();
}

const DATA = 0x100000;
const LEN = 16384;

function crc32(): Uint8Array {
  return new Code()
    .emit(0xbe)
    .imm32(DATA) // mov esi, DATA
    .emit(0xb9)
    .imm32(LEN) // mov ecx, LEN
    .emit(0xb8)
    .imm32(0xffffffff) // mov eax, -1
    .label('byte')
    .emit(0x0f, 0xb6, 0x16) // movzx edx, byte [esi]
    .emit(0x31, 0xd0) // xor eax, edx
    .emit(0xbf)
    .imm32(8) // mov edi, 8
    .label('bit')
    .emit(0xd1, 0xe8) // shr eax, 1
    .j8(0x73, 'skip') // jnc skip
    .emit(0x35)
    .imm32(0xedb88320) // xor eax, poly
    .label('skip')
    .emit(0x4f) // dec edi
    .j8(0x75, 'bit') // jnz bit
    .emit(0x46) // inc esi
    .emit(0x49) // dec ecx
    .j8(0x75, 'byte') // jnz byte
    .emit(0xf7, 0xd0) // not eax
    .emit(0xf4) // hlt
    .build();
}

const SRC = 0x100000;
const DST = 0x180000;
const DWORDS = 65536;

function memcpy(): Uint8Array {
  return new Code()
    .emit(0xbe)
    .imm32(SRC) // mov esi, SRC
    .emit(0xbf)
    .imm32(DST) // mov edi, DST
    .emit(0xb9)
    .imm32(DWORDS) // mov ecx, DWORDS
    .label('l')
    .emit(0x8b, 0x06) // mov eax, [esi]
    .emit(0x89, 0x07) // mov [edi], eax
    .emit(0x83, 0xc6, 0x04) // add esi, 4
    .emit(0x83, 0xc7, 0x04) // add edi, 4
    .emit(0x49) // dec ecx
    .j8(0x75, 'l') // jnz l
    .emit(0xf4) // hlt
    .build();
}

function referenceCrc(data: Uint8Array): number {
  let c = -1;
  for (const b of data) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

/** Host milliseconds of hot rounds each loop runs at least (RINGZERO_BENCH_HOT_MS). */
const HOT_MS = Number(process.env.RINGZERO_BENCH_HOT_MS ?? 300);

interface Result {
  name: string;
  instructions: number;
  ms: number;
  check: string;
}

interface TierRun {
  /** The best of the hot rounds (translations kept between rounds). */
  best: Result;
  /** The first round: tier-0 warm-up and translation included. */
  cold: Result;
  /** Hot rounds run. */
  rounds: number;
  stats?: Tier1Stats;
}

/**
 * Runs a loop to HLT on one processor, round after round: the first round is the cold run (for
 * tier 1: tier-0 warm-up and translation), the best of the rounds after it (at least 7, and
 * at least `HOT_MS` of them) the hot-loop rate. Each round
 * starts from the same registers and memory contents; tier 1 keeps its translations, as it
 * does for a guest that runs the same code again.
 */
function bench(
  name: string,
  code: Uint8Array,
  prepare: (ram: Uint8Array) => void,
  check: (r: Int32Array, ram: Uint8Array) => string,
  jit = false,
): TierRun {
  const { cpu, memory } = createHarness(code, { memorySize: 4 << 20, jit });
  const start = exportSnapshot(cpu.state);
  let best: Result | undefined;
  let cold: Result | undefined;
  // Hot rounds until at least HOT_MS of them have run (and at least 7): V8 needs tens of
  // milliseconds before a region's optimised code takes over, which a short loop's first few
  // rounds do not reach.
  let hotMs = 0;
  let rounds = 0;
  for (let round = 0; round < 8 || (hotMs < HOT_MS && round < 400); round++) {
    importSnapshot(cpu.state, start);
    prepare(memory.ram);
    const before = cpu.instructions;
    const t0 = performance.now();
    const reason = cpu.run(1e9);
    const ms = performance.now() - t0;
    if (reason !== StopReason.halt) throw new Error(`${name} stopped with ${reason}`);
    const r: Result = {
      name,
      instructions: cpu.instructions - before,
      ms,
      check: check(cpu.state.regs, memory.ram),
    };
    if (round === 0) cold = r;
    else {
      hotMs += ms;
      rounds++;
      if (best === undefined || r.ms < best.ms) best = r;
    }
  }
  return { best: best as Result, cold: cold as Result, rounds, stats: cpu.jit?.stats };
}

const data = new Uint8Array(LEN);
for (let i = 0; i < LEN; i++) data[i] = (i * 131 + 7) & 0xff;

const loops: [string, Uint8Array, (ram: Uint8Array) => void, (r: Int32Array, ram: Uint8Array) => string][] = [
  ['sieve (8190 flags)', sieve(), () => {}, (r) => `primes=${r[Reg.edx]} (expect 1899)`],
  [
    'crc-32 bitwise (16 KiB)',
    crc32(),
    (ram) => ram.set(data, DATA),
    (r) => `crc=${((r[Reg.eax] ?? 0) >>> 0).toString(16)} (expect ${referenceCrc(data).toString(16)})`,
  ],
  [
    'memcpy dword loop (256 KiB)',
    memcpy(),
    (ram) => ram.set(data, SRC),
    (_r, ram) => `copy ok=${ram.subarray(DST, DST + LEN).every((v, i) => v === data[i])}`,
  ],
];

const mips = (r: Result): number => r.instructions / r.ms / 1000;
console.log(
  `tier 0 and tier 1, flat 32-bit, no paging: hot = best round after the first (cold) one, over at least ${HOT_MS} ms of hot rounds`,
);
console.log(
  `${'loop'.padEnd(28)} ${'instr'.padStart(8)} ${'tier 0'.padStart(11)} ${'tier 1 hot'.padStart(11)} ${'t1/t0'.padStart(7)} ${'t1 cold'.padStart(11)} ${'blocks'.padStart(6)} ${'ms/block'.padStart(8)} ${'in t1'.padStart(6)} ${'chained'.padStart(7)}  check`,
);
for (const [name, code, prepare, check] of loops) {
  const t0 = bench(name, code, prepare, check, false);
  const t1 = bench(name, code, prepare, check, true);
  if (t0.best.check !== t1.best.check || t0.cold.check !== t1.cold.check)
    throw new Error(`${name}: tiers disagree (${t0.best.check} / ${t1.best.check})`);
  const st = t1.stats as Tier1Stats;
  const m0 = mips(t0.best);
  const m1 = mips(t1.best);
  // Translation cost per compiled region; the share of all instructions retired in tier 1; the
  // share of region entries that followed a link instead of the dispatcher's lookup.
  const perBlock = st.blocksCompiled > 0 ? st.compileMs / st.blocksCompiled : 0;
  const total = t1.cold.instructions + t1.rounds * t1.best.instructions;
  const inT1 = st.instructionsTranslated / total;
  const chained = st.blockRuns > 0 ? st.chained / st.blockRuns : 0;
  console.log(
    `${name.padEnd(28)} ${String(t0.best.instructions).padStart(8)} ${`${m0.toFixed(1)} MIPS`.padStart(11)} ${`${m1.toFixed(1)} MIPS`.padStart(11)} ${`${(m1 / m0).toFixed(2)}x`.padStart(7)} ${`${mips(t1.cold).toFixed(1)} MIPS`.padStart(11)} ${String(st.blocksCompiled).padStart(6)} ${perBlock.toFixed(2).padStart(8)} ${`${(100 * inT1).toFixed(1)}%`.padStart(6)} ${`${(100 * chained).toFixed(1)}%`.padStart(7)}  ${t1.best.check}`,
  );
}
console.log(
  '(in t1: instructions retired by tier 1 over all rounds; chained: region entries through a link)',
);
console.log('peer: v86 on the same Linux boot is measured by apps/cli (pnpm --filter @ringzero/cli bench)');
