import { describe, expect, it } from 'vitest';
import { Decoder, decode } from './decoder';
import { formatAtt, formatIntel } from './format';
import { Code } from './generated/tables';
import { flowControl, formInfo, Instruction, PrefixBit, privilege } from './instruction';
import { Flag, FlowControl, InvalidReason, MemSize, OpAccess, OpKind, Privilege } from './kinds';
import { Register } from './registers';

const b = (...x: number[]) => new Uint8Array(x);

describe('Decoder', () => {
  it('decodes ADD r/m32, r32 with a register operand (SDM Vol. 2 ADD, opcode 01 /r)', () => {
    const i = decode(b(0x01, 0xce), 0, 32);
    expect(i.length).toBe(2);
    expect(i.mnemonic).toBe('add');
    expect(i.code).toBe(Code.add_rm32_r32);
    expect(i.op0Register).toBe(Register.esi);
    expect(i.op1Register).toBe(Register.ecx);
    expect(i.invalid).toBe(false);
  });

  it('operand-size prefix selects the 16-bit form in 32-bit mode and the 32-bit form in 16-bit mode', () => {
    expect(decode(b(0x66, 0x01, 0xce), 0, 32).code).toBe(Code.add_rm16_r16);
    expect(decode(b(0x66, 0x01, 0xce), 0, 16).code).toBe(Code.add_rm32_r32);
    expect(decode(b(0x01, 0xce), 0, 16).code).toBe(Code.add_rm16_r16);
  });

  it('outside 64-bit mode an unused VEX.vvvv must still be 1111b, while a used one drops its top bit', () => {
    const at = (bytes: number[], bits: 16 | 32 | 64) => decode(Uint8Array.from(bytes), 0, bits);
    for (const bits of [16, 32] as const) {
      // 3-byte VEX with the stored vvvv 0111b: VZEROUPPER and VMOVAPS use no vvvv operand.
      expect(at([0xc4, 0xe1, 0x38, 0x77], bits).invalid).toBe(true);
      expect(at([0xc4, 0xe1, 0x38, 0x28, 0xc1], bits).invalid).toBe(true);
      expect(at([0xc4, 0xe1, 0x78, 0x77], bits).mnemonic).toBe('vzeroupper');
      expect(formatIntel(at([0xc4, 0xe1, 0x78, 0x28, 0xc1], bits))).toBe('vmovaps xmm0, xmm1');
      // VADDPS takes its first source from vvvv: 0111b stored names register 8, which is xmm0 here.
      expect(formatIntel(at([0xc4, 0xe1, 0x38, 0x58, 0xc1], bits))).toBe('vaddps xmm0, xmm0, xmm1');
    }
    expect(formatIntel(at([0xc4, 0xe1, 0x38, 0x58, 0xc1], 64))).toBe('vaddps xmm0, xmm8, xmm1');
    expect(at([0xc4, 0xe1, 0x38, 0x77], 64).invalid).toBe(true);
  });

  it('decodes SIB addressing with scale, index and disp8, and the SS default for EBP bases', () => {
    const i = decode(b(0x8b, 0x44, 0x8d, 0xf0), 0, 32);
    expect(i.op1Kind).toBe(OpKind.memory);
    expect(i.memBase).toBe(Register.ebp);
    expect(i.memIndex).toBe(Register.ecx);
    expect(i.memScale).toBe(4);
    expect(i.memDisplacement).toBe(0xfffffff0);
    expect(i.memSegment).toBe(Register.ss);
    expect(i.memSize).toBe(MemSize.u32);
  });

  it('16-bit addressing uses the BX/BP/SI/DI table (SDM Vol. 2 table 2-1)', () => {
    const i = decode(b(0x8b, 0x42, 0x10), 0, 16);
    expect(i.memBase).toBe(Register.bp);
    expect(i.memIndex).toBe(Register.si);
    expect(i.memDisplacement).toBe(0x10);
    expect(i.memSegment).toBe(Register.ss);
  });

  it('address-size override in 32-bit mode switches to 16-bit addressing', () => {
    const i = decode(b(0x67, 0x8b, 0x07), 0, 32);
    expect(i.addressSize).toBe(16);
    expect(i.memBase).toBe(Register.bx);
    expect(i.length).toBe(3);
  });

  it('RIP-relative addressing in 64-bit mode', () => {
    const i = decode(b(0x48, 0x8b, 0x05, 0x10, 0, 0, 0), 0, 64, 0x1000);
    expect(i.code).toBe(Code.mov_r64_rm64);
    expect(i.memBase).toBe(Register.rip);
    expect(i.memDisplacement).toBe(0x10);
  });

  it('REX selects SPL/BPL/SIL/DIL instead of AH/CH/DH/BH', () => {
    expect(decode(b(0x40, 0x88, 0xe0), 0, 64).op1Register).toBe(Register.spl);
    expect(decode(b(0x88, 0xe0), 0, 64).op1Register).toBe(Register.ah);
  });

  it('relative branch targets wrap to the operand size', () => {
    expect(decode(b(0xeb, 0xfe), 0, 32, 0x1000).nearBranchTarget).toBe(0x1000);
    expect(decode(b(0xe9, 0xfd, 0xff), 0, 16, 0).nearBranchTarget).toBe(0);
    expect(decode(b(0xe8, 0, 0, 0, 0), 0, 32, 0xfffffffb).nearBranchTarget).toBe(0);
  });

  it('far pointers carry selector and offset', () => {
    const i = decode(b(0xea, 0x78, 0x56, 0x34, 0x12, 0x08, 0x00), 0, 32);
    expect(i.code).toBe(Code.jmp_ptr1632);
    expect(i.farSelector).toBe(8);
    expect(i.farOffset).toBe(0x12345678);
  });

  it('LOCK is accepted only on lockable forms with a memory destination', () => {
    expect(decode(b(0xf0, 0x01, 0x18), 0, 32).code).toBe(Code.add_rm32_r32);
    const r = decode(b(0xf0, 0x01, 0xce), 0, 32);
    expect(r.invalid).toBe(true);
    expect(r.invalidReason).toBe(InvalidReason.lockNotAllowed);
    expect(decode(b(0xf0, 0x8b, 0x00), 0, 32).invalid).toBe(true);
    expect(decode(b(0xf0, 0x01, 0x18), 0, 32).prefixes & PrefixBit.lock).toBe(PrefixBit.lock);
  });

  it('instructions longer than 15 bytes are invalid', () => {
    const bytes = new Uint8Array(20).fill(0x66);
    bytes[15] = 0x90;
    const i = decode(bytes, 0, 32);
    expect(i.invalid).toBe(true);
    expect(i.invalidReason).toBe(InvalidReason.tooLong);
    expect(i.length).toBe(15);
    // 14 prefixes + one opcode byte is exactly 15 and valid.
    const ok = new Uint8Array(15).fill(0x66);
    ok[14] = 0x90;
    expect(decode(ok, 0, 32).length).toBe(15);
  });

  it('truncated input is invalid with reason truncated and never reads past the buffer', () => {
    const i = decode(b(0x8b, 0x44), 0, 32);
    expect(i.invalid).toBe(true);
    expect(i.invalidReason).toBe(InvalidReason.truncated);
    expect(i.length).toBe(2);
    expect(decode(new Uint8Array(0), 0, 32).invalidReason).toBe(InvalidReason.truncated);
  });

  it('opcodes removed in 64-bit mode are invalid there (PUSH ES, AAA, INTO)', () => {
    for (const op of [0x06, 0x37, 0xce]) {
      const i = decode(b(op), 0, 64);
      expect(i.invalid).toBe(true);
      expect(i.invalidReason).toBe(InvalidReason.invalidInMode);
      expect(decode(b(op), 0, 32).invalid).toBe(false);
    }
  });

  it('MOV to CS is invalid (SDM Vol. 2 MOV: #UD when the destination is CS)', () => {
    expect(decode(b(0x8e, 0xc8), 0, 32).invalidReason).toBe(InvalidReason.badRegister);
    expect(decode(b(0x8e, 0xd8), 0, 32).op0Register).toBe(Register.ds);
  });

  it('MOV to/from control registers ignores the mod bits', () => {
    const i = decode(b(0x0f, 0x20, 0x18), 0, 32);
    expect(i.code).toBe(Code.mov_r32_cr);
    expect(i.op0Register).toBe(Register.eax);
    expect(i.op1Register).toBe(Register.cr0 + 3);
    expect(i.length).toBe(3);
    expect(decode(b(0x0f, 0x22, 0xc8), 0, 32).invalidReason).toBe(InvalidReason.badRegister);
  });

  it('x87 memory and register forms share an opcode and split on ModRM.mod', () => {
    expect(decode(b(0xd9, 0x00), 0, 32).code).toBe(Code.fld_m32fp);
    expect(decode(b(0xd9, 0xc1), 0, 32).code).toBe(Code.fld_sti);
    expect(decode(b(0xd9, 0xe8), 0, 32).code).toBe(Code.fld1);
    expect(decode(b(0xdf, 0xe0), 0, 32).code).toBe(Code.fnstsw_ax);
  });

  it('records the privilege requirement the SDM states', () => {
    expect(privilege(decode(b(0xf4), 0, 32).code)).toBe(Privilege.cpl0);
    expect(privilege(decode(b(0xfa), 0, 32).code)).toBe(Privilege.iopl);
    expect(privilege(decode(b(0xe6, 0x80), 0, 32).code)).toBe(Privilege.iopl);
    expect(privilege(decode(b(0x0f, 0x01, 0x10), 0, 32).code)).toBe(Privilege.cpl0);
    expect(privilege(decode(b(0x0f, 0x01, 0x00), 0, 32).code)).toBe(Privilege.none); // SGDT
    expect(privilege(decode(b(0x9c), 0, 32).code)).toBe(Privilege.none); // PUSHF
  });

  it('records flags read and written, and flow control', () => {
    const adc = formInfo(Code.adc_rm32_r32);
    expect(adc.flagsRead).toBe(Flag.cf);
    expect(adc.flagsWritten).toBe(Flag.of | Flag.sf | Flag.zf | Flag.af | Flag.pf | Flag.cf);
    const and = formInfo(Code.and_rm32_r32);
    expect(and.flagsCleared).toBe(Flag.of | Flag.cf);
    expect(and.flagsUndefined).toBe(Flag.af);
    expect(and.lockable).toBe(true);
    expect(flowControl(Code.jne_rel8_32)).toBe(FlowControl.conditionalBranch);
    expect(flowControl(Code.retnd)).toBe(FlowControl.return);
    expect(flowControl(Code.hlt)).toBe(FlowControl.halt);
    expect(formInfo(Code.cmovne_r32_rm32).cpuidFeature).toBe('cmov');
  });

  it('decodes SERIALIZE and AMD MONITORX/MWAITX (0F 01 E8, FA, FB) in every mode, at any CPL, without 66/F2', () => {
    for (const mode of [16, 32, 64] as const) {
      const s = decode(b(0x0f, 0x01, 0xe8), 0, mode);
      expect(s.code).toBe(Code.serialize);
      expect(s.length).toBe(3);
      expect(decode(b(0x0f, 0x01, 0xfb), 0, mode).code).toBe(Code.mwaitx);
      expect(decode(b(0x66, 0x0f, 0x01, 0xe8), 0, mode).invalidReasonName).toBe('undefined opcode');
      expect(decode(b(0xf2, 0x0f, 0x01, 0xfa), 0, mode).invalid).toBe(true);
      expect(decode(b(0xf0, 0x0f, 0x01, 0xfb), 0, mode).invalidReasonName).toBe('lock not allowed');
    }
    // F3 0F 01 E8 stays SETSSBSY; MONITORX's form follows the address size, as MONITOR's does.
    expect(decode(b(0xf3, 0x0f, 0x01, 0xe8), 0, 32).code).toBe(Code.setssbsy);
    expect(decode(b(0x0f, 0x01, 0xfa), 0, 16).code).toBe(Code.monitorxw);
    expect(decode(b(0x0f, 0x01, 0xfa), 0, 32).code).toBe(Code.monitorxd);
    expect(decode(b(0x67, 0x0f, 0x01, 0xfa), 0, 32).code).toBe(Code.monitorxw);
    expect(decode(b(0x0f, 0x01, 0xfa), 0, 64).code).toBe(Code.monitorxq);
    expect(decode(b(0x67, 0x0f, 0x01, 0xfa), 0, 64).code).toBe(Code.monitorxd);
    for (const c of [Code.serialize, Code.monitorxd, Code.mwaitx]) {
      expect(privilege(c)).toBe(Privilege.none);
      expect(flowControl(c)).toBe(FlowControl.next);
      expect(formInfo(c).flagsWritten | formInfo(c).flagsCleared).toBe(0);
    }
    expect(formInfo(Code.serialize).cpuidFeature).toBe('serialize');
    expect(formInfo(Code.mwaitx).cpuidFeature).toBe('monitorx');
  });

  it('decodes WAITPKG: TPAUSE (66), UMONITOR (F3) and UMWAIT (F2) 0F AE /6 with a register operand (SDM Vol. 2B)', () => {
    const tp = decode(b(0x66, 0x0f, 0xae, 0xf5), 0, 32);
    expect(tp.code).toBe(Code.tpause_r32);
    expect(tp.op0Register).toBe(Register.ebp);
    // The 66 is the mandatory prefix, not an operand-size override: still r32 in 16-bit mode.
    expect(decode(b(0x66, 0x0f, 0xae, 0xf5), 0, 16).op0Register).toBe(Register.ebp);
    expect(decode(b(0x66, 0x41, 0x0f, 0xae, 0xf5), 0, 64).op0Register).toBe(Register.r8d + 5);
    expect(decode(b(0x66, 0x48, 0x0f, 0xae, 0xf5), 0, 64).code).toBe(Code.tpause_r64);
    expect(decode(b(0xf2, 0x49, 0x0f, 0xae, 0xf5), 0, 64).op0Register).toBe(Register.r8 + 5);
    expect(decode(b(0xf2, 0x0f, 0xae, 0xf5), 0, 32).code).toBe(Code.umwait_r32);
    // UMONITOR's register is an address: its width is the address size.
    expect(decode(b(0xf3, 0x0f, 0xae, 0xf5), 0, 16).op0Register).toBe(Register.bp);
    expect(decode(b(0xf3, 0x0f, 0xae, 0xf5), 0, 32).op0Register).toBe(Register.ebp);
    expect(decode(b(0x67, 0xf3, 0x0f, 0xae, 0xf5), 0, 32).code).toBe(Code.umonitor_r16);
    expect(decode(b(0xf3, 0x48, 0x0f, 0xae, 0xf5), 0, 64).op0Register).toBe(Register.rbp);
    expect(decode(b(0x67, 0xf3, 0x0f, 0xae, 0xf5), 0, 64).op0Register).toBe(Register.ebp);
    // The memory forms of the same opcode are other instructions (CLRSSBSY) or not ours (CLWB).
    expect(decode(b(0xf3, 0x0f, 0xae, 0x30), 0, 32).code).toBe(Code.clrssbsy_m64);
    expect(decode(b(0xf0, 0x66, 0x0f, 0xae, 0xf5), 0, 32).invalidReasonName).toBe('lock not allowed');
    const oszap = Flag.of | Flag.sf | Flag.zf | Flag.af | Flag.pf;
    for (const c of [Code.tpause_r32, Code.tpause_r64, Code.umwait_r32, Code.umwait_r64]) {
      const f = formInfo(c);
      expect(f.flagsWritten).toBe(Flag.cf);
      expect(f.flagsCleared).toBe(oszap);
      expect(f.flagsRead | f.flagsSet | f.flagsUndefined).toBe(0);
    }
    for (const c of [Code.tpause_r32, Code.umonitor_r16, Code.umonitor_r64, Code.umwait_r64]) {
      const f = formInfo(c);
      expect(f.privilege).toBe(Privilege.none);
      expect(f.cpuidFeature).toBe('waitpkg');
      expect(f.operandAccess).toEqual([OpAccess.read]);
      expect(f.flowControl).toBe(FlowControl.next);
    }
    expect(formInfo(Code.umonitor_r32).flagsWritten | formInfo(Code.umonitor_r32).flagsCleared).toBe(0);
    expect(formatIntel(tp)).toBe('tpause ebp');
  });

  it('decodeOut refills one Instruction without leaking fields from the previous one', () => {
    const d = new Decoder(32);
    const i = new Instruction();
    d.decodeOut(b(0x8b, 0x44, 0x8d, 0xf0), 0, 0, i);
    d.decodeOut(b(0x90), 0, 0, i);
    expect(i.code).toBe(Code.nopd);
    expect(i.memBase).toBe(0);
    expect(i.opCount).toBe(0);
  });

  it('a reused Instruction reports only the memory and immediate fields of the form just decoded', () => {
    const d = new Decoder(32);
    const i = new Instruction();
    // enter 0x10, 0x2 then mov eax, [ebx+esi*2+0x7f] then add eax, ecx then stosb
    d.decodeOut(b(0xc8, 0x10, 0x00, 0x02), 0, 0, i);
    expect([i.immediate, i.immediate2]).toEqual([0x10, 2]);
    d.decodeOut(b(0x8b, 0x44, 0x73, 0x7f), 0, 0, i);
    expect([i.immediate, i.immediate2, i.memBase, i.memIndex, i.memScale, i.memDisplacement]).toEqual([
      0,
      0,
      Register.ebx,
      Register.esi,
      2,
      0x7f,
    ]);
    d.decodeOut(b(0x01, 0xc8), 0, 0, i);
    expect([i.memBase, i.memIndex, i.memScale, i.memDisplacement, i.memSegment, i.memSize]).toEqual([
      0, 0, 1, 0, 0, 0,
    ]);
    expect([i.op0Register, i.op1Register]).toEqual([Register.eax, Register.ecx]);
    d.decodeOut(b(0xaa), 0, 0, i);
    expect([i.op0Kind, i.memSegment, i.memBase, i.memSize]).toEqual([
      OpKind.memoryESDI,
      Register.es,
      0,
      MemSize.u8,
    ]);
    d.decodeOut(b(0x0f, 0x0b), 0, 0, i);
    expect(i.mnemonic).toBe('ud2');
    d.decodeOut(b(0x0f, 0x04), 0, 0, i);
    expect([i.invalid, i.mnemonic, i.opCount, i.op0Kind, i.op0Register]).toEqual([true, '', 0, 0, 0]);
  });

  it('rejects a bitness other than 16, 32 or 64', () => {
    expect(() => new Decoder(8 as unknown as 16)).toThrow(RangeError);
  });

  it('decodes VEX forms: AVX2 256-bit compares, VZEROUPPER, BMI2 with VEX.vvvv operands (SDM Vol. 2 §2.3)', () => {
    const cmp = decode(b(0xc5, 0xfd, 0x74, 0x57, 0x20), 0, 64);
    expect(cmp.code).toBe(Code.vex_vpcmpeqb_ymm_ymm_ymmm256);
    expect(cmp.op0Register).toBe(Register.ymm0 + 2);
    expect(cmp.op1Register).toBe(Register.ymm0);
    expect(cmp.length).toBe(5);
    expect(decode(b(0xc5, 0xf8, 0x77), 0, 32).code).toBe(Code.vex_vzeroupper);
    const shlx = decode(b(0xc4, 0xe2, 0xf9, 0xf7, 0xc1), 0, 64); // shlx rax, rcx, rax
    expect(shlx.code).toBe(Code.vex_shlx_r64_rm64_r64);
    expect(shlx.op2Register).toBe(Register.rax);
  });

  it('decodes FMA, F16C, broadcasts and masked moves (SDM Vol. 2: VFMADD231PS, VCVTPH2PS, VBROADCASTSS, VPMASKMOVD)', () => {
    const fma = decode(b(0xc4, 0xe2, 0x71, 0xb8, 0xc2), 0, 64);
    expect([fma.codeName, formatIntel(fma)]).toEqual([
      'vex_vfmadd231ps_xmm_xmm_xmmm128',
      'vfmadd231ps xmm0, xmm1, xmm2',
    ]);
    const fmaSd = decode(b(0xc4, 0xe2, 0xf1, 0xa9, 0xc2), 0, 64);
    expect(fmaSd.codeName).toBe('vex_vfmadd213sd_xmm_xmm_xmmm64');
    expect(decode(b(0xc4, 0xe2, 0x7d, 0x13, 0xc1), 0, 64).codeName).toBe('vex_vcvtph2ps_ymm_xmmm128');
    const bc = decode(b(0xc4, 0xe2, 0x79, 0x18, 0x44, 0x24, 0x08), 0, 64);
    expect([bc.codeName, bc.length, formatIntel(bc)]).toEqual([
      'vex_vbroadcastss_xmm_m32',
      7,
      'vbroadcastss xmm0, [rsp+0x8]',
    ]);
    // VPMASKMOVD has no register form: mod = 11b is undefined.
    expect(decode(b(0xc4, 0xe2, 0x71, 0x8c, 0xc2), 0, 64).invalid).toBe(true);
    expect(decode(b(0xc4, 0xe2, 0x71, 0x8c, 0x02), 0, 64).codeName).toBe('vex_vpmaskmovd_xmm_xmm_m128');
  });

  it('VBLENDVPS/VPBLENDVB take their fourth register from imm8[7:4]; imm8[7] is ignored outside 64-bit mode (SDM Vol. 2 §2.3.9)', () => {
    const x = decode(b(0xc4, 0xe3, 0x49, 0x4a, 0xd3, 0x4f), 0, 64);
    expect([x.codeName, x.length, x.op3Register, formatIntel(x), formatAtt(x)]).toEqual([
      'vex_vblendvps_xmm_xmm_xmmm128_xmm',
      6,
      Register.xmm0 + 4,
      'vblendvps xmm2, xmm6, xmm3, xmm4',
      'vblendvps %xmm4,%xmm3,%xmm6,%xmm2',
    ]);
    const y64 = decode(b(0xc4, 0xe3, 0x4d, 0x4c, 0xd3, 0xf0), 0, 64);
    expect([y64.codeName, formatIntel(y64)]).toEqual([
      'vex_vpblendvb_ymm_ymm_ymmm256_ymm',
      'vpblendvb ymm2, ymm6, ymm3, ymm15',
    ]);
    const x32 = decode(b(0xc4, 0xe3, 0x49, 0x4c, 0x10, 0xf0), 0, 32);
    expect([x32.codeName, formatIntel(x32)]).toEqual([
      'vex_vpblendvb_xmm_xmm_xmmm128_xmm',
      'vpblendvb xmm2, xmm6, [eax], xmm7',
    ]);
    // The is4 field of one instruction does not leak into the next one's opcode register.
    const d = new Decoder(64);
    const i = new Instruction();
    d.decodeOut(b(0xc4, 0xe3, 0x49, 0x4b, 0xd3, 0xf0), 0, 0, i);
    expect(i.codeName).toBe('vex_vblendvpd_xmm_xmm_xmmm128_xmm');
    d.decodeOut(b(0x41, 0x50), 0, 0, i);
    expect(formatIntel(i)).toBe('push r8');
    // VEX.W1 is undefined for these.
    expect(decode(b(0xc4, 0xe3, 0xc9, 0x4a, 0xd3, 0x40), 0, 64).invalid).toBe(true);
  });

  it('gathers decode a VSIB operand: the SIB index is a vector register, 100b included (SDM Vol. 2 §2.3.12)', () => {
    const g = decode(b(0xc4, 0xa2, 0x4d, 0x90, 0x54, 0xa1, 0x01), 0, 64);
    expect([g.codeName, g.length, g.memBase, g.memIndex, g.memScale, g.memDisplacement]).toEqual([
      'vex_vpgatherdd_ymm_vm32y_ymm',
      7,
      Register.rcx,
      Register.ymm0 + 12,
      4,
      1,
    ]);
    expect([formatIntel(g), formatAtt(g)]).toEqual([
      'vpgatherdd ymm2, [rcx+ymm12*4+0x1], ymm6',
      'vpgatherdd %ymm6,0x1(%rcx,%ymm12,4),%ymm2',
    ]);
    const q = decode(b(0xc4, 0xe2, 0x4d, 0x91, 0x14, 0x24), 0, 32);
    expect([q.codeName, formatIntel(q)]).toEqual([
      'vex_vpgatherqd_xmm_vm64y_xmm',
      'vpgatherqd xmm2, [esp+ymm4], xmm6',
    ]);
    const noBase = decode(b(0xc4, 0xe2, 0xc9, 0x93, 0x14, 0xe5, 0x78, 0x56, 0x34, 0x12), 0, 64);
    expect([noBase.codeName, noBase.length, formatIntel(noBase)]).toEqual([
      'vex_vgatherqpd_xmm_vm64x_xmm',
      10,
      'vgatherqpd xmm2, [xmm4*8+0x12345678], xmm6',
    ]);
    expect(formInfo(Code.vex_vgatherdps_ymm_vm32y_ymm).operandAccess).toEqual([3, 1, 3]);
  });

  it('gathers are #UD without a SIB byte, with mod = 11b, with 16-bit addressing, and when destination, index and mask are not all different', () => {
    const reason = (bits: 16 | 32 | 64, ...x: number[]) => decode(b(...x), 0, bits).invalidReason;
    expect(reason(64, 0xc4, 0xe2, 0x49, 0x90, 0x11)).toBe(InvalidReason.badModRM); // [rcx], no SIB
    expect(decode(b(0xc4, 0xe2, 0x49, 0x90, 0xd4), 0, 64).invalid).toBe(true); // mod = 11b
    expect(reason(16, 0xc4, 0xe2, 0x49, 0x90, 0x14, 0xa1)).toBe(InvalidReason.badModRM);
    expect(decode(b(0x67, 0xc4, 0xe2, 0x49, 0x90, 0x14, 0xa1), 0, 16).codeName).toBe(
      'vex_vpgatherdd_xmm_vm32x_xmm',
    );
    expect(reason(64, 0xc4, 0xe2, 0x49, 0x90, 0x24, 0xa1)).toBe(InvalidReason.badRegister); // dest = index
    expect(reason(64, 0xc4, 0xe2, 0x49, 0x90, 0x34, 0xa1)).toBe(InvalidReason.badRegister); // dest = mask
    expect(reason(64, 0xc4, 0xe2, 0x49, 0x90, 0x14, 0xb1)).toBe(InvalidReason.badRegister); // index = mask
    // The same register numbers in different banks are different registers: VEX.X extends the index.
    expect(decode(b(0xc4, 0xa2, 0x49, 0x90, 0x24, 0xa1), 0, 64).codeName).toBe(
      'vex_vpgatherdd_xmm_vm32x_xmm',
    );
  });

  it('opmask registers are k0–k7: in 64-bit mode VEX.vvvv naming k8–k15 or VEX.R on ModRM.reg is a bad register, VEX.B on ModRM.r/m is ignored; outside 64-bit mode VEX.vvvv[3] is ignored (SDM Vol. 2 KADDW…KUNPCKBW: VEX.1vvv; §2.6.11.3 table 2-39)', () => {
    // Every form with an opmask operand in VEX.vvvv: pp (0 NP, 1 66), W, opcode.
    const forms: [string, number, number, number][] = [];
    for (const [size, pp, w] of [
      ['w', 0, 0],
      ['b', 1, 0],
      ['q', 0, 1],
      ['d', 1, 1],
    ] as const) {
      for (const [mn, op] of [
        ['kand', 0x41],
        ['kandn', 0x42],
        ['kor', 0x45],
        ['kxnor', 0x46],
        ['kxor', 0x47],
        ['kadd', 0x4a],
      ] as const)
        forms.push([`${mn}${size}`, pp, w, op]);
    }
    forms.push(['kunpckbw', 1, 0, 0x4b], ['kunpckwd', 0, 0, 0x4b], ['kunpckdq', 0, 1, 0x4b]);
    expect(forms).toHaveLength(27);
    // C4 E1 (R, X, B clear; map 0F), W vvvv(inverted) L=1 pp, opcode, ModRM 11 110 011 (k6, k3).
    const enc = (pp: number, w: number, op: number, k: number) =>
      b(0xc4, 0xe1, (w << 7) | ((~k & 15) << 3) | 4 | pp, op, 0xf3);
    for (const [mn, pp, w, op] of forms) {
      const low = decode(enc(pp, w, op, 5), 0, 64);
      expect([low.codeName, low.op0Register, low.op1Register, low.op2Register]).toEqual([
        `vex_${mn}_kr_kr_kr`,
        Register.k0 + 6,
        Register.k0 + 5,
        Register.k0 + 3,
      ]);
      const high = decode(enc(pp, w, op, 13), 0, 64);
      expect([mn, high.invalidReason, high.length]).toEqual([mn, InvalidReason.badRegister, 5]);
      // In 16/32-bit mode the top vvvv bit is ignored: k13 reads as k5.
      for (const mode of [16, 32] as const) {
        const legacy = decode(enc(pp, w, op, 13), 0, mode);
        expect([legacy.codeName, legacy.op1Register]).toEqual([`vex_${mn}_kr_kr_kr`, Register.k0 + 5]);
      }
    }
    // The 1M-case random run's case: ES, two-byte VEX with vvvv naming k13.
    expect(decode(b(0x26, 0xc5, 0x94, 0x4a, 0xf3), 0, 64).invalidReason).toBe(InvalidReason.badRegister);
    expect(formatIntel(decode(b(0x26, 0xc5, 0xd4, 0x4a, 0xf3), 0, 64))).toBe('kaddw k6, k5, k3');
    // VEX.R with an opmask ModRM.reg is a bad register; VEX.B with an opmask ModRM.r/m is ignored.
    expect(decode(b(0xc4, 0x61, 0x54, 0x4a, 0xf3), 0, 64).invalidReason).toBe(InvalidReason.badRegister);
    expect(formatIntel(decode(b(0xc4, 0xc1, 0x54, 0x4a, 0xf3), 0, 64))).toBe('kaddw k6, k5, k3');
    expect(formatIntel(decode(b(0xc4, 0xc1, 0x78, 0x44, 0xc1), 0, 64))).toBe('knotw k0, k1');
  });

  it('VEX after a 66/F2/F3/REX prefix is invalid; VEX forms without rows and EVEX are unsupported with their length', () => {
    expect(decode(b(0x66, 0xc5, 0xf8, 0x77), 0, 32).invalid).toBe(true);
    const v = decode(b(0xc4, 0xe2, 0x71, 0x50, 0x44, 0x24, 0x08), 0, 64); // AVX-VNNI vpdpbusd (no row)
    expect(v.invalidReason).toBe(InvalidReason.unsupported);
    expect(v.length).toBe(7);
    const e = decode(b(0x62, 0xf1, 0x4c, 0x0b, 0x55, 0xd3), 0, 64);
    expect(e.invalidReason).toBe(InvalidReason.unsupported);
    expect(e.length).toBe(6);
  });
});
