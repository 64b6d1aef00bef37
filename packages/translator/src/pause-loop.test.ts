import { assemble } from '@ringzero/assembler';
import { describe, expect, it } from 'vitest';
import { Reg } from './cpu-state';
import { createHarness } from './harness';
import { StopReason, type Tier0 } from './tier0';

function program(source: string): Uint8Array {
  return assemble(`bits 32\norg 0x1000\n${source}`).bytes;
}

/** A spin: `pause` and `spacer` NOPs per iteration, ECX counting the iterations. */
function spin(spacer: number): Uint8Array {
  return program(`
    xor ecx, ecx
  top:
    pause
    ${'nop\n'.repeat(spacer)}
    inc ecx
    jmp top`);
}

/** Runs in slices until a PAUSE-loop exit or `limit` instructions. */
function runToExit(cpu: Tier0, limit: number): StopReason {
  let reason: StopReason = StopReason.limit;
  while (cpu.instructions < limit) {
    reason = cpu.run(Math.min(1000, limit - cpu.instructions));
    if (reason !== StopReason.limit) break;
  }
  return reason;
}

describe('PAUSE-loop exiting', () => {
  for (const jit of [false, true]) {
    const tier = jit ? 'tier 1' : 'tier 0';

    it(`${tier}: a PAUSE loop ends the run once it has lasted the window, after the PAUSE`, () => {
      const { cpu } = createHarness(spin(2), { jit, jitThreshold: 8 });
      cpu.pauseLoopExiting = { gap: 16, window: 400 };
      // Each iteration is 5 instructions (pause, 2 nops, inc, jmp); the first PAUSE is the 2nd
      // instruction, so the 81st PAUSE, 400 instructions later, is instruction 402.
      expect(runToExit(cpu, 100_000)).toBe(StopReason.pauseLoop);
      expect(cpu.instructions).toBe(402);
      expect(cpu.state.regs[Reg.ecx]).toBe(80);
      expect(cpu.state.eip).toBe(0x1000 + 2 + 2); // past the PAUSE, at the first NOP
      expect(cpu.pauseLoopRepeats).toBe(0);
      // The spin goes on: the next window ends 400 instructions later, as its second exit.
      expect(runToExit(cpu, 100_000)).toBe(StopReason.pauseLoop);
      expect(cpu.instructions).toBe(802);
      expect(cpu.pauseLoopRepeats).toBe(1);
    });

    it(`${tier}: PAUSEs further apart than the gap are no loop`, () => {
      const { cpu } = createHarness(spin(20), { jit, jitThreshold: 8 });
      cpu.pauseLoopExiting = { gap: 16, window: 400 };
      expect(runToExit(cpu, 20_000)).toBe(StopReason.limit);
      expect(cpu.instructions).toBe(20_000);
    });
  }

  it('is off by default: a bare processor runs PAUSE as a NOP', () => {
    const { cpu } = createHarness(spin(0), { jit: true, jitThreshold: 8 });
    expect(cpu.pauseLoopExiting).toBeNull();
    expect(runToExit(cpu, 50_000)).toBe(StopReason.limit);
  });

  it('a loop broken by a longer pause in the spin starts over, with its exits counted from 0', () => {
    // 30 tight iterations, then one with 40 NOPs before the next PAUSE, forever.
    const { cpu } = createHarness(
      program(`
      top:
        mov ebx, 30
      tight:
        pause
        dec ebx
        jnz tight
        ${'nop\n'.repeat(40)}
        jmp top`),
      { jit: true, jitThreshold: 8 },
    );
    cpu.pauseLoopExiting = { gap: 16, window: 60 };
    for (let k = 0; k < 20; k++) {
      expect(runToExit(cpu, 1_000_000)).toBe(StopReason.pauseLoop);
      // 30 iterations of 3 instructions span 87 instructions from the first PAUSE: one exit per
      // tight run, so every exit is the first of its loop.
      expect(cpu.pauseLoopRepeats).toBe(0);
    }
  });

  it('refuses settings that are not positive integers with the gap below the window', () => {
    const { cpu } = createHarness(spin(0));
    expect(() => {
      cpu.pauseLoopExiting = { gap: 0, window: 100 };
    }).toThrow(/gap and window must be positive integers/);
    expect(() => {
      cpu.pauseLoopExiting = { gap: 100, window: 100 };
    }).toThrow(/gap < window/);
    expect(() => {
      cpu.pauseLoopExiting = { gap: 1.5, window: 100 };
    }).toThrow(RangeError);
    expect(cpu.pauseLoopExiting).toBeNull();
  });
});
