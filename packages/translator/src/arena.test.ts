import { TLB_TABLE_LENGTH } from '@ringzero/memory';
import { describe, expect, it } from 'vitest';
import { createArena, RAM_OFFSET, REGS_OFFSET } from './arena';
import { CpuState } from './cpu-state';
import { FlatMemory } from './harness';
import { Tier0 } from './tier0';

describe('createArena', () => {
  it('lays out the registers, both TLB tables and guest RAM in one WebAssembly memory', () => {
    const a = createArena(1 << 20);
    const buffer = a.memory.buffer;
    for (const view of [a.xfer, a.regs, a.tlbRead, a.tlbWrite, a.ram]) expect(view.buffer).toBe(buffer);
    expect(a.regs.byteOffset).toBe(REGS_OFFSET);
    expect(a.tlbRead.length).toBe(TLB_TABLE_LENGTH);
    expect(a.tlbWrite.byteOffset).toBeGreaterThanOrEqual(a.tlbRead.byteOffset + 4 * TLB_TABLE_LENGTH);
    expect(a.ram.byteOffset).toBe(RAM_OFFSET);
    expect(a.ram.byteOffset).toBeGreaterThanOrEqual(a.tlbWrite.byteOffset + 4 * TLB_TABLE_LENGTH);
    expect(a.ram.length).toBe(1 << 20);
    expect(buffer.byteLength).toBeGreaterThanOrEqual(RAM_OFFSET + (1 << 20));
  });

  it('refuses sizes that are not positive multiples of 4 KiB, naming the size', () => {
    for (const bad of [0, -4096, 4097, 1.5, 2 ** 33]) {
      expect(() => createArena(bad)).toThrow(new RegExp(`got ${bad}\\)`));
    }
  });

  it('a processor with an arena must keep its registers and RAM there', () => {
    const a = createArena(1 << 20);
    const inArena = new FlatMemory(1 << 20, a.ram);
    expect(() => new Tier0({ memory: inArena, state: new CpuState(), jit: true, arena: a })).toThrow(
      /CpuState must be made with the arena's regs/,
    );
    expect(() => new Tier0({ memory: new FlatMemory(1 << 20), jit: true, arena: a })).toThrow(
      /bus's RAM must be the arena's ram/,
    );
    const cpu = new Tier0({ memory: inArena, state: new CpuState(a.regs), jit: true, arena: a });
    expect(cpu.jit?.arena).toBe(a);
    expect(cpu.mmu.tlbRead).toBe(a.tlbRead);
    expect(() => new CpuState(new Int32Array(4))).toThrow(/regs must have 8 entries \(got 4\)/);
  });
});
