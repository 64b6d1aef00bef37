import { assemble } from '@ringzero/assembler';
import { describe, expect, it } from 'vitest';
import { createHarness } from './harness';
import { StopReason } from './tier0';
import { MODE_UNPAGED } from './tier1';

/**
 * Without paging (and with the A20 gate open), WebAssembly regions read RAM above 1 MiB by
 * address, without the TLB (`MODE_UNPAGED`). Reads at each edge of that window — just below
 * 1 MiB, across it, RAM's last bytes, across RAM's end and beyond it — and reads of bytes the
 * region itself has just stored must come out as tier 0 reads them.
 */
const RAM = 4 << 20;
const SOURCE = `bits 32
org 0x1000
  xor ecx, ecx
  xor esi, esi
  mov ebp, 300
again:
  add ecx, [0x5000]
  xor ecx, [0xffffe]
  add ecx, [0x100000]
  movzx eax, word [0xfffff]
  add ecx, eax
  movzx eax, byte [esi+0x100000]
  add ecx, eax
  add ecx, [esi+0x3ffff0]
  add ecx, [${RAM - 4}]
  xor ecx, [${RAM - 2}]
  movzx eax, byte [${RAM - 1}]
  add ecx, eax
  movzx eax, word [${RAM - 1}]
  xor ecx, eax
  add ecx, [${RAM}]
  mov [esi*4+0x200000], ecx
  add ecx, [esi*4+0x200000]
  mov [0x200100], cl
  movzx eax, byte [0x200100]
  add ecx, eax
  rol ecx, 3
  inc esi
  and esi, 15
  dec ebp
  jnz again
  hlt`;

function run(jit: boolean, a20: boolean) {
  const h = createHarness(assemble(SOURCE).bytes, { jit, wasm: jit, jitThreshold: 16, memorySize: RAM });
  if (!a20) h.cpu.setA20(false);
  const ram = h.memory.ram;
  for (let k = 0; k < 64; k++) {
    ram[0x5000 + k] = (k * 37 + 1) & 0xff;
    ram[0xffff0 + k] = (k * 11 + 5) & 0xff;
    ram[0x100000 + k] = (k * 53 + 7) & 0xff;
    ram[RAM - 64 + k] = (k * 29 + 3) & 0xff;
  }
  let reason: number = StopReason.limit;
  while (reason === StopReason.limit && h.cpu.instructions < 1_000_000) reason = h.cpu.run(997);
  expect(reason).toBe(StopReason.halt);
  return h;
}

describe('WebAssembly regions without paging', () => {
  it.each([
    [true, MODE_UNPAGED],
    [false, 0],
  ])('read RAM as tier 0 does (A20 gate open: %s)', (a20, bit) => {
    const a = run(false, a20);
    const b = run(true, a20);
    expect(Array.from(b.cpu.state.regs)).toEqual(Array.from(a.cpu.state.regs));
    expect(b.cpu.state.getFlags()).toBe(a.cpu.state.getFlags());
    expect(b.cpu.instructions).toBe(a.cpu.instructions);
    expect(Array.from(b.memory.ram.subarray(0x200000, 0x200140))).toEqual(
      Array.from(a.memory.ram.subarray(0x200000, 0x200140)),
    );
    // The loop ran as a WebAssembly region, in the mode with (or, A20 closed, without) the bit.
    expect(b.cpu.jit?.stats.wasmRegions).toBeGreaterThan(0);
    expect(b.cpu.jit?.stats.instructionsTranslated ?? 0).toBeGreaterThan(b.cpu.instructions / 2);
    expect((b.cpu.jit?.modeKey(b.cpu.state, b.cpu.mmu.a20Mask) ?? -1) & MODE_UNPAGED).toBe(bit);
  });
});
