import { Code } from '@ringzero/decoder';
import { describe, expect, it } from 'vitest';
import { Eflags, Reg, Seg } from '../cpu-state';
import { Vector } from '../fault';
import { HARNESS_TSS } from '../harness';
import { Action, type Policy, Sensitivity } from '../policy';
import { StopReason } from '../tier0';
import { a16, a32, ORIGIN, reg, run } from './snippet';

// What the hypervisor decides reaches it: the policy is asked for every form the rings table
// does not class innocuous (before the processor's own privilege check), and port I/O, CPUID,
// RDTSC, MSRs, HLT, CR writes and INVLPG go through the callouts.

const NAME_OF = new Map<number, string>(Object.entries(Code).map(([name, code]) => [code as number, name]));

/** A policy that records (form, class) and answers `inline`. */
function recorder(): Policy & { seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    decide: (code, cls) => {
      seen.push(`${NAME_OF.get(code)}:${cls}`);
      return Action.inline;
    },
  };
}

describe('the policy is asked for every non-innocuous form', () => {
  it('names each sensitive, IOPL-checked and privileged form with its class, and no innocuous one', () => {
    const policy = recorder();
    const p = a32`
      mov eax, 1
      cpuid
      rdtsc
      in al, 0x60
      out 0x80, al
      mov dx, 0x3f8
      in ax, dx
      out dx, eax
      mov ecx, 0x176
      rdmsr
      wrmsr
      mov eax, cr0
      mov cr0, eax
      invlpg [0x3000]
      sgdt [0x3000]
      lgdt [0x3000]
      pushfd
      popfd
      cli
      sti
      add eax, ebx
      hlt`;
    const { reason } = run(p, { policy });
    expect(reason).toBe(StopReason.halt);
    const { sensitive, ioplChecked: iopl, privileged } = Sensitivity;
    expect(policy.seen).toEqual([
      `cpuid:${sensitive}`,
      `rdtsc:${sensitive}`,
      `in_al_imm8:${iopl}`,
      `out_imm8_al:${iopl}`,
      `in_ax_dx:${iopl}`,
      `out_dx_eax:${iopl}`,
      `rdmsr:${privileged}`,
      `wrmsr:${privileged}`,
      `mov_r32_cr:${privileged}`,
      `mov_cr_r32:${privileged}`,
      `invlpg_m:${privileged}`,
      `sgdt_m1632:${sensitive}`,
      `lgdt_m1632:${privileged}`,
      `pushfd:${sensitive}`,
      `popfd:${sensitive}`,
      `cli:${iopl}`,
      `sti:${iopl}`,
      `hlt:${privileged}`,
    ]);
  });

  it('exit stops before the instruction with the state untouched; the VMM can emulate it and resume', () => {
    let cpuidCalls = 0;
    const p = a32`
      mov eax, 0
      mov ebx, 0x1234
    ask:
      cpuid
      inc ecx
      hlt`;
    const r = run(p, {
      policy: { decide: (code) => (code === Code.cpuid ? Action.exit : Action.inline) },
      callouts: { cpuid: () => void cpuidCalls++ },
    });
    expect(r.reason).toBe(StopReason.exit);
    expect(r.cpu.exitCode).toBe(Code.cpuid);
    expect(r.s.eip).toBe(p.at('ask'));
    expect(reg(r.s, Reg.ebx)).toBe(0x1234);
    expect(cpuidCalls).toBe(0);
    // The VMM's emulation: its own CPUID values, EIP past the two-byte instruction.
    r.s.regs[Reg.ecx] = 41;
    r.s.eip += 2;
    expect(r.cpu.run(100)).toBe(StopReason.halt);
    expect(reg(r.s, Reg.ecx)).toBe(42);
  });

  it('callout hands the form to emulate() with EIP already past it; false from emulate raises #UD', () => {
    const seen: string[] = [];
    const p = a32`
      cli
    second:
      sti
      hlt`;
    const { cpu, s } = run(p, {
      policy: { decide: (code) => (code === Code.hlt ? Action.inline : Action.callout) },
      callouts: {
        emulate: (code, st) => {
          seen.push(`${NAME_OF.get(code)}@${st.eip.toString(16)}`);
          return code === Code.cli;
        },
      },
    });
    expect(seen).toEqual([`cli@${p.at('second').toString(16)}`, `sti@${(p.at('second') + 1).toString(16)}`]);
    expect(cpu.lastVector).toBe(Vector.ud);
    expect(s.eip).toBe(p.at('second'));
  });

  it('a callout for HLT at CPL 3 reaches the hypervisor instead of raising #GP', () => {
    let emulated = 0;
    const p = a32`
      hlt
      inc eax
      jmp $`;
    const { cpu, s } = run(p, {
      mode: 'flat32-user',
      limit: 5,
      policy: { decide: () => Action.callout },
      callouts: { emulate: () => ++emulated > 0 },
    });
    expect(emulated).toBe(1);
    expect(cpu.lastVector).toBe(-1);
    expect(reg(s, Reg.eax)).toBe(1);
  });
});

describe('callouts', () => {
  it('CPUID passes EAX as the leaf and ECX as the subleaf and returns EAX, EBX, ECX, EDX', () => {
    const calls: string[] = [];
    const p = a32`
      mov eax, 4
      mov ecx, 2
      cpuid
      hlt`;
    const { s } = run(p, {
      callouts: {
        cpuid: (leaf, subleaf, out) => {
          calls.push(`${leaf}/${subleaf}`);
          out.set([0xa, 0xb, 0xc, 0xd]);
        },
      },
    });
    expect(calls).toEqual(['4/2']);
    expect([Reg.eax, Reg.ebx, Reg.ecx, Reg.edx].map((r) => reg(s, r))).toEqual([0xa, 0xb, 0xc, 0xd]);
  });

  it('RDTSC returns the callout value in EDX:EAX', () => {
    const p = a32`
      rdtsc
      hlt`;
    const { s } = run(p, { callouts: { rdtsc: () => 0x1_2345_6789n } });
    expect(reg(s, Reg.edx)).toBe(1);
    expect(reg(s, Reg.eax)).toBe(0x23456789);
  });

  it('RDTSC at CPL 3 with CR4.TSD raises #GP(0) without asking the callout (SDM vol. 2 "RDTSC")', () => {
    let calls = 0;
    const p = a32`
      rdtsc
      hlt`;
    const { cpu } = run(p, {
      mode: 'flat32-user',
      callouts: { rdtsc: () => BigInt(++calls) },
      prepare: (_c, _m, st) => {
        st.cr4 |= 4;
      },
    });
    expect(cpu.lastVector).toBe(Vector.gp);
    expect(calls).toBe(0);
  });

  it('IN and OUT pass the port (imm8 or DX), the size and the value; IN merges into EAX by size', () => {
    const log: string[] = [];
    const p = a32`
      mov eax, 0x11223344
      out 0x80, al
      out 0x81, ax
      mov dx, 0x3f8
      out dx, eax
      mov eax, 0xffffffff
      in al, 0x61
      mov ebx, eax
      in ax, dx
      mov ecx, eax
      in eax, dx
      hlt`;
    const { s } = run(p, {
      callouts: {
        ioWrite: (port, size, value) => log.push(`out ${port.toString(16)}/${size}=${value.toString(16)}`),
        ioRead: (port, size) => {
          log.push(`in ${port.toString(16)}/${size}`);
          return size === 1 ? 0x5a : size === 2 ? 0x5a5a : 0x5a5a5a5a;
        },
      },
    });
    expect(log).toEqual([
      'out 80/1=44',
      'out 81/2=3344',
      'out 3f8/4=11223344',
      'in 61/1',
      'in 3f8/2',
      'in 3f8/4',
    ]);
    expect(reg(s, Reg.ebx)).toBe(0xffffff5a);
    expect(reg(s, Reg.ecx)).toBe(0xffff5a5a);
    expect(reg(s, Reg.eax)).toBe(0x5a5a5a5a);
  });

  it('HLT calls the hlt callout and stops with EIP after it', () => {
    let halts = 0;
    const p = a32`
      nop
      hlt
    after:
      nop`;
    const { s, reason } = run(p, { callouts: { hlt: () => void halts++ } });
    expect(reason).toBe(StopReason.halt);
    expect(halts).toBe(1);
    expect(s.eip).toBe(p.at('after'));
    expect(s.halted).toBe(true);
  });

  it('MOV CRn asks writeCr with the register number and value; false raises #GP(0) and keeps the CR', () => {
    const writes: string[] = [];
    const p = a32`
      mov eax, 0x40000
      mov cr3, eax
      mov eax, 0x10
      mov cr4, eax
    refused:
      mov cr0, eax
      hlt`;
    const { cpu, s } = run(p, {
      callouts: {
        writeCr: (n, value) => {
          writes.push(`cr${n}=${value.toString(16)}`);
          return n !== 0;
        },
      },
    });
    expect(writes).toEqual(['cr3=40000', 'cr4=10', 'cr0=10']);
    expect(s.cr3).toBe(0x40000);
    expect(s.cr4).toBe(0x10);
    expect(cpu.lastVector).toBe(Vector.gp);
    expect(s.eip).toBe(p.at('refused'));
    expect(s.cr0 & 1).toBe(1);
  });

  it('a CR0.TS set through MOV CR0 makes the next x87 instruction raise #NM (SDM vol. 3 §2.5)', () => {
    const p = a32`
      mov eax, cr0
      or eax, 8
      mov cr0, eax
    fpu:
      fld1
      hlt`;
    const { cpu, s } = run(p);
    expect(cpu.lastVector).toBe(Vector.nm);
    expect(s.eip).toBe(p.at('fpu'));
  });

  it('INVLPG reports the linear address: the segment base plus the offset', () => {
    const seen: number[] = [];
    const p = a32`
      invlpg [fs:0x3000]
      hlt`;
    run(p, {
      callouts: { invlpg: (linear) => void seen.push(linear >>> 0) },
      prepare: (_c, _m, st) => {
        st.segBase[Seg.fs] = 0x10000;
      },
    });
    expect(seen).toEqual([0x13000]);
  });

  it('RDMSR and WRMSR pass ECX and EDX:EAX to the MSR callouts; an unknown MSR raises #GP(0)', () => {
    const msrs = new Map<number, bigint>([[0x1234, 0xaabbccdd_11223344n]]);
    const p = a32`
      mov ecx, 0x1234
      rdmsr
      mov ecx, 0x4321
      wrmsr
    unknown:
      mov ecx, 0x999
      rdmsr
      hlt`;
    const { cpu, s } = run(p, {
      callouts: {
        rdmsr: (index) => msrs.get(index),
        wrmsr: (index, value) => {
          msrs.set(index, value);
          return true;
        },
      },
    });
    expect(msrs.get(0x4321)).toBe(0xaabbccdd_11223344n);
    expect(cpu.lastVector).toBe(Vector.gp);
    expect(cpu.lastErrorCode).toBe(0);
    expect(s.eip).toBe(p.at('unknown') + 5);
  });

  it('the exception callout sees the vector, the error code and EIP at the faulting instruction', () => {
    const seen: string[] = [];
    const p = a32`
      mov ax, 0x4b
    load:
      mov ds, ax
      hlt`;
    run(p, {
      deliver: true,
      callouts: {
        exception: (vector, errorCode, st) => {
          seen.push(`${vector}/${errorCode.toString(16)}@${st.eip.toString(16)}`);
          return true;
        },
      },
    });
    expect(seen).toEqual([`${Vector.gp}/48@${p.at('load').toString(16)}`]);
  });

  it('real mode: port I/O and CPUID reach the callouts without privilege checks', () => {
    const log: string[] = [];
    const p = a16`
      mov al, 0x41
      out 0xe9, al
      xor eax, eax
      cpuid
      hlt`;
    const { s } = run(p, {
      mode: 'real',
      callouts: {
        ioWrite: (port, _size, value) => log.push(`${port.toString(16)}=${value.toString(16)}`),
        cpuid: (_l, _s, out) => out.set([2, 0x756e6547, 0x6c65746e, 0x49656e69]),
      },
    });
    expect(log).toEqual(['e9=41']);
    expect(reg(s, Reg.ebx)).toBe(0x756e6547);
  });
});

describe('I/O permission at CPL 3 (SDM vol. 1 §19.5)', () => {
  /** Gives the harness TSS an I/O bitmap for ports 0–0x3FF that allows `allowed` and denies the rest. */
  function bitmap(allowed: readonly number[]) {
    return (_c: unknown, m: { write8(a: number, v: number): void }, st: { tr: { limit: number } }) => {
      for (let i = 0; i <= 0x80; i++) m.write8(HARNESS_TSS + 0x68 + i, 0xff);
      const bytes = new Map<number, number>();
      for (const port of allowed) bytes.set(port >> 3, (bytes.get(port >> 3) ?? 0xff) & ~(1 << (port & 7)));
      for (const [at, v] of bytes) m.write8(HARNESS_TSS + 0x68 + at, v);
      st.tr.limit = 0x68 + 0x80;
    };
  }

  it('IOPL 3 lets ring 3 use any port', () => {
    const ports: number[] = [];
    const p = a32`
      out 0x70, al
      jmp $`;
    const { cpu } = run(p, {
      mode: 'flat32-user',
      limit: 3,
      callouts: { ioWrite: (port) => void ports.push(port) },
      prepare: (_c, _m, st) => {
        st.flags |= Eflags.iopl;
      },
    });
    expect(ports).toEqual([0x70]);
    expect(cpu.lastVector).toBe(-1);
  });

  it('with IOPL 0 the TSS bitmap decides: a clear bit allows the port, without a fault', () => {
    const ports: number[] = [];
    const p = a32`
      out 0x80, al
      mov dx, 0x3f8
      in al, dx
      jmp $`;
    const { cpu } = run(p, {
      mode: 'flat32-user',
      limit: 5,
      callouts: {
        ioWrite: (port) => void ports.push(port),
        ioRead: (port) => {
          ports.push(port);
          return 0;
        },
      },
      prepare: bitmap([0x80, 0x3f8]),
    });
    expect(ports).toEqual([0x80, 0x3f8]);
    expect(cpu.lastVector).toBe(-1);
  });

  it('a word access needs the bits of both ports clear: 0x3F8 allowed, 0x3F9 denied → #GP(0), no callout', () => {
    const ports: number[] = [];
    const p = a32`
      mov dx, 0x3f8
    word:
      in ax, dx
      hlt`;
    const { cpu, s } = run(p, {
      mode: 'flat32-user',
      callouts: {
        ioRead: (port) => {
          ports.push(port);
          return 0;
        },
      },
      prepare: bitmap([0x3f8]),
    });
    expect(cpu.lastVector).toBe(Vector.gp);
    expect(cpu.lastErrorCode).toBe(0);
    expect(s.eip).toBe(p.at('word'));
    expect(ports).toEqual([]);
  });

  it('a port beyond the end of the bitmap (the TSS limit) is denied', () => {
    const p = a32`
      mov dx, 0x800
      out dx, al
      hlt`;
    const { cpu, s } = run(p, { mode: 'flat32-user', prepare: bitmap([]) });
    expect(cpu.lastVector).toBe(Vector.gp);
    expect(s.eip).toBe(ORIGIN + 4);
  });
});
