import { assemble } from '@ringzero/assembler';
import { describe, expect, it } from 'vitest';
import { Seg } from './cpu-state';
import { createHarness } from './harness';
import { StopReason } from './tier0';
import { MODE_GS } from './tier1';

/**
 * GS-relative operands in ring 3 (user space's thread pointer: the stack protector's canary,
 * TLS) run in WebAssembly when GS is a 4 GiB writable data segment (`MODE_GS`), with GS's base
 * added; with a smaller limit they go to tier 0's handlers, whose limit check raises #GP as the
 * CPU does. In ring 0 GS never sets the bit (Linux's kernel runs with the user's GS loaded).
 */
const SOURCE = `bits 32
org 0x1000
  mov ecx, 1500
  xor ebx, ebx
top:
  mov eax, [gs:0x14]
  add eax, ecx
  mov [gs:0x14], eax
  sub eax, [gs:ebx*4+0x20]
  xor [gs:ebx*4+0x20], eax
  cmp eax, [gs:0x14]
  adc edx, 0
  inc ebx
  and ebx, 7
  dec ecx
  jnz top
  hlt`;

function run(jit: boolean, limit: number) {
  const h = createHarness(assemble(SOURCE).bytes, {
    jit,
    wasm: jit,
    jitThreshold: 16,
    memorySize: 1 << 20,
    mode: 'flat32-user',
    callouts: { exception: () => true },
  });
  const s = h.cpu.state;
  // GS as a segment load leaves its descriptor cache: base 0x8000, writable data, present.
  s.segBase[Seg.gs] = 0x8000;
  s.segLimit[Seg.gs] = limit;
  s.segAccess[Seg.gs] = s.segAccess[Seg.ds] as number;
  for (let k = 0; k < 0x40; k++) h.memory.ram[0x8000 + k] = (k * 23 + 11) & 0xff;
  let reason: number = StopReason.limit;
  while (reason === StopReason.limit && h.cpu.instructions < 1_000_000) reason = h.cpu.run(1013);
  return { h, reason };
}

describe('WebAssembly regions: GS-relative operands', () => {
  it('with a 4 GiB GS of any base: in WebAssembly, with the results of tier 0', () => {
    const a = run(false, 0xffffffff);
    const b = run(true, 0xffffffff);
    // The loop ends at HLT, which ring 3 may not run: #GP there, in both tiers.
    expect(a.reason).toBe(StopReason.exception);
    expect(b.reason).toBe(StopReason.exception);
    expect(b.h.cpu.state.eip).toBe(a.h.cpu.state.eip);
    expect(a.h.cpu.instructions).toBeGreaterThan(1500 * 11);
    expect((b.h.cpu.jit?.modeKey(b.h.cpu.state) ?? 0) & MODE_GS).toBe(MODE_GS);
    expect(Array.from(b.h.cpu.state.regs)).toEqual(Array.from(a.h.cpu.state.regs));
    expect(b.h.cpu.state.getFlags()).toBe(a.h.cpu.state.getFlags());
    expect(b.h.cpu.instructions).toBe(a.h.cpu.instructions);
    expect(Array.from(b.h.memory.ram.subarray(0x8000, 0x8040))).toEqual(
      Array.from(a.h.memory.ram.subarray(0x8000, 0x8040)),
    );
    expect(b.h.cpu.jit?.stats.instructionsTranslated ?? 0).toBeGreaterThan(b.h.cpu.instructions / 2);
  });

  it('in ring 0 the mode has no GS bit', () => {
    const h = createHarness(assemble(SOURCE).bytes, { jit: true, wasm: true, memorySize: 1 << 20 });
    h.cpu.state.segAccess[Seg.gs] = h.cpu.state.segAccess[Seg.ds] as number;
    h.cpu.state.segLimit[Seg.gs] = 0xffffffff;
    expect(h.cpu.state.cpl).toBe(0);
    expect((h.cpu.jit?.modeKey(h.cpu.state) ?? -1) & MODE_GS).toBe(0);
  });

  it('with a GS limit that the loop runs past: #GP where tier 0 raises it, same state', () => {
    // [gs:ebx*4+0x20] with EBX up to 7 reaches 0x3f: a limit of 0x2f faults once EBX is 4.
    const a = run(false, 0x2f);
    const b = run(true, 0x2f);
    expect(a.reason).toBe(StopReason.exception);
    expect(b.reason).toBe(StopReason.exception);
    expect(b.h.cpu.lastVector).toBe(13);
    expect((b.h.cpu.jit?.modeKey(b.h.cpu.state) ?? 0) & MODE_GS).toBe(0);
    expect(Array.from(b.h.cpu.state.regs)).toEqual(Array.from(a.h.cpu.state.regs));
    expect(b.h.cpu.state.eip).toBe(a.h.cpu.state.eip);
    expect(b.h.cpu.instructions).toBe(a.h.cpu.instructions);
  });
});
