/**
 * The rest of the VEX space in the SDM's opcode maps (Vol. 2 appendix A and the instruction
 * pages): AVX/AVX2 moves, conversions, shuffles, permutes, blends, masked moves, variable shifts,
 * broadcasts, inserts/extracts, FMA (132/213/231), F16C, and the VEX forms of AES, PCLMULQDQ
 * and GFNI. Same row vocabulary as `vex.ts`; the sixth element, when present, overrides the form
 * name derived from the mnemonic and operands.
 */
export type VexRow = readonly [
  mnemonic: string,
  encoding: string,
  operands: string,
  attributes: string,
  flags?: string,
  name?: string,
];

/** A VEX.128 form and its VEX.256 twin. */
function pair(mn: string, enc: string, x: string, y: string, attrs: string, attrs256 = attrs): VexRow[] {
  return [
    [mn, `vex ${enc} L0`, x, attrs],
    [mn, `vex ${enc} L1`, y, attrs256],
  ];
}

/** dst, vvvv, r/m — the common three-operand shape — at 128 and 256 bits. */
function nds(mn: string, enc: string, attrs: string, attrs256 = attrs): VexRow[] {
  return pair(mn, enc, 'xmm vx xmmrm128', 'ymm vy ymmrm256', attrs, attrs256);
}

/** dst, r/m — unary — at 128 and 256 bits. */
function unary(mn: string, enc: string, attrs: string, attrs256 = attrs): VexRow[] {
  return pair(mn, enc, 'xmm xmmrm128', 'ymm ymmrm256', `${attrs} rw:wr`, `${attrs256} rw:wr`);
}

function moves(): VexRow[] {
  return [
    // MOVSS/MOVSD (SDM Vol. 2B): register forms merge with VEX.vvvv, memory forms do not.
    ['vmovss', 'vex pF3 0F 10 /r LIG WIG', 'xmm vx rxmm', 'cpu:avx rw:wrr'],
    ['vmovss', 'vex pF3 0F 10 /r LIG WIG', 'xmm m32', 'cpu:avx rw:wr'],
    [
      'vmovss',
      'vex pF3 0F 11 /r LIG WIG',
      'rxmm vx xmm',
      'cpu:avx rw:wrr',
      '',
      'vex_vmovss_xmm_xmm_xmm_0f11',
    ],
    ['vmovss', 'vex pF3 0F 11 /r LIG WIG', 'm32 xmm', 'cpu:avx rw:wr'],
    ['vmovsd', 'vex pF2 0F 10 /r LIG WIG', 'xmm vx rxmm', 'cpu:avx rw:wrr'],
    ['vmovsd', 'vex pF2 0F 10 /r LIG WIG', 'xmm m64', 'cpu:avx rw:wr'],
    [
      'vmovsd',
      'vex pF2 0F 11 /r LIG WIG',
      'rxmm vx xmm',
      'cpu:avx rw:wrr',
      '',
      'vex_vmovsd_xmm_xmm_xmm_0f11',
    ],
    ['vmovsd', 'vex pF2 0F 11 /r LIG WIG', 'm64 xmm', 'cpu:avx rw:wr'],
    ['vmovhlps', 'vex pNP 0F 12 /r L0 WIG', 'xmm vx rxmm', 'cpu:avx rw:wrr'],
    ['vmovlps', 'vex pNP 0F 12 /r L0 WIG', 'xmm vx m64', 'cpu:avx rw:wrr'],
    ['vmovlpd', 'vex p66 0F 12 /r L0 WIG', 'xmm vx m64', 'cpu:avx rw:wrr'],
    ...unary('vmovsldup', 'pF3 0F 12 /r WIG', 'cpu:avx'),
    ['vmovddup', 'vex pF2 0F 12 /r L0 WIG', 'xmm xmmrm64', 'cpu:avx rw:wr'],
    ['vmovddup', 'vex pF2 0F 12 /r L1 WIG', 'ymm ymmrm256', 'cpu:avx rw:wr'],
    ['vmovlps', 'vex pNP 0F 13 /r L0 WIG', 'm64 xmm', 'cpu:avx rw:wr'],
    ['vmovlpd', 'vex p66 0F 13 /r L0 WIG', 'm64 xmm', 'cpu:avx rw:wr'],
    ['vmovlhps', 'vex pNP 0F 16 /r L0 WIG', 'xmm vx rxmm', 'cpu:avx rw:wrr'],
    ['vmovhps', 'vex pNP 0F 16 /r L0 WIG', 'xmm vx m64', 'cpu:avx rw:wrr'],
    ['vmovhpd', 'vex p66 0F 16 /r L0 WIG', 'xmm vx m64', 'cpu:avx rw:wrr'],
    ...unary('vmovshdup', 'pF3 0F 16 /r WIG', 'cpu:avx'),
    ['vmovhps', 'vex pNP 0F 17 /r L0 WIG', 'm64 xmm', 'cpu:avx rw:wr'],
    ['vmovhpd', 'vex p66 0F 17 /r L0 WIG', 'm64 xmm', 'cpu:avx rw:wr'],
    ...pair('vmovntps', 'pNP 0F 2B /r WIG', 'm128 xmm', 'm256 ymm', 'cpu:avx rw:wr'),
    ...pair('vmovntpd', 'p66 0F 2B /r WIG', 'm128 xmm', 'm256 ymm', 'cpu:avx rw:wr'),
    ...pair('vmovntdq', 'p66 0F E7 /r WIG', 'm128 xmm', 'm256 ymm', 'cpu:avx rw:wr'),
    ...pair('vlddqu', 'pF2 0F F0 /r WIG', 'xmm m128', 'ymm m256', 'cpu:avx rw:wr'),
    ...pair('vmovntdqa', 'p66 0F 38 2A /r WIG', 'xmm m128', 'ymm m256', 'cpu:avx rw:wr', 'cpu:avx2 rw:wr'),
    // Masked moves (SDM Vol. 2B VMASKMOV, VPMASKMOV): the mask is VEX.vvvv; memory only.
    ...pair('vmaskmovps', 'p66 0F 38 2C /r W0', 'xmm vx m128', 'ymm vy m256', 'cpu:avx rw:wrr'),
    ...pair('vmaskmovpd', 'p66 0F 38 2D /r W0', 'xmm vx m128', 'ymm vy m256', 'cpu:avx rw:wrr'),
    ...pair('vmaskmovps', 'p66 0F 38 2E /r W0', 'm128 vx xmm', 'm256 vy ymm', 'cpu:avx rw:crr'),
    ...pair('vmaskmovpd', 'p66 0F 38 2F /r W0', 'm128 vx xmm', 'm256 vy ymm', 'cpu:avx rw:crr'),
    ...pair('vpmaskmovd', 'p66 0F 38 8C /r W0', 'xmm vx m128', 'ymm vy m256', 'cpu:avx2 rw:wrr'),
    ...pair('vpmaskmovq', 'p66 0F 38 8C /r W1', 'xmm vx m128', 'ymm vy m256', 'cpu:avx2 rw:wrr'),
    ...pair('vpmaskmovd', 'p66 0F 38 8E /r W0', 'm128 vx xmm', 'm256 vy ymm', 'cpu:avx2 rw:crr'),
    ...pair('vpmaskmovq', 'p66 0F 38 8E /r W1', 'm128 vx xmm', 'm256 vy ymm', 'cpu:avx2 rw:crr'),
    ['vldmxcsr', 'vex pNP 0F AE /2 L0 WIG', 'm32', 'cpu:avx rw:r'],
    ['vstmxcsr', 'vex pNP 0F AE /3 L0 WIG', 'm32', 'cpu:avx rw:w'],
  ];
}

function conversions(): VexRow[] {
  return [
    ['vcvttss2si', 'vex pF3 0F 2C /r LIG W0x', 'r32 xmmrm32', 'cpu:avx rw:wr'],
    ['vcvttss2si', 'vex pF3 0F 2C /r LIG W1 x64', 'r64 xmmrm32', 'cpu:avx rw:wr'],
    ['vcvtss2si', 'vex pF3 0F 2D /r LIG W0x', 'r32 xmmrm32', 'cpu:avx rw:wr'],
    ['vcvtss2si', 'vex pF3 0F 2D /r LIG W1 x64', 'r64 xmmrm32', 'cpu:avx rw:wr'],
    ['vcvtsd2si', 'vex pF2 0F 2D /r LIG W0x', 'r32 xmmrm64', 'cpu:avx rw:wr'],
    ['vcvtsd2si', 'vex pF2 0F 2D /r LIG W1 x64', 'r64 xmmrm64', 'cpu:avx rw:wr'],
    ['vcvtps2pd', 'vex pNP 0F 5A /r L0 WIG', 'xmm xmmrm64', 'cpu:avx rw:wr'],
    ['vcvtps2pd', 'vex pNP 0F 5A /r L1 WIG', 'ymm xmmrm128', 'cpu:avx rw:wr'],
    ['vcvtpd2ps', 'vex p66 0F 5A /r L0 WIG', 'xmm xmmrm128', 'cpu:avx rw:wr'],
    ['vcvtpd2ps', 'vex p66 0F 5A /r L1 WIG', 'xmm ymmrm256', 'cpu:avx rw:wr'],
    ['vcvtss2sd', 'vex pF3 0F 5A /r LIG WIG', 'xmm vx xmmrm32', 'cpu:avx rw:wrr'],
    ['vcvtsd2ss', 'vex pF2 0F 5A /r LIG WIG', 'xmm vx xmmrm64', 'cpu:avx rw:wrr'],
    ...unary('vcvtdq2ps', 'pNP 0F 5B /r WIG', 'cpu:avx'),
    ...unary('vcvtps2dq', 'p66 0F 5B /r WIG', 'cpu:avx'),
    ...unary('vcvttps2dq', 'pF3 0F 5B /r WIG', 'cpu:avx'),
    ['vcvttpd2dq', 'vex p66 0F E6 /r L0 WIG', 'xmm xmmrm128', 'cpu:avx rw:wr'],
    ['vcvttpd2dq', 'vex p66 0F E6 /r L1 WIG', 'xmm ymmrm256', 'cpu:avx rw:wr'],
    ['vcvtdq2pd', 'vex pF3 0F E6 /r L0 WIG', 'xmm xmmrm64', 'cpu:avx rw:wr'],
    ['vcvtdq2pd', 'vex pF3 0F E6 /r L1 WIG', 'ymm xmmrm128', 'cpu:avx rw:wr'],
    ['vcvtpd2dq', 'vex pF2 0F E6 /r L0 WIG', 'xmm xmmrm128', 'cpu:avx rw:wr'],
    ['vcvtpd2dq', 'vex pF2 0F E6 /r L1 WIG', 'xmm ymmrm256', 'cpu:avx rw:wr'],
    // F16C (SDM Vol. 2C VCVTPH2PS, VCVTPS2PH).
    ['vcvtph2ps', 'vex p66 0F 38 13 /r L0 W0', 'xmm xmmrm64', 'cpu:f16c rw:wr'],
    ['vcvtph2ps', 'vex p66 0F 38 13 /r L1 W0', 'ymm xmmrm128', 'cpu:f16c rw:wr'],
    ['vcvtps2ph', 'vex p66 0F 3A 1D /r L0 W0', 'xmmrm64 xmm ib', 'cpu:f16c rw:wrr'],
    ['vcvtps2ph', 'vex p66 0F 3A 1D /r L1 W0', 'xmmrm128 ymm ib', 'cpu:f16c rw:wrr'],
  ];
}

function arithmetic(): VexRow[] {
  const out: VexRow[] = [
    ...unary('vrsqrtps', 'pNP 0F 52 /r WIG', 'cpu:avx'),
    ['vrsqrtss', 'vex pF3 0F 52 /r LIG WIG', 'xmm vx xmmrm32', 'cpu:avx rw:wrr'],
    ...unary('vrcpps', 'pNP 0F 53 /r WIG', 'cpu:avx'),
    ['vrcpss', 'vex pF3 0F 53 /r LIG WIG', 'xmm vx xmmrm32', 'cpu:avx rw:wrr'],
    ...nds('vhaddpd', 'p66 0F 7C /r WIG', 'cpu:avx'),
    ...nds('vhaddps', 'pF2 0F 7C /r WIG', 'cpu:avx'),
    ...nds('vhsubpd', 'p66 0F 7D /r WIG', 'cpu:avx'),
    ...nds('vhsubps', 'pF2 0F 7D /r WIG', 'cpu:avx'),
    ...nds('vaddsubpd', 'p66 0F D0 /r WIG', 'cpu:avx'),
    ...nds('vaddsubps', 'pF2 0F D0 /r WIG', 'cpu:avx'),
    ...pair('vcmpps', 'pNP 0F C2 /r WIG', 'xmm vx xmmrm128 ib', 'ymm vy ymmrm256 ib', 'cpu:avx rw:wrrr'),
    ...pair('vcmppd', 'p66 0F C2 /r WIG', 'xmm vx xmmrm128 ib', 'ymm vy ymmrm256 ib', 'cpu:avx rw:wrrr'),
    ['vcmpss', 'vex pF3 0F C2 /r LIG WIG', 'xmm vx xmmrm32 ib', 'cpu:avx rw:wrrr'],
    ['vcmpsd', 'vex pF2 0F C2 /r LIG WIG', 'xmm vx xmmrm64 ib', 'cpu:avx rw:wrrr'],
    ...pair('vroundps', 'p66 0F 3A 08 /r WIG', 'xmm xmmrm128 ib', 'ymm ymmrm256 ib', 'cpu:avx rw:wrr'),
    ...pair('vroundpd', 'p66 0F 3A 09 /r WIG', 'xmm xmmrm128 ib', 'ymm ymmrm256 ib', 'cpu:avx rw:wrr'),
    ['vroundss', 'vex p66 0F 3A 0A /r LIG WIG', 'xmm vx xmmrm32 ib', 'cpu:avx rw:wrrr'],
    ['vroundsd', 'vex p66 0F 3A 0B /r LIG WIG', 'xmm vx xmmrm64 ib', 'cpu:avx rw:wrrr'],
    ...pair('vdpps', 'p66 0F 3A 40 /r WIG', 'xmm vx xmmrm128 ib', 'ymm vy ymmrm256 ib', 'cpu:avx rw:wrrr'),
    ['vdppd', 'vex p66 0F 3A 41 /r L0 WIG', 'xmm vx xmmrm128 ib', 'cpu:avx rw:wrrr'],
    ...pair(
      'vmpsadbw',
      'p66 0F 3A 42 /r WIG',
      'xmm vx xmmrm128 ib',
      'ymm vy ymmrm256 ib',
      'cpu:avx rw:wrrr',
      'cpu:avx2 rw:wrrr',
    ),
  ];
  // FMA (SDM Vol. 2A VFMADD132PS etc.): 66 0F38, W0 single / W1 double precision; the low
  // nibble of the opcode picks the operation, the high nibble (9, A, B) the operand order.
  const packed = [
    ['6', 'fmaddsub'],
    ['7', 'fmsubadd'],
    ['8', 'fmadd'],
    ['A', 'fmsub'],
    ['C', 'fnmadd'],
    ['E', 'fnmsub'],
  ] as const;
  const scalar = [
    ['9', 'fmadd'],
    ['B', 'fmsub'],
    ['D', 'fnmadd'],
    ['F', 'fnmsub'],
  ] as const;
  for (const [hi, order] of [
    ['9', '132'],
    ['A', '213'],
    ['B', '231'],
  ] as const) {
    for (const [lo, op] of packed) {
      for (const [w, t] of [
        ['W0', 'ps'],
        ['W1', 'pd'],
      ] as const) {
        out.push(
          ...pair(
            `v${op}${order}${t}`,
            `p66 0F 38 ${hi}${lo} /r ${w}`,
            'xmm vx xmmrm128',
            'ymm vy ymmrm256',
            'cpu:fma rw:mrr',
          ),
        );
      }
    }
    for (const [lo, op] of scalar) {
      out.push([
        `v${op}${order}ss`,
        `vex p66 0F 38 ${hi}${lo} /r LIG W0`,
        'xmm vx xmmrm32',
        'cpu:fma rw:mrr',
      ]);
      out.push([
        `v${op}${order}sd`,
        `vex p66 0F 38 ${hi}${lo} /r LIG W1`,
        'xmm vx xmmrm64',
        'cpu:fma rw:mrr',
      ]);
    }
  }
  return out;
}

function shuffles(): VexRow[] {
  const out: VexRow[] = [
    ...pair(
      'vpshufhw',
      'pF3 0F 70 /r WIG',
      'xmm xmmrm128 ib',
      'ymm ymmrm256 ib',
      'cpu:avx rw:wrr',
      'cpu:avx2 rw:wrr',
    ),
    ...pair(
      'vpshuflw',
      'pF2 0F 70 /r WIG',
      'xmm xmmrm128 ib',
      'ymm ymmrm256 ib',
      'cpu:avx rw:wrr',
      'cpu:avx2 rw:wrr',
    ),
    ...pair('vshufps', 'pNP 0F C6 /r WIG', 'xmm vx xmmrm128 ib', 'ymm vy ymmrm256 ib', 'cpu:avx rw:wrrr'),
    ...pair('vshufpd', 'p66 0F C6 /r WIG', 'xmm vx xmmrm128 ib', 'ymm vy ymmrm256 ib', 'cpu:avx rw:wrrr'),
    ...nds('vpermilps', 'p66 0F 38 0C /r W0', 'cpu:avx'),
    ...nds('vpermilpd', 'p66 0F 38 0D /r W0', 'cpu:avx'),
    ...pair('vpermilps', 'p66 0F 3A 04 /r W0', 'xmm xmmrm128 ib', 'ymm ymmrm256 ib', 'cpu:avx rw:wrr'),
    ...pair('vpermilpd', 'p66 0F 3A 05 /r W0', 'xmm xmmrm128 ib', 'ymm ymmrm256 ib', 'cpu:avx rw:wrr'),
    ['vpermps', 'vex p66 0F 38 16 /r L1 W0', 'ymm vy ymmrm256', 'cpu:avx2'],
    ['vpermd', 'vex p66 0F 38 36 /r L1 W0', 'ymm vy ymmrm256', 'cpu:avx2'],
    ['vpermpd', 'vex p66 0F 3A 01 /r L1 W1', 'ymm ymmrm256 ib', 'cpu:avx2 rw:wrr'],
    ['vperm2f128', 'vex p66 0F 3A 06 /r L1 W0', 'ymm vy ymmrm256 ib', 'cpu:avx rw:wrrr'],
    ...pair('vpblendd', 'p66 0F 3A 02 /r W0', 'xmm vx xmmrm128 ib', 'ymm vy ymmrm256 ib', 'cpu:avx2 rw:wrrr'),
    ...pair('vblendps', 'p66 0F 3A 0C /r WIG', 'xmm vx xmmrm128 ib', 'ymm vy ymmrm256 ib', 'cpu:avx rw:wrrr'),
    ...pair('vblendpd', 'p66 0F 3A 0D /r WIG', 'xmm vx xmmrm128 ib', 'ymm vy ymmrm256 ib', 'cpu:avx rw:wrrr'),
    ...pair(
      'vpblendw',
      'p66 0F 3A 0E /r WIG',
      'xmm vx xmmrm128 ib',
      'ymm vy ymmrm256 ib',
      'cpu:avx rw:wrrr',
      'cpu:avx2 rw:wrrr',
    ),
    ...nds('vpsrlvd', 'p66 0F 38 45 /r W0', 'cpu:avx2'),
    ...nds('vpsrlvq', 'p66 0F 38 45 /r W1', 'cpu:avx2'),
    ...nds('vpsravd', 'p66 0F 38 46 /r W0', 'cpu:avx2'),
    ...nds('vpsllvd', 'p66 0F 38 47 /r W0', 'cpu:avx2'),
    ...nds('vpsllvq', 'p66 0F 38 47 /r W1', 'cpu:avx2'),
    ...pair(
      'vtestps',
      'p66 0F 38 0E /r W0',
      'xmm xmmrm128',
      'ymm ymmrm256',
      'cpu:avx rw:rr',
      'cpu:avx rw:rr',
    ),
    ...pair(
      'vtestpd',
      'p66 0F 38 0F /r W0',
      'xmm xmmrm128',
      'ymm ymmrm256',
      'cpu:avx rw:rr',
      'cpu:avx rw:rr',
    ),
  ];
  // VTESTPS/VTESTPD set ZF and CF and clear the other arithmetic flags.
  const flagged = out.map(
    (r): VexRow => (r[0].startsWith('vtest') ? [r[0], r[1], r[2], r[3], 'w:zc c:osap'] : r),
  );
  // Shifts by an immediate (66 0F 71–73 /digit): the destination is VEX.vvvv.
  for (const [op, digit, mn] of [
    ['71', '2', 'vpsrlw'],
    ['71', '4', 'vpsraw'],
    ['71', '6', 'vpsllw'],
    ['72', '2', 'vpsrld'],
    ['72', '4', 'vpsrad'],
    ['72', '6', 'vpslld'],
    ['73', '2', 'vpsrlq'],
    ['73', '6', 'vpsllq'],
  ] as const) {
    flagged.push(
      ...pair(
        mn,
        `p66 0F ${op} /${digit} WIG`,
        'vx rxmm ib',
        'vy rymm ib',
        'cpu:avx rw:wrr',
        'cpu:avx2 rw:wrr',
      ),
    );
  }
  return flagged;
}

function insertExtract(): VexRow[] {
  return [
    ['vbroadcastss', 'vex p66 0F 38 18 /r L0 W0', 'xmm m32', 'cpu:avx rw:wr'],
    ['vbroadcastss', 'vex p66 0F 38 18 /r L1 W0', 'ymm m32', 'cpu:avx rw:wr'],
    ['vbroadcastss', 'vex p66 0F 38 18 /r L0 W0', 'xmm rxmm', 'cpu:avx2 rw:wr'],
    ['vbroadcastss', 'vex p66 0F 38 18 /r L1 W0', 'ymm rxmm', 'cpu:avx2 rw:wr'],
    ['vbroadcastsd', 'vex p66 0F 38 19 /r L1 W0', 'ymm m64', 'cpu:avx rw:wr'],
    ['vbroadcastsd', 'vex p66 0F 38 19 /r L1 W0', 'ymm rxmm', 'cpu:avx2 rw:wr'],
    ['vbroadcastf128', 'vex p66 0F 38 1A /r L1 W0', 'ymm m128', 'cpu:avx rw:wr'],
    ['vbroadcasti128', 'vex p66 0F 38 5A /r L1 W0', 'ymm m128', 'cpu:avx2 rw:wr'],
    ['vinsertf128', 'vex p66 0F 3A 18 /r L1 W0', 'ymm vy xmmrm128 ib', 'cpu:avx rw:wrrr'],
    ['vextractf128', 'vex p66 0F 3A 19 /r L1 W0', 'xmmrm128 ymm ib', 'cpu:avx rw:wrr'],
    ['vpinsrw', 'vex p66 0F C4 /r L0 W0x', 'xmm vx r32m16 ib', 'cpu:avx rw:wrrr'],
    ['vpinsrw', 'vex p66 0F C4 /r L0 W1 x64', 'xmm vx r64m16 ib', 'cpu:avx rw:wrrr'],
    ['vpextrw', 'vex p66 0F C5 /r L0 W0x', 'r32 rxmm ib', 'cpu:avx rw:wrr'],
    ['vpextrw', 'vex p66 0F C5 /r L0 W1 x64', 'r64 rxmm ib', 'cpu:avx rw:wrr'],
    ['vpextrb', 'vex p66 0F 3A 14 /r L0 W0x', 'r32m8 xmm ib', 'cpu:avx rw:wrr'],
    ['vpextrb', 'vex p66 0F 3A 14 /r L0 W1 x64', 'r64m8 xmm ib', 'cpu:avx rw:wrr'],
    ['vpextrw', 'vex p66 0F 3A 15 /r L0 W0x', 'r32m16 xmm ib', 'cpu:avx rw:wrr'],
    ['vpextrw', 'vex p66 0F 3A 15 /r L0 W1 x64', 'r64m16 xmm ib', 'cpu:avx rw:wrr'],
    ['vpextrd', 'vex p66 0F 3A 16 /r L0 W0x', 'rm32 xmm ib', 'cpu:avx rw:wrr'],
    ['vpextrq', 'vex p66 0F 3A 16 /r L0 W1 x64', 'rm64 xmm ib', 'cpu:avx rw:wrr'],
    ['vextractps', 'vex p66 0F 3A 17 /r L0 W0x', 'rm32 xmm ib', 'cpu:avx rw:wrr'],
    ['vextractps', 'vex p66 0F 3A 17 /r L0 W1 x64', 'r64m32 xmm ib', 'cpu:avx rw:wrr'],
    ['vpinsrb', 'vex p66 0F 3A 20 /r L0 W0x', 'xmm vx r32m8 ib', 'cpu:avx rw:wrrr'],
    ['vpinsrb', 'vex p66 0F 3A 20 /r L0 W1 x64', 'xmm vx r64m8 ib', 'cpu:avx rw:wrrr'],
    ['vinsertps', 'vex p66 0F 3A 21 /r L0 WIG', 'xmm vx xmmrm32 ib', 'cpu:avx rw:wrrr'],
    ['vpinsrd', 'vex p66 0F 3A 22 /r L0 W0x', 'xmm vx rm32 ib', 'cpu:avx rw:wrrr'],
    ['vpinsrq', 'vex p66 0F 3A 22 /r L0 W1 x64', 'xmm vx rm64 ib', 'cpu:avx rw:wrrr'],
  ];
}

function crypto(): VexRow[] {
  return [
    ['vaesimc', 'vex p66 0F 38 DB /r L0 WIG', 'xmm xmmrm128', 'cpu:aes rw:wr'],
    ...nds('vaesenc', 'p66 0F 38 DC /r WIG', 'cpu:aes', 'cpu:vaes'),
    ...nds('vaesenclast', 'p66 0F 38 DD /r WIG', 'cpu:aes', 'cpu:vaes'),
    ...nds('vaesdec', 'p66 0F 38 DE /r WIG', 'cpu:aes', 'cpu:vaes'),
    ...nds('vaesdeclast', 'p66 0F 38 DF /r WIG', 'cpu:aes', 'cpu:vaes'),
    ['vaeskeygenassist', 'vex p66 0F 3A DF /r L0 WIG', 'xmm xmmrm128 ib', 'cpu:aes rw:wrr'],
    ...pair(
      'vpclmulqdq',
      'p66 0F 3A 44 /r WIG',
      'xmm vx xmmrm128 ib',
      'ymm vy ymmrm256 ib',
      'cpu:pclmulqdq rw:wrrr',
      'cpu:vpclmulqdq rw:wrrr',
    ),
    ...nds('vgf2p8mulb', 'p66 0F 38 CF /r W0', 'cpu:gfni'),
    ...pair(
      'vgf2p8affineqb',
      'p66 0F 3A CE /r W1',
      'xmm vx xmmrm128 ib',
      'ymm vy ymmrm256 ib',
      'cpu:gfni rw:wrrr',
    ),
    ...pair(
      'vgf2p8affineinvqb',
      'p66 0F 3A CF /r W1',
      'xmm vx xmmrm128 ib',
      'ymm vy ymmrm256 ib',
      'cpu:gfni rw:wrrr',
    ),
    // SSE4.2 string compares (SDM Vol. 2B PCMPESTRI etc.): VEX.128 only; W1 in 64-bit mode
    // makes the explicit lengths RAX/RDX (a form of its own for ESTRI/ESTRM).
    ['vpcmpestrm', 'vex p66 0F 3A 60 /r L0 W0x', 'xmm xmmrm128 ib', 'cpu:avx rw:rrr', 'w:oszapc'],
    [
      'vpcmpestrm',
      'vex p66 0F 3A 60 /r L0 W1 x64',
      'xmm xmmrm128 ib',
      'cpu:avx rw:rrr',
      'w:oszapc',
      'vex_vpcmpestrm64_xmm_xmmm128_imm8',
    ],
    ['vpcmpestri', 'vex p66 0F 3A 61 /r L0 W0x', 'xmm xmmrm128 ib', 'cpu:avx rw:rrr', 'w:oszapc'],
    [
      'vpcmpestri',
      'vex p66 0F 3A 61 /r L0 W1 x64',
      'xmm xmmrm128 ib',
      'cpu:avx rw:rrr',
      'w:oszapc',
      'vex_vpcmpestri64_xmm_xmmm128_imm8',
    ],
    ['vpcmpistrm', 'vex p66 0F 3A 62 /r L0 WIG', 'xmm xmmrm128 ib', 'cpu:avx rw:rrr', 'w:oszapc'],
    ['vpcmpistri', 'vex p66 0F 3A 63 /r L0 WIG', 'xmm xmmrm128 ib', 'cpu:avx rw:rrr', 'w:oszapc'],
  ];
}

/**
 * AVX-512 opmask instructions (SDM Vol. 2 KAND…KXOR, KMOV, KSHIFT, KTEST, KORTEST): VEX-encoded;
 * the size letter follows the prefix and W (NP W0 word, 66 W0 byte, NP W1 quadword, 66 W1 dword).
 */
function opmask(): VexRow[] {
  const sizes = [
    ['w', 'pNP', 'W0', 'avx512f'],
    ['b', 'p66', 'W0', 'avx512dq'],
    ['q', 'pNP', 'W1', 'avx512bw'],
    ['d', 'p66', 'W1', 'avx512bw'],
  ] as const;
  const out: VexRow[] = [];
  for (const [t, pfx, w, cpu] of sizes) {
    for (const [mn, op] of [
      ['kand', '41'],
      ['kandn', '42'],
      ['kor', '45'],
      ['kxnor', '46'],
      ['kxor', '47'],
      ['kadd', '4A'],
    ] as const) {
      const feature = mn === 'kadd' && (t === 'w' || t === 'b') ? 'avx512dq' : cpu;
      out.push([`${mn}${t}`, `vex ${pfx} 0F ${op} /r L1 ${w}`, 'kr vk rkr', `cpu:${feature} rw:wrr`]);
    }
    out.push([`knot${t}`, `vex ${pfx} 0F 44 /r L0 ${w}`, 'kr rkr', `cpu:${cpu} rw:wr`]);
    out.push([`kortest${t}`, `vex ${pfx} 0F 98 /r L0 ${w}`, 'kr rkr', `cpu:${cpu} rw:rr`, 'w:zc c:osap']);
    const testCpu = t === 'w' || t === 'b' ? 'avx512dq' : cpu;
    out.push([`ktest${t}`, `vex ${pfx} 0F 99 /r L0 ${w}`, 'kr rkr', `cpu:${testCpu} rw:rr`, 'w:zc c:osap']);
    out.push([
      `kmov${t}`,
      `vex ${pfx} 0F 90 /r L0 ${w}`,
      `kr krm${{ b: 8, w: 16, d: 32, q: 64 }[t]}`,
      `cpu:${cpu} rw:wr`,
    ]);
    out.push([
      `kmov${t}`,
      `vex ${pfx} 0F 91 /r L0 ${w}`,
      `m${{ b: 8, w: 16, d: 32, q: 64 }[t]} kr`,
      `cpu:${cpu} rw:wr`,
    ]);
  }
  out.push(
    ['kunpckbw', 'vex p66 0F 4B /r L1 W0', 'kr vk rkr', 'cpu:avx512f rw:wrr'],
    ['kunpckwd', 'vex pNP 0F 4B /r L1 W0', 'kr vk rkr', 'cpu:avx512bw rw:wrr'],
    ['kunpckdq', 'vex pNP 0F 4B /r L1 W1', 'kr vk rkr', 'cpu:avx512bw rw:wrr'],
    // KMOV to and from general registers: 92 and 93, register forms only.
    ['kmovw', 'vex pNP 0F 92 /r L0 W0', 'kr rr32', 'cpu:avx512f rw:wr'],
    ['kmovb', 'vex p66 0F 92 /r L0 W0', 'kr rr32', 'cpu:avx512dq rw:wr'],
    ['kmovd', 'vex pF2 0F 92 /r L0 W0x', 'kr rr32', 'cpu:avx512bw rw:wr'],
    ['kmovq', 'vex pF2 0F 92 /r L0 W1 x64', 'kr rr64', 'cpu:avx512bw rw:wr'],
    ['kmovw', 'vex pNP 0F 93 /r L0 W0', 'r32 rkr', 'cpu:avx512f rw:wr'],
    ['kmovb', 'vex p66 0F 93 /r L0 W0', 'r32 rkr', 'cpu:avx512dq rw:wr'],
    ['kmovd', 'vex pF2 0F 93 /r L0 W0x', 'r32 rkr', 'cpu:avx512bw rw:wr'],
    ['kmovq', 'vex pF2 0F 93 /r L0 W1 x64', 'r64 rkr', 'cpu:avx512bw rw:wr'],
    ['kshiftrb', 'vex p66 0F 3A 30 /r L0 W0', 'kr rkr ib', 'cpu:avx512dq rw:wrr'],
    ['kshiftrw', 'vex p66 0F 3A 30 /r L0 W1', 'kr rkr ib', 'cpu:avx512f rw:wrr'],
    ['kshiftrd', 'vex p66 0F 3A 31 /r L0 W0', 'kr rkr ib', 'cpu:avx512bw rw:wrr'],
    ['kshiftrq', 'vex p66 0F 3A 31 /r L0 W1', 'kr rkr ib', 'cpu:avx512bw rw:wrr'],
    ['kshiftlb', 'vex p66 0F 3A 32 /r L0 W0', 'kr rkr ib', 'cpu:avx512dq rw:wrr'],
    ['kshiftlw', 'vex p66 0F 3A 32 /r L0 W1', 'kr rkr ib', 'cpu:avx512f rw:wrr'],
    ['kshiftld', 'vex p66 0F 3A 33 /r L0 W0', 'kr rkr ib', 'cpu:avx512bw rw:wrr'],
    ['kshiftlq', 'vex p66 0F 3A 33 /r L0 W1', 'kr rkr ib', 'cpu:avx512bw rw:wrr'],
  );
  return out;
}

/**
 * Variable blends (SDM Vol. 2B VBLENDVPS, VBLENDVPD, VPBLENDVB): the fourth operand is the
 * register in imm8[7:4] (`is4x`/`is4y`), VEX.W must be 0.
 */
function variableBlends(): VexRow[] {
  return [
    ...pair(
      'vblendvps',
      'p66 0F 3A 4A /r W0',
      'xmm vx xmmrm128 is4x',
      'ymm vy ymmrm256 is4y',
      'cpu:avx rw:wrrr',
    ),
    ...pair(
      'vblendvpd',
      'p66 0F 3A 4B /r W0',
      'xmm vx xmmrm128 is4x',
      'ymm vy ymmrm256 is4y',
      'cpu:avx rw:wrrr',
    ),
    ...pair(
      'vpblendvb',
      'p66 0F 3A 4C /r W0',
      'xmm vx xmmrm128 is4x',
      'ymm vy ymmrm256 is4y',
      'cpu:avx rw:wrrr',
      'cpu:avx2 rw:wrrr',
    ),
  ];
}

/**
 * AVX2 gathers (SDM Vol. 2A VGATHERDPS/DPD/QPS/QPD, VPGATHERDD/DQ/QD/QQ): destination in
 * ModRM.reg, a VSIB memory operand (`vm<32|64><x|y><element bits>`: dword or qword indices in an
 * XMM or YMM register) and the mask in VEX.vvvv; all three are read and written (the mask is
 * cleared as elements complete). W picks the element size, L the vector length; the qword-index
 * forms with dword elements keep an XMM destination and mask at L1.
 */
function gathers(): VexRow[] {
  const out: VexRow[] = [];
  for (const [mn, op, w, x, y] of [
    ['vpgatherdd', '90', 'W0', 'xmm vm32x32 vx', 'ymm vm32y32 vy'],
    ['vpgatherdq', '90', 'W1', 'xmm vm32x64 vx', 'ymm vm32x64 vy'],
    ['vpgatherqd', '91', 'W0', 'xmm vm64x32 vx', 'xmm vm64y32 vx'],
    ['vpgatherqq', '91', 'W1', 'xmm vm64x64 vx', 'ymm vm64y64 vy'],
    ['vgatherdps', '92', 'W0', 'xmm vm32x32 vx', 'ymm vm32y32 vy'],
    ['vgatherdpd', '92', 'W1', 'xmm vm32x64 vx', 'ymm vm32x64 vy'],
    ['vgatherqps', '93', 'W0', 'xmm vm64x32 vx', 'xmm vm64y32 vx'],
    ['vgatherqpd', '93', 'W1', 'xmm vm64x64 vx', 'ymm vm64y64 vy'],
  ] as const) {
    out.push(...pair(mn, `p66 0F 38 ${op} /r ${w}`, x, y, 'cpu:avx2 rw:mrm'));
  }
  return out;
}

export const AVX_ROWS: readonly VexRow[] = [
  ...opmask(),
  ...moves(),
  ...conversions(),
  ...arithmetic(),
  ...shuffles(),
  ...insertExtract(),
  ...crypto(),
  ...variableBlends(),
  ...gathers(),
];
