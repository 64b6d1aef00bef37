import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Reg } from './cpu-state';
import { createHarness } from './harness';

// BCD instructions do not exist in 64-bit mode; native/compat.c records them on this host in
// 32-bit compatibility mode. Flags the SDM vol. 2 leaves undefined are not compared:
// DAA/DAS: OF; AAA/AAS: OF SF ZF PF; AAM/AAD: OF AF CF.
const DEFINED: Record<string, number> = { daa: 0xd5, das: 0xd5, aaa: 0x11, aas: 0x11, aam: 0xc4, aad: 0xc4 };
const OPCODE: Record<string, number> = { daa: 0x27, das: 0x2f, aaa: 0x37, aas: 0x3f, aam: 0xd4, aad: 0xd5 };

const rows = readFileSync(new URL('../testdata/bcd.txt', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l !== '' && !l.startsWith('#'))
  .map((l) => {
    const [op = '', ...n] = l.split(' ');
    const [imm = 0, ax = 0, fin = 0, axOut = 0, fout = 0] = n.map((x) => Number.parseInt(x, 16));
    return { op, imm, ax, fin, axOut, fout };
  });

const { cpu, memory } = createHarness(new Uint8Array(0));

describe('BCD against hardware (compatibility-mode vectors)', () => {
  for (const op of Object.keys(DEFINED)) {
    const mine = rows.filter((r) => r.op === op);
    it(`${op}: AX and the defined flags match this host (${mine.length} vectors)`, () => {
      const bad: string[] = [];
      for (const r of mine) {
        const code = op === 'aam' || op === 'aad' ? [OPCODE[op] ?? 0, r.imm, 0xf4] : [OPCODE[op] ?? 0, 0xf4];
        memory.ram.set(code, 0x1000);
        cpu.invalidateCode(0x1000, 4);
        const s = cpu.state;
        s.regs[Reg.eax] = r.ax;
        s.setFlags(0x202 | r.fin);
        s.eip = 0x1000;
        s.halted = false;
        cpu.run(5);
        const ax = (s.regs[Reg.eax] ?? 0) & 0xffff;
        const f = s.getFlags() & (DEFINED[op] ?? 0);
        if (ax !== r.axOut || f !== (r.fout & (DEFINED[op] ?? 0))) {
          bad.push(
            `ax ${r.ax.toString(16)} f ${r.fin.toString(16)} → ${ax.toString(16)} f ${f.toString(16)}, host ${r.axOut.toString(16)} f ${r.fout.toString(16)}`,
          );
        }
      }
      expect(bad.slice(0, 3)).toEqual([]);
    });
  }
});
