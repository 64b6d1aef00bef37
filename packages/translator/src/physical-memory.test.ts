import { PhysicalMemory } from '@ringzero/memory';
import { describe, expect, it } from 'vitest';
import { CpuState, Reg, Seg } from './cpu-state';
import { StopReason, Tier0 } from './tier0';

function realModeCpu(memory: PhysicalMemory, origin: number): Tier0 {
  const state = new CpuState();
  for (const seg of [Seg.es, Seg.cs, Seg.ss, Seg.ds, Seg.fs, Seg.gs]) state.loadRealSegment(seg, 0);
  state.eip = origin;
  state.regs[Reg.esp] = 0xfffe;
  return new Tier0({ memory, state });
}

describe('tier 0 on @ringzero/memory PhysicalMemory', () => {
  it('runs code from its RAM and sees a device (DMA) write to a cached code page', () => {
    const memory = new PhysicalMemory(1 << 20);
    // inc ax / hlt
    memory.writeBytes(0x1000, new Uint8Array([0x40, 0xf4]));
    const cpu = realModeCpu(memory, 0x1000);
    expect(cpu.run(10)).toBe(StopReason.halt);
    expect(cpu.state.regs[Reg.eax]).toBe(1);
    // A device rewrites the code behind the processor's back: dec ax / hlt.
    memory.write8(0x1000, 0x48);
    cpu.state.halted = false;
    cpu.state.eip = 0x1000;
    cpu.run(10);
    expect(cpu.state.regs[Reg.eax]).toBe(0);
  });

  it('with the A20 gate closed, FFFF:0010 wraps to physical 0 (SDM vol. 3 §21.1.1)', () => {
    const memory = new PhysicalMemory(2 << 20);
    // mov ax,0xffff / mov es,ax / mov byte [es:0x10],0x5a / hlt
    memory.writeBytes(
      0x1000,
      new Uint8Array([0xb8, 0xff, 0xff, 0x8e, 0xc0, 0x26, 0xc6, 0x06, 0x10, 0x00, 0x5a, 0xf4]),
    );
    const cpu = realModeCpu(memory, 0x1000);
    cpu.setA20(false);
    cpu.run(10);
    expect(cpu.state.segBase[Seg.es]).toBe(0xffff0);
    expect(memory.ram[0]).toBe(0x5a);
    expect(memory.ram[0x100000]).toBe(0);
    expect(memory.a20Enabled).toBe(false); // the bus's gate follows
    cpu.setA20(true);
    cpu.state.halted = false;
    cpu.state.eip = 0x1000;
    cpu.run(10);
    expect(memory.ram[0x100000]).toBe(0x5a);
  });
});
