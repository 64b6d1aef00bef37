import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Vector } from './fault';
import { createHarness, runSnippet } from './harness';

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const OPCODE: Record<string, number> = {
  punpcklbw: 0x60,
  punpcklwd: 0x61,
  punpckldq: 0x62,
  packsswb: 0x63,
  pcmpgtb: 0x64,
  pcmpgtw: 0x65,
  pcmpgtd: 0x66,
  packuswb: 0x67,
  punpckhbw: 0x68,
  punpckhwd: 0x69,
  punpckhdq: 0x6a,
  packssdw: 0x6b,
  pcmpeqb: 0x74,
  pcmpeqw: 0x75,
  pcmpeqd: 0x76,
  psrlw: 0xd1,
  psrld: 0xd2,
  psrlq: 0xd3,
  pmullw: 0xd5,
  psubusb: 0xd8,
  psubusw: 0xd9,
  pand: 0xdb,
  paddusb: 0xdc,
  paddusw: 0xdd,
  pandn: 0xdf,
  psraw: 0xe1,
  psrad: 0xe2,
  pmulhw: 0xe5,
  psubsb: 0xe8,
  psubsw: 0xe9,
  por: 0xeb,
  paddsb: 0xec,
  paddsw: 0xed,
  pxor: 0xef,
  psllw: 0xf1,
  pslld: 0xf2,
  psllq: 0xf3,
  pmaddwd: 0xf5,
  psubb: 0xf8,
  psubw: 0xf9,
  psubd: 0xfa,
  paddb: 0xfc,
  paddw: 0xfd,
  paddd: 0xfe,
};
const A = 0x3000;
const B = 0x3008;
const R = 0x3010;

const rows = readFileSync(new URL('../testdata/mmx.txt', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l !== '' && !l.startsWith('#'))
  .map((l) => {
    const f = l.split(' ');
    return { op: f[0] ?? '', a: BigInt(`0x${f[1]}`), b: BigInt(`0x${f[2]}`), r: BigInt(`0x${f[3]}`) };
  });

const harness = createHarness(new Uint8Array(0));
const view = new DataView(harness.memory.ram.buffer, harness.memory.ram.byteOffset);

function replay(op: string, a: bigint, b: bigint): bigint {
  const { cpu, memory } = harness;
  // movq mm0,[A] / movq mm1,[B] / op mm0,mm1 / movq [R],mm0 / emms / hlt
  const code = [
    0x0f,
    0x6f,
    0x05,
    ...le32(A),
    0x0f,
    0x6f,
    0x0d,
    ...le32(B),
    0x0f,
    OPCODE[op] ?? 0,
    0xc1,
    0x0f,
    0x7f,
    0x05,
    ...le32(R),
    0x0f,
    0x77,
    0xf4,
  ];
  memory.ram.set(code, 0x1000);
  cpu.invalidateCode(0x1000, code.length);
  view.setBigUint64(A, a, true);
  view.setBigUint64(B, b, true);
  cpu.state.eip = 0x1000;
  cpu.state.halted = false;
  cpu.run(10);
  return view.getBigUint64(R, true);
}

describe('MMX against hardware vectors (SDM vol. 1 ch. 9)', () => {
  for (const op of [...new Set(rows.map((r) => r.op))]) {
    const mine = rows.filter((r) => r.op === op);
    it(`${op} mm0, mm1 gives the host's result (${mine.length} vectors)`, () => {
      const bad = mine
        .filter((r) => replay(op, r.a, r.b) !== r.r)
        .slice(0, 3)
        .map(
          (r) =>
            `${r.a.toString(16)} ${r.b.toString(16)} → ${replay(op, r.a, r.b).toString(16)}, host ${r.r.toString(16)}`,
        );
      expect(bad).toEqual([]);
    });
  }
});

describe('MMX state', () => {
  it('an MMX instruction sets TOP = 0 and every tag valid; EMMS empties the tags (SDM vol. 1 §9.5.1)', () => {
    // pxor mm0,mm0 / hlt
    const { cpu } = runSnippet(new Uint8Array([0x0f, 0xef, 0xc0, 0xf4]));
    expect(cpu.state.fpuTag).toBe(0);
    const after = runSnippet(new Uint8Array([0x0f, 0xef, 0xc0, 0x0f, 0x77, 0xf4]));
    expect(after.cpu.state.fpuTag).toBe(0xffff);
  });

  it('MOVD zero-extends into the MMX register and PSRLQ by an immediate shifts 64 bits', () => {
    // mov eax,0x80000001 / movd mm2,eax / psllq mm2,32 / movq [R],mm2 / hlt
    const { memory } = runSnippet(
      new Uint8Array([
        0xb8,
        ...le32(0x80000001),
        0x0f,
        0x6e,
        0xd0,
        0x0f,
        0x73,
        0xf2,
        32,
        0x0f,
        0x7f,
        0x15,
        ...le32(R),
        0xf4,
      ]),
    );
    expect(new DataView(memory.ram.buffer, memory.ram.byteOffset).getBigUint64(R, true)).toBe(
      0x8000000100000000n,
    );
  });

  it('CR0.EM makes MMX instructions raise #UD (SDM vol. 3 §2.5)', () => {
    const { cpu } = createHarness(new Uint8Array([0x0f, 0xef, 0xc0, 0xf4]), {
      callouts: { exception: () => true },
    });
    cpu.state.cr0 |= 4;
    cpu.run(10);
    expect(cpu.lastVector).toBe(Vector.ud);
  });
});
