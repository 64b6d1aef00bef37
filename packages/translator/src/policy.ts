import { CODE_COUNT } from '@ringzero/decoder';
import { sensitivity as ringsSensitivity } from '@ringzero/rings';
import type { CpuState } from './cpu-state';

/**
 * What tier 0 does with a privileged, IOPL-checked or sensitive instruction form:
 * - `inline`: run the architectural semantics on the guest state (with the privilege checks);
 * - `callout`: ask the hypervisor (`Callouts.emulate`) to carry it out on virtual state;
 * - `exit`: stop the run loop before the instruction with `StopReason.exit`, state untouched.
 */
export const Action = { inline: 0, callout: 1, exit: 2 } as const;
export type Action = (typeof Action)[keyof typeof Action];

/** How an instruction form relates to virtualization (the classes of the rings sensitivity table). */
export const Sensitivity = {
  innocuous: 0,
  /** Faults (#GP) unless CPL = 0. */
  privileged: 1,
  /** Checked against EFLAGS.IOPL (CLI/STI, port I/O, INT n in virtual-8086 mode). */
  ioplChecked: 2,
  /** Runs at any CPL but reads or changes privileged state (POPF, SGDT, MOV from CS, …). */
  sensitive: 3,
} as const;
export type Sensitivity = (typeof Sensitivity)[keyof typeof Sensitivity];

const FROM_RINGS: Record<string, Sensitivity> = {
  innocuous: Sensitivity.innocuous,
  privileged: Sensitivity.privileged,
  iopl: Sensitivity.ioplChecked,
  sensitive: Sensitivity.sensitive,
};

/** The class of a form, from `@ringzero/rings`' sensitivity table (one row per form code). */
function classify(code: number): Sensitivity {
  return FROM_RINGS[ringsSensitivity(code).class] ?? Sensitivity.innocuous;
}

const CLASSES = new Uint8Array(CODE_COUNT);
for (let c = 0; c < CODE_COUNT; c++) CLASSES[c] = classify(c);

/** The class of every form code, for the per-instruction check (read-only by convention). */
export const CLASS_OF: Readonly<Uint8Array> = CLASSES;

/** The sensitivity class of a form code. */
export function sensitivity(code: number): Sensitivity {
  return (CLASSES[code] ?? 0) as Sensitivity;
}

/**
 * Decides, per instruction form and current state, what tier 0 does with a non-innocuous
 * instruction. Called only for forms whose class is not `innocuous`.
 */
export interface Policy {
  decide(code: number, cls: Sensitivity, state: CpuState): Action;
}

/** Runs everything inline: the behaviour of a bare processor (tests, the reference). */
export const NATIVE_POLICY: Policy = {
  decide: () => Action.inline,
};

/** What the hypervisor provides; every field has a bare-machine default. */
export interface Callouts {
  /** IN from a port (after the IOPL / I/O-bitmap check). */
  ioRead(port: number, size: 1 | 2 | 4): number;
  ioWrite(port: number, size: 1 | 2 | 4, value: number): void;
  /** CPUID: fills `out` with EAX, EBX, ECX, EDX. */
  cpuid(leaf: number, subleaf: number, out: Int32Array): void;
  /** RDMSR: the value, or undefined to raise #GP(0). */
  rdmsr(index: number, state: CpuState): bigint | undefined;
  /** WRMSR: false to raise #GP(0). */
  wrmsr(index: number, value: bigint, state: CpuState): boolean;
  /**
   * RDTSC: the 64-bit counter, as a bigint or — cheaper, for the common case of a counter below
   * 2^53 — as a non-negative safe integer.
   */
  rdtsc(state: CpuState): bigint | number;
  /** HLT was executed (the run loop stops with `halt` afterwards). */
  hlt(state: CpuState): void;
  /** A control register is about to change (CR0/2/3/4); return false to raise #GP(0). */
  writeCr(n: number, value: number, state: CpuState): boolean;
  /** INVLPG executed for a linear address (the TLB entry is already dropped). */
  invlpg(linear: number, state: CpuState): void;
  /**
   * A fault was raised (state rolled back to the faulting instruction). Return true to take it
   * out of the guest (the run stops with `StopReason.exception`; trap-and-emulate), false to
   * deliver it through the guest's IVT/IDT.
   */
  exception(vector: number, errorCode: number, state: CpuState): boolean;
  /**
   * The policy said `callout` for this form: emulate it and return true, or false for #UD.
   * EIP already points past the instruction (set it to branch); the decoded instruction is
   * `Tier0.current`.
   */
  emulate(code: number, state: CpuState): boolean;
}

/** The CPUID of a Pentium II-class processor without vendor extras (SDM vol. 2 "CPUID"). */
export function defaultCpuid(leaf: number, _subleaf: number, out: Int32Array): void {
  out.fill(0);
  if (leaf === 0) {
    out[0] = 2;
    // "GenuineIntel" in EBX, EDX, ECX.
    out[1] = 0x756e6547;
    out[3] = 0x49656e69;
    out[2] = 0x6c65746e;
  } else if (leaf === 1) {
    out[0] = 0x0652; // family 6, model 5, stepping 2
    // FPU DE PSE TSC MSR PAE CX8 SEP MTRR PGE CMOV PAT MMX FXSR: what tier 0 implements.
    out[3] = 0x0181b97d;
  }
}

/** Callouts of a bare machine with no devices: ports float high, MSRs are stored in the state. */
export function defaultCallouts(): Callouts {
  return {
    ioRead: (_port, size) => (size === 1 ? 0xff : size === 2 ? 0xffff : -1),
    ioWrite: () => {},
    cpuid: defaultCpuid,
    rdmsr: (index, s) => {
      switch (index) {
        case 0x10:
          return s.tsc;
        case 0x1b:
          return BigInt(s.apicBase >>> 0);
        case 0x174:
          return BigInt(s.sysenterCs >>> 0);
        case 0x175:
          return BigInt(s.sysenterEsp >>> 0);
        case 0x176:
          return BigInt(s.sysenterEip >>> 0);
        case 0x277:
          return s.pat;
        default:
          if (
            (index >= 0x200 && index <= 0x20f) ||
            index === 0xfe ||
            index === 0x2ff ||
            (index >= 0x250 && index <= 0x26f)
          )
            return s.msrs.get(index) ?? 0n;
          return undefined;
      }
    },
    wrmsr: (index, value, s) => {
      const lo = Number(value & 0xffffffffn) | 0;
      switch (index) {
        case 0x10:
          s.tsc = value;
          return true;
        case 0x1b:
          s.apicBase = lo;
          return true;
        case 0x174:
          s.sysenterCs = lo & 0xffff;
          return true;
        case 0x175:
          s.sysenterEsp = lo;
          return true;
        case 0x176:
          s.sysenterEip = lo;
          return true;
        case 0x277:
          s.pat = value;
          return true;
        default:
          if ((index >= 0x200 && index <= 0x20f) || index === 0x2ff || (index >= 0x250 && index <= 0x26f)) {
            s.msrs.set(index, value);
            return true;
          }
          return false;
      }
    },
    rdtsc: (s) => s.tsc,
    hlt: () => {},
    writeCr: () => true,
    invlpg: () => {},
    emulate: () => false,
    exception: () => false,
  };
}
