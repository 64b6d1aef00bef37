/**
 * Tier-0 throughput on CPU-bound guest loops (flat 32-bit protected mode, no paging):
 * a sieve of Eratosthenes, a bitwise CRC-32 and a dword memcpy loop. Prints guest MIPS
 * (retired instructions per microsecond of host time). Run: pnpm --filter @ringzero/translator bench
 */
import { Reg } from '../src/cpu-state';
import { createHarness } from '../src/harness';
import { StopReason } from '../src/tier0';

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

interface Result {
  name: string;
  instructions: number;
  ms: number;
  check: string;
}

function bench(
  name: string,
  code: Uint8Array,
  prepare: (ram: Uint8Array) => void,
  check: (r: Int32Array, ram: Uint8Array) => string,
  jit = false,
): Result {
  // Warm up once, then time the best of seven runs.
  let best: Result | undefined;
  for (let round = 0; round < 8; round++) {
    const { cpu, memory } = createHarness(code, { memorySize: 4 << 20, jit });
    prepare(memory.ram);
    const t0 = performance.now();
    const reason = cpu.run(1e9);
    const ms = performance.now() - t0;
    if (reason !== StopReason.halt) throw new Error(`${name} stopped with ${reason}`);
    const r: Result = { name, instructions: cpu.instructions, ms, check: check(cpu.state.regs, memory.ram) };
    if (round > 0 && (best === undefined || r.ms < best.ms)) best = r;
  }
  return best as Result;
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

console.log('tier 0 and tier 1, flat 32-bit, no paging (best of 7 after a warm-up run)');
console.log(
  `${'loop'.padEnd(30)} ${'instr'.padStart(10)} ${'tier 0'.padStart(12)} ${'tier 1'.padStart(12)} ${'t1/t0'.padStart(7)}  check`,
);
for (const [name, code, prepare, check] of loops) {
  const t0 = bench(name, code, prepare, check, false);
  const t1 = bench(name, code, prepare, check, true);
  const m0 = t0.instructions / t0.ms / 1000;
  const m1 = t1.instructions / t1.ms / 1000;
  if (t0.check !== t1.check) throw new Error(`${name}: tiers disagree (${t0.check} / ${t1.check})`);
  console.log(
    `${name.padEnd(30)} ${String(t0.instructions).padStart(10)} ${`${m0.toFixed(1)} MIPS`.padStart(12)} ${`${m1.toFixed(1)} MIPS`.padStart(12)} ${`${(m1 / m0).toFixed(2)}x`.padStart(7)}  ${t1.check}`,
  );
}
console.log('peer: v86 on the same Linux boot is measured by apps/cli (pnpm --filter @ringzero/cli bench)');
