import { describe, expect, it } from 'vitest';
import {
  farReturn,
  farTransfer,
  farTransferOrTask,
  innerStack,
  interruptTarget,
  interruptTargetOrTask,
  ioAllowed,
  iretFlags,
  loadDataSegment,
  loadStackSegment,
  nullOnOuterReturn,
  popfResult,
} from './checks';
import {
  type DescriptorTables,
  encodeDescriptor,
  encodeGate,
  makeSelector,
  parseDescriptor,
  parseGate,
  readIdtGate,
  SystemType,
} from './descriptors';
import { escalate, exceptionInfo, pushesErrorCode, Vector } from './exceptions';
import { syscall, sysenter, sysexit, sysret } from './fast-calls';

/** A GDT/IDT in a flat array of doublewords, read through the `DescriptorTables` interface. */
function tables() {
  const mem = new Map<number, number>();
  const t: DescriptorTables = {
    gdtBase: 0x1000,
    gdtLimit: 0x10 * 8 - 1,
    ldtBase: 0,
    ldtLimit: 0,
    idtBase: 0x2000,
    idtLimit: 0x40 * 8 - 1,
    read32: (a) => mem.get(a) ?? 0,
  };
  const put = (base: number, index: number, [lo, hi]: [number, number]) => {
    mem.set(base + index * 8, lo);
    mem.set(base + index * 8 + 4, hi);
  };
  const seg = (index: number, type: number, dpl: number, present = true) =>
    put(
      0x1000,
      index,
      encodeDescriptor({
        base: 0,
        limit: 0xfffff,
        type,
        codeOrData: true,
        dpl,
        present,
        big: true,
        granularity: true,
      }),
    );
  seg(1, 0xa, 0); // ring-0 code (execute/read)
  seg(2, 0x2, 0); // ring-0 data (read/write)
  seg(3, 0xa, 3); // ring-3 code
  seg(4, 0x2, 3); // ring-3 data
  seg(5, 0x2, 0, false); // not-present ring-0 data
  seg(6, 0xe, 0); // conforming ring-0 code
  seg(7, 0x8, 0); // execute-only ring-0 code
  put(
    0x1000,
    8,
    encodeGate({
      type: SystemType.callGate32,
      selector: makeSelector(1, 0, 0),
      offset: 0x1234,
      dpl: 3,
      present: true,
      paramCount: 2,
    }),
  );
  put(
    0x1000,
    9,
    encodeGate({
      type: SystemType.callGate32,
      selector: makeSelector(1, 0, 0),
      offset: 0x1234,
      dpl: 0,
      present: true,
    }),
  );
  put(0x2000, 0x80, [0, 0]);
  put(
    0x2000,
    0x0e,
    encodeGate({
      type: SystemType.interruptGate32,
      selector: makeSelector(1, 0, 0),
      offset: 0xc0001000,
      dpl: 0,
      present: true,
    }),
  );
  put(
    0x2000,
    0x30,
    encodeGate({
      type: SystemType.trapGate32,
      selector: makeSelector(1, 0, 0),
      offset: 0xc0002000,
      dpl: 3,
      present: true,
    }),
  );
  put(
    0x2000,
    0x31,
    encodeGate({
      type: SystemType.interruptGate32,
      selector: makeSelector(1, 0, 0),
      offset: 0,
      dpl: 3,
      present: false,
    }),
  );
  return t;
}

const sel = (i: number, rpl = 0) => makeSelector(i, 0, rpl);

describe('descriptors (SDM Vol. 3A §3.4.5)', () => {
  it('encode and parse round-trip base, limit, type, DPL and flags', () => {
    const [lo, hi] = encodeDescriptor({
      base: 0x12345678,
      limit: 0xabcde,
      type: 0xb,
      codeOrData: true,
      dpl: 2,
      present: true,
      big: true,
      granularity: false,
    });
    const d = parseDescriptor(lo, hi);
    expect(d.base).toBe(0x12345678);
    expect(d.limit).toBe(0xabcde);
    expect(d.dpl).toBe(2);
    expect(d.isCode && d.readable && d.accessed && !d.conforming).toBe(true);
    expect(
      parseDescriptor(
        ...encodeDescriptor({
          base: 0,
          limit: 1,
          type: 2,
          codeOrData: true,
          dpl: 0,
          present: true,
          granularity: true,
        }),
      ).limit,
    ).toBe(0x1fff);
  });

  it('parses 32-bit gates with selector, offset and parameter count', () => {
    const g = parseGate(
      ...encodeGate({
        type: SystemType.callGate32,
        selector: 0x28,
        offset: 0xdeadbeef,
        dpl: 3,
        present: true,
        paramCount: 5,
      }),
    );
    expect(g).toMatchObject({
      selector: 0x28,
      offset: 0xdeadbeef,
      dpl: 3,
      present: true,
      paramCount: 5,
      is32: true,
    });
  });
});

describe('segment loads (SDM Vol. 3A §5.7)', () => {
  const t = tables();
  it('a ring-3 data segment loads at CPL 3; a ring-0 one raises #GP(selector)', () => {
    expect(loadDataSegment(t, 3, sel(4, 3)).ok).toBe(true);
    expect(loadDataSegment(t, 3, sel(2, 3))).toEqual({ ok: false, fault: { vector: 13, errorCode: 0x10 } });
  });
  it('RPL above DPL fails even at CPL 0', () => {
    expect(loadDataSegment(t, 0, sel(2, 3))).toMatchObject({
      ok: false,
      fault: { vector: 13, errorCode: 0x10 },
    });
  });
  it('null loads a null segment; beyond the GDT limit is #GP(selector); not present is #NP(selector)', () => {
    expect(loadDataSegment(t, 3, 3)).toEqual({ ok: true, descriptor: null });
    expect(loadDataSegment(t, 0, sel(0x20))).toMatchObject({ fault: { vector: 13, errorCode: 0x100 } });
    expect(loadDataSegment(t, 0, sel(5))).toMatchObject({ fault: { vector: 11, errorCode: 0x28 } });
  });
  it('execute-only code cannot be loaded into a data segment register; conforming readable code can', () => {
    expect(loadDataSegment(t, 0, sel(7))).toMatchObject({ fault: { vector: 13, errorCode: 0x38 } });
    expect(loadDataSegment(t, 3, sel(6, 3)).ok).toBe(true);
  });
  it('SS needs RPL = DPL = CPL and writable data; null SS is #GP(0)', () => {
    expect(loadStackSegment(t, 0, sel(2)).ok).toBe(true);
    expect(loadStackSegment(t, 3, sel(2, 3))).toMatchObject({ fault: { vector: 13, errorCode: 0x10 } });
    expect(loadStackSegment(t, 0, 0)).toMatchObject({ fault: { vector: 13, errorCode: 0 } });
    expect(loadStackSegment(t, 0, sel(1))).toMatchObject({ fault: { vector: 13 } });
  });
});

describe('far transfers (SDM Vol. 3A §5.8)', () => {
  const t = tables();
  it('a direct far jump to non-conforming code needs DPL = CPL', () => {
    expect(farTransfer(t, 0, sel(1), 0x100, 'jmp')).toMatchObject({
      ok: true,
      newCpl: 0,
      stackSwitch: false,
    });
    expect(farTransfer(t, 3, sel(1, 3), 0x100, 'jmp')).toMatchObject({
      ok: false,
      fault: { vector: 13, errorCode: 8 },
    });
  });
  it('conforming code runs at the caller CPL', () => {
    expect(farTransfer(t, 3, sel(6, 3), 0, 'call')).toMatchObject({ ok: true, newCpl: 3, selector: 0x33 });
  });
  it('a call through a DPL-3 call gate to ring 0 raises privilege with a stack switch and parameter copy', () => {
    expect(farTransfer(t, 3, sel(8, 3), 0, 'call')).toMatchObject({
      ok: true,
      newCpl: 0,
      stackSwitch: true,
      paramCount: 2,
      offset: 0x1234,
      selector: 0x08,
    });
  });
  it('a jump through a call gate cannot change privilege; a DPL-0 gate is closed to ring 3', () => {
    expect(farTransfer(t, 3, sel(8, 3), 0, 'jmp')).toMatchObject({
      ok: false,
      fault: { vector: 13, errorCode: 8 },
    });
    expect(farTransfer(t, 3, sel(9, 3), 0, 'call')).toMatchObject({
      ok: false,
      fault: { vector: 13, errorCode: 0x48 },
    });
  });
  it('a far return to an outer level takes the new CPL from the CS RPL and nulls inner data segments', () => {
    expect(farReturn(t, 0, sel(3, 3), 0x400)).toMatchObject({ ok: true, newCpl: 3, outer: true });
    expect(farReturn(t, 3, sel(1, 0), 0)).toMatchObject({ ok: false, fault: { vector: 13, errorCode: 8 } });
    const ring0Data = loadDataSegment(t, 0, sel(2));
    expect(ring0Data.ok && nullOnOuterReturn(ring0Data.descriptor, 3)).toBe(true);
  });
});

describe('interrupt delivery (SDM Vol. 3A §6.12)', () => {
  const t = tables();
  it('a page fault from ring 3 goes to ring 0 through an interrupt gate with a stack switch', () => {
    expect(interruptTarget(t, 3, 14, { software: false, external: true })).toMatchObject({
      ok: true,
      newCpl: 0,
      stackSwitch: true,
      clearsIf: true,
    });
  });
  it('INT n from ring 3 needs gate DPL 3, else #GP(vector*8+2)', () => {
    expect(interruptTarget(t, 3, 0x30, { software: true, external: false })).toMatchObject({
      ok: true,
      clearsIf: false,
    });
    expect(interruptTarget(t, 3, 14, { software: true, external: false })).toMatchObject({
      ok: false,
      fault: { vector: 13, errorCode: 14 * 8 + 2 },
    });
  });
  it('a code-segment descriptor in the IDT is not a gate: #GP(vector*8+2+EXT)', () => {
    const bad = tables();
    const mem = new Map<number, number>();
    const [lo, hi] = encodeDescriptor({
      base: 0,
      limit: 0xfffff,
      type: 0xe,
      codeOrData: true,
      dpl: 0,
      present: true,
    });
    mem.set(0x2000 + 0x21 * 8, lo);
    mem.set(0x2000 + 0x21 * 8 + 4, hi);
    const t2 = { ...bad, read32: (a: number) => mem.get(a) ?? bad.read32(a) };
    expect(interruptTarget(t2, 0, 0x21, { software: false, external: true })).toMatchObject({
      fault: { vector: 13, errorCode: 0x21 * 8 + 3 },
    });
  });

  it('a not-present gate is #NP with IDT and EXT bits; beyond the IDT limit is #GP', () => {
    expect(interruptTarget(t, 3, 0x31, { software: false, external: true })).toMatchObject({
      fault: { vector: 11, errorCode: 0x31 * 8 + 3 },
    });
    expect(interruptTarget(t, 0, 0x80, { software: true, external: false })).toMatchObject({
      fault: { vector: 13, errorCode: 0x80 * 8 + 2 },
    });
  });
});

describe('exceptions and double faults (SDM Vol. 3A §6.15)', () => {
  it('names vectors and knows which push an error code', () => {
    expect(exceptionInfo(13)?.mnemonic).toBe('#GP');
    expect(pushesErrorCode(Vector.PF)).toBe(true);
    expect(pushesErrorCode(Vector.UD)).toBe(false);
    expect(pushesErrorCode(Vector.DF)).toBe(true);
  });
  it('contributory after contributory and #PF after #PF are double faults; a fault in #DF is a triple fault', () => {
    expect(escalate(Vector.GP, Vector.NP)).toBe('double-fault');
    expect(escalate(Vector.PF, Vector.PF)).toBe('double-fault');
    expect(escalate(Vector.PF, Vector.GP)).toBe('double-fault');
    expect(escalate(Vector.GP, Vector.PF)).toBe('serial');
    expect(escalate(Vector.DB, Vector.GP)).toBe('serial');
    expect(escalate(Vector.DF, Vector.GP)).toBe('triple-fault');
  });
});

describe('I/O permission (SDM Vol. 1 §19.5)', () => {
  const bitmap = new Uint8Array(0x68 + 0x2001);
  bitmap[0x66] = 0x68;
  bitmap[0x68 + (0x3f8 >> 3)] = 0x00;
  bitmap[0x68 + (0x60 >> 3)] = 0x01; // port 0x60 denied
  const tss = { limit: 0x68 + 0x2000, readByte: (o: number) => bitmap[o] ?? 0xff, is32: true };
  it('CPL ≤ IOPL allows any port; otherwise the TSS bitmap decides, every byte of the access', () => {
    expect(ioAllowed(0, 0, false, 0x60, 1, null)).toBe(true);
    expect(ioAllowed(3, 0, false, 0x3f8, 1, tss)).toBe(true);
    expect(ioAllowed(3, 0, false, 0x60, 1, tss)).toBe(false);
    expect(ioAllowed(3, 0, false, 0x5f, 2, tss)).toBe(false);
  });
  it('a bitmap beyond the TSS limit denies, and virtual-8086 mode always consults the bitmap', () => {
    expect(ioAllowed(3, 0, false, 0xffff, 1, { ...tss, limit: 0x70 })).toBe(false);
    expect(ioAllowed(0, 3, true, 0x60, 1, tss)).toBe(false);
  });
});

describe('SYSENTER/SYSEXIT and SYSCALL/SYSRET (SDM Vol. 2B)', () => {
  it('SYSENTER enters CPL 0 from the MSRs and faults with a null SYSENTER_CS', () => {
    expect(sysenter(true, { cs: 0x60, eip: 0xc0100000, esp: 0xc1000000 })).toMatchObject({
      ok: true,
      cs: 0x60,
      ss: 0x68,
      newCpl: 0,
    });
    expect(sysenter(true, { cs: 0, eip: 0, esp: 0 })).toMatchObject({ ok: false, fault: { vector: 13 } });
  });
  it('SYSEXIT returns to CPL 3 with CS = MSR + 16 | 3 and faults outside ring 0', () => {
    expect(sysexit(true, 0, 0x60, 0x8048000, 0xbffff000)).toMatchObject({
      ok: true,
      cs: 0x73,
      ss: 0x7b,
      eip: 0x8048000,
    });
    expect(sysexit(true, 3, 0x60, 0, 0)).toMatchObject({ ok: false });
  });
  it('SYSCALL/SYSRET need EFER.SCE (#UD) and SYSRET needs CPL 0', () => {
    expect(syscall(false, 0, 0)).toMatchObject({ ok: false, fault: { vector: 6 } });
    expect(syscall(true, 0x1000, 0x00230010)).toMatchObject({ ok: true, cs: 0x10, ss: 0x18, eip: 0x1000 });
    expect(sysret(true, 3, 0x00230010, 0)).toMatchObject({ ok: false, fault: { vector: 13 } });
    expect(sysret(true, 0, 0x00230010, 0x400)).toMatchObject({ ok: true, cs: 0x23, ss: 0x2b });
  });
});

describe('malformed input never throws', () => {
  it('random descriptors and selectors give architectural results', () => {
    let s = 12345;
    const rnd = () => {
      s = (s * 1103515245 + 12345) >>> 0;
      return s;
    };
    const mem = new Map<number, number>();
    const t: DescriptorTables = {
      gdtBase: 0,
      gdtLimit: 0xffff,
      ldtBase: 0x10000,
      ldtLimit: 0xff,
      idtBase: 0x20000,
      idtLimit: 0x7ff,
      read32: (a) => mem.get(a) ?? rnd(),
    };
    const t0 = t;
    for (let i = 0; i < 5000; i++) {
      const selector = rnd() & 0xffff;
      const cpl = rnd() & 3;
      for (const r of [
        loadDataSegment(t, cpl, selector),
        loadStackSegment(t, cpl, selector),
        farTransfer(t, cpl, selector, rnd(), rnd() & 1 ? 'jmp' : 'call'),
        farReturn(t, cpl, selector, rnd()),
        interruptTarget(t, cpl, rnd() & 0xff, { software: true, external: false }),
      ]) {
        if (!r.ok) expect([10, 11, 12, 13]).toContain(r.fault.vector);
      }
      // The task-aware entry points agree with the gate-only ones wherever no task is involved
      // (over tables whose random contents are a fixed function of the address).
      const seed = rnd();
      const dt = { ...t0, read32: (a: number) => Math.imul((a ^ seed) >>> 0, 0x9e3779b1) ^ (a >>> 3) };
      const v = rnd() & 0xff;
      const opts = { software: (rnd() & 1) === 1, external: (rnd() & 1) === 1 };
      const a = interruptTarget(dt, cpl, v, opts);
      const b = interruptTargetOrTask(dt, cpl, v, opts);
      if (
        !(b.ok && b.kind === 'task') &&
        !(a.ok === false && readIdtGate(dt, v)?.type === SystemType.taskGate)
      )
        expect(b).toEqual(a);
      const off = rnd();
      const kind = rnd() & 1 ? 'jmp' : 'call';
      const f = farTransfer(dt, cpl, selector, off, kind);
      const g = farTransferOrTask(dt, cpl, selector, off, kind);
      if (f.ok || (g.ok && g.kind === 'segment')) expect(g).toEqual(f);
    }
  });
});

describe('inner stacks from the TSS (SDM Vol. 3A §6.12.1)', () => {
  const t = tables();
  const tssWords = new Map<number, number>([
    [4, 0xc1000000], // ESP0
    [8, makeSelector(2, 0, 0)], // SS0 = ring-0 data
    [12, 0x1000],
    [16, makeSelector(4, 0, 3)], // SS1 = ring-3 data: wrong DPL for ring 1
  ]);
  const tss = { limit: 0x67, read32: (o: number) => tssWords.get(o) ?? 0 };
  it('reads SS0:ESP0 for a transition to ring 0', () => {
    expect(innerStack(t, tss, 0x28, 0)).toMatchObject({ ok: true, ss: 0x10, esp: 0xc1000000 });
  });
  it('a stack segment whose DPL is not the new CPL is #TS(SS selector)', () => {
    expect(innerStack(t, tss, 0x28, 1)).toMatchObject({ ok: false, fault: { vector: 10, errorCode: 0x20 } });
  });
  it('a 16-bit TSS holds SP0/SS0 as words at offsets 2 and 4 (§7.6, figure 7-10)', () => {
    const words = new Map<number, number>([
      [2, 0x12347ff0], // SP0 = 7FF0 (the high word is SS0's neighbour, not SP)
      [4, makeSelector(2, 0, 0)],
    ]);
    const tss16 = { limit: 0x2b, is32: false, read32: (o: number) => words.get(o) ?? 0 };
    expect(innerStack(t, tss16, 0x40, 0)).toMatchObject({ ok: true, ss: 0x10, esp: 0x7ff0 });
    expect(innerStack(t, { ...tss16, limit: 0x04 }, 0x40, 0)).toMatchObject({
      fault: { vector: 10, errorCode: 0x40 },
    });
  });
  it('a null SS is #TS, and a TSS too short for the entry is #TS(TSS selector)', () => {
    expect(innerStack(t, tss, 0x28, 2)).toMatchObject({ ok: false, fault: { vector: 10, errorCode: 0 } });
    expect(innerStack(t, { ...tss, limit: 0x08 }, 0x28, 1)).toMatchObject({
      fault: { vector: 10, errorCode: 0x28 },
    });
  });
});

describe('POPF and IRET flag rules (SDM Vol. 2B POPF, Vol. 2A IRET)', () => {
  const IF = 0x200;
  it('POPF at CPL 3 with IOPL 0 silently keeps IF and IOPL', () => {
    const old = 0x202; // IF = 1, IOPL = 0
    expect(popfResult(old, 0x3002, 3, 32) & (IF | 0x3000)).toBe(IF);
    expect(popfResult(old, 0x0002, 3, 32) & IF).toBe(IF);
  });
  it('POPF at CPL 0 changes IF and IOPL; VM and RF never change', () => {
    expect(popfResult(0x202, 0x3002 | 0x20000 | 0x10000, 0, 32)).toBe(0x3002);
  });
  it('IRET at CPL 0 restores RF and VIF; at CPL 3 it keeps IOPL', () => {
    expect(iretFlags(0x2, 0x10202 | 0x80000, 0, 32)).toBe(0x90202);
    expect(iretFlags(0x202, 0x3002, 3, 32) & 0x3000).toBe(0);
  });
  it('16-bit POPF writes only the low word', () => {
    expect(popfResult(0x40202, 0x0002, 0, 16) & 0x40000).toBe(0x40000);
  });
});
