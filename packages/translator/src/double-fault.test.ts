import { asm } from '@ringzero/assembler';
import { describe, expect, it } from 'vitest';
import { Reg } from './cpu-state';
import { Vector } from './fault';
import { createHarness, setGate } from './harness';
import { StopReason } from './tier0';

/** Exception classes during delivery (SDM Vol. 3A §6.15, table 6-5), through interrupt gates. */
describe('double fault', () => {
  // xor ecx, ecx / div ecx (#DE at 0x1002) / hlt; the #DE gate is left not present.
  const code = asm`xor ecx, ecx\ndiv ecx\nhlt`;

  it('a contributory fault while delivering a contributory fault is #DF with error code 0 (table 6-5)', () => {
    const { cpu, memory } = createHarness(code);
    setGate(memory, Vector.df, 0x3000);
    memory.write8(0x3000, 0xf4);
    expect(cpu.run(10)).toBe(StopReason.halt);
    const esp = cpu.state.regs[Reg.esp]! >>> 0;
    expect(cpu.state.eip).toBe(0x3001);
    expect(memory.read32(esp)).toBe(0); // #DF's error code
    expect(memory.read32(esp + 4)).toBe(0x1002); // the faulting DIV
  });

  it('a fault while delivering #DF shuts the processor down (§6.15, interrupt 8)', () => {
    const { cpu } = createHarness(code);
    expect(cpu.run(10)).toBe(StopReason.tripleFault);
    expect(cpu.lastVector).toBe(Vector.df);
  });

  it('an external interrupt whose delivery faults delivers that fault, not #DF (table 6-5)', () => {
    // sti / jmp $; vector 0x20 is a not-present interrupt gate: #NP(0x20·8 + IDT + EXT).
    const { cpu, memory } = createHarness(asm`sti\njmp $`);
    setGate(memory, Vector.np, 0x3000);
    memory.write8(0x3000, 0xf4);
    memory.write32(0x800 + 0x20 * 8 + 4, 0x0e00);
    setGate(memory, Vector.df, 0x3100);
    cpu.run(10);
    expect(cpu.injectInterrupt(0x20)).toBe(true);
    expect(cpu.run(10)).toBe(StopReason.halt);
    expect(cpu.state.eip).toBe(0x3001);
    expect(memory.read32(cpu.state.regs[Reg.esp]! >>> 0)).toBe(0x20 * 8 + 3);
  });
});
