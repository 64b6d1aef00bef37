import type { Outcome, VirtualMachine } from './machine';

/** One step of a scripted serial session: wait for `expect` in the output, then send `send`. */
export interface SessionStep {
  /** Text (or pattern) the guest must print before `send` goes out. */
  readonly expect: string | RegExp;
  /** What to type next (include the newline). Omit to only wait. */
  readonly send?: string;
}

export interface SessionOptions {
  /** Instructions allowed for each step before it counts as stuck (default 2 billion). */
  readonly stepBudget?: number;
  /** Instructions per `run` slice between output checks (default 1 million). */
  readonly slice?: number;
  /** Called with the machine's outcome after every slice (for progress reporting). */
  readonly onSlice?: (o: Outcome) => void;
}

export interface SessionResult {
  /** Everything the guest printed on COM1, in order. */
  readonly transcript: string;
  /** How the run ended: after the last step, or when a step failed. */
  readonly outcome: Outcome;
  /** The step that did not see its expected output, with the reason; absent on success. */
  readonly failure?: { readonly step: number; readonly reason: string };
  /** Instruction count when each step's expectation was met. */
  readonly marks: readonly number[];
}

/**
 * Drives a guest through its serial console like a person at a terminal: wait for a prompt or
 * a line, type the next command, and so on. In deterministic mode the same steps give the same
 * transcript byte for byte, because input is injected at points defined by the guest's own
 * output, not by host time. The machine must have been created with `onSerial` feeding
 * a `SerialCollector`'s `push`.
 */
export function runSession(
  vm: VirtualMachine,
  serial: SerialCollector,
  steps: readonly SessionStep[],
  opts: SessionOptions = {},
): SessionResult {
  const stepBudget = opts.stepBudget ?? 2_000_000_000;
  const slice = opts.slice ?? 1_000_000;
  const marks: number[] = [];
  let outcome: Outcome = { kind: 'limit' };
  // Output already matched by earlier steps is not searched again.
  let searchFrom = 0;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    const deadline = vm.cpu.instructions + stepBudget;
    const what = describeExpectation(step.expect);
    const fail = (reason: string): SessionResult => ({
      transcript: serial.text,
      outcome,
      marks,
      failure: { step: i, reason },
    });
    let found = indexAfter(serial.text, step.expect, searchFrom);
    while (found < 0) {
      if (vm.cpu.instructions >= deadline) return fail(`no ${what} within ${stepBudget} instructions`);
      outcome = vm.run(Math.min(slice, deadline - vm.cpu.instructions));
      opts.onSlice?.(outcome);
      found = indexAfter(serial.text, step.expect, searchFrom);
      if (found >= 0) break;
      if (outcome.kind !== 'limit' && outcome.kind !== 'idle') {
        return fail(`the guest stopped (${outcome.kind}) before ${what}`);
      }
      if (outcome.kind === 'idle' && !Number.isFinite(outcome.untilNs)) {
        return fail(`the guest went idle for good before ${what}`);
      }
    }
    searchFrom = found;
    marks.push(vm.cpu.instructions);
    if (step.send !== undefined) vm.serialInput(new TextEncoder().encode(step.send));
  }
  return { transcript: serial.text, outcome, marks };
}

/** Collects serial bytes as text (Latin-1, so every byte maps to one character). */
export class SerialCollector {
  private readonly chunks: string[] = [];
  private cached = '';
  private dirty = false;
  /** Pass this as the machine's `onSerial`. */
  readonly push = (byte: number): void => {
    this.chunks.push(String.fromCharCode(byte));
    this.dirty = true;
  };
  get text(): string {
    if (this.dirty) {
      this.cached += this.chunks.join('');
      this.chunks.length = 0;
      this.dirty = false;
    }
    return this.cached;
  }
}

/** Index just past the first match of `what` at or after `from`, or -1 (what a session step waits for). */
export function indexAfter(text: string, what: string | RegExp, from: number): number {
  if (typeof what === 'string') {
    const i = text.indexOf(what, from);
    return i < 0 ? -1 : i + what.length;
  }
  const re = new RegExp(what.source, what.flags.includes('g') ? what.flags : `${what.flags}g`);
  re.lastIndex = from;
  const m = re.exec(text);
  return m ? m.index + m[0].length : -1;
}

/** A step's expectation as text for messages. */
export function describeExpectation(what: string | RegExp): string {
  return typeof what === 'string' ? JSON.stringify(what) : String(what);
}
