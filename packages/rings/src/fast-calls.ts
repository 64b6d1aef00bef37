import { type Fault, gp, ud } from './exceptions';

/** The CS/SS selectors and entry point a fast system call transfer loads. */
export interface FastTransfer {
  readonly cs: number;
  readonly ss: number;
  readonly eip: number;
  readonly esp: number;
  readonly newCpl: number;
}

export type FastResult = ({ ok: true } & FastTransfer) | { ok: false; fault: Fault };

/**
 * SYSENTER (SDM Vol. 2B SYSENTER): #GP(0) outside protected mode or when IA32_SYSENTER_CS is a
 * null selector; otherwise CS = SYSENTER_CS (RPL 0), SS = CS + 8, EIP/ESP from the MSRs, CPL 0.
 */
export function sysenter(protectedMode: boolean, msr: { cs: number; eip: number; esp: number }): FastResult {
  if (!protectedMode || (msr.cs & 0xfffc) === 0) return { ok: false, fault: gp(0) };
  const cs = msr.cs & 0xfffc;
  return { ok: true, cs, ss: (cs + 8) & 0xffff, eip: msr.eip >>> 0, esp: msr.esp >>> 0, newCpl: 0 };
}

/**
 * SYSEXIT (SDM Vol. 2B SYSEXIT): #GP(0) unless CPL 0 in protected mode with a non-null
 * SYSENTER_CS; returns to CPL 3 with CS = SYSENTER_CS + 16, SS = + 24 (RPL 3), EIP = EDX,
 * ESP = ECX.
 */
export function sysexit(
  protectedMode: boolean,
  cpl: number,
  msrCs: number,
  edx: number,
  ecx: number,
): FastResult {
  if (!protectedMode || cpl !== 0 || (msrCs & 0xfffc) === 0) return { ok: false, fault: gp(0) };
  const base = msrCs & 0xfffc;
  return {
    ok: true,
    cs: ((base + 16) | 3) & 0xffff,
    ss: ((base + 24) | 3) & 0xffff,
    eip: edx >>> 0,
    esp: ecx >>> 0,
    newCpl: 3,
  };
}

/**
 * SYSCALL in legacy mode (SDM Vol. 2B SYSCALL, AMD64 APM Vol. 3): #UD unless EFER.SCE; CS =
 * STAR[47:32] (RPL 0), SS = that + 8, EIP = STAR[31:0]; ECX receives the return address.
 */
export function syscall(sce: boolean, starLo: number, starHi: number): FastResult {
  if (!sce) return { ok: false, fault: ud() };
  const cs = starHi & 0xfffc;
  return { ok: true, cs, ss: (cs + 8) & 0xffff, eip: starLo >>> 0, esp: -1, newCpl: 0 };
}

/**
 * SYSRET in legacy mode: #UD unless EFER.SCE, #GP(0) unless CPL 0; CS = STAR[63:48] | 3,
 * SS = STAR[63:48] + 8 | 3, EIP = ECX.
 */
export function sysret(sce: boolean, cpl: number, starHi: number, ecx: number): FastResult {
  if (!sce) return { ok: false, fault: ud() };
  if (cpl !== 0) return { ok: false, fault: gp(0) };
  const base = (starHi >>> 16) & 0xfffc;
  return {
    ok: true,
    cs: (base | 3) & 0xffff,
    ss: ((base + 8) | 3) & 0xffff,
    eip: ecx >>> 0,
    esp: -1,
    newCpl: 3,
  };
}
