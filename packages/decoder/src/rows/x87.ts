import type { Row } from './row';

/**
 * x87 forms (SDM Vol. 2, opcode map tables: escape opcodes D8–DF). Memory forms are
 * selected by ModRM.reg with mod != 3; register forms by the whole ModRM byte range.
 */
const FPU = 'cpu:fpu';

function arith(): Row[] {
  const ops = ['fadd', 'fmul', 'fcom', 'fcomp', 'fsub', 'fsubr', 'fdiv', 'fdivr'] as const;
  const rows: Row[] = [];
  ops.forEach((m, i) => {
    const cmp = m === 'fcom' || m === 'fcomp';
    rows.push(
      [`${m}_m32fp`, m, `D8 /${i}`, 'm32fp', '', `${FPU} rw:r`],
      [`${m}_m64fp`, m, `DC /${i}`, 'm64fp', '', `${FPU} rw:r`],
      [`${m}_st0_sti`, m, `D8 /${i}`, cmp ? 'st0 sti' : 'st0 sti', '', `${FPU} rw:${cmp ? 'rr' : 'mr'}`],
    );
    const im = `fi${m.slice(1)}`;
    rows.push([`${im}_m32int`, im, `DA /${i}`, 'm32int', '', `${FPU} rw:r`]);
    rows.push([`${im}_m16int`, im, `DE /${i}`, 'm16int', '', `${FPU} rw:r`]);
  });
  return rows;
}

export const x87Rows: readonly Row[] = [
  ...arith(),
  // DC register forms: destination st(i).
  ['fadd_sti_st0', 'fadd', 'DC /0', 'sti st0', '', `${FPU} rw:mr`],
  ['fmul_sti_st0', 'fmul', 'DC /1', 'sti st0', '', `${FPU} rw:mr`],
  ['fcom_st0_sti_dcd0', 'fcom', 'DC /2', 'st0 sti', '', `${FPU} rw:rr`],
  ['fcomp_st0_sti_dcd8', 'fcomp', 'DC /3', 'st0 sti', '', `${FPU} rw:rr`],
  ['fsubr_sti_st0', 'fsubr', 'DC /4', 'sti st0', '', `${FPU} rw:mr`],
  ['fsub_sti_st0', 'fsub', 'DC /5', 'sti st0', '', `${FPU} rw:mr`],
  ['fdivr_sti_st0', 'fdivr', 'DC /6', 'sti st0', '', `${FPU} rw:mr`],
  ['fdiv_sti_st0', 'fdiv', 'DC /7', 'sti st0', '', `${FPU} rw:mr`],
  ['faddp_sti_st0', 'faddp', 'DE /0', 'sti st0', '', `${FPU} rw:mr`],
  ['fmulp_sti_st0', 'fmulp', 'DE /1', 'sti st0', '', `${FPU} rw:mr`],
  ['fcomp_st0_sti_ded0', 'fcomp', 'DE /2', 'st0 sti', '', `${FPU} rw:rr`],
  ['fcompp', 'fcompp', 'DE D9', '', '', FPU],
  ['fsubrp_sti_st0', 'fsubrp', 'DE /4', 'sti st0', '', `${FPU} rw:mr`],
  ['fsubp_sti_st0', 'fsubp', 'DE /5', 'sti st0', '', `${FPU} rw:mr`],
  ['fdivrp_sti_st0', 'fdivrp', 'DE /6', 'sti st0', '', `${FPU} rw:mr`],
  ['fdivp_sti_st0', 'fdivp', 'DE /7', 'sti st0', '', `${FPU} rw:mr`],

  // D9: loads, stores, control.
  ['fld_m32fp', 'fld', 'D9 /0', 'm32fp', '', `${FPU} rw:r`],
  ['fst_m32fp', 'fst', 'D9 /2', 'm32fp', '', `${FPU} rw:w`],
  ['fstp_m32fp', 'fstp', 'D9 /3', 'm32fp', '', `${FPU} rw:w`],
  ['fldenv_m14byte', 'fldenv', 'D9 /4 o16', 'menv16', '', `${FPU} rw:r`],
  ['fldenv_m28byte', 'fldenv', 'D9 /4 o32 o64', 'menv32', '', `${FPU} rw:r`],
  ['fldcw_m2byte', 'fldcw', 'D9 /5', 'm2byte', '', `${FPU} rw:r`],
  ['fnstenv_m14byte', 'fnstenv', 'D9 /6 o16', 'menv16', '', `${FPU} rw:w`],
  ['fnstenv_m28byte', 'fnstenv', 'D9 /6 o32 o64', 'menv32', '', `${FPU} rw:w`],
  ['fnstcw_m2byte', 'fnstcw', 'D9 /7', 'm2byte', '', `${FPU} rw:w`],
  ['fld_sti', 'fld', 'D9 /0', 'sti', '', `${FPU} rw:r`],
  ['fxch_st0_sti', 'fxch', 'D9 /1', 'st0 sti', '', `${FPU} rw:mm`],
  ['fnop', 'fnop', 'D9 D0', '', '', FPU],
  ['fstpnce_sti', 'fstpnce', 'D9 /3', 'sti', '', `${FPU} rw:w`],
  ['fchs', 'fchs', 'D9 E0', '', '', FPU],
  ['fabs', 'fabs', 'D9 E1', '', '', FPU],
  ['ftst', 'ftst', 'D9 E4', '', '', FPU],
  ['fxam', 'fxam', 'D9 E5', '', '', FPU],
  ['fld1', 'fld1', 'D9 E8', '', '', FPU],
  ['fldl2t', 'fldl2t', 'D9 E9', '', '', FPU],
  ['fldl2e', 'fldl2e', 'D9 EA', '', '', FPU],
  ['fldpi', 'fldpi', 'D9 EB', '', '', FPU],
  ['fldlg2', 'fldlg2', 'D9 EC', '', '', FPU],
  ['fldln2', 'fldln2', 'D9 ED', '', '', FPU],
  ['fldz', 'fldz', 'D9 EE', '', '', FPU],
  ['f2xm1', 'f2xm1', 'D9 F0', '', '', FPU],
  ['fyl2x', 'fyl2x', 'D9 F1', '', '', FPU],
  ['fptan', 'fptan', 'D9 F2', '', '', FPU],
  ['fpatan', 'fpatan', 'D9 F3', '', '', FPU],
  ['fxtract', 'fxtract', 'D9 F4', '', '', FPU],
  ['fprem1', 'fprem1', 'D9 F5', '', '', FPU],
  ['fdecstp', 'fdecstp', 'D9 F6', '', '', FPU],
  ['fincstp', 'fincstp', 'D9 F7', '', '', FPU],
  ['fprem', 'fprem', 'D9 F8', '', '', FPU],
  ['fyl2xp1', 'fyl2xp1', 'D9 F9', '', '', FPU],
  ['fsqrt', 'fsqrt', 'D9 FA', '', '', FPU],
  ['fsincos', 'fsincos', 'D9 FB', '', '', FPU],
  ['frndint', 'frndint', 'D9 FC', '', '', FPU],
  ['fscale', 'fscale', 'D9 FD', '', '', FPU],
  ['fsin', 'fsin', 'D9 FE', '', '', FPU],
  ['fcos', 'fcos', 'D9 FF', '', '', FPU],

  // DA: integer arithmetic on m32int (above), FCMOV, FUCOMPP.
  ['fcmovb_st0_sti', 'fcmovb', 'DA /0', 'st0 sti', 'r:c', `${FPU} cpu:cmov rw:cr`],
  ['fcmove_st0_sti', 'fcmove', 'DA /1', 'st0 sti', 'r:z', `${FPU} cpu:cmov rw:cr`],
  ['fcmovbe_st0_sti', 'fcmovbe', 'DA /2', 'st0 sti', 'r:zc', `${FPU} cpu:cmov rw:cr`],
  ['fcmovu_st0_sti', 'fcmovu', 'DA /3', 'st0 sti', 'r:p', `${FPU} cpu:cmov rw:cr`],
  ['fucompp', 'fucompp', 'DA E9', '', '', FPU],

  // DB: integer loads/stores, 80-bit, FCMOVN, FUCOMI/FCOMI, control.
  ['fild_m32int', 'fild', 'DB /0', 'm32int', '', `${FPU} rw:r`],
  ['fisttp_m32int', 'fisttp', 'DB /1', 'm32int', '', `${FPU} rw:w cpu:sse3`],
  ['fist_m32int', 'fist', 'DB /2', 'm32int', '', `${FPU} rw:w`],
  ['fistp_m32int', 'fistp', 'DB /3', 'm32int', '', `${FPU} rw:w`],
  ['fld_m80fp', 'fld', 'DB /5', 'm80fp', '', `${FPU} rw:r`],
  ['fstp_m80fp', 'fstp', 'DB /7', 'm80fp', '', `${FPU} rw:w`],
  ['fcmovnb_st0_sti', 'fcmovnb', 'DB /0', 'st0 sti', 'r:c', `${FPU} cpu:cmov rw:cr`],
  ['fcmovne_st0_sti', 'fcmovne', 'DB /1', 'st0 sti', 'r:z', `${FPU} cpu:cmov rw:cr`],
  ['fcmovnbe_st0_sti', 'fcmovnbe', 'DB /2', 'st0 sti', 'r:zc', `${FPU} cpu:cmov rw:cr`],
  ['fcmovnu_st0_sti', 'fcmovnu', 'DB /3', 'st0 sti', 'r:p', `${FPU} cpu:cmov rw:cr`],
  ['fneni', 'fneni', 'DB E0', '', '', FPU],
  ['fndisi', 'fndisi', 'DB E1', '', '', FPU],
  ['fnclex', 'fnclex', 'DB E2', '', '', FPU],
  ['fninit', 'fninit', 'DB E3', '', '', FPU],
  ['fnsetpm', 'fnsetpm', 'DB E4', '', '', FPU],
  ['fucomi_st0_sti', 'fucomi', 'DB /5', 'st0 sti', 'w:zpc c:osa', `${FPU} cpu:cmov rw:rr`],
  ['fcomi_st0_sti', 'fcomi', 'DB /6', 'st0 sti', 'w:zpc c:osa', `${FPU} cpu:cmov rw:rr`],

  // DD: 64-bit loads/stores, FRSTOR/FSAVE, FFREE, FUCOM.
  ['fld_m64fp', 'fld', 'DD /0', 'm64fp', '', `${FPU} rw:r`],
  ['fisttp_m64int', 'fisttp', 'DD /1', 'm64int', '', `${FPU} rw:w cpu:sse3`],
  ['fst_m64fp', 'fst', 'DD /2', 'm64fp', '', `${FPU} rw:w`],
  ['fstp_m64fp', 'fstp', 'DD /3', 'm64fp', '', `${FPU} rw:w`],
  ['frstor_m94byte', 'frstor', 'DD /4 o16', 'mstate16', '', `${FPU} rw:r`],
  ['frstor_m108byte', 'frstor', 'DD /4 o32 o64', 'mstate32', '', `${FPU} rw:r`],
  ['fnsave_m94byte', 'fnsave', 'DD /6 o16', 'mstate16', '', `${FPU} rw:w`],
  ['fnsave_m108byte', 'fnsave', 'DD /6 o32 o64', 'mstate32', '', `${FPU} rw:w`],
  ['fnstsw_m2byte', 'fnstsw', 'DD /7', 'm2byte', '', `${FPU} rw:w`],
  ['ffree_sti', 'ffree', 'DD /0', 'sti', '', `${FPU} rw:n`],
  ['fxch_st0_sti_ddc8', 'fxch', 'DD /1', 'st0 sti', '', `${FPU} rw:mm`],
  ['fst_sti', 'fst', 'DD /2', 'sti', '', `${FPU} rw:w`],
  ['fstp_sti', 'fstp', 'DD /3', 'sti', '', `${FPU} rw:w`],
  ['fucom_st0_sti', 'fucom', 'DD /4', 'st0 sti', '', `${FPU} rw:rr`],
  ['fucomp_st0_sti', 'fucomp', 'DD /5', 'st0 sti', '', `${FPU} rw:rr`],

  // DE register forms are above; DF: 16/64-bit integers, BCD, FNSTSW AX, FCOMIP/FUCOMIP.
  ['fild_m16int', 'fild', 'DF /0', 'm16int', '', `${FPU} rw:r`],
  ['fisttp_m16int', 'fisttp', 'DF /1', 'm16int', '', `${FPU} rw:w cpu:sse3`],
  ['fist_m16int', 'fist', 'DF /2', 'm16int', '', `${FPU} rw:w`],
  ['fistp_m16int', 'fistp', 'DF /3', 'm16int', '', `${FPU} rw:w`],
  ['fbld_m80bcd', 'fbld', 'DF /4', 'm80bcd', '', `${FPU} rw:r`],
  ['fild_m64int', 'fild', 'DF /5', 'm64int', '', `${FPU} rw:r`],
  ['fbstp_m80bcd', 'fbstp', 'DF /6', 'm80bcd', '', `${FPU} rw:w`],
  ['fistp_m64int', 'fistp', 'DF /7', 'm64int', '', `${FPU} rw:w`],
  ['ffreep_sti', 'ffreep', 'DF /0', 'sti', '', `${FPU} rw:n`],
  ['fxch_st0_sti_dfc8', 'fxch', 'DF /1', 'st0 sti', '', `${FPU} rw:mm`],
  ['fstp_sti_dfd0', 'fstp', 'DF /2', 'sti', '', `${FPU} rw:w`],
  ['fstp_sti_dfd8', 'fstp', 'DF /3', 'sti', '', `${FPU} rw:w`],
  ['fnstsw_ax', 'fnstsw', 'DF E0', 'ax', '', `${FPU} rw:w`],
  ['fucomip_st0_sti', 'fucomip', 'DF /5', 'st0 sti', 'w:zpc c:osa', `${FPU} cpu:cmov rw:rr`],
  ['fcomip_st0_sti', 'fcomip', 'DF /6', 'st0 sti', 'w:zpc c:osa', `${FPU} cpu:cmov rw:rr`],
];
