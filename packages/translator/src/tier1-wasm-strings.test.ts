import { assemble } from '@ringzero/assembler';
import { describe, expect, it } from 'vitest';
import { StopReason } from './tier0';
import { expectSameBytes, expectSameEnd, runProgram } from './tier1-wasm-testing';

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
  const { h, reason } = runProgram(SOURCE, jit, {
    setup: (x) => {
      x.memory.ram.set(assemble(PATCHED).bytes, 0x3000);
      for (let k = 0; k < 64; k++) x.memory.ram[0x5000 + k] = (k * 41 + 9) & 0xff;
    },
  });
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
  const { h, reason } = runProgram(src, jit, { missingPages: [7, 9] });
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
      expectSameEnd(a, b);
      expectSameBytes(a, b, 0x6000, 0x7000);
    },
  );

  it('copy, move the pointers either way and swap bytes as tier 0 does, self-modifying copy included', () => {
    const a = run(false);
    const b = run(true);
    expectSameEnd(a, b);
    expectSameBytes(a, b, 0x3000, 0x3010);
    expectSameBytes(a, b, 0x6000, 0x6050);
    expect(b.cpu.jit?.stats.wasmRegions).toBeGreaterThan(0);
    expect(b.cpu.jit?.stats.invalidations).toBeGreaterThan(0);
  });
});
