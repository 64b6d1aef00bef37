import { describe, expect, it } from 'vitest';
import { Eflags, Reg, Seg } from '../cpu-state';
import { Vector } from '../fault';
import { HARNESS_IDT, setGate } from '../harness';
import { StopReason } from '../tier0';
import { a32, ESP0, reg, run, STACK_TOP } from './snippet';

// Privilege transitions and the flags they guard: far RET/IRET to an outer level (SDM vol. 2
// "RET", "IRET"), interrupt and trap gates (SDM vol. 3 §6.12.1.3), POPF at each CPL and IOPL
// (SDM vol. 2 "POPF"), and the default stack segment of EBP/ESP addressing (SDM vol. 1 §3.7.4).

describe('returns to an outer privilege level', () => {
  it('RETF from ring 0 to ring 3 loads SS:ESP from the stack and nulls DS/ES/FS/GS with DPL 0', () => {
    // Frame for RETF (32-bit): EIP, CS, ESP, SS.
    const p = a32`
      push dword 0x23
      push dword 0x7000
      push dword 0x1b
      push dword user
      retf
    user:
      jmp $`;
    const { s } = run(p, { limit: 6 });
    expect(s.cpl).toBe(3);
    expect(s.segSel[Seg.cs]).toBe(0x1b);
    expect(s.segSel[Seg.ss]).toBe(0x23);
    expect(reg(s, Reg.esp)).toBe(0x7000);
    for (const seg of [Seg.ds, Seg.es, Seg.fs, Seg.gs]) expect(s.segSel[seg]).toBe(0);
    expect(s.eip).toBe(p.at('user'));
  });

  it('a data access through a segment nulled by the return raises #GP(0)', () => {
    const p = a32`
      push dword 0x23
      push dword 0x7000
      push dword 0x1b
      push dword user
      retf
    user:
      mov eax, [0x3000]
      hlt`;
    const { cpu, s } = run(p);
    expect(cpu.lastVector).toBe(Vector.gp);
    expect(cpu.lastErrorCode).toBe(0);
    expect(s.eip).toBe(p.at('user'));
  });

  it('IRETD to ring 3 restores EFLAGS from the frame, IOPL and IF included (CPL 0 may change them)', () => {
    const p = a32`
      push dword 0x23
      push dword 0x7000
      push dword 0x3202
      push dword 0x1b
      push dword user
      iretd
    user:
      pushfd
      pop eax
      jmp $`;
    const { s } = run(p, { limit: 9 });
    expect(s.cpl).toBe(3);
    expect(reg(s, Reg.eax) & (Eflags.iopl | Eflags.if)).toBe(Eflags.iopl | Eflags.if);
  });

  it('RETF to a more privileged level raises #GP(selector)', () => {
    const p = a32`
      push dword 0x08
      push dword 0x2000
    ret_it:
      retf`;
    const { cpu, s } = run(p, { mode: 'flat32-user' });
    expect(cpu.lastVector).toBe(Vector.gp);
    expect(cpu.lastErrorCode).toBe(0x08);
    expect(s.eip).toBe(p.at('ret_it'));
    expect(reg(s, Reg.esp)).toBe(STACK_TOP - 8);
  });
});

describe('interrupt and trap gates', () => {
  it('an interrupt gate clears IF in the handler; a trap gate leaves it set', () => {
    const p = a32`
      sti
      int 0x40
      int 0x41
      hlt
    handler40:
      pushfd
      pop ebx
      iretd
    handler41:
      pushfd
      pop ecx
      iretd`;
    const { s } = run(p, {
      deliver: true,
      prepare: (_c, m) => {
        setGate(m, 0x40, p.at('handler40'));
        setGate(m, 0x41, p.at('handler41'), 0, true);
      },
    });
    expect(reg(s, Reg.ebx) & Eflags.if).toBe(0);
    expect(reg(s, Reg.ecx) & Eflags.if).toBe(Eflags.if);
    expect(s.flags & Eflags.if).toBe(Eflags.if);
  });

  it('INT n beyond the IDT limit raises #GP(vector × 8 + 2)', () => {
    const p = a32`
    int_it:
      int 0x90
      hlt`;
    const { cpu, s } = run(p, {
      prepare: (_c, _m, st) => {
        st.idtrLimit = 0x90 * 8 - 1;
      },
    });
    expect(cpu.lastVector).toBe(Vector.gp);
    expect(cpu.lastErrorCode).toBe(0x90 * 8 + 2);
    expect(s.eip).toBe(p.at('int_it'));
  });

  it('a not-present gate raises #NP(vector × 8 + 2)', () => {
    const p = a32`
      int 0x42
      hlt`;
    const { cpu } = run(p, {
      prepare: (_c, m) => {
        setGate(m, 0x42, 0x2000, 3);
        m.write8(HARNESS_IDT + 0x42 * 8 + 5, 0x6e); // P = 0, DPL 3, 32-bit interrupt gate
      },
    });
    expect(cpu.lastVector).toBe(Vector.np);
    expect(cpu.lastErrorCode).toBe(0x42 * 8 + 2);
  });

  it('an exception in ring 3 enters the ring-0 handler on the TSS stack with the user SS:ESP pushed', () => {
    const p = a32`
      mov esp, 0x7000
    fault:
      ud2
    handler:
      hlt`;
    const { s, memory, reason } = run(p, {
      mode: 'flat32-user',
      deliver: true,
      limit: 10,
      prepare: (_c, m) => setGate(m, Vector.ud, p.at('handler')),
    });
    expect(reason).toBe(StopReason.halt);
    expect(s.cpl).toBe(0);
    expect(reg(s, Reg.esp)).toBe(ESP0 - 20);
    // From ESP upwards: EIP, CS, EFLAGS, ESP, SS (no error code for #UD).
    const frame = [0, 4, 8, 12, 16].map((o) => memory.read32(ESP0 - 20 + o) >>> 0);
    expect([frame[0], frame[1], frame[3], frame[4]]).toEqual([p.at('fault'), 0x1b, 0x7000, 0x23]);
    expect((frame[2] ?? 0) & Eflags.fixed1).toBe(Eflags.fixed1);
  });
});

describe('SYSENTER / SYSEXIT (SDM vol. 2 "SYSENTER", "SYSEXIT")', () => {
  it('SYSENTER with IA32_SYSENTER_CS = 0 raises #GP(0) and stays in ring 3', () => {
    const p = a32`
    enter_it:
      sysenter`;
    const { cpu, s } = run(p, { mode: 'flat32-user' });
    expect(cpu.lastVector).toBe(Vector.gp);
    expect(s.eip).toBe(p.at('enter_it'));
    expect(s.cpl).toBe(3);
  });

  it('SYSEXIT at CPL 3 raises #GP(0)', () => {
    const p = a32`
      sysexit`;
    const { cpu } = run(p, {
      mode: 'flat32-user',
      prepare: (_c, _m, st) => {
        st.sysenterCs = 0x08;
      },
    });
    expect(cpu.lastVector).toBe(Vector.gp);
  });

  it('SYSENTER clears IF and VM and loads flat CS/SS at CS_MSR and CS_MSR + 8', () => {
    const p = a32`
      sysenter
    kernel:
      pushfd
      pop eax
      hlt`;
    const { s } = run(p, {
      limit: 4,
      mode: 'flat32-user',
      prepare: (_c, _m, st) => {
        st.sysenterCs = 0x0b; // RPL bits are ignored
        st.sysenterEip = p.at('kernel');
        st.sysenterEsp = 0x9000;
        st.flags |= Eflags.if;
      },
    });
    expect(s.cpl).toBe(0);
    expect(s.segSel[Seg.cs]).toBe(0x08);
    expect(s.segSel[Seg.ss]).toBe(0x10);
    expect(reg(s, Reg.eax) & Eflags.if).toBe(0);
    expect(reg(s, Reg.esp)).toBe(0x9000);
  });
});

describe('POPF by privilege (SDM vol. 2 "POPF")', () => {
  const popfCode = a32`
    push dword 0x3000
    popfd
    pushfd
    pop eax
    push dword 0x0200
    popfd
    pushfd
    pop ebx
    jmp $`;

  it('at CPL 0 POPFD changes IOPL and IF', () => {
    const { s } = run(popfCode, { limit: 9 });
    expect(reg(s, Reg.eax) & (Eflags.iopl | Eflags.if)).toBe(Eflags.iopl);
    expect(reg(s, Reg.ebx) & (Eflags.iopl | Eflags.if)).toBe(Eflags.if);
  });

  it('at CPL 3 with IOPL 0 POPFD changes neither IOPL nor IF, and does not fault', () => {
    const { s, cpu } = run(popfCode, {
      mode: 'flat32-user',
      limit: 9,
      prepare: (_c, _m, st) => {
        st.flags |= Eflags.if;
      },
    });
    expect(cpu.lastVector).toBe(-1);
    expect(reg(s, Reg.eax) & (Eflags.iopl | Eflags.if)).toBe(Eflags.if);
    expect(reg(s, Reg.ebx) & (Eflags.iopl | Eflags.if)).toBe(Eflags.if);
  });

  it('at CPL 3 with IOPL 3 POPFD changes IF but not IOPL', () => {
    const { s } = run(popfCode, {
      mode: 'flat32-user',
      limit: 9,
      prepare: (_c, _m, st) => {
        st.flags |= Eflags.iopl;
      },
    });
    expect(reg(s, Reg.eax) & (Eflags.iopl | Eflags.if)).toBe(Eflags.iopl);
    expect(reg(s, Reg.ebx) & (Eflags.iopl | Eflags.if)).toBe(Eflags.iopl | Eflags.if);
  });
});

describe('default segments', () => {
  it('[EBP + disp] and [ESP] address SS: beyond the SS limit they raise #SS(0), not #GP', () => {
    for (const op of ['mov eax, [ebp + 0x10]', 'mov eax, [esp + 0x10]']) {
      const p = a32`
        mov ebp, 0xfff0
        mov esp, 0xfff0
        ${op}
        hlt`;
      const { cpu } = run(p, {
        prepare: (_c, _m, st) => {
          st.segLimit[Seg.ss] = 0xffff;
          st.segAccess[Seg.ss] = 0x4093;
        },
      });
      expect(cpu.lastVector).toBe(Vector.ss);
    }
  });

  it('a DS override on [EBP] uses DS: the same access is fine', () => {
    const p = a32`
      mov ebp, 0xfff0
      mov eax, [ds:ebp + 0x10]
      hlt`;
    const { reason } = run(p, {
      prepare: (_c, _m, st) => {
        st.segLimit[Seg.ss] = 0xffff;
      },
    });
    expect(reason).toBe(StopReason.halt);
  });

  it('XLAT reads [EBX + AL] through DS or its override', () => {
    const p = a32`
      mov ebx, 0x100
      mov al, 5
      xlatb
      mov ah, al
      mov al, 5
      fs xlatb
      hlt`;
    const { s } = run(p, {
      prepare: (_c, m, st) => {
        st.segBase[Seg.fs] = 0x20000;
        m.write8(0x105, 0x11);
        m.write8(0x20105, 0x22);
      },
    });
    expect(reg(s, Reg.eax) & 0xffff).toBe(0x1122);
  });
});
