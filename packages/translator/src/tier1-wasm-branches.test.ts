import { describe, expect, it } from 'vitest';
import { StopReason } from './tier0';
import { expectSameBytes, expectSameEnd, runProgram } from './tier1-wasm-testing';

/**
 * JMP and CALL through a register or a dword in memory run as WebAssembly templates: a jump
 * table, function pointers in registers and in memory, and (with paging) a target read from a
 * missing page and a CALL whose push lands in one, which must leave the state as tier 0 does.
 */
const SOURCE = `bits 32
org 0x1000
  mov esp, 0x9000
  mov ebp, 300
  xor edx, edx
  mov dword [0x5000], case0
  mov dword [0x5004], case1
  mov dword [0x5008], case2
  mov dword [0x500c], case3
  mov dword [0x5010], double
  mov dword [0x5014], triple
again:
  mov eax, ebp
  and eax, 3
  jmp [0x5000+eax*4]
case0:
  add edx, 1
  jmp join
case1:
  xor edx, 0x55
  mov ecx, join
  jmp ecx
case2:
  rol edx, 3
  jmp join
case3:
  sub edx, ebp
join:
  mov ebx, 0x5010
  call [ebx]
  mov ecx, triple
  call ecx
  call [ebx+4]
  dec ebp
  jnz again
  hlt
double:
  add edx, edx
  ret
triple:
  lea edx, [edx+edx*2]
  ret`;

function run(jit: boolean) {
  const { h, reason } = runProgram(SOURCE, jit);
  expect(reason).toBe(StopReason.halt);
  return h;
}

/** A loop whose indirect CALL or JMP faults once `ebp` counts down to the missing page 0x7000. */
function faulting(jit: boolean, body: string) {
  const src = `bits 32
org 0x1000
  mov esp, 0x9000
  mov edi, 0x6f00
fill:
  mov dword [edi], target
  add edi, 4
  cmp edi, 0x7000
  jb fill
  mov ebp, 0x6f00
  mov ecx, 200
again:
  ${body}
  add ebp, 4
  dec ecx
  jnz again
  hlt
target:
  inc edx
  ret`;
  const { h, reason } = runProgram(src, jit, { missingPages: [7] });
  expect(reason).toBe(StopReason.exception);
  expect(h.cpu.lastVector).toBe(14);
  return h;
}

describe('WebAssembly regions: JMP and CALL through a register or memory', () => {
  it('a jump table, function pointers in registers and memory: the state tier 0 gives', () => {
    const a = run(false);
    const b = run(true);
    expectSameEnd(a, b);
    expectSameBytes(a, b, 0x8f00, 0x9000);
    expect(b.cpu.jit?.stats.wasmRegions).toBeGreaterThan(0);
    expect(b.cpu.jit?.stats.instructionsTranslated ?? 0).toBeGreaterThan(b.cpu.instructions / 2);
  });

  it.each([
    // The target is read from the missing page.
    ['call [ebp]', 'call'],
    ['jmp [ebp]', 'jmp'],
    // The target is fine; the return address is pushed into the missing page.
    ['mov esp, ebp\n  add esp, 4\n  mov eax, target\n  call eax\n  mov esp, 0x9000', 'push'],
  ])('%s faults on the missing page leaving the state as tier 0 does (%s)', (body) => {
    const src = body.startsWith('jmp')
      ? `${body.replace('jmp [ebp]', 'push back\n  jmp [ebp]')}\nback:`
      : body;
    const a = faulting(false, src);
    const b = faulting(true, src);
    expect(b.cpu.jit?.stats.wasmRegions).toBeGreaterThan(0);
    expectSameEnd(a, b);
  });
});
