import { describe, expect, it } from 'vitest';
import { Reg } from './cpu-state';
import { createHarness, type HarnessMode } from './harness';
import { StopReason } from './tier0';

/** Seeded xorshift32, so every failure is reproducible from its seed. */
function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

// Size knob: RINGZERO_FUZZ_INSTRUCTIONS (default: one million in ring 0, one million in ring 3,
// a quarter of that in real mode, with paging and with a random IDT).
const TOTAL = Number(process.env.RINGZERO_FUZZ_INSTRUCTIONS ?? 1_000_000);

interface FuzzOptions {
  /** Identity paging with every 16th page missing. */
  paging?: boolean;
  /** Deliver exceptions through a random IDT instead of taking them out of the guest. */
  deliver?: boolean;
}

function fuzz(
  mode: HarnessMode,
  seed: number,
  budget: number,
  opts: FuzzOptions = {},
): { executed: number; outcomes: Map<string, number> } {
  const next = xorshift(seed);
  const size = 1 << 20;
  const { cpu, memory } = createHarness(new Uint8Array(0), {
    mode,
    memorySize: size,
    callouts: { exception: () => !opts.deliver },
  });
  const ram = memory.ram;
  // Random code everywhere above the descriptor tables; keep GDT/IDT/TSS (0x500–0xfff) intact.
  for (let i = 0x1000; i < size; i += 4) {
    const v = next();
    ram[i] = v;
    ram[i + 1] = v >>> 8;
    ram[i + 2] = v >>> 16;
    ram[i + 3] = v >>> 24;
  }
  if (opts.deliver) {
    // A random IDT: gates of every type, present or not, some pointing at valid selectors.
    for (let i = 0x800; i < 0x1000; i += 4) memory.write32(i, next());
  }
  const pd = 0xf0000;
  const pt = 0xf1000;
  if (opts.paging) {
    memory.write32(pd, pt | 7);
    for (let i = 0; i < 256; i++) memory.write32(pt + i * 4, i % 16 === 5 ? 0 : (i << 12) | 7);
  }
  cpu.flushCode();
  const s = cpu.state;
  const base = s.getFlags();
  const fresh = createHarness(new Uint8Array(0), { mode, memorySize: size });
  const outcomes = new Map<string, number>();
  let executed = 0;
  while (executed < budget) {
    // Re-seat the processor at a random place with random registers after every stop.
    const saved = mode === 'real' ? 0xfff0 : size - 0x100;
    for (let r = 0; r < 8; r++) s.regs[r] = next();
    s.regs[Reg.esp] = mode === 'real' ? 0x8000 : saved - (next() & 0xfff);
    s.eip = mode === 'real' ? 0x1000 + (next() & 0x7fff) : 0x1000 + (next() % (size - 0x2000));
    s.setFlags((base & ~0x8d5) | (next() & 0x8d5));
    s.halted = false;
    const before = cpu.instructions;
    const reason = cpu.run(2000);
    executed += cpu.instructions - before;
    const key = reason === StopReason.exception ? `#${cpu.lastVector}` : `stop ${reason}`;
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    if (!Number.isInteger(s.eip) || s.cpl < 0 || s.cpl > 3) outcomes.set('bad state', 1);
    // Reload a sane environment for the next burst (random code may have changed modes).
    s.cr0 = fresh.cpu.state.cr0 | (opts.paging ? 0x80000000 : 0);
    s.cr3 = pd;
    s.cr4 = 0;
    s.cpl = fresh.cpu.state.cpl;
    s.segSel.set(fresh.cpu.state.segSel);
    s.segBase.set(fresh.cpu.state.segBase);
    s.segLimit.set(fresh.cpu.state.segLimit);
    s.segAccess.set(fresh.cpu.state.segAccess);
    s.gdtrBase = fresh.cpu.state.gdtrBase;
    s.gdtrLimit = fresh.cpu.state.gdtrLimit;
    s.idtrBase = fresh.cpu.state.idtrBase;
    s.idtrLimit = fresh.cpu.state.idtrLimit;
    s.dr.fill(0);
    cpu.mmu.flush();
  }
  return { executed, outcomes };
}

describe('random bytes executed as code never raise a host exception', () => {
  // Every outcome must be architectural: an exception vector taken out through the
  // `exception` callout, HLT, or the instruction budget (SDM vol. 3 §6 exception classes).
  for (const [mode, seed] of [
    ['flat32', 0x1234],
    ['flat32-user', 0xbeef],
    ['real', 0x5eed],
  ] as const) {
    it(`${mode}: ${mode === 'real' ? TOTAL / 4 : TOTAL} seeded random instructions end only in architectural outcomes`, () => {
      const { executed, outcomes } = fuzz(mode, seed, mode === 'real' ? TOTAL / 4 : TOTAL);
      expect(executed).toBeGreaterThan(0);
      expect([...outcomes.keys()].filter((k) => !/^(#\d+|stop [0-5])$/.test(k))).toEqual([]);
    });
  }

  it(`ring 3 with paging (every 16th page missing): ${TOTAL / 4} random instructions, page faults included`, () => {
    const { outcomes } = fuzz('flat32-user', 0xc0ffee, TOTAL / 4, { paging: true });
    expect(outcomes.get('#14') ?? 0).toBeGreaterThan(0);
    expect([...outcomes.keys()].filter((k) => !/^(#\d+|stop [0-5])$/.test(k))).toEqual([]);
  });

  it(`ring 3 with a random IDT: ${TOTAL / 4} random instructions whose faults go through delivery, #DF and triple fault`, () => {
    const { outcomes } = fuzz('flat32-user', 0xfeed, TOTAL / 4, { deliver: true });
    expect([...outcomes.keys()].filter((k) => !/^stop [0-5]$/.test(k))).toEqual([]);
  });
});
