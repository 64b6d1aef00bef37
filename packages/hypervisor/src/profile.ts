/**
 * A guest profile: what the virtual CPU reports through CPUID. It claims only what the
 * translator implements, so a guest never takes a path we cannot run.
 */
export interface GuestProfile {
  readonly name: string;
  cpuid(leaf: number, subleaf: number, out: Int32Array): void;
  /**
   * The MSRs the guest may read and write (RDMSR/WRMSR of any other index raise #GP, as on a CPU
   * without it). Their values live in the CPU state, except the TSC, which is virtual time.
   */
  readonly msrs: readonly number[];
}

/** MSR indexes (SDM vol. 4). */
export const Msr = {
  tsc: 0x10,
  sysenterCs: 0x174,
  sysenterEsp: 0x175,
  sysenterEip: 0x176,
} as const;

/** CPUID.1:EDX feature bits (SDM Vol. 2A, CPUID, table 3-11). */
export const CpuidEdx = {
  fpu: 1 << 0,
  pse: 1 << 3,
  tsc: 1 << 4,
  msr: 1 << 5,
  cx8: 1 << 8,
  sep: 1 << 11,
  cmov: 1 << 15,
  fxsr: 1 << 24,
} as const;

const VENDOR = 'GenuineIntel';
const BRAND = 'ringzero virtual i686 (tier 0)';

function ascii4(s: string, at: number): number {
  let v = 0;
  for (let i = 3; i >= 0; i--) v = (v << 8) | (s.charCodeAt(at + i) || 0);
  return v | 0;
}

/**
 * An i686 (Pentium II-class) profile: FPU, PSE, TSC, MSR, CX8, SEP, CMOV, FXSR — the features
 * tier 0 implements. No APIC, PAE, MMX or SSE, so Linux uses the 8259A and the PIT.
 */
export const I686_PROFILE: GuestProfile = {
  name: 'i686',
  // TSC (CPUID.TSC) and the SYSENTER MSRs (CPUID.SEP); no MTRR, PAT or APIC in this profile.
  msrs: [Msr.tsc, Msr.sysenterCs, Msr.sysenterEsp, Msr.sysenterEip],
  cpuid(leaf, _subleaf, out) {
    out.fill(0);
    if (leaf === 0) {
      out[0] = 1;
      out[1] = ascii4(VENDOR, 0);
      out[3] = ascii4(VENDOR, 4);
      out[2] = ascii4(VENDOR, 8);
    } else if (leaf === 1) {
      out[0] = 0x0652; // family 6, model 5, stepping 2 (Pentium II)
      out[3] =
        CpuidEdx.fpu |
        CpuidEdx.pse |
        CpuidEdx.tsc |
        CpuidEdx.msr |
        CpuidEdx.cx8 |
        CpuidEdx.sep |
        CpuidEdx.cmov |
        CpuidEdx.fxsr;
    } else if (leaf === 0x80000000) {
      out[0] = 0x80000004 | 0;
    } else if (leaf >= 0x80000002 && leaf <= 0x80000004) {
      const base = (leaf - 0x80000002) * 16;
      const brand = BRAND.padEnd(48, '\0');
      for (let i = 0; i < 4; i++) out[i] = ascii4(brand, base + i * 4);
    }
  },
};
