import { describe, expect, it } from 'vitest';
import { Reg, Seg } from '../cpu-state';
import { Vector } from '../fault';
import { HARNESS_GDT, setGate } from '../harness';
import { StopReason } from '../tier0';
import { a16, a32, addDescriptor, reg, run, statusFlags } from './snippet';

// Descriptor-table and control-register instructions (SDM vol. 2 "SGDT", "LGDT", "SLDT", "STR",
// "LMSW", "SMSW", "CLTS", "LAR", "LSL", "VERR/VERW", "ARPL", "MOV DRn", "BOUND", "LDS/LES/LSS").

describe('SGDT / SIDT / LGDT / LIDT', () => {
  it('SGDT and SIDT store the 16-bit limit and the 32-bit base', () => {
    const p = a32`
      sgdt [0x3000]
      sidt [0x3010]
      hlt`;
    const { memory } = run(p);
    expect(memory.read16(0x3000)).toBe(6 * 8 - 1);
    expect(memory.read32(0x3002)).toBe(HARNESS_GDT);
    expect(memory.read16(0x3010)).toBe(0x7ff);
    expect(memory.read32(0x3012)).toBe(0x800);
  });

  it('LGDT with a 16-bit operand size loads 24 bits of base; with 32 bits, all of it', () => {
    const p = a32`
      o16 lgdt [0x3000]
      sgdt [0x3010]
      lgdt [0x3000]
      sgdt [0x3020]
      hlt`;
    const { memory } = run(p, {
      prepare: (_c, m) => {
        m.write16(0x3000, 0x2f);
        m.write32(0x3002, 0x12000500);
      },
    });
    expect(memory.read32(0x3012)).toBe(0x00000500);
    expect(memory.read32(0x3022)).toBe(0x12000500);
  });

  it('SLDT and STR store the LDTR and TR selectors; in real mode they raise #UD', () => {
    const p = a32`
      sldt ax
      str bx
      hlt`;
    const { s } = run(p);
    expect(reg(s, Reg.eax) & 0xffff).toBe(0);
    expect(reg(s, Reg.ebx) & 0xffff).toBe(0x28);
    const q = a16`
    here:
      str bx
      hlt`;
    const r = run(q, { mode: 'real' });
    expect(r.cpu.lastVector).toBe(Vector.ud);
    expect(r.s.eip).toBe(q.at('here'));
  });
});

describe('LMSW / SMSW / CLTS', () => {
  it('LMSW loads PE, MP, EM and TS but cannot clear PE; SMSW reads them back; CLTS clears TS', () => {
    const p = a32`
      mov ax, 0xfffe
      lmsw ax
      smsw bx
      clts
      smsw cx
      hlt`;
    const { s } = run(p);
    expect(reg(s, Reg.ebx) & 0xf).toBe(0xf); // PE stays set; MP, EM, TS from AX
    expect(reg(s, Reg.ecx) & 0xf).toBe(0x7);
    expect(s.cr0 & 1).toBe(1);
  });

  it('LMSW at CPL 3 raises #GP(0); SMSW does not (it is sensitive, not privileged)', () => {
    const p = a32`
      smsw ax
    load:
      lmsw ax
      hlt`;
    const { cpu, s } = run(p, { mode: 'flat32-user' });
    expect(reg(s, Reg.eax) & 1).toBe(1);
    expect(cpu.lastVector).toBe(Vector.gp);
    expect(s.eip).toBe(p.at('load'));
  });
});

describe('LAR / LSL / VERR / VERW / ARPL', () => {
  it('LAR and LSL read a descriptor’s rights and its limit in bytes, and set ZF', () => {
    const p = a32`
      mov ax, 0x10
      lar ebx, ax
      lsl ecx, ax
      mov ax, 0x28
      lsl edx, ax
      hlt`;
    const { s } = run(p);
    expect(reg(s, Reg.ebx)).toBe(0x00c09300); // bytes 4–7 masked by 00F0FF00H
    expect(reg(s, Reg.ecx)).toBe(0xffffffff);
    expect(reg(s, Reg.edx)).toBe(0x67); // the TSS
    expect(s.getZF()).not.toBe(0);
  });

  it('LAR of a null or out-of-table selector clears ZF and leaves the destination alone', () => {
    const p = a32`
      mov ebx, 0x1234
      mov ax, 0x400
      lar ebx, ax
      hlt`;
    const { s } = run(p);
    expect(s.getZF()).toBe(0);
    expect(reg(s, Reg.ebx)).toBe(0x1234);
  });

  it('at CPL 3 a DPL-0 descriptor is invisible to LAR, VERR and VERW (ZF = 0)', () => {
    const p = a32`
      mov ax, 0x13
      lar ebx, ax
      setz cl
      verr ax
      setz ch
      mov ax, 0x23
      verw ax
      setz dl
      jmp $`;
    const { s } = run(p, { mode: 'flat32-user', limit: 9 });
    expect(reg(s, Reg.ecx) & 0xffff).toBe(0);
    expect(reg(s, Reg.edx) & 0xff).toBe(1); // the ring-3 data segment is writable
  });

  it('VERR accepts a readable code segment and VERW refuses it', () => {
    const p = a32`
      mov ax, 0x08
      verr ax
      setz bl
      verw ax
      setz bh
      hlt`;
    const { s } = run(p);
    expect(reg(s, Reg.ebx) & 0xffff).toBe(0x0001);
  });

  it('ARPL raises the destination RPL to the source RPL and sets ZF, else clears ZF', () => {
    const p = a32`
      mov ax, 0x10
      mov bx, 0x1b
      arpl ax, bx
      setz cl
      arpl ax, bx
      setz ch
      hlt`;
    const { s } = run(p);
    expect(reg(s, Reg.eax) & 0xffff).toBe(0x13);
    expect(reg(s, Reg.ecx) & 0xffff).toBe(0x0001);
  });
});

describe('MOV DRn', () => {
  it('DR4 and DR5 alias DR6 and DR7 while CR4.DE is clear, and raise #UD when it is set', () => {
    const p = a32`
      mov eax, dr5
      mov ebx, dr7
      mov eax, cr4
      or eax, 8
      mov cr4, eax
    de_on:
      mov eax, dr4
      hlt`;
    const { cpu, s } = run(p);
    expect(cpu.lastVector).toBe(Vector.ud);
    expect(s.eip).toBe(p.at('de_on'));
    expect(reg(s, Reg.ebx)).toBe(0x400);
  });

  it('DR7.GD makes the next MOV DRn raise #DB before it runs, with DR6.BD set and GD cleared (SDM vol. 3 §17.2.4)', () => {
    const p = a32`
      mov eax, 0x2000
      mov dr7, eax
    access:
      mov dr0, eax
      hlt
    db_handler:
      mov ebx, [esp]
      mov ecx, dr6
      mov edx, dr7
      hlt`;
    const { s, reason } = run(p, {
      deliver: true,
      prepare: (_c, m) => setGate(m, Vector.db, p.at('db_handler')),
    });
    expect(reason).toBe(StopReason.halt);
    expect(reg(s, Reg.ebx)).toBe(p.at('access'));
    expect(reg(s, Reg.ecx) & 0x2000).toBe(0x2000);
    expect(reg(s, Reg.edx) & 0x2000).toBe(0);
    expect(s.dr[0]).toBe(0);
  });

  it('MOV DRn at CPL 3 raises #GP(0)', () => {
    const p = a32`
      mov eax, dr7
      hlt`;
    const { cpu } = run(p, { mode: 'flat32-user' });
    expect(cpu.lastVector).toBe(Vector.gp);
  });
});

describe('BOUND and far-pointer loads', () => {
  it('BOUND r16 compares signed words: −2 is within [−5, 3], 4 is not (#BR)', () => {
    const p = a32`
      mov ax, -2
      bound ax, [0x3000]
      mov ax, 4
    check:
      bound ax, [0x3000]
      hlt`;
    const { cpu, s } = run(p, {
      prepare: (_c, m) => {
        m.write16(0x3000, 0xfffb);
        m.write16(0x3002, 3);
      },
    });
    expect(cpu.lastVector).toBe(Vector.br);
    expect(s.eip).toBe(p.at('check'));
  });

  it('BOUND with a register operand (62 /r, mod = 11) raises #UD', () => {
    const p = a32`
      db 0x62, 0xc0
      hlt`;
    expect(run(p).cpu.lastVector).toBe(Vector.ud);
  });

  it('LDS loads DS and the offset; LES with a null selector loads a null ES without faulting', () => {
    const p = a32`
      lds ebx, [0x3000]
      les ecx, [0x3010]
      hlt`;
    const { s, reason } = run(p, {
      prepare: (_c, m) => {
        m.write32(0x3000, 0xcafe);
        m.write16(0x3004, 0x23 & ~3); // ring-0 sees the ring-3 data segment with RPL 0: fine
        m.write32(0x3010, 0xbeef);
        m.write16(0x3014, 0);
      },
    });
    expect(reason).toBe(StopReason.halt);
    expect(reg(s, Reg.ebx)).toBe(0xcafe);
    expect(s.segSel[Seg.ds]).toBe(0x20);
    expect(reg(s, Reg.ecx)).toBe(0xbeef);
    expect(s.segSel[Seg.es]).toBe(0);
  });

  it('LSS with a null selector raises #GP(0) and changes neither SS nor ESP', () => {
    const p = a32`
      mov esp, 0x8000
      lss esp, [0x3000]
      hlt`;
    const { cpu, s } = run(p, {
      prepare: (_c, m) => {
        m.write32(0x3000, 0x5000);
        m.write16(0x3004, 0);
      },
    });
    expect(cpu.lastVector).toBe(Vector.gp);
    expect(cpu.lastErrorCode).toBe(0);
    expect(reg(s, Reg.esp)).toBe(0x8000);
    expect(s.segSel[Seg.ss]).toBe(0x10);
  });

  it('a segment load sets the accessed bit of its descriptor (SDM vol. 3 §3.4.5.1)', () => {
    const p = a32`
      mov ax, 0x40
      mov fs, ax
      hlt`;
    const { memory, s } = run(p, {
      prepare: (_c, m, st) => addDescriptor(m, st, 0x40, { base: 0x20000, limit: 0xffff, access: 0x92 }),
    });
    expect(memory.read8(HARNESS_GDT + 0x40 + 5)).toBe(0x93);
    expect(s.segBase[Seg.fs]).toBe(0x20000);
    expect(statusFlags(s)).toBe('');
  });
});
