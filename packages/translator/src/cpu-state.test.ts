import { describe, expect, it } from 'vitest';
import { CpuState, Eflags, exportSnapshot, importSnapshot, LazyOp, Reg } from './cpu-state';
import { TranslatorError } from './errors';

describe('CpuState', () => {
  it('starts at F000:FFF0 with EDX = 0x600 and CR0 = 0x60000010 after RESET (SDM vol. 3 table 9-1)', () => {
    const s = new CpuState();
    expect(s.eip).toBe(0xfff0);
    expect(s.segSel[1]).toBe(0xf000);
    expect(s.regs[Reg.edx]).toBe(0x600);
    expect(s.cr0).toBe(0x60000010);
    expect(s.getFlags()).toBe(2);
  });

  it('computes lazy flags of SUB on demand: 1 - 2 sets CF, SF, AF and PF (SDM vol. 1 §3.4.3.1)', () => {
    const s = new CpuState();
    s.setLazy(LazyOp.sub, 1, 2, -1 & 0xff, 8);
    expect(s.getFlags() & 0x8d5).toBe(Eflags.cf | Eflags.sf | Eflags.af | Eflags.pf);
  });

  it('INC keeps the CF of the previous lazy operation (SDM vol. 2 "INC")', () => {
    const s = new CpuState();
    s.setLazy(LazyOp.add, 0xff, 1, 0, 8);
    s.setLazy(LazyOp.inc, 0, 1, 1, 8);
    expect(s.getCF()).toBe(1);
    expect(s.getZF()).toBe(0);
  });

  it('setFlags keeps bit 1 set and drops bits that do not exist on an i686', () => {
    const s = new CpuState();
    s.setFlags(0xffffffff);
    expect(s.getFlags() & 2).toBe(2);
    expect(s.getFlags() & 0x8028).toBe(0);
  });
});

describe('snapshots', () => {
  it('export → JSON → import reproduces the state, x87 NaN and infinities included', () => {
    const a = new CpuState();
    a.regs[Reg.eax] = -5;
    a.setLazy(LazyOp.add, 0xffffffff, 1, 0, 32);
    a.cr3 = 0x1000;
    a.tsc = 123456789012345n;
    a.msrs.set(0x200, 0x6n);
    a.fpr[3] = Math.PI;
    a.fpr[4] = Number.NaN;
    a.fpr[5] = Number.NEGATIVE_INFINITY;
    const json = JSON.stringify(exportSnapshot(a));
    const b = new CpuState();
    importSnapshot(b, JSON.parse(json));
    expect(exportSnapshot(b)).toEqual(exportSnapshot(a));
    expect(b.getCF()).toBe(1);
    expect(Number.isNaN(b.fpr[4])).toBe(true);
    expect(b.fpr[5]).toBe(Number.NEGATIVE_INFINITY);
  });

  it('rejects a snapshot with an out-of-range field with TranslatorError bad-snapshot and leaves the state untouched', () => {
    const a = new CpuState();
    const snap = { ...exportSnapshot(a), cpl: 4 };
    const b = new CpuState();
    b.regs[Reg.eax] = 42;
    expect(() => importSnapshot(b, snap)).toThrow(TranslatorError);
    try {
      importSnapshot(b, snap);
    } catch (e) {
      expect((e as TranslatorError).code).toBe('bad-snapshot');
      expect((e as TranslatorError).value).toBe(4);
    }
    expect(b.regs[Reg.eax]).toBe(42);
  });

  it('rejects non-objects, wrong versions and malformed 64-bit values', () => {
    const s = new CpuState();
    expect(() => importSnapshot(s, null)).toThrow(TranslatorError);
    expect(() => importSnapshot(s, { ...exportSnapshot(s), version: 2 })).toThrow(TranslatorError);
    expect(() => importSnapshot(s, { ...exportSnapshot(s), tsc: '-1' })).toThrow(TranslatorError);
    expect(() => importSnapshot(s, { ...exportSnapshot(s), regs: [1, 2, 3] })).toThrow(TranslatorError);
  });
});
