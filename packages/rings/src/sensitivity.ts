import { CODE_COUNT, CODE_NAMES, codeName, mnemonicOf, Privilege, privilege } from '@ringzero/decoder';

/**
 * The sensitivity table: for every instruction form the decoder knows, how it behaves when a
 * guest kernel written for ring 0 runs deprivileged (ring 1 or ring 3), which is what a
 * hypervisor must intercept. This is the data behind the project's sensitive-instruction audit.
 *
 * Classes (after Popek & Goldberg, and Robin & Irvine's analysis of the Pentium):
 * - `privileged`: faults (#GP(0) or #UD) unless CPL = 0 — trap-and-emulate catches it;
 * - `iopl`: checked against EFLAGS.IOPL (and for I/O the TSS bitmap) — traps when CPL > IOPL;
 * - `sensitive`: does not fault (or faults only in some states) but behaves differently by
 *   privilege or exposes privileged state — trap-and-emulate silently goes wrong;
 * - `innocuous`: the same at every privilege level.
 */
export const SensitivityClass = {
  innocuous: 'innocuous',
  privileged: 'privileged',
  iopl: 'iopl',
  sensitive: 'sensitive',
} as const;
export type SensitivityClass = (typeof SensitivityClass)[keyof typeof SensitivityClass];

/** What happens when a deprivileged guest kernel executes the form. */
export type DeprivilegedBehaviour =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'fault';
      readonly vector: number;
      readonly errorCode: 'zero' | 'selector' | 'idt-entry';
      readonly when: string;
    }
  | { readonly kind: 'silent'; readonly effect: SilentEffect; readonly when: string };

/** Machine-readable names for the ways an instruction silently misbehaves. */
export type SilentEffect =
  | 'if-unchanged'
  | 'iopl-unchanged'
  | 'reveals-real-eflags'
  | 'reveals-host-descriptor-table'
  | 'reveals-cpl'
  | 'reveals-cr0'
  | 'reveals-descriptor-rights'
  | 'reveals-host-cpu'
  | 'reveals-host-time'
  | 'reveals-host-counters'
  | 'enters-host-kernel'
  | 'privilege-checked-transfer'
  | 'descriptor-privilege-check';

/**
 * Control bits that change what a deprivileged form does: CR4.UMIP (SDM Vol. 3A §2.5), CR4.TSD,
 * CR4.PCE, and CPUID faulting (bit 0 of MSR_MISC_FEATURES_ENABLES, 140H, in the SDM Vol. 4
 * model-specific MSR tables).
 */
export type ControlFlag = 'CR4.UMIP' | 'CR4.TSD' | 'CR4.PCE' | 'cpuid-faulting';

/** With `flag` set, a deprivileged guest kernel gets `set` instead of the entry's behaviour. */
export interface ControlCondition {
  readonly flag: ControlFlag;
  readonly set: DeprivilegedBehaviour;
}

export interface SensitivityEntry {
  readonly class: SensitivityClass;
  readonly deprivileged: DeprivilegedBehaviour;
  /** A control bit that changes the deprivileged behaviour, if any. */
  readonly control?: ControlCondition;
  /** The SDM section that states the rule. */
  readonly sdm: string;
  readonly summary: string;
}

interface Rule extends SensitivityEntry {
  readonly mnemonics: readonly string[];
  /** Exact form names, when only some forms of the mnemonics are meant. */
  readonly codes?: readonly string[];
}

const GP0_CPL = (when = 'CPL > 0'): DeprivilegedBehaviour => ({
  kind: 'fault',
  vector: 13,
  errorCode: 'zero',
  when,
});
const UMIP: ControlCondition = { flag: 'CR4.UMIP', set: GP0_CPL('CR4.UMIP = 1 and CPL > 0') };
const UD = (when: string): DeprivilegedBehaviour => ({ kind: 'fault', vector: 6, errorCode: 'zero', when });

const RULES: readonly Rule[] = [
  // Privileged: #GP(0) unless CPL = 0 (SDM Vol. 3A §2.8 "System instruction summary", §5.9).
  ...(
    [
      ['hlt', 'Vol. 2A HLT', 'stops the processor until an interrupt'],
      ['lgdt', 'Vol. 2A LGDT/LIDT', 'loads the GDT register'],
      ['lidt', 'Vol. 2A LGDT/LIDT', 'loads the IDT register'],
      ['lldt', 'Vol. 2A LLDT', 'loads the LDT register'],
      ['ltr', 'Vol. 2A LTR', 'loads the task register'],
      ['lmsw', 'Vol. 2A LMSW', 'loads the machine status word (CR0 low bits)'],
      ['clts', 'Vol. 2A CLTS', 'clears CR0.TS'],
      ['invd', 'Vol. 2A INVD', 'invalidates caches without writeback'],
      ['wbinvd', 'Vol. 2B WBINVD', 'writes back and invalidates caches'],
      ['wbnoinvd', 'Vol. 2B WBNOINVD', 'writes back caches without invalidating them'],
      ['invlpg', 'Vol. 2A INVLPG', 'invalidates a TLB entry'],
      ['rdmsr', 'Vol. 2B RDMSR', 'reads a model-specific register'],
      ['wrmsr', 'Vol. 2B WRMSR', 'writes a model-specific register'],
      ['sysexit', 'Vol. 2B SYSEXIT', 'fast return to ring 3'],
      ['sysexitq', 'Vol. 2B SYSEXIT', 'fast return to ring 3 (64-bit)'],
      ['sysret', 'Vol. 2B SYSRET', 'return from SYSCALL'],
      ['sysretq', 'Vol. 2B SYSRET', 'return from SYSCALL (64-bit)'],
      ['swapgs', 'Vol. 2B SWAPGS', 'swaps GS base with IA32_KERNEL_GS_BASE'],
      ['xsetbv', 'Vol. 2B XSETBV', 'writes an extended control register'],
      ['invpcid', 'Vol. 2A INVPCID', 'invalidates TLB entries by PCID'],
      ['xsaves', 'Vol. 2D XSAVES', 'saves supervisor state components'],
      ['xsaves64', 'Vol. 2D XSAVES', 'saves supervisor state components (64-bit)'],
      ['xrstors', 'Vol. 2D XRSTORS', 'restores supervisor state components'],
      ['xrstors64', 'Vol. 2D XRSTORS', 'restores supervisor state components (64-bit)'],
      ['setssbsy', 'Vol. 2B SETSSBSY', 'marks the supervisor shadow stack busy'],
      ['clrssbsy', 'Vol. 2A CLRSSBSY', 'clears the busy flag of a supervisor shadow stack token'],
      ['wrussd', 'Vol. 2D WRUSS', 'writes to a user shadow stack'],
      ['wrussq', 'Vol. 2D WRUSS', 'writes to a user shadow stack (64-bit)'],
    ] as const
  ).map(
    ([m, sdm, what]): Rule => ({
      mnemonics: [m],
      class: 'privileged',
      deprivileged: GP0_CPL(),
      sdm,
      summary: `${what}; #GP(0) at CPL > 0`,
    }),
  ),
  {
    mnemonics: ['mov'],
    codes: [
      'mov_r32_cr',
      'mov_r64_cr',
      'mov_cr_r32',
      'mov_cr_r64',
      'mov_r32_dr',
      'mov_r64_dr',
      'mov_dr_r32',
      'mov_dr_r64',
    ],
    class: 'privileged',
    deprivileged: GP0_CPL(),
    sdm: 'Vol. 2B MOV—Move to/from Control Registers, Debug Registers',
    summary: 'reads or writes CRn/DRn; #GP(0) at CPL > 0',
  },
  {
    mnemonics: ['monitor', 'mwait'],
    class: 'privileged',
    deprivileged: UD('CPL > 0 (unless ring-3 MONITOR/MWAIT is enabled)'),
    sdm: 'Vol. 2B MONITOR, MWAIT',
    summary: 'address-range monitoring; #UD at CPL > 0',
  },
  {
    mnemonics: ['clac', 'stac'],
    class: 'privileged',
    deprivileged: UD('CPL > 0'),
    sdm: 'Vol. 2A CLAC, Vol. 2B STAC',
    summary: 'changes EFLAGS.AC for SMAP; #UD at CPL > 0',
  },
  {
    mnemonics: [
      'vmlaunch',
      'vmresume',
      'vmxoff',
      'vmread',
      'vmwrite',
      'vmptrld',
      'vmptrst',
      'vmclear',
      'vmxon',
      'invept',
      'invvpid',
    ],
    class: 'privileged',
    deprivileged: GP0_CPL('CPL > 0 in VMX operation (#UD outside it)'),
    sdm: 'Vol. 3C ch. 31 VMX instruction reference',
    summary: 'VMX operation; #GP(0) at CPL > 0',
  },
  {
    mnemonics: ['vmrun', 'vmload', 'vmsave', 'stgi', 'clgi', 'skinit', 'invlpga'],
    class: 'privileged',
    deprivileged: GP0_CPL(),
    sdm: 'AMD64 APM Vol. 3 (SVM); Intel SDM lists them as #UD',
    summary: 'SVM operation; #GP(0) at CPL > 0',
  },

  // IOPL-checked (SDM Vol. 1 §18.2 (I/O privilege level), Vol. 3A §20 for VME/PVI).
  {
    mnemonics: ['cli', 'sti'],
    class: 'iopl',
    deprivileged: GP0_CPL('CPL > IOPL (without VME/PVI)'),
    sdm: 'Vol. 2A CLI, Vol. 2B STI',
    summary: 'changes EFLAGS.IF; #GP(0) when CPL > IOPL',
  },
  {
    mnemonics: ['in', 'out', 'insb', 'insw', 'insd', 'outsb', 'outsw', 'outsd'],
    class: 'iopl',
    deprivileged: GP0_CPL('CPL > IOPL and the TSS I/O bitmap denies the port'),
    sdm: 'Vol. 1 §19.5.2 I/O permission bit map; Vol. 2A IN/INS, Vol. 2B OUT/OUTS',
    summary: 'port I/O; #GP(0) when CPL > IOPL unless the I/O bitmap allows the port',
  },

  // Sensitive but not privileged: the x86 virtualization holes.
  {
    mnemonics: ['popf', 'popfd', 'popfq'],
    class: 'sensitive',
    deprivileged: { kind: 'silent', effect: 'if-unchanged', when: 'CPL > IOPL (IF), CPL > 0 (IOPL)' },
    sdm: 'Vol. 2B POPF',
    summary: 'at CPL > IOPL the IF bit is silently left unchanged, at CPL > 0 the IOPL bits too — no fault',
  },
  {
    mnemonics: ['pushf', 'pushfd', 'pushfq'],
    class: 'sensitive',
    deprivileged: { kind: 'silent', effect: 'reveals-real-eflags', when: 'always' },
    sdm: 'Vol. 2B PUSHF',
    summary: "pushes the real EFLAGS: the guest sees the host's IF and IOPL, not its virtual ones",
  },
  {
    mnemonics: ['iret', 'iretd', 'iretq'],
    class: 'sensitive',
    deprivileged: {
      kind: 'silent',
      effect: 'if-unchanged',
      when: 'CPL > IOPL; return to an outer level is checked',
    },
    sdm: 'Vol. 2A IRET/IRETD; Vol. 3A §6.14.1, §7.3 (task return with NT = 1)',
    summary:
      'like POPF, silently keeps IF/IOPL at CPL > IOPL; privilege checks on the return CS/SS; with NT = 1 a task switch back through the TSS back-link',
  },
  {
    mnemonics: ['sgdt', 'sidt'],
    class: 'sensitive',
    deprivileged: {
      kind: 'silent',
      effect: 'reveals-host-descriptor-table',
      when: 'CR4.UMIP = 0 (with UMIP: #GP(0) at CPL > 0)',
    },
    control: UMIP,
    sdm: 'Vol. 2B SGDT, SIDT; Vol. 3A §2.5 (CR4.UMIP)',
    summary: "stores the host's GDTR/IDTR: the guest sees where the hypervisor's tables are",
  },
  {
    mnemonics: ['sldt', 'str'],
    class: 'sensitive',
    deprivileged: {
      kind: 'silent',
      effect: 'reveals-host-descriptor-table',
      when: 'CR4.UMIP = 0 (with UMIP: #GP(0) at CPL > 0)',
    },
    control: UMIP,
    sdm: 'Vol. 2B SLDT, STR; Vol. 3A §2.5 (CR4.UMIP)',
    summary: "stores the host's LDTR/TR selector",
  },
  {
    mnemonics: ['smsw'],
    class: 'sensitive',
    deprivileged: {
      kind: 'silent',
      effect: 'reveals-cr0',
      when: 'CR4.UMIP = 0 (with UMIP: #GP(0) at CPL > 0)',
    },
    control: UMIP,
    sdm: 'Vol. 2B SMSW; Vol. 3A §2.5 (CR4.UMIP)',
    summary: "stores the real CR0 low bits (PE, MP, EM, TS): the guest sees the host's, not its own",
  },
  {
    mnemonics: ['lar', 'lsl', 'verr', 'verw'],
    class: 'sensitive',
    deprivileged: {
      kind: 'silent',
      effect: 'reveals-descriptor-rights',
      when: 'the result depends on CPL vs the descriptor DPL',
    },
    sdm: 'Vol. 2A LAR, LSL; Vol. 2B VERR/VERW',
    summary: 'report access rights or limits subject to CPL: a deprivileged kernel gets different answers',
  },
  {
    mnemonics: ['mov'],
    codes: ['mov_rm16_sreg', 'mov_r32m16_sreg', 'mov_r64m16_sreg'],
    class: 'sensitive',
    deprivileged: { kind: 'silent', effect: 'reveals-cpl', when: 'reading CS or SS' },
    sdm: 'Vol. 2B MOV; Vol. 3A §5.5 (CPL in CS/SS RPL)',
    summary: 'reading CS or SS shows RPL = the real CPL: the guest kernel learns it is not in ring 0',
  },
  {
    mnemonics: ['push'],
    codes: ['pushw_cs', 'pushd_cs', 'pushw_ss', 'pushd_ss'],
    class: 'sensitive',
    deprivileged: { kind: 'silent', effect: 'reveals-cpl', when: 'always' },
    sdm: 'Vol. 2B PUSH; Vol. 3A §5.5',
    summary: 'pushes CS/SS with the real CPL in the RPL bits',
  },
  {
    mnemonics: ['mov', 'pop', 'lds', 'les', 'lfs', 'lgs', 'lss'],
    codes: [
      'mov_sreg_rm16',
      'mov_sreg_r32m16',
      'mov_sreg_r64m16',
      'popw_es',
      'popd_es',
      'popw_ss',
      'popd_ss',
      'popw_ds',
      'popd_ds',
      'popw_fs',
      'popd_fs',
      'popq_fs',
      'popw_gs',
      'popd_gs',
      'popq_gs',
      'lds_r16_m1616',
      'lds_r32_m1632',
      'les_r16_m1616',
      'les_r32_m1632',
      'lss_r16_m1616',
      'lss_r32_m1632',
      'lss_r64_m1664',
      'lfs_r16_m1616',
      'lfs_r32_m1632',
      'lfs_r64_m1664',
      'lgs_r16_m1616',
      'lgs_r32_m1632',
      'lgs_r64_m1664',
    ],
    class: 'sensitive',
    deprivileged: {
      kind: 'fault',
      vector: 13,
      errorCode: 'selector',
      when: 'the descriptor DPL < CPL (ring-0 data/stack segments)',
    },
    sdm: 'Vol. 3A §5.7 (privilege checks for data/stack segments); Vol. 2B MOV, POP',
    summary: "loading the kernel's DPL-0 segments faults at CPL > 0; an SS load needs DPL = CPL",
  },
  {
    mnemonics: ['call', 'jmp', 'retf', 'retfq'],
    codes: [
      'call_ptr1616',
      'call_ptr1632',
      'call_m1616',
      'call_m1632',
      'call_m1664',
      'jmp_ptr1616',
      'jmp_ptr1632',
      'jmp_m1616',
      'jmp_m1632',
      'jmp_m1664',
      'retfw',
      'retfd',
      'retfq',
      'retfw_imm16',
      'retfd_imm16',
      'retfq_imm16',
    ],
    class: 'sensitive',
    deprivileged: {
      kind: 'silent',
      effect: 'privilege-checked-transfer',
      when: 'target or return CS has RPL/DPL 0',
    },
    sdm: 'Vol. 3A §5.8 (privilege level checks when transferring program control), §7.3 (task switches)',
    summary:
      'far transfers check CPL against DPL/RPL: a far return to RPL 0 from ring 1 or 3 faults or lands elsewhere',
  },
  {
    mnemonics: ['int1'],
    class: 'sensitive',
    deprivileged: {
      kind: 'silent',
      effect: 'enters-host-kernel',
      when: 'always: #DB through IDT vector 1 without the gate DPL check',
    },
    sdm: 'Vol. 2A INT n/INTO/INT3/INT1 (the DPL check "does not apply to INT1")',
    summary:
      "raises #DB as a privileged software exception: the gate DPL is not checked, so it reaches the host's #DB handler from any ring (deliver with software: false, external: true)",
  },
  {
    mnemonics: ['int', 'int3', 'into'],
    class: 'sensitive',
    deprivileged: {
      kind: 'fault',
      vector: 13,
      errorCode: 'idt-entry',
      when: 'gate DPL < CPL (software interrupts)',
    },
    sdm: 'Vol. 2A INT n/INTO/INT3/INT1; Vol. 3A §6.12.1.1',
    summary: 'software interrupts check the gate DPL against CPL and switch stacks by privilege',
  },
  {
    mnemonics: ['rdtsc', 'rdtscp'],
    class: 'sensitive',
    deprivileged: {
      kind: 'silent',
      effect: 'reveals-host-time',
      when: 'CR4.TSD = 0 (with TSD: #GP(0) at CPL > 0)',
    },
    control: { flag: 'CR4.TSD', set: GP0_CPL('CR4.TSD = 1 and CPL > 0') },
    sdm: 'Vol. 2B RDTSC, RDTSCP; Vol. 3A §2.5 (CR4.TSD)',
    summary: "reads the host's time-stamp counter unless CR4.TSD makes it privileged",
  },
  {
    mnemonics: ['rdpmc'],
    class: 'sensitive',
    deprivileged: GP0_CPL('CR4.PCE = 0 and CPL > 0'),
    control: {
      flag: 'CR4.PCE',
      set: { kind: 'silent', effect: 'reveals-host-counters', when: 'CR4.PCE = 1' },
    },
    sdm: 'Vol. 2B RDPMC; Vol. 3A §2.5 (CR4.PCE)',
    summary: 'reads a performance counter; privileged unless CR4.PCE = 1',
  },
  {
    mnemonics: ['rdpid'],
    class: 'sensitive',
    deprivileged: { kind: 'silent', effect: 'reveals-host-cpu', when: 'always' },
    sdm: 'Vol. 2B RDPID',
    summary: "reads the host's IA32_TSC_AUX (processor id)",
  },
  {
    mnemonics: ['cpuid'],
    class: 'sensitive',
    deprivileged: { kind: 'silent', effect: 'reveals-host-cpu', when: 'unless CPUID faulting is enabled' },
    control: { flag: 'cpuid-faulting', set: GP0_CPL('CPUID faulting enabled and CPL > 0') },
    sdm: 'Vol. 2A CPUID; Vol. 4 model-specific MSRs (MSR_MISC_FEATURES_ENABLES, 140H, bit 0: CPUID faulting)',
    summary: "reports the host processor's features, not the virtual CPU's",
  },
  {
    mnemonics: ['xgetbv'],
    class: 'sensitive',
    deprivileged: { kind: 'silent', effect: 'reveals-host-cpu', when: 'always' },
    sdm: 'Vol. 2B XGETBV',
    summary: "reads the host's XCR0",
  },
  {
    mnemonics: ['sysenter', 'syscall'],
    class: 'sensitive',
    deprivileged: {
      kind: 'silent',
      effect: 'enters-host-kernel',
      when: 'always (#GP(0) if SYSENTER_CS is 0)',
    },
    sdm: 'Vol. 2B SYSENTER, SYSCALL',
    summary: "jumps to the host's MSR-defined entry point at CPL 0, not the guest's",
  },
  {
    mnemonics: ['vmcall', 'vmmcall', 'vmfunc'],
    class: 'sensitive',
    deprivileged: UD('outside a virtual machine; inside one it exits to the hypervisor'),
    sdm: 'Vol. 3C ch. 31 VMCALL; AMD64 APM Vol. 3 VMMCALL',
    summary: 'calls the hypervisor',
  },
];

const INNOCUOUS: SensitivityEntry = {
  class: 'innocuous',
  deprivileged: { kind: 'none' },
  sdm: 'Vol. 3A §2.8 (not a system instruction)',
  summary: 'behaves the same at every privilege level',
};

/** The table, one entry per decoder form code (index = code). Built once from the rules. */
export const SENSITIVITY: readonly SensitivityEntry[] = (() => {
  const out: SensitivityEntry[] = [INNOCUOUS];
  for (let code = 1; code < CODE_COUNT; code++) {
    const name = CODE_NAMES[code]!;
    const mnemonic = mnemonicOf(code);
    const exact = RULES.find((r) => r.codes?.includes(name));
    const byMnemonic = RULES.find((r) => r.codes === undefined && r.mnemonics.includes(mnemonic));
    out.push(exact ?? byMnemonic ?? INNOCUOUS);
  }
  return out;
})();

/** The entry for a decoder form code. */
export function sensitivity(code: number): SensitivityEntry {
  return SENSITIVITY[code] ?? INNOCUOUS;
}

/**
 * What a deprivileged guest kernel gets from a form under the given control bits: the entry's
 * behaviour, or its control condition's when that bit is set (e.g. SGDT with CR4.UMIP = 1 is
 * #GP(0) instead of silently revealing the host GDTR).
 */
export function deprivilegedBehaviour(
  code: number,
  controls: Partial<Readonly<Record<ControlFlag, boolean>>> = {},
): DeprivilegedBehaviour {
  const e = sensitivity(code);
  if (e.control !== undefined && controls[e.control.flag] === true) return e.control.set;
  return e.deprivileged;
}

/** Every non-innocuous form, for the audit: `[form name, entry]`. */
export function sensitiveForms(): [string, SensitivityEntry][] {
  const out: [string, SensitivityEntry][] = [];
  for (let code = 1; code < SENSITIVITY.length; code++) {
    const e = SENSITIVITY[code]!;
    if (e.class !== 'innocuous') out.push([codeName(code), e]);
  }
  return out;
}

/** Whether the decoder's privilege field and the table agree for a code (used by tests). */
export function agreesWithDecoder(code: number): boolean {
  const p = privilege(code);
  const c = sensitivity(code).class;
  if (p === Privilege.cpl0) return c === 'privileged';
  if (p === Privilege.iopl) return c === 'iopl';
  return c !== 'privileged' && c !== 'iopl';
}

/** The rules the table is built from (for documentation and the audit). */
export const SENSITIVITY_RULES: readonly (SensitivityEntry & {
  mnemonics: readonly string[];
  codes?: readonly string[];
})[] = RULES;
