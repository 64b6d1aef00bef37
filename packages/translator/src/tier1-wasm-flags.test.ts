import { assemble } from '@ringzero/assembler';
import { describe, expect, it } from 'vitest';
import { CC_NAMES } from './handlers';
import { createHarness } from './harness';
import { StopReason } from './tier0';

/**
 * Flags that one block sets and the next block's first instruction reads: the WebAssembly back
 * end knows the pending operation only at run time there (`fo`), so it picks the condition's
 * form on it, or asks the state. Every condition after each kind of operation, through Jcc,
 * SETcc and CMOVcc, and the carry an INC keeps, must come out as tier 0 computes them.
 */
const OPERATIONS = [
  'cmp eax, ebx',
  'sub eax, ebx',
  'dec eax',
  'inc eax',
  'test eax, ebx',
  'add eax, ebx',
  'cmp al, bl',
  'shl eax, 1',
  // Rotations set CF and OF only: the other flags are the operation's before (the case before).
  'rol eax, 1',
  'rol eax, 7',
  'ror eax, 1',
  'ror eax, 13',
];
/** Operands at the edges of every flag: zero, one, the signed limits, all ones and neighbours. */
const VALUES = [0, 1, 2, 0x7ffffffe, 0x7fffffff, 0x80000000, 0x80000001, 0xffffffff, 0x80, 0x7f];

function program(): string {
  const lines = [
    'bits 32',
    'org 0x1000',
    '  xor ecx, ecx',
    '  mov ebp, 3',
    'pass:',
    '  xor esi, esi',
    'row:',
    '  xor edi, edi',
    'col:',
  ];
  let n = 0;
  const load = () => lines.push('  mov eax, [esi+0x5000]', '  mov ebx, [edi+0x5000]');
  for (const op of OPERATIONS) {
    for (const cc of CC_NAMES) {
      // SETcc and CMOVcc at a block's start, then Jcc at the next one.
      load();
      lines.push(
        `  ${op}`,
        `  jmp s${n}`,
        `s${n}:`,
        `  set${cc} dl`,
        '  lea ecx, [ecx+ecx*2]',
        '  add ecx, edx',
      );
      load();
      lines.push(
        `  ${op}`,
        `  jmp m${n}`,
        `m${n}:`,
        `  cmov${cc} edx, eax`,
        '  xor ecx, edx',
        '  xor edx, edx',
      );
      load();
      lines.push(
        `  ${op}`,
        `  jmp j${n}`,
        `j${n}:`,
        `  j${cc} t${n}`,
        '  add ecx, 0x3d',
        `t${n}:`,
        '  rol ecx, 5',
      );
      n++;
    }
    // The carry before an INC that starts a block, read back by ADC.
    load();
    lines.push(`  ${op}`, `  jmp c${n}`, `c${n}:`, '  inc edx', '  adc ecx, edx', '  xor edx, edx');
    n++;
  }
  lines.push(
    `  add edi, 4`,
    `  cmp edi, ${4 * VALUES.length}`,
    '  jb col',
    '  add esi, 4',
    `  cmp esi, ${4 * VALUES.length}`,
    '  jb row',
    '  dec ebp',
    '  jnz pass',
    '  hlt',
  );
  return lines.join('\n');
}

function run(jit: boolean) {
  const h = createHarness(assemble(program()).bytes, {
    jit,
    wasm: jit,
    jitThreshold: 64,
    memorySize: 1 << 20,
  });
  const view = new DataView(h.memory.ram.buffer, h.memory.ram.byteOffset);
  for (const [k, v] of VALUES.entries()) view.setUint32(0x5000 + 4 * k, v, true);
  let reason: number = StopReason.limit;
  while (reason === StopReason.limit && h.cpu.instructions < 20_000_000) reason = h.cpu.run(1009);
  expect(reason).toBe(StopReason.halt);
  return h;
}

describe('WebAssembly regions: conditions on flags from the block before', () => {
  it('every condition after SUB, CMP, DEC, INC, TEST, ADD, 8-bit CMP, SHL, ROL and ROR matches tier 0', () => {
    const a = run(false);
    const b = run(true);
    expect(Array.from(b.cpu.state.regs)).toEqual(Array.from(a.cpu.state.regs));
    expect(b.cpu.state.getFlags()).toBe(a.cpu.state.getFlags());
    expect(b.cpu.instructions).toBe(a.cpu.instructions);
    const stats = b.cpu.jit?.stats;
    expect(stats?.wasmRegions).toBeGreaterThan(0);
    // Most of the run is translated (the cases after warm-up), not tier 0's.
    expect(stats?.instructionsTranslated ?? 0).toBeGreaterThan(b.cpu.instructions / 2);
  });

  it('CMOVcc, ADC and SBB from memory, PUSH m32 (ESP-relative too) and CMPXCHG m32 (equal or not) match tier 0', () => {
    const src = `bits 32
org 0x1000
  mov esp, 0x9000
  mov esi, 0x5000
  xor ecx, ecx
  mov ebp, 400
again:
  mov eax, [esi]
  mov ebx, [esi+4]
  cmp eax, ebx
  cmovb edx, [esi+8]
  cmovae edi, [esi+12]
  sbb ecx, [esi]
  adc ecx, [esi+4]
  push dword [esi+8]
  push dword [esp]
  push dword [esp+4]
  pop eax
  add ecx, eax
  pop eax
  xor ecx, eax
  pop eax
  sub ecx, eax
  mov eax, [esi+12]
  test ebp, 1
  jz same
  inc eax
same:
  lock cmpxchg [esi+12], ecx
  setz dl
  add ecx, eax
  add ecx, edx
  mov eax, ebp
  cmpxchg [esi+4], eax
  adc ecx, eax
  add dword [esi], 0x9e3779b9
  rol dword [esi+4], 3
  xor [esi+8], ecx
  dec ebp
  jnz again
  hlt`;
    const go = (jit: boolean) => {
      const h = createHarness(assemble(src).bytes, { jit, wasm: jit, jitThreshold: 64 });
      const view = new DataView(h.memory.ram.buffer, h.memory.ram.byteOffset);
      [0x80000001, 0x7fffffff, 0x12345678, 0xdeadbeef].forEach((v, k) => {
        view.setUint32(0x5000 + 4 * k, v, true);
      });
      let reason: number = StopReason.limit;
      while (reason === StopReason.limit && h.cpu.instructions < 1_000_000) reason = h.cpu.run(997);
      expect(reason).toBe(StopReason.halt);
      return h;
    };
    const a = go(false);
    const b = go(true);
    expect(Array.from(b.cpu.state.regs)).toEqual(Array.from(a.cpu.state.regs));
    expect(b.cpu.state.getFlags()).toBe(a.cpu.state.getFlags());
    expect(b.cpu.instructions).toBe(a.cpu.instructions);
    expect(Array.from(b.memory.ram.subarray(0x5000, 0x5010))).toEqual(
      Array.from(a.memory.ram.subarray(0x5000, 0x5010)),
    );
    expect(b.cpu.jit?.stats.instructionsTranslated ?? 0).toBeGreaterThan(b.cpu.instructions / 2);
  });
});
