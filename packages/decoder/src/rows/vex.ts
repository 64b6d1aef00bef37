import type { Row } from './row';
import { FLOAT_ARITH, PACKED_INT, SSE4_38, SSSE3 } from './simd';
import { AVX_ROWS } from './vex-avx';

/**
 * VEX-encoded forms (SDM Vol. 2 §2.3 and the instruction pages): AVX and AVX2 forms of the SSE
 * operations, the AVX moves, and BMI1/BMI2. Encodings start with `vex`, then the VEX.pp prefix
 * (`pNP`/`p66`/`pF3`/`pF2`), the map (`0F`, `0F 38`, `0F 3A`), the opcode, ModRM, and `L0`/`L1`/
 * `LIG` and `W0`/`W1`/`WIG` (`W0x`: W0 in 64-bit mode, W ignored elsewhere, for forms whose
 * W1 twin exists only in 64-bit mode). Operand `vx`/`vy`/`vr32`/`vr64` is the register in VEX.vvvv.
 * Form names follow the `vex_<mnemonic>_<operands>` convention.
 */

const PART: Record<string, string> = {
  xmm: 'xmm',
  rxmm: 'xmm',
  vx: 'xmm',
  ymm: 'ymm',
  rymm: 'ymm',
  vy: 'ymm',
  xmmrm128: 'xmmm128',
  xmmrm64: 'xmmm64',
  xmmrm32: 'xmmm32',
  xmmrm16: 'xmmm16',
  xmmrm8: 'xmmm8',
  ymmrm256: 'ymmm256',
  vr32: 'r32',
  vr64: 'r64',
  ib: 'imm8',
  kr: 'kr',
  rkr: 'kr',
  vk: 'kr',
  krm8: 'km8',
  krm16: 'km16',
  krm32: 'km32',
  krm64: 'km64',
  rr32: 'r32',
  rr64: 'r64',
  is4x: 'xmm',
  is4y: 'ymm',
  vm32x32: 'vm32x',
  vm32x64: 'vm32x',
  vm32y32: 'vm32y',
  vm64x32: 'vm64x',
  vm64x64: 'vm64x',
  vm64y32: 'vm64y',
  vm64y64: 'vm64y',
};

function name(mn: string, ops: string): string {
  return [
    'vex',
    mn,
    ...ops
      .split(/\s+/)
      .filter(Boolean)
      .map((o) => PART[o] ?? o),
  ].join('_');
}

type V = readonly [mnemonic: string, encoding: string, operands: string, attributes: string, flags?: string];

function families(): V[] {
  const out: V[] = [];
  // Packed integer: VEX.128 (AVX) and VEX.256 (AVX2), destination, vvvv source, r/m source.
  for (const [mn, op] of PACKED_INT) {
    out.push([`v${mn}`, `vex p66 0F ${op} /r L0 WIG`, 'xmm vx xmmrm128', 'cpu:avx']);
    // Shifts by an XMM count keep a 128-bit count operand in the 256-bit form.
    const countOp = /^ps[rl]l[wdq]$|^psra[wd]$/.test(mn);
    out.push([
      `v${mn}`,
      `vex p66 0F ${op} /r L1 WIG`,
      countOp ? 'ymm vy xmmrm128' : 'ymm vy ymmrm256',
      'cpu:avx2',
    ]);
  }
  for (const [mn, op] of SSSE3) {
    const unary = mn.startsWith('pabs');
    out.push([
      `v${mn}`,
      `vex p66 0F 38 ${op} /r L0 WIG`,
      unary ? 'xmm xmmrm128' : 'xmm vx xmmrm128',
      'cpu:avx',
    ]);
    out.push([
      `v${mn}`,
      `vex p66 0F 38 ${op} /r L1 WIG`,
      unary ? 'ymm ymmrm256' : 'ymm vy ymmrm256',
      'cpu:avx2',
    ]);
  }
  for (const [mn, op, , extra] of SSE4_38) {
    if (mn.startsWith('aes') || mn.startsWith('blendv') || mn === 'pblendvb') continue;
    if (mn === 'ptest') {
      out.push(['vptest', 'vex p66 0F 38 17 /r L0 WIG', 'xmm xmmrm128', 'cpu:avx rw:rr', 'w:zc c:osap']);
      out.push(['vptest', 'vex p66 0F 38 17 /r L1 WIG', 'ymm ymmrm256', 'cpu:avx rw:rr', 'w:zc c:osap']);
      continue;
    }
    if (mn.startsWith('pmov')) {
      const src = extra ?? '64';
      const wide = src === '64' ? '128' : src === '32' ? '64' : '32';
      out.push([`v${mn}`, `vex p66 0F 38 ${op} /r L0 WIG`, `xmm xmmrm${src}`, 'cpu:avx rw:wr']);
      out.push([`v${mn}`, `vex p66 0F 38 ${op} /r L1 WIG`, `ymm xmmrm${wide}`, 'cpu:avx2 rw:wr']);
      continue;
    }
    if (mn === 'phminposuw') {
      out.push(['vphminposuw', `vex p66 0F 38 ${op} /r L0 WIG`, 'xmm xmmrm128', 'cpu:avx rw:wr']);
      continue;
    }
    out.push([`v${mn}`, `vex p66 0F 38 ${op} /r L0 WIG`, 'xmm vx xmmrm128', 'cpu:avx']);
    out.push([`v${mn}`, `vex p66 0F 38 ${op} /r L1 WIG`, 'ymm vy ymmrm256', 'cpu:avx2']);
  }
  for (const [stem, op] of FLOAT_ARITH) {
    const unary = stem === 'sqrt';
    for (const [suffix, pfx] of [
      ['ps', 'pNP'],
      ['pd', 'p66'],
    ] as const) {
      out.push([
        `v${stem}${suffix}`,
        `vex ${pfx} 0F ${op} /r L0 WIG`,
        unary ? 'xmm xmmrm128' : 'xmm vx xmmrm128',
        'cpu:avx',
      ]);
      out.push([
        `v${stem}${suffix}`,
        `vex ${pfx} 0F ${op} /r L1 WIG`,
        unary ? 'ymm ymmrm256' : 'ymm vy ymmrm256',
        'cpu:avx',
      ]);
    }
    out.push([`v${stem}ss`, `vex pF3 0F ${op} /r LIG WIG`, 'xmm vx xmmrm32', 'cpu:avx']);
    out.push([`v${stem}sd`, `vex pF2 0F ${op} /r LIG WIG`, 'xmm vx xmmrm64', 'cpu:avx']);
  }
  for (const [mn, op] of [
    ['andps', '54'],
    ['andnps', '55'],
    ['orps', '56'],
    ['xorps', '57'],
    ['unpcklps', '14'],
    ['unpckhps', '15'],
  ] as const) {
    const pd = mn.replace(/ps$/, 'pd');
    out.push([`v${mn}`, `vex pNP 0F ${op} /r L0 WIG`, 'xmm vx xmmrm128', 'cpu:avx']);
    out.push([`v${mn}`, `vex pNP 0F ${op} /r L1 WIG`, 'ymm vy ymmrm256', 'cpu:avx']);
    out.push([`v${pd}`, `vex p66 0F ${op} /r L0 WIG`, 'xmm vx xmmrm128', 'cpu:avx']);
    out.push([`v${pd}`, `vex p66 0F ${op} /r L1 WIG`, 'ymm vy ymmrm256', 'cpu:avx']);
  }
  // Aligned/unaligned moves: load and store forms, 128 and 256 bits, no vvvv.
  for (const [mn, pfx, load, store] of [
    ['movups', 'pNP', '10', '11'],
    ['movupd', 'p66', '10', '11'],
    ['movaps', 'pNP', '28', '29'],
    ['movapd', 'p66', '28', '29'],
    ['movdqa', 'p66', '6F', '7F'],
    ['movdqu', 'pF3', '6F', '7F'],
  ] as const) {
    out.push([`v${mn}`, `vex ${pfx} 0F ${load} /r L0 WIG`, 'xmm xmmrm128', 'cpu:avx rw:wr']);
    out.push([`v${mn}`, `vex ${pfx} 0F ${load} /r L1 WIG`, 'ymm ymmrm256', 'cpu:avx rw:wr']);
    out.push([`v${mn}`, `vex ${pfx} 0F ${store} /r L0 WIG`, 'xmmrm128 xmm', 'cpu:avx rw:wr']);
    out.push([`v${mn}`, `vex ${pfx} 0F ${store} /r L1 WIG`, 'ymmrm256 ymm', 'cpu:avx rw:wr']);
  }
  return out;
}

const LIST: readonly V[] = [
  ...families(),
  ['vzeroupper', 'vex pNP 0F 77 L0 WIG', '', 'cpu:avx'],
  ['vzeroall', 'vex pNP 0F 77 L1 WIG', '', 'cpu:avx'],
  ['vpmovmskb', 'vex p66 0F D7 /r L0 W0x', 'r32 rxmm', 'cpu:avx rw:wr'],
  ['vpmovmskb', 'vex p66 0F D7 /r L0 W1 x64', 'r64 rxmm', 'cpu:avx rw:wr'],
  ['vpmovmskb', 'vex p66 0F D7 /r L1 W0x', 'r32 rymm', 'cpu:avx2 rw:wr'],
  ['vpmovmskb', 'vex p66 0F D7 /r L1 W1 x64', 'r64 rymm', 'cpu:avx2 rw:wr'],
  ['vmovmskps', 'vex pNP 0F 50 /r L0 W0x', 'r32 rxmm', 'cpu:avx rw:wr'],
  ['vmovmskps', 'vex pNP 0F 50 /r L0 W1 x64', 'r64 rxmm', 'cpu:avx rw:wr'],
  ['vmovmskps', 'vex pNP 0F 50 /r L1 W0x', 'r32 rymm', 'cpu:avx rw:wr'],
  ['vmovmskps', 'vex pNP 0F 50 /r L1 W1 x64', 'r64 rymm', 'cpu:avx rw:wr'],
  ['vmovmskpd', 'vex p66 0F 50 /r L0 W0x', 'r32 rxmm', 'cpu:avx rw:wr'],
  ['vmovmskpd', 'vex p66 0F 50 /r L0 W1 x64', 'r64 rxmm', 'cpu:avx rw:wr'],
  ['vmovmskpd', 'vex p66 0F 50 /r L1 W0x', 'r32 rymm', 'cpu:avx rw:wr'],
  ['vmovmskpd', 'vex p66 0F 50 /r L1 W1 x64', 'r64 rymm', 'cpu:avx rw:wr'],
  ['vmovd', 'vex p66 0F 6E /r L0 W0x', 'xmm rm32', 'cpu:avx rw:wr'],
  ['vmovq', 'vex p66 0F 6E /r L0 W1 x64', 'xmm rm64', 'cpu:avx rw:wr'],
  ['vmovd', 'vex p66 0F 7E /r L0 W0x', 'rm32 xmm', 'cpu:avx rw:wr'],
  ['vmovq', 'vex p66 0F 7E /r L0 W1 x64', 'rm64 xmm', 'cpu:avx rw:wr'],
  ['vmovq', 'vex pF3 0F 7E /r L0 WIG', 'xmm xmmrm64', 'cpu:avx rw:wr'],
  ['vmovq', 'vex p66 0F D6 /r L0 WIG', 'xmmrm64 xmm', 'cpu:avx rw:wr'],
  ['vpshufd', 'vex p66 0F 70 /r L0 WIG', 'xmm xmmrm128 ib', 'cpu:avx rw:wrr'],
  ['vpshufd', 'vex p66 0F 70 /r L1 WIG', 'ymm ymmrm256 ib', 'cpu:avx2 rw:wrr'],
  ['vpsrldq', 'vex p66 0F 73 /3 L0 WIG', 'vx rxmm ib', 'cpu:avx rw:wrr'],
  ['vpsrldq', 'vex p66 0F 73 /3 L1 WIG', 'vy rymm ib', 'cpu:avx2 rw:wrr'],
  ['vpslldq', 'vex p66 0F 73 /7 L0 WIG', 'vx rxmm ib', 'cpu:avx rw:wrr'],
  ['vpslldq', 'vex p66 0F 73 /7 L1 WIG', 'vy rymm ib', 'cpu:avx2 rw:wrr'],
  ['vpalignr', 'vex p66 0F 3A 0F /r L0 WIG', 'xmm vx xmmrm128 ib', 'cpu:avx rw:wrrr'],
  ['vpalignr', 'vex p66 0F 3A 0F /r L1 WIG', 'ymm vy ymmrm256 ib', 'cpu:avx2 rw:wrrr'],
  ['vpunpcklqdq', 'vex p66 0F 6C /r L0 WIG', 'xmm vx xmmrm128', 'cpu:avx'],
  ['vpunpcklqdq', 'vex p66 0F 6C /r L1 WIG', 'ymm vy ymmrm256', 'cpu:avx2'],
  ['vpunpckhqdq', 'vex p66 0F 6D /r L0 WIG', 'xmm vx xmmrm128', 'cpu:avx'],
  ['vpunpckhqdq', 'vex p66 0F 6D /r L1 WIG', 'ymm vy ymmrm256', 'cpu:avx2'],
  ['vpbroadcastb', 'vex p66 0F 38 78 /r L0 W0', 'xmm xmmrm8', 'cpu:avx2 rw:wr'],
  ['vpbroadcastb', 'vex p66 0F 38 78 /r L1 W0', 'ymm xmmrm8', 'cpu:avx2 rw:wr'],
  ['vpbroadcastw', 'vex p66 0F 38 79 /r L0 W0', 'xmm xmmrm16', 'cpu:avx2 rw:wr'],
  ['vpbroadcastw', 'vex p66 0F 38 79 /r L1 W0', 'ymm xmmrm16', 'cpu:avx2 rw:wr'],
  ['vpbroadcastd', 'vex p66 0F 38 58 /r L0 W0', 'xmm xmmrm32', 'cpu:avx2 rw:wr'],
  ['vpbroadcastd', 'vex p66 0F 38 58 /r L1 W0', 'ymm xmmrm32', 'cpu:avx2 rw:wr'],
  ['vpbroadcastq', 'vex p66 0F 38 59 /r L0 W0', 'xmm xmmrm64', 'cpu:avx2 rw:wr'],
  ['vpbroadcastq', 'vex p66 0F 38 59 /r L1 W0', 'ymm xmmrm64', 'cpu:avx2 rw:wr'],
  ['vinserti128', 'vex p66 0F 3A 38 /r L1 W0', 'ymm vy xmmrm128 ib', 'cpu:avx2 rw:wrrr'],
  ['vextracti128', 'vex p66 0F 3A 39 /r L1 W0', 'xmmrm128 ymm ib', 'cpu:avx2 rw:wrr'],
  ['vperm2i128', 'vex p66 0F 3A 46 /r L1 W0', 'ymm vy ymmrm256 ib', 'cpu:avx2 rw:wrrr'],
  ['vpermq', 'vex p66 0F 3A 00 /r L1 W1', 'ymm ymmrm256 ib', 'cpu:avx2 rw:wrr'],
  ['vucomiss', 'vex pNP 0F 2E /r LIG WIG', 'xmm xmmrm32', 'cpu:avx rw:rr', 'w:zpc c:osa'],
  ['vucomisd', 'vex p66 0F 2E /r LIG WIG', 'xmm xmmrm64', 'cpu:avx rw:rr', 'w:zpc c:osa'],
  ['vcomiss', 'vex pNP 0F 2F /r LIG WIG', 'xmm xmmrm32', 'cpu:avx rw:rr', 'w:zpc c:osa'],
  ['vcomisd', 'vex p66 0F 2F /r LIG WIG', 'xmm xmmrm64', 'cpu:avx rw:rr', 'w:zpc c:osa'],
  ['vcvtsi2sd', 'vex pF2 0F 2A /r LIG W0x', 'xmm vx rm32', 'cpu:avx rw:wrr'],
  ['vcvtsi2sd', 'vex pF2 0F 2A /r LIG W1 x64', 'xmm vx rm64', 'cpu:avx rw:wrr'],
  ['vcvtsi2ss', 'vex pF3 0F 2A /r LIG W0x', 'xmm vx rm32', 'cpu:avx rw:wrr'],
  ['vcvtsi2ss', 'vex pF3 0F 2A /r LIG W1 x64', 'xmm vx rm64', 'cpu:avx rw:wrr'],
  ['vcvttsd2si', 'vex pF2 0F 2C /r LIG W0x', 'r32 xmmrm64', 'cpu:avx rw:wr'],
  ['vcvttsd2si', 'vex pF2 0F 2C /r LIG W1 x64', 'r64 xmmrm64', 'cpu:avx rw:wr'],
  // BMI1 / BMI2 (SDM Vol. 2: ANDN, BEXTR, BLSI, BLSMSK, BLSR, BZHI, MULX, PDEP, PEXT, RORX, SARX, SHLX, SHRX).
  ['andn', 'vex pNP 0F 38 F2 /r L0 W0x', 'r32 vr32 rm32', 'cpu:bmi1 rw:wrr', 'w:szc c:o u:ap'],
  ['andn', 'vex pNP 0F 38 F2 /r L0 W1 x64', 'r64 vr64 rm64', 'cpu:bmi1 rw:wrr', 'w:szc c:o u:ap'],
  ['bextr', 'vex pNP 0F 38 F7 /r L0 W0x', 'r32 rm32 vr32', 'cpu:bmi1 rw:wrr', 'w:z c:oc u:sap'],
  ['bextr', 'vex pNP 0F 38 F7 /r L0 W1 x64', 'r64 rm64 vr64', 'cpu:bmi1 rw:wrr', 'w:z c:oc u:sap'],
  ['blsr', 'vex pNP 0F 38 F3 /1 L0 W0x', 'vr32 rm32', 'cpu:bmi1 rw:wr', 'w:szc c:o u:ap'],
  ['blsr', 'vex pNP 0F 38 F3 /1 L0 W1 x64', 'vr64 rm64', 'cpu:bmi1 rw:wr', 'w:szc c:o u:ap'],
  ['blsmsk', 'vex pNP 0F 38 F3 /2 L0 W0x', 'vr32 rm32', 'cpu:bmi1 rw:wr', 'w:sc c:oz u:ap'],
  ['blsmsk', 'vex pNP 0F 38 F3 /2 L0 W1 x64', 'vr64 rm64', 'cpu:bmi1 rw:wr', 'w:sc c:oz u:ap'],
  ['blsi', 'vex pNP 0F 38 F3 /3 L0 W0x', 'vr32 rm32', 'cpu:bmi1 rw:wr', 'w:szc c:o u:ap'],
  ['blsi', 'vex pNP 0F 38 F3 /3 L0 W1 x64', 'vr64 rm64', 'cpu:bmi1 rw:wr', 'w:szc c:o u:ap'],
  ['bzhi', 'vex pNP 0F 38 F5 /r L0 W0x', 'r32 rm32 vr32', 'cpu:bmi2 rw:wrr', 'w:szc c:o u:ap'],
  ['bzhi', 'vex pNP 0F 38 F5 /r L0 W1 x64', 'r64 rm64 vr64', 'cpu:bmi2 rw:wrr', 'w:szc c:o u:ap'],
  ['pext', 'vex pF3 0F 38 F5 /r L0 W0x', 'r32 vr32 rm32', 'cpu:bmi2 rw:wrr'],
  ['pext', 'vex pF3 0F 38 F5 /r L0 W1 x64', 'r64 vr64 rm64', 'cpu:bmi2 rw:wrr'],
  ['pdep', 'vex pF2 0F 38 F5 /r L0 W0x', 'r32 vr32 rm32', 'cpu:bmi2 rw:wrr'],
  ['pdep', 'vex pF2 0F 38 F5 /r L0 W1 x64', 'r64 vr64 rm64', 'cpu:bmi2 rw:wrr'],
  ['mulx', 'vex pF2 0F 38 F6 /r L0 W0x', 'r32 vr32 rm32', 'cpu:bmi2 rw:wwr'],
  ['mulx', 'vex pF2 0F 38 F6 /r L0 W1 x64', 'r64 vr64 rm64', 'cpu:bmi2 rw:wwr'],
  ['sarx', 'vex pF3 0F 38 F7 /r L0 W0x', 'r32 rm32 vr32', 'cpu:bmi2 rw:wrr'],
  ['sarx', 'vex pF3 0F 38 F7 /r L0 W1 x64', 'r64 rm64 vr64', 'cpu:bmi2 rw:wrr'],
  ['shlx', 'vex p66 0F 38 F7 /r L0 W0x', 'r32 rm32 vr32', 'cpu:bmi2 rw:wrr'],
  ['shlx', 'vex p66 0F 38 F7 /r L0 W1 x64', 'r64 rm64 vr64', 'cpu:bmi2 rw:wrr'],
  ['shrx', 'vex pF2 0F 38 F7 /r L0 W0x', 'r32 rm32 vr32', 'cpu:bmi2 rw:wrr'],
  ['shrx', 'vex pF2 0F 38 F7 /r L0 W1 x64', 'r64 rm64 vr64', 'cpu:bmi2 rw:wrr'],
  ['rorx', 'vex pF2 0F 3A F0 /r L0 W0x', 'r32 rm32 ib', 'cpu:bmi2 rw:wrr'],
  ['rorx', 'vex pF2 0F 3A F0 /r L0 W1 x64', 'r64 rm64 ib', 'cpu:bmi2 rw:wrr'],
];

export const vexRows: readonly Row[] = [
  ...LIST.map(([mn, enc, ops, attrs, flags]) => [name(mn, ops), mn, enc, ops, flags ?? '', attrs] as const),
  ...AVX_ROWS.map(
    ([mn, enc, ops, attrs, flags, override]) =>
      [override ?? name(mn, ops), mn, enc, ops, flags ?? '', attrs] as const,
  ),
];
