import { assemble } from '@ringzero/assembler';
import { describe, expect, it } from 'vitest';
import { createHarness } from './harness';
import { StopReason } from './tier0';

/**
 * MOVSB/W/D without REP, BSWAP and CDQ run as WebAssembly templates: forwards and backwards (DF), a
 * copy onto itself shifted by a byte, and a MOVSB that patches an instruction of the running loop
 * (in another page: the region leaves after the store, and the patched byte takes effect as in
 * tier 0).
 */
const SOURCE = `bits 32
org 0x1000
  mov ebp, 200
  xor edx, edx
again:
  mov esi, 0x5000
  mov edi, 0x6000
  cld
  movsb
  movsw
  movsd
  movsd
  add edx, esi
  add edx, edi
  std
  mov esi, 0x500c
  mov edi, 0x6040
  movsd
  movsw
  movsb
  cld
  add edx, esi
  xor edx, edi
  mov esi, 0x6000
  mov edi, 0x6001
  movsd
  movsb
  mov eax, [0x6000]
  bswap eax
  add edx, eax
  mov ebx, [0x6040]
  bswap ebx
  xor edx, ebx
  bswap edx
  mov eax, edx
  cdq
  add edx, eax
  not eax
  cdq
  xor edx, eax
  mov eax, ebp
  and eax, 7
  mov [0x5020], al
  mov esi, 0x5020
  mov edi, 0x3002
  movsb
  call 0x3000
  rol edx, 1
  dec ebp
  jnz again
  hlt`;
/** In its own page: the loop's MOVSB patches its immediate, and only this page is dropped. */
const PATCHED = `bits 32
org 0x3000
  add edx, 1
  ret`;

function run(jit: boolean) {
  const h = createHarness(assemble(SOURCE).bytes, { jit, wasm: jit, jitThreshold: 16, memorySize: 1 << 20 });
  h.memory.ram.set(assemble(PATCHED).bytes, 0x3000);
  for (let k = 0; k < 64; k++) h.memory.ram[0x5000 + k] = (k * 41 + 9) & 0xff;
  let reason: number = StopReason.limit;
  while (reason === StopReason.limit && h.cpu.instructions < 1_000_000) reason = h.cpu.run(1013);
  expect(reason).toBe(StopReason.halt);
  return h;
}

/** A MOVS loop that runs into a missing page (identity paging; 0x7000 and 0x9000 absent). */
function faulting(jit: boolean, op: string, esi: number, edi: number) {
  const src = `bits 32
org 0x1000
  mov esi, ${esi}
  mov edi, ${edi}
  mov ecx, 400
again:
  ${op}
  add edx, ecx
  dec ecx
  jnz again
  hlt`;
  const h = createHarness(assemble(src).bytes, {
    jit,
    wasm: jit,
    jitThreshold: 16,
    memorySize: 1 << 20,
    callouts: { exception: () => true },
  });
  const pd = 0xf0000;
  const pt = 0xf1000;
  h.memory.write32(pd, pt | 7);
  for (let k = 0; k < 256; k++) h.memory.write32(pt + k * 4, k === 7 || k === 9 ? 0 : (k << 12) | 7);
  h.cpu.state.cr3 = pd;
  h.cpu.state.cr0 |= 0x80000000;
  h.cpu.mmu.flush();
  h.cpu.flushCode();
  let reason: number = StopReason.limit;
  while (reason === StopReason.limit && h.cpu.instructions < 1_000_000) reason = h.cpu.run(1013);
  expect(reason).toBe(StopReason.exception);
  expect(h.cpu.lastVector).toBe(14);
  return h;
}

describe('WebAssembly regions: MOVS without REP, BSWAP and CDQ', () => {
  it.each([
    ['movsd', 0x5000, 0x6e00],
    ['movsb', 0x5000, 0x6f00],
    ['movsw', 0x8e00, 0x6000],
    ['movsd', 0x8e00, 0x6000],
  ])(
    '%s from 0x%s to 0x%s faults on the missing page with ESI and EDI as tier 0 leaves them',
    (op, esi, edi) => {
      const a = faulting(false, op, esi, edi);
      const b = faulting(true, op, esi, edi);
      expect(b.cpu.jit?.stats.wasmRegions).toBeGreaterThan(0);
      expect(Array.from(b.cpu.state.regs)).toEqual(Array.from(a.cpu.state.regs));
      expect(b.cpu.state.eip).toBe(a.cpu.state.eip);
      expect(b.cpu.state.cr2).toBe(a.cpu.state.cr2);
      expect(b.cpu.instructions).toBe(a.cpu.instructions);
      expect(Array.from(b.memory.ram.subarray(0x6000, 0x7000))).toEqual(
        Array.from(a.memory.ram.subarray(0x6000, 0x7000)),
      );
    },
  );

  it('copy, move the pointers either way and swap bytes as tier 0 does, self-modifying copy included', () => {
    const a = run(false);
    const b = run(true);
    expect(Array.from(b.cpu.state.regs)).toEqual(Array.from(a.cpu.state.regs));
    expect(b.cpu.state.getFlags()).toBe(a.cpu.state.getFlags());
    expect(b.cpu.instructions).toBe(a.cpu.instructions);
    expect(Array.from(b.memory.ram.subarray(0x3000, 0x3010))).toEqual(
      Array.from(a.memory.ram.subarray(0x3000, 0x3010)),
    );
    expect(Array.from(b.memory.ram.subarray(0x6000, 0x6050))).toEqual(
      Array.from(a.memory.ram.subarray(0x6000, 0x6050)),
    );
    expect(b.cpu.jit?.stats.wasmRegions).toBeGreaterThan(0);
    expect(b.cpu.jit?.stats.invalidations).toBeGreaterThan(0);
  });
});
