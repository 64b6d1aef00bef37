import { describe, expect, it } from 'vitest';
import { type DescriptorTables, encodeDescriptor, encodeGate, SystemType } from './descriptors';
import {
  encodeGate64,
  farReturn64,
  farTransfer64,
  interruptTarget64,
  isCanonical,
  loadTaskRegister,
  parseGate64,
  readSystemDescriptor64,
  syscall64,
  sysenter64,
  sysexit64,
  sysret64,
  TSS64,
  type Tss64,
} from './long-mode';

const GDT = 0x1000;
const IDT = 0x2000;

function machine() {
  const mem = new Map<number, number>();
  const put32 = (a: number, v: number) => mem.set(a, v >>> 0);
  const putGdt = (i: number, [lo, hi]: [number, number]) => {
    put32(GDT + i * 8, lo);
    put32(GDT + i * 8 + 4, hi);
  };
  const code64 = (
    dpl: number,
    extra: { present?: boolean; big?: boolean; long?: boolean; type?: number } = {},
  ) =>
    encodeDescriptor({
      base: 0,
      limit: 0xfffff,
      type: extra.type ?? 0xb,
      codeOrData: true,
      dpl,
      present: extra.present ?? true,
      long: extra.long ?? true,
      big: extra.big ?? false,
      granularity: true,
    });
  putGdt(1, code64(0)); // 0x08 kernel 64-bit code
  putGdt(2, encodeDescriptor({ base: 0, limit: 0xfffff, type: 3, codeOrData: true, dpl: 0, present: true })); // 0x10
  putGdt(3, code64(3)); // 0x18 user 64-bit code
  putGdt(4, code64(0, { long: false, big: true })); // 0x20 32-bit code
  putGdt(5, code64(0, { present: false })); // 0x28 not present
  // 0x30: a 16-byte 64-bit TSS at 0xffff8000_00005000.
  putGdt(
    6,
    encodeDescriptor({
      base: 0x5000,
      limit: 0x67,
      type: SystemType.tss32Available,
      codeOrData: false,
      dpl: 0,
      present: true,
    }),
  );
  put32(GDT + 7 * 8, 0xffff8000);
  put32(GDT + 7 * 8 + 4, 0);
  // 0x40: a 16-byte 64-bit call gate (DPL 3) to the kernel at 0xffffffff81000100.
  putGdt(
    8,
    encodeGate({ type: SystemType.callGate32, selector: 0x08, offset: 0x81000100, dpl: 3, present: true }),
  );
  put32(GDT + 9 * 8, 0xffffffff);
  put32(GDT + 9 * 8 + 4, 0);
  putGdt(10, encodeDescriptor({ base: 0, limit: 0xfffff, type: 3, codeOrData: true, dpl: 3, present: true })); // 0x50 user data
  putGdt(11, code64(3, { long: false, big: true })); // 0x58 user 32-bit code
  putGdt(12, code64(0, { long: true, big: true })); // 0x60 L = D = 1 (reserved)
  const putIdt = (v: number, g: [number, number, number, number]) =>
    g.forEach((d, i) => {
      put32(IDT + v * 16 + i * 4, d);
    });
  const kernelRip = 0xffffffff81000000n;
  putIdt(
    14,
    encodeGate64({
      type: SystemType.interruptGate32,
      selector: 0x08,
      offset: kernelRip,
      dpl: 0,
      present: true,
    }),
  );
  putIdt(
    2,
    encodeGate64({
      type: SystemType.interruptGate32,
      selector: 0x08,
      offset: kernelRip,
      dpl: 0,
      present: true,
      ist: 2,
    }),
  );
  putIdt(
    0x80,
    encodeGate64({ type: SystemType.trapGate32, selector: 0x08, offset: kernelRip, dpl: 3, present: true }),
  );
  putIdt(
    0x20,
    encodeGate64({
      type: SystemType.interruptGate32,
      selector: 0x20,
      offset: kernelRip,
      dpl: 0,
      present: true,
    }),
  );
  putIdt(
    0x21,
    encodeGate64({ type: SystemType.taskGate, selector: 0x30, offset: 0n, dpl: 0, present: true }),
  );
  putIdt(
    0x22,
    encodeGate64({
      type: SystemType.interruptGate32,
      selector: 0x08,
      offset: 0x0000900000000000n,
      dpl: 0,
      present: true,
    }),
  );
  putIdt(
    0x23,
    encodeGate64({
      type: SystemType.interruptGate32,
      selector: 0x28,
      offset: kernelRip,
      dpl: 0,
      present: true,
    }),
  );
  putIdt(
    0x24,
    encodeGate64({
      type: SystemType.interruptGate32,
      selector: 0x08,
      offset: kernelRip,
      dpl: 0,
      present: true,
      ist: 7,
    }),
  );
  const t: DescriptorTables = {
    gdtBase: GDT,
    gdtLimit: 13 * 8 - 1,
    ldtBase: 0,
    ldtLimit: -1,
    idtBase: IDT,
    idtLimit: 0x100 * 16 - 1,
    read32: (a) => mem.get(a) ?? 0,
  };
  // The 64-bit TSS: RSP0 and IST2 (IST7 lies beyond a short limit in one test).
  const tssWords = new Map<number, number>([
    [TSS64.rsp0, 0x00009ff8],
    [TSS64.rsp0 + 4, 0xffffc900],
    [TSS64.ist1 + 8, 0x0000a007],
    [TSS64.ist1 + 12, 0xffffc900],
  ]);
  const tss: Tss64 = { selector: 0x30, limit: 0x67, read32: (o) => tssWords.get(o) ?? 0 };
  return { t, tss, tssWords, put32, kernelRip };
}

const user = { rsp: 0x00007ffffffde008n, ss: 0x2b };

describe('canonical addresses (SDM Vol. 1 §3.3.7.1)', () => {
  it('bits 63:47 must equal bit 47 with 48-bit linear addresses, bits 63:56 with 57-bit', () => {
    expect(isCanonical(0x00007fffffffffffn)).toBe(true);
    expect(isCanonical(0xffff800000000000n)).toBe(true);
    expect(isCanonical(0x0000800000000000n)).toBe(false);
    expect(isCanonical(0x0000800000000000n, 57)).toBe(true);
    expect(isCanonical(0x0100000000000000n, 57)).toBe(false);
  });
});

describe('64-bit interrupt and trap gates (SDM Vol. 3A §6.14.1)', () => {
  it('encode and parse round-trip the 64-bit offset, selector, IST and DPL', () => {
    const g = parseGate64(
      ...encodeGate64({
        type: 14,
        selector: 0x08,
        offset: 0xffffffff81234567n,
        dpl: 3,
        present: true,
        ist: 5,
      }),
    );
    expect(g).toMatchObject({
      type: 14,
      selector: 8,
      offset: 0xffffffff81234567n,
      ist: 5,
      dpl: 3,
      present: true,
    });
  });

  it('a page fault from ring 3 goes to ring 0 on RSP0, SS null with RPL 0, RSP aligned to 16', () => {
    const { t, tss, kernelRip } = machine();
    expect(interruptTarget64(t, 3, 14, { software: false, external: false }, { tss, ...user })).toMatchObject(
      {
        ok: true,
        newCpl: 0,
        stackSwitch: true,
        stack: 'tss',
        rsp: 0xffffc90000009ff0n,
        ss: 0,
        rip: kernelRip,
        clearsIf: true,
      },
    );
  });

  it('an IST index selects the IST stack even without a privilege change (§6.14.5)', () => {
    const { t, tss } = machine();
    expect(
      interruptTarget64(
        t,
        0,
        2,
        { software: false, external: true },
        { tss, rsp: 0xffffc90000001238n, ss: 0x18 },
      ),
    ).toMatchObject({ ok: true, stackSwitch: false, stack: 'ist', rsp: 0xffffc9000000a000n, ss: 0x18 });
  });

  it('without IST and at the same level, the current RSP is kept (aligned) and SS unchanged', () => {
    const { t, tss } = machine();
    expect(
      interruptTarget64(
        t,
        0,
        14,
        { software: false, external: false },
        { tss, rsp: 0xffffc90000001238n, ss: 0x18 },
      ),
    ).toMatchObject({ ok: true, stack: 'current', rsp: 0xffffc90000001230n, ss: 0x18 });
  });

  it('INT 80h through a DPL-3 trap gate keeps IF; INT 0Eh from ring 3 is #GP(0E×8+2)', () => {
    const { t, tss } = machine();
    expect(
      interruptTarget64(t, 3, 0x80, { software: true, external: false }, { tss, ...user }),
    ).toMatchObject({
      ok: true,
      clearsIf: false,
    });
    expect(interruptTarget64(t, 3, 14, { software: true, external: false }, { tss, ...user })).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 14 * 8 + 2 },
    });
  });

  it('a task gate in a 64-bit IDT is #GP(vector×8+2+EXT); a 16-byte entry beyond the IDT limit too', () => {
    const { t, tss } = machine();
    expect(interruptTarget64(t, 0, 0x21, { software: false, external: true }, { tss, ...user })).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 0x21 * 8 + 3 },
    });
    const short = { ...t, idtLimit: 0x21 * 16 + 7 };
    expect(interruptTarget64(short, 0, 0x21, { software: false, external: false }, { tss, ...user })).toEqual(
      {
        ok: false,
        fault: { vector: 13, errorCode: 0x21 * 8 + 2 },
      },
    );
  });

  it('a handler in a 32-bit code segment is #GP(selector + EXT); a not-present one #NP(selector + EXT)', () => {
    const { t, tss } = machine();
    expect(interruptTarget64(t, 0, 0x20, { software: false, external: true }, { tss, ...user })).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 0x21 },
    });
    expect(interruptTarget64(t, 0, 0x23, { software: false, external: true }, { tss, ...user })).toEqual({
      ok: false,
      fault: { vector: 11, errorCode: 0x29 },
    });
  });

  it('a non-canonical handler RIP is #GP(EXT); a non-canonical RSP from the TSS is #SS(EXT)', () => {
    const { t, tss, tssWords } = machine();
    expect(interruptTarget64(t, 0, 0x22, { software: false, external: true }, { tss, ...user })).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 1 },
    });
    tssWords.set(TSS64.rsp0 + 4, 0x00008000);
    expect(interruptTarget64(t, 3, 14, { software: false, external: true }, { tss, ...user })).toEqual({
      ok: false,
      fault: { vector: 12, errorCode: 1 },
    });
  });

  it('an IST entry beyond the TSS limit is #TS(TSS selector + EXT)', () => {
    const { t, tss } = machine();
    expect(
      interruptTarget64(
        t,
        0,
        0x24,
        { software: false, external: true },
        { tss: { ...tss, limit: 0x50 }, ...user },
      ),
    ).toEqual({ ok: false, fault: { vector: 10, errorCode: 0x31 } });
  });
});

describe('16-byte TSS descriptors and LTR (SDM Vol. 3A §7.2.3, Vol. 2A LTR)', () => {
  it('reads the 64-bit base from the second half of the descriptor', () => {
    const { t } = machine();
    expect(readSystemDescriptor64(t, 0x30)).toMatchObject({
      base: 0xffff800000005000n,
      upperTypeClear: true,
    });
    // A 16-byte descriptor whose second half passes the GDT limit does not exist.
    expect(readSystemDescriptor64(t, 0x60)).toBeUndefined();
    expect(readSystemDescriptor64(t, 0x3c)).toBeUndefined(); // TI = 1
    expect(readSystemDescriptor64({ ...t, gdtLimit: 0x37 }, 0x30)).toBeUndefined();
    expect(readSystemDescriptor64(t, 0x50)?.upperTypeClear).toBe(false); // a code descriptor as second half
  });

  it('LTR marks an available TSS busy; null is #GP(0); a code segment or a busy TSS is #GP(selector)', () => {
    const { t } = machine();
    const r = loadTaskRegister(t, 0x30, true);
    expect(r).toMatchObject({ ok: true, base: 0xffff800000005000n, write: { linear: GDT + 0x34, size: 4 } });
    if (r.ok) expect(r.descriptor.type).toBe(SystemType.tss32Busy);
    expect(loadTaskRegister(t, 0, true)).toEqual({ ok: false, fault: { vector: 13, errorCode: 0 } });
    expect(loadTaskRegister(t, 0x08, true)).toEqual({ ok: false, fault: { vector: 13, errorCode: 0x08 } });
    const busy = { ...t, read32: (a: number) => (a === GDT + 0x34 ? t.read32(a) | 0x200 : t.read32(a)) };
    expect(loadTaskRegister(busy, 0x30, true)).toEqual({ ok: false, fault: { vector: 13, errorCode: 0x30 } });
  });

  it('a non-zero type in the upper half is #GP(selector) in IA-32e mode', () => {
    const { t, put32 } = machine();
    put32(GDT + 7 * 8 + 4, 0x00000900);
    expect(loadTaskRegister(t, 0x30, true)).toEqual({ ok: false, fault: { vector: 13, errorCode: 0x30 } });
  });
});

describe('SYSCALL/SYSRET in IA-32e mode (SDM Vol. 2B SYSCALL, SYSRET)', () => {
  const on = { lma: true, cs64: true, sce: true };
  const msr = { starHi: 0x00230010, lstar: 0xffffffff81a00000n, cstar: 0xffffffff81a00100n, fmask: 0x47700 };

  it('SYSCALL enters LSTAR at CPL 0, RCX = next RIP, R11 = RFLAGS, RFLAGS masked by FMASK and RF', () => {
    expect(syscall64(on, msr, { rip: 0x401000n, rflags: 0x10246 })).toEqual({
      ok: true,
      cs: 0x10,
      ss: 0x18,
      rip: 0xffffffff81a00000n,
      newCpl: 0,
      csLong: true,
      rcx: 0x401000n,
      r11: 0x10246,
      rflags: 0x46,
    });
  });

  it('SYSCALL is #UD without EFER.SCE, outside IA-32e mode, and (Intel) in compatibility mode; AMD uses CSTAR', () => {
    const next = { rip: 0x1000n, rflags: 0x202 };
    expect(syscall64({ ...on, sce: false }, msr, next)).toEqual({
      ok: false,
      fault: { vector: 6, errorCode: 0 },
    });
    expect(syscall64({ ...on, lma: false }, msr, next)).toMatchObject({ ok: false, fault: { vector: 6 } });
    expect(syscall64({ ...on, cs64: false }, msr, next)).toMatchObject({ ok: false, fault: { vector: 6 } });
    expect(syscall64({ ...on, cs64: false }, msr, next, 'amd')).toMatchObject({ ok: true, rip: msr.cstar });
  });

  it('SYSRET with REX.W returns to 64-bit mode with CS = STAR[63:48] + 16 | 3 and RFLAGS from R11', () => {
    expect(sysret64(on, 0, msr.starHi, 0x401000n, 0xffff_ffff_0001_0246n, 64)).toEqual({
      ok: true,
      cs: 0x33,
      ss: 0x2b,
      rip: 0x401000n,
      newCpl: 3,
      csLong: true,
      rflags: 0x246,
    });
  });

  it('SYSRET without REX.W returns to compatibility mode at ECX with CS = STAR[63:48] | 3', () => {
    expect(sysret64(on, 0, msr.starHi, 0xdead0000_08048000n, 0x202n, 32)).toMatchObject({
      ok: true,
      cs: 0x23,
      ss: 0x2b,
      rip: 0x08048000n,
      csLong: false,
    });
  });

  it('SYSRET to a non-canonical RCX is #GP(0) at CPL 0; outside ring 0 #GP(0); outside 64-bit mode #UD', () => {
    expect(sysret64(on, 0, msr.starHi, 0x0000800000000000n, 0x202n, 64)).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 0 },
    });
    expect(sysret64(on, 0, msr.starHi, 0x0000800000000000n, 0x202n, 32)).toMatchObject({ ok: true });
    expect(sysret64(on, 3, msr.starHi, 0x1000n, 0x202n, 64)).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 0 },
    });
    expect(sysret64({ ...on, cs64: false }, 0, msr.starHi, 0x1000n, 0x202n, 64)).toMatchObject({
      fault: { vector: 6 },
    });
  });
});

describe('SYSENTER/SYSEXIT in IA-32e mode (SDM Vol. 2B)', () => {
  it('SYSENTER enters 64-bit mode from the 64-bit MSRs; a null SYSENTER_CS is #GP(0)', () => {
    expect(sysenter64({ cs: 0x10, eip: 0xffffffff81000000n, esp: 0xffffc90000004000n })).toMatchObject({
      ok: true,
      cs: 0x10,
      ss: 0x18,
      rip: 0xffffffff81000000n,
      csLong: true,
    });
    expect(sysenter64({ cs: 3, eip: 0n, esp: 0n })).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 0 },
    });
  });

  it('SYSEXIT with REX.W returns with CS = MSR + 32 | 3, SS = MSR + 40 | 3; non-canonical RDX/RCX is #GP(0)', () => {
    expect(sysexit64(0, 0x10, 0x401000n, 0x7ffffffde000n)).toMatchObject({
      ok: true,
      cs: 0x33,
      ss: 0x3b,
      newCpl: 3,
    });
    expect(sysexit64(0, 0x10, 0x0000800000000000n, 0n)).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 0 },
    });
    expect(sysexit64(3, 0x10, 0x1000n, 0n)).toEqual({ ok: false, fault: { vector: 13, errorCode: 0 } });
  });
});

describe('far JMP/CALL in IA-32e mode (SDM Vol. 3A §5.8.3.1, Vol. 2A CALL/JMP)', () => {
  it('CALL through a 64-bit call gate from ring 3 switches to RSP0 with a null SS', () => {
    const { t, tss } = machine();
    expect(farTransfer64(t, 3, 0x43, 0n, 'call', tss)).toMatchObject({
      ok: true,
      newCpl: 0,
      selector: 0x08,
      offset: 0xffffffff81000100n,
      stackSwitch: true,
      rsp: 0xffffc90000009ff8n,
      ss: 0,
      csLong: true,
      gate: { selector: 0x43, dpl: 3 },
    });
  });

  it('JMP through the gate cannot raise privilege: #GP(target selector)', () => {
    const { t, tss } = machine();
    expect(farTransfer64(t, 3, 0x43, 0n, 'jmp', tss)).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 0x08 },
    });
  });

  it('a call gate whose upper half has type bits set is #GP(gate selector); one to 32-bit code #GP(target)', () => {
    const { t, tss, put32 } = machine();
    put32(GDT + 9 * 8 + 4, 0x00000c00);
    expect(farTransfer64(t, 3, 0x43, 0n, 'call', tss)).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 0x40 },
    });
    const m2 = machine();
    m2.put32(GDT + 8 * 8, (0x20 << 16) | 0x0100);
    expect(farTransfer64(m2.t, 3, 0x43, 0n, 'call', m2.tss)).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 0x20 },
    });
  });

  it('an RSP0 beyond the TSS limit is #TS(TSS selector)', () => {
    const { t, tss } = machine();
    expect(farTransfer64(t, 3, 0x43, 0n, 'call', { ...tss, limit: 0x08 })).toEqual({
      ok: false,
      fault: { vector: 10, errorCode: 0x30 },
    });
  });

  it('a direct far jump needs a canonical offset and never L = D = 1 code', () => {
    const { t, tss } = machine();
    expect(farTransfer64(t, 0, 0x08, 0xffffffff81000000n, 'jmp', tss)).toMatchObject({
      ok: true,
      csLong: true,
    });
    expect(farTransfer64(t, 0, 0x08, 0x0000800000000000n, 'jmp', tss)).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 0 },
    });
    expect(farTransfer64(t, 0, 0x60, 0n, 'jmp', tss)).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 0x60 },
    });
    expect(farTransfer64(t, 0, 0x20, 0x1000n, 'call', tss)).toMatchObject({ ok: true, csLong: false });
  });
});

describe('IRETQ and far RET in IA-32e mode (SDM Vol. 2A IRET "IA-32e-MODE", Vol. 2B RET)', () => {
  it('IRETQ to ring 3 loads SS from the frame and reports an outer return', () => {
    const { t } = machine();
    expect(farReturn64(t, 0, { rip: 0x401000n, cs: 0x1b, ss: 0x53 }, { iret: true })).toMatchObject({
      ok: true,
      newCpl: 3,
      outer: true,
      csLong: true,
      rip: 0x401000n,
      ss: { selector: 0x53 },
    });
  });

  it('a null SS is allowed for a return to 64-bit ring 0, not to ring 3 (#GP(0))', () => {
    const { t } = machine();
    expect(farReturn64(t, 0, { rip: 0xffffffff81000000n, cs: 0x08, ss: 0 }, { iret: true })).toMatchObject({
      ok: true,
      outer: false,
      ss: { selector: 0, descriptor: null },
    });
    expect(farReturn64(t, 0, { rip: 0x401000n, cs: 0x1b, ss: 3 }, { iret: true })).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 0 },
    });
  });

  it('IRET with NT = 1 is #GP(0); an SS whose RPL is not the new CPL is #GP(SS selector)', () => {
    const { t } = machine();
    expect(farReturn64(t, 0, { rip: 0n, cs: 0x08, ss: 0 }, { iret: true, nt: true })).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 0 },
    });
    expect(farReturn64(t, 0, { rip: 0x401000n, cs: 0x1b, ss: 0x50 }, { iret: true })).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 0x50 },
    });
  });

  it('a far RET at the same level keeps SS:RSP; a non-canonical RIP or L = D = 1 code faults', () => {
    const { t } = machine();
    expect(
      farReturn64(t, 0, { rip: 0xffffffff81000000n, cs: 0x08, ss: 0x1234 }, { iret: false }),
    ).toMatchObject({
      ok: true,
      ss: null,
    });
    expect(farReturn64(t, 0, { rip: 0x0000800000000000n, cs: 0x08, ss: 0 }, { iret: false })).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 0 },
    });
    expect(farReturn64(t, 0, { rip: 0n, cs: 0x60, ss: 0 }, { iret: false })).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 0x60 },
    });
  });

  it('a return to compatibility mode truncates RIP to 32 bits and checks it against the CS limit', () => {
    const { t } = machine();
    expect(farReturn64(t, 0, { rip: 0xdead000008048000n, cs: 0x5b, ss: 0x53 }, { iret: true })).toMatchObject(
      {
        ok: true,
        csLong: false,
        rip: 0x08048000n,
      },
    );
  });
});

describe('malformed 64-bit IDTs and TSSs never throw', () => {
  it('seeded random gates and descriptors give #GP/#NP/#SS/#TS, or a canonical 16-byte-aligned stack', () => {
    let s = 0x9e3779b9;
    const rnd = () => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return s >>> 0;
    };
    const words = new Map<number, number>();
    const t: DescriptorTables = {
      gdtBase: 0x1000,
      gdtLimit: 0x7f,
      ldtBase: 0x3000,
      ldtLimit: 0x3f,
      idtBase: 0x2000,
      idtLimit: 0xfff,
      read32: (a) => words.get(a) ?? 0,
    };
    const tss: Tss64 = {
      selector: 0x30,
      limit: rnd() & 0x7f,
      read32: () => (rnd() & 1 ? 0xffff8000 : rnd()),
    };
    let delivered = 0;
    for (let i = 0; i < 20000; i++) {
      const v = rnd() & 0xff;
      const idx = rnd() & 0x0f;
      // A plausible gate (type 14/15 most of the time) pointing at a random descriptor, mostly
      // the one written below.
      const selector = rnd() & 3 ? (idx << 3) | (rnd() & 3) : rnd() & 0xffff;
      const d1 = (rnd() & 0xffff0000) | (rnd() & 0x80 ? 0x8e00 | (rnd() & 0x6107) : rnd() & 0xffff);
      words.set(0x2000 + v * 16, ((selector << 16) | (rnd() & 0xffff)) >>> 0);
      words.set(0x2000 + v * 16 + 4, d1 >>> 0);
      words.set(0x2000 + v * 16 + 8, rnd() & 1 ? 0xffffffff : rnd());
      words.set(0x1000 + idx * 8, rnd());
      words.set(0x1000 + idx * 8 + 4, rnd() & 3 ? (rnd() & 0xff9f60ff) | 0x00209a00 : rnd());
      const r = interruptTarget64(
        t,
        rnd() & 3,
        v,
        { software: (rnd() & 1) === 1, external: (rnd() & 1) === 1 },
        { tss, rsp: BigInt(rnd()) | (BigInt(rnd() & 1 ? 0xffffffff : rnd()) << 32n), ss: rnd() & 0xffff },
      );
      const cpl = rnd() & 3;
      const far = farTransfer64(t, cpl, rnd() & 0x7f, BigInt(rnd()), rnd() & 1 ? 'jmp' : 'call', tss);
      const back = farReturn64(
        t,
        cpl,
        { rip: BigInt(rnd()) << BigInt(rnd() & 31), cs: rnd() & 0x7f, ss: rnd() & 0x7f },
        { iret: (rnd() & 1) === 1, nt: (rnd() & 7) === 0 },
      );
      for (const x of [far, back]) if (!x.ok) expect([10, 11, 12, 13]).toContain(x.fault.vector);
      if (!r.ok) expect([10, 11, 12, 13]).toContain(r.fault.vector);
      else {
        delivered++;
        expect(isCanonical(r.rsp) && (r.rsp & 0xfn) === 0n && isCanonical(r.rip)).toBe(true);
      }
    }
    expect(delivered).toBeGreaterThan(50);
  });
});
