import { describe, expect, it } from 'vitest';
import { Eflags, Reg, Seg } from '../cpu-state';
import { Vector } from '../fault';
import { setGate } from '../harness';
import { StopReason } from '../tier0';
import { a16, a32, identityMap, mapPage, ORIGIN, PAGE_TABLE, reg, run, statusFlags } from './snippet';

// String instructions (SDM vol. 2 "MOVS", "CMPS", "STOS", "LODS", "SCAS", "INS", "OUTS",
// "REP/REPE/REPZ/REPNE/REPNZ"). Sources are DS:(E)SI unless overridden, destinations ES:(E)DI
// (never overridden); the address size picks SI/DI/CX or ESI/EDI/ECX; DF picks the direction.

const SRC = 0x3000;
const DST = 0x4000;
const SIZES = [
  { suffix: 'b', bytes: 1 },
  { suffix: 'w', bytes: 2 },
  { suffix: 'd', bytes: 4 },
] as const;
const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff);

describe('REP MOVS / STOS / LODS at every operand size', () => {
  for (const { suffix, bytes } of SIZES) {
    it(`rep movs${suffix} copies ECX elements forwards and leaves ECX = 0, ESI/EDI past the ends`, () => {
      const p = a32`
        mov esi, ${SRC}
        mov edi, ${DST}
        mov ecx, 5
        rep movs${suffix}
        hlt`;
      const { s, memory, reason } = run(p, { prepare: (_c, m) => m.ram.set(pattern(64), SRC) });
      expect(reason).toBe(StopReason.halt);
      expect([...memory.ram.subarray(DST, DST + 5 * bytes)]).toEqual([...pattern(5 * bytes)]);
      expect(memory.ram[DST + 5 * bytes]).toBe(0);
      expect(reg(s, Reg.ecx)).toBe(0);
      expect(reg(s, Reg.esi)).toBe(SRC + 5 * bytes);
      expect(reg(s, Reg.edi)).toBe(DST + 5 * bytes);
    });

    it(`rep movs${suffix} with DF = 1 copies backwards from the last element`, () => {
      const p = a32`
        std
        mov esi, ${SRC + 4 * bytes}
        mov edi, ${DST + 4 * bytes}
        mov ecx, 5
        rep movs${suffix}
        hlt`;
      const { s, memory } = run(p, { prepare: (_c, m) => m.ram.set(pattern(64), SRC) });
      expect([...memory.ram.subarray(DST, DST + 5 * bytes)]).toEqual([...pattern(5 * bytes)]);
      expect(reg(s, Reg.esi)).toBe(SRC - bytes);
      expect(reg(s, Reg.edi)).toBe(DST - bytes);
    });

    it(`rep stos${suffix} stores the accumulator ECX times`, () => {
      const p = a32`
        mov eax, 0xa1b2c3d4
        mov edi, ${DST}
        mov ecx, 3
        rep stos${suffix}
        hlt`;
      const { s, memory } = run(p);
      const one = [0xd4, 0xc3, 0xb2, 0xa1].slice(0, bytes);
      expect([...memory.ram.subarray(DST, DST + 3 * bytes + 1)]).toEqual([...one, ...one, ...one, 0]);
      expect(reg(s, Reg.edi)).toBe(DST + 3 * bytes);
      expect(reg(s, Reg.ecx)).toBe(0);
    });

    it(`rep lods${suffix} leaves the last element in the accumulator and the rest of EAX alone`, () => {
      const p = a32`
        mov eax, 0x55555555
        mov esi, ${SRC}
        mov ecx, 4
        rep lods${suffix}
        hlt`;
      const { s } = run(p, { prepare: (_c, m) => m.ram.set(pattern(64), SRC) });
      const last = pattern(4 * bytes).subarray(3 * bytes);
      const v = last.reduce((acc, b, i) => acc + b * 2 ** (8 * i), 0);
      const keep = bytes === 4 ? 0 : 0x55555555 - (0x55555555 % 2 ** (8 * bytes));
      expect(reg(s, Reg.eax)).toBe(keep + v);
      expect(reg(s, Reg.esi)).toBe(SRC + 4 * bytes);
    });
  }

  it('a string instruction without REP runs once and ignores ECX', () => {
    const p = a32`
      mov esi, ${SRC}
      mov edi, ${DST}
      mov ecx, 7
      movsw
      hlt`;
    const { s, memory } = run(p, { prepare: (_c, m) => m.ram.set(pattern(8), SRC) });
    expect([...memory.ram.subarray(DST, DST + 3)]).toEqual([...pattern(2), 0]);
    expect(reg(s, Reg.ecx)).toBe(7);
    expect(reg(s, Reg.esi)).toBe(SRC + 2);
  });

  it('REP with ECX = 0 does nothing: no access (even to an address beyond the limit), no flag change', () => {
    // DS limit 0xfff: [esi] = 0x3000 would fault if it were read.
    const p = a32`
      xor ecx, ecx
      stc
      mov esi, ${SRC}
      mov edi, ${DST}
      repe cmpsd
      rep movsb
      hlt`;
    const { s, reason } = run(p, {
      prepare: (_c, _m, st) => {
        st.segLimit[Seg.ds] = 0xfff;
        st.segLimit[Seg.es] = 0xfff;
      },
    });
    expect(reason).toBe(StopReason.halt);
    expect(statusFlags(s)).toBe('CPZ'); // XOR's PF and ZF, STC's CF: CMPSD of zeros would clear CF
    expect(reg(s, Reg.esi)).toBe(SRC);
    expect(reg(s, Reg.edi)).toBe(DST);
  });

  it('a REP prefix on an instruction that is not a string instruction is ignored: it runs once', () => {
    const p = a32`
      mov ecx, 5
      db 0xf3
      inc eax
      hlt`;
    const { s } = run(p);
    expect(reg(s, Reg.eax)).toBe(1);
    expect(reg(s, Reg.ecx)).toBe(5);
  });

  it('counts every REP iteration as a retired instruction', () => {
    const p = a32`
      mov ecx, 10
      mov edi, ${DST}
      rep stosb
      hlt`;
    const { cpu } = run(p);
    expect(cpu.instructions).toBe(2 + 10 + 1);
  });
});

describe('REPE / REPNE CMPS and SCAS', () => {
  for (const { suffix, bytes } of SIZES) {
    it(`repe cmps${suffix} stops after the first differing element, with its flags`, () => {
      const p = a32`
        mov esi, ${SRC}
        mov edi, ${DST}
        mov ecx, 8
        repe cmps${suffix}
        hlt`;
      const { s } = run(p, {
        prepare: (_c, m) => {
          m.ram.set(pattern(8 * bytes), SRC);
          m.ram.set(pattern(8 * bytes), DST);
          m.ram[DST + 3 * bytes + bytes - 1] = 0xff; // element 3 is larger at ES:EDI
        },
      });
      expect(reg(s, Reg.ecx)).toBe(8 - 4);
      expect(reg(s, Reg.esi)).toBe(SRC + 4 * bytes);
      expect(reg(s, Reg.edi)).toBe(DST + 4 * bytes);
      expect(s.getZF()).toBe(0);
      expect(s.getCF()).toBe(1); // [esi] − [edi] borrowed
    });

    it(`repe cmps${suffix} over equal strings runs to ECX = 0 with ZF set`, () => {
      const p = a32`
        mov esi, ${SRC}
        mov edi, ${DST}
        mov ecx, 6
        repe cmps${suffix}
        hlt`;
      const { s } = run(p, {
        prepare: (_c, m) => {
          m.ram.set(pattern(6 * bytes), SRC);
          m.ram.set(pattern(6 * bytes), DST);
        },
      });
      expect(reg(s, Reg.ecx)).toBe(0);
      expect(s.getZF()).not.toBe(0);
    });

    it(`repne cmps${suffix} stops after the first equal element`, () => {
      const p = a32`
        mov esi, ${SRC}
        mov edi, ${DST}
        mov ecx, 8
        repne cmps${suffix}
        hlt`;
      const { s } = run(p, {
        prepare: (_c, m) => {
          m.ram.fill(1, SRC, SRC + 8 * bytes);
          m.ram.fill(2, DST, DST + 8 * bytes);
          m.ram.fill(1, DST + 5 * bytes, DST + 6 * bytes); // element 5 equal
        },
      });
      expect(reg(s, Reg.ecx)).toBe(8 - 6);
      expect(s.getZF()).not.toBe(0);
    });

    it(`repne scas${suffix} finds the accumulator and leaves EDI past it`, () => {
      const p = a32`
        mov eax, 0x01010101
        mov edi, ${DST}
        mov ecx, 100
        cld
        repne scas${suffix}
        hlt`;
      const { s } = run(p, {
        prepare: (_c, m) => {
          m.ram.fill(0, DST, DST + 100 * bytes);
          m.ram.fill(1, DST + 9 * bytes, DST + 10 * bytes);
        },
      });
      expect(reg(s, Reg.edi)).toBe(DST + 10 * bytes);
      expect(reg(s, Reg.ecx)).toBe(100 - 10);
      expect(s.getZF()).not.toBe(0);
    });

    it(`repe scas${suffix} skips elements equal to the accumulator`, () => {
      const p = a32`
        xor eax, eax
        mov edi, ${DST}
        mov ecx, 50
        repe scas${suffix}
        hlt`;
      const { s } = run(p, {
        prepare: (_c, m) => {
          m.ram.fill(0, DST, DST + 50 * bytes);
          m.ram[DST + 12 * bytes] = 0x80;
        },
      });
      expect(reg(s, Reg.edi)).toBe(DST + 13 * bytes);
      expect(reg(s, Reg.ecx)).toBe(50 - 13);
      expect(s.getZF()).toBe(0);
    });
  }

  it('REPNE SCASB that never matches stops at ECX = 0 with ZF clear (strlen idiom on a full buffer)', () => {
    const p = a32`
      mov al, 0
      mov edi, ${DST}
      mov ecx, 16
      repne scasb
      hlt`;
    const { s } = run(p, { prepare: (_c, m) => m.ram.fill(7, DST, DST + 32) });
    expect(reg(s, Reg.ecx)).toBe(0);
    expect(reg(s, Reg.edi)).toBe(DST + 16);
    expect(s.getZF()).toBe(0);
  });
});

describe('REP INS / OUTS', () => {
  for (const { suffix, bytes } of SIZES) {
    it(`rep ins${suffix} reads DX ECX times into ES:EDI; rep outs${suffix} writes DS:ESI to DX`, () => {
      const reads: string[] = [];
      const writes: string[] = [];
      let next = 0x11;
      const p = a32`
        mov dx, 0x1f0
        mov edi, ${DST}
        mov ecx, 3
        rep ins${suffix}
        mov esi, ${DST}
        mov ecx, 3
        mov dx, 0x80
        rep outs${suffix}
        hlt`;
      const { s, memory } = run(p, {
        callouts: {
          ioRead: (port, size) => {
            reads.push(`${port.toString(16)}/${size}`);
            const v = next;
            next += 0x11;
            return v;
          },
          ioWrite: (port, size, value) => writes.push(`${port.toString(16)}/${size}=${value.toString(16)}`),
        },
      });
      expect(reads).toEqual([`1f0/${bytes}`, `1f0/${bytes}`, `1f0/${bytes}`]);
      expect(writes).toEqual([`80/${bytes}=11`, `80/${bytes}=22`, `80/${bytes}=33`]);
      expect(memory.read8(DST + bytes)).toBe(0x22);
      expect(reg(s, Reg.edi)).toBe(DST + 3 * bytes);
      expect(reg(s, Reg.esi)).toBe(DST + 3 * bytes);
    });
  }

  it('REP INSB at CPL 3 without I/O permission raises #GP(0) before the first read, ECX unchanged', () => {
    let reads = 0;
    const p = a32`
      mov dx, 0x60
      mov edi, ${DST}
      mov ecx, 4
      rep insb
      hlt`;
    const { cpu, s } = run(p, {
      mode: 'flat32-user',
      callouts: { ioRead: () => ++reads },
    });
    expect(cpu.lastVector).toBe(Vector.gp);
    expect(cpu.lastErrorCode).toBe(0);
    expect(reads).toBe(0);
    expect(reg(s, Reg.ecx)).toBe(4);
    expect(s.eip).toBe(ORIGIN + 5 + 4 + 5);
  });
});

describe('segment override and address size', () => {
  const bases = { es: 0x10000, cs: 0x20000, ss: 0x30000, ds: 0x40000, fs: 0x50000, gs: 0x60000 } as const;
  const segOf = { es: Seg.es, cs: Seg.cs, ss: Seg.ss, ds: Seg.ds, fs: Seg.fs, gs: Seg.gs } as const;

  for (const name of ['es', 'cs', 'ss', 'ds', 'fs', 'gs'] as const) {
    it(`${name} override selects the source segment of MOVSB, LODSB, CMPSB and OUTSB; ES:EDI stays ES`, () => {
      const p = a32`
        mov esi, 0x100
        mov edi, 0x200
        ${name} movsb
        mov esi, 0x101
        ${name} lodsb
        mov esi, 0x100
        mov edi, 0x200
        ${name} cmpsb
        mov esi, 0x102
        mov dx, 0xe9
        ${name} outsb
        hlt`;
      const out: number[] = [];
      const { s, memory, reason } = run(p, {
        callouts: { ioWrite: (_p, _s, v) => out.push(v) },
        prepare: (_c, m, st) => {
          // The code segment (CS) stays based at 0 so the snippet runs; its source bytes are read
          // at CS base + 0x100, which is inside the code: put the marker there.
          for (const [n, base] of Object.entries(bases)) {
            const seg = segOf[n as keyof typeof segOf];
            if (seg !== Seg.cs) st.segBase[seg] = base;
            const at = seg === Seg.cs ? 0x100 : base + 0x100;
            m.ram.set([0x40 + seg, 0x50 + seg, 0x60 + seg], at);
          }
        },
      });
      expect(reason).toBe(StopReason.halt);
      const seg = segOf[name];
      expect(memory.read8(bases.es + 0x200)).toBe(0x40 + seg);
      expect(reg(s, Reg.eax) & 0xff).toBe(0x50 + seg);
      expect(s.getZF()).not.toBe(0); // compared the byte it just copied
      expect(out).toEqual([0x60 + seg]);
    });
  }

  it('a segment override does not redirect the destination of STOSB or the operand of SCASB', () => {
    const p = a32`
      mov al, 0x77
      mov edi, 0x200
      fs stosb
      mov edi, 0x200
      gs scasb
      hlt`;
    const { s, memory } = run(p, {
      prepare: (_c, _m, st) => {
        st.segBase[Seg.es] = 0x10000;
        st.segBase[Seg.fs] = 0x50000;
        st.segBase[Seg.gs] = 0x60000;
      },
    });
    expect(memory.read8(0x10200)).toBe(0x77);
    expect(memory.read8(0x50200)).toBe(0);
    expect(s.getZF()).not.toBe(0);
  });

  it('a16 in 32-bit code uses CX, SI and DI, wraps them at 64 KiB and keeps their upper halves', () => {
    // ECX = 0x00050003: with a16 only CX = 3 counts. SI starts at 0xFFFF: it wraps to 0.
    const p = a32`
      mov ecx, 0x00050003
      mov esi, 0x1234ffff
      mov edi, 0xabcd0100
      a16 rep movsb
      hlt`;
    const { s, memory } = run(p, {
      prepare: (_c, m) => {
        m.ram[0xffff] = 0xa1;
        m.ram[0x0000] = 0xa2;
        m.ram[0x0001] = 0xa3;
        m.ram[0x1ffff] = 0xee; // what a 32-bit ESI would read next
      },
    });
    expect([...memory.ram.subarray(0x100, 0x104)]).toEqual([0xa1, 0xa2, 0xa3, 0]);
    expect(reg(s, Reg.ecx)).toBe(0x00050000);
    expect(reg(s, Reg.esi)).toBe(0x12340002);
    expect(reg(s, Reg.edi)).toBe(0xabcd0103);
  });

  it('a16 REP with CX = 0 and ECX ≠ 0 runs no iteration', () => {
    const p = a32`
      mov ecx, 0x10000
      mov edi, ${DST}
      mov al, 1
      a16 rep stosb
      hlt`;
    const { s, memory } = run(p);
    expect(memory.read8(DST)).toBe(0);
    expect(reg(s, Reg.ecx)).toBe(0x10000);
  });

  it('real mode: rep movsw copies DS:SI to ES:DI with segment bases selector × 16', () => {
    const p = a16`
      mov ax, 0x300
      mov ds, ax
      mov ax, 0x400
      mov es, ax
      mov si, 0x10
      mov di, 0x20
      mov cx, 3
      cld
      rep movsw
      hlt`;
    const { s, memory } = run(p, { mode: 'real', prepare: (_c, m) => m.ram.set(pattern(6), 0x3010) });
    expect([...memory.ram.subarray(0x4020, 0x4027)]).toEqual([...pattern(6), 0]);
    expect(reg(s, Reg.esi) & 0xffff).toBe(0x16);
    expect(reg(s, Reg.ecx) & 0xffff).toBe(0);
  });

  it('real mode: a32 rep stosb counts with ECX and addresses with EDI; EDI beyond 0xFFFF raises #GP(0)', () => {
    const p = a16`
      xor ax, ax
      mov es, ax
      mov edi, 0xfffe
      mov ecx, 4
      mov al, 0x5a
      a32 rep stosb
      hlt`;
    const { cpu, s, memory } = run(p, { mode: 'real' });
    expect(cpu.lastVector).toBe(Vector.gp);
    expect(memory.read8(0xfffe)).toBe(0x5a);
    expect(memory.read8(0xffff)).toBe(0x5a);
    expect(memory.read8(0x10000)).toBe(0);
    expect(reg(s, Reg.ecx)).toBe(2);
    expect(reg(s, Reg.edi)).toBe(0x10000);
  });
});

describe('faults in the middle of a string instruction', () => {
  it('#PF on the destination of REP MOVSD leaves ECX/ESI/EDI at the faulting element and the earlier ones copied', () => {
    // 12 dwords from 0x2ffe0 to 0x2fff0: the fifth store reaches the missing page 0x30000.
    const p = a32`
      mov esi, 0x2ffe0
      mov edi, 0x2fff0
      mov ecx, 12
    copy:
      rep movsd
      hlt`;
    const { cpu, s, memory } = run(p, {
      prepare: (_c, m, st) => {
        m.ram.set(pattern(48), 0x2ffe0);
        identityMap(m, st, { missing: [0x30000] });
      },
    });
    expect(cpu.lastVector).toBe(Vector.pf);
    expect(cpu.lastErrorCode).toBe(2); // supervisor write to a not-present page
    expect(s.cr2).toBe(0x30000);
    expect(s.eip).toBe(p.at('copy'));
    expect(reg(s, Reg.ecx)).toBe(8);
    expect(reg(s, Reg.esi)).toBe(0x2fff0);
    expect(reg(s, Reg.edi)).toBe(0x30000);
    // The first four dwords (which overlap the source's tail) were copied in order.
    expect([...memory.ram.subarray(0x2fff0, 0x30000)]).toEqual([...pattern(16)]);
  });

  it('#PF on the source of REPE CMPSB stops before the compare: flags are those of the last element', () => {
    const p = a32`
      mov esi, 0x2fffd
      mov edi, ${DST}
      mov ecx, 8
    cmp:
      repe cmpsb
      hlt`;
    const { cpu, s } = run(p, {
      prepare: (_c, m, st) => {
        m.ram.set([5, 5, 5], 0x2fffd);
        m.ram.set([5, 5, 5, 5], DST);
        identityMap(m, st, { missing: [0x30000] });
      },
    });
    expect(cpu.lastVector).toBe(Vector.pf);
    expect(cpu.lastErrorCode).toBe(0);
    expect(s.cr2).toBe(0x30000);
    expect(s.eip).toBe(p.at('cmp'));
    expect(reg(s, Reg.ecx)).toBe(5);
    expect(reg(s, Reg.esi)).toBe(0x30000);
    expect(reg(s, Reg.edi)).toBe(DST + 3);
    expect(s.getZF()).not.toBe(0);
  });

  it('a guest #PF handler that maps the page and returns with IRETD lets REP STOSB finish', () => {
    // The handler maps 0x30000 by writing its PTE (not-present entries are never cached, SDM
    // vol. 3 §4.10.2.3, so no INVLPG is needed), drops the error code and returns to the STOSB.
    const pte = PAGE_TABLE + (0x30000 >>> 12) * 4;
    const p = a32`
      mov edi, 0x2fff8
      mov ecx, 16
      mov al, 0xcc
    fill:
      rep stosb
      hlt
    pf_handler:
      inc ebx
      mov dword [${pte}], 0x30007
      add esp, 4
      iretd`;
    const { s, memory, reason } = run(p, {
      deliver: true,
      prepare: (_c, m, st) => {
        identityMap(m, st, { missing: [0x30000] });
        setGate(m, Vector.pf, p.at('pf_handler'));
      },
    });
    expect(reason).toBe(StopReason.halt);
    expect(reg(s, Reg.ebx)).toBe(1);
    expect(reg(s, Reg.ecx)).toBe(0);
    expect(reg(s, Reg.edi)).toBe(0x30008);
    expect([...memory.ram.subarray(0x2fff8, 0x30009)]).toEqual([...new Array(16).fill(0xcc), 0]);
  });

  it('the same REP MOVSB resumes after the host maps the page (restartable at the faulting iteration)', () => {
    const p = a32`
      mov esi, ${SRC}
      mov edi, 0x2fffc
      mov ecx, 10
      rep movsb
      hlt`;
    const r = run(p, {
      prepare: (_c, m, st) => {
        m.ram.set(pattern(10), SRC);
        identityMap(m, st, { missing: [0x30000] });
      },
    });
    expect(r.cpu.lastVector).toBe(Vector.pf);
    mapPage(r.memory, 0x30000);
    expect(r.cpu.run(100)).toBe(StopReason.halt);
    expect([...r.memory.ram.subarray(0x2fffc, 0x30006)]).toEqual([...pattern(10)]);
  });

  it('a ring-3 REP MOVSB into a supervisor page raises #PF with error code U|W|P', () => {
    const p = a32`
      mov esi, ${SRC}
      mov edi, 0x2fffe
      mov ecx, 4
      rep movsb
      hlt`;
    const { cpu, s, memory } = run(p, {
      mode: 'flat32-user',
      prepare: (_c, m, st) => {
        m.ram.set([1, 2, 3, 4], SRC);
        identityMap(m, st, { supervisor: [0x30000] });
      },
    });
    expect(cpu.lastVector).toBe(Vector.pf);
    expect(cpu.lastErrorCode).toBe(7);
    expect(reg(s, Reg.ecx)).toBe(2);
    expect(memory.read16(0x2fffe)).toBe(0x0201);
  });

  it('REP STOSB past the ES limit raises #GP(0) with the elements inside the limit stored', () => {
    const p = a32`
      mov edi, 0x3ffc
      mov ecx, 8
      mov al, 9
      rep stosb
      hlt`;
    const { cpu, s, memory } = run(p, {
      prepare: (_c, _m, st) => {
        st.segLimit[Seg.es] = 0x3fff;
      },
    });
    expect(cpu.lastVector).toBe(Vector.gp);
    expect(cpu.lastErrorCode).toBe(0);
    expect([...memory.ram.subarray(0x3ffc, 0x4001)]).toEqual([9, 9, 9, 9, 0]);
    expect(reg(s, Reg.ecx)).toBe(4);
    expect(reg(s, Reg.edi)).toBe(0x4000);
  });

  it('a dword STOSD that straddles the ES limit faults although its first byte is inside (SDM vol. 3 §5.3)', () => {
    const p = a32`
      mov edi, 0x3ffe
      stosd
      hlt`;
    const { cpu, memory } = run(p, {
      prepare: (_c, _m, st) => {
        st.segLimit[Seg.es] = 0x3fff;
      },
    });
    expect(cpu.lastVector).toBe(Vector.gp);
    expect(memory.read8(0x3ffe)).toBe(0);
  });

  it('SS:ESI beyond the stack limit raises #SS(0), not #GP (SDM vol. 3 §6.15 "#SS")', () => {
    const p = a32`
      mov esi, 0x8000
      ss lodsb
      hlt`;
    const { cpu } = run(p, {
      prepare: (_c, _m, st) => {
        st.segLimit[Seg.ss] = 0x7fff;
      },
    });
    expect(cpu.lastVector).toBe(Vector.ss);
    expect(cpu.lastErrorCode).toBe(0);
  });
});

describe('interrupts between iterations', () => {
  it('a long REP MOVSB is interruptible: EIP stays on it with the counts so far, and it finishes after IRETD', () => {
    const n = 20000;
    const p = a32`
      sti
      mov esi, 0x10000
      mov edi, 0x20000
      mov ecx, ${n}
    copy:
      rep movsb
      hlt
    irq:
      inc ebx
      iretd`;
    const { cpu, s, memory } = run(p, {
      deliver: true,
      limit: 100,
      prepare: (_c, m) => {
        for (let i = 0; i < n; i++) m.ram[0x10000 + i] = i & 0xff;
        setGate(m, 0x20, p.at('irq'));
      },
    });
    expect(s.eip).toBe(p.at('copy'));
    const left = reg(s, Reg.ecx);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(n);
    expect(reg(s, Reg.esi) - 0x10000).toBe(n - left);
    expect(cpu.injectInterrupt(0x20)).toBe(true);
    expect(cpu.run(100_000)).toBe(StopReason.halt);
    expect(reg(s, Reg.ebx)).toBe(1);
    expect(reg(s, Reg.ecx)).toBe(0);
    expect(memory.ram[0x20000 + n - 1]).toBe((n - 1) & 0xff);
    expect(memory.ram[0x20000 + n]).toBe(0);
    expect(s.flags & Eflags.if).not.toBe(0);
  });
});
