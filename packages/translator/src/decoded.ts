import { Instruction, OpKind } from '@ringzero/decoder';

/**
 * A decoded instruction as the translator keeps it: the decoder's `Instruction` with the
 * operand facts its handlers read on every execution copied into plain properties once, when
 * the instruction is cached (`prepare`). The decoder packs those facts into a few words and
 * unpacks them in getters through per-form tables, which keeps decoding fast; an instruction
 * that runs thousands of times should not pay the unpacking each time.
 */
export class Decoded extends Instruction {
  /** Operand kinds (`OpKind`) of operands 0–2. */
  kind0 = 0;
  kind1 = 0;
  kind2 = 0;
  /** Register ids (`Register.*`) of operands 0–2, 0 where the operand is not a register. */
  reg0 = 0;
  reg1 = 0;
  reg2 = 0;
  /**
   * The memory operand: base and index registers (0 for none), scale, displacement (as an
   * int32: equal modulo 2^32 to the decoder's unsigned one), segment.
   */
  mBase = 0;
  mIndex = 0;
  mScale = 1;
  mDisp = 0;
  mSeg = 0;
  /**
   * First immediate (0 when the form has none), as an int32 (the handlers mask it to the
   * operand size). Int32 fields stay small integers in V8; the decoder's unsigned 32-bit values
   * would turn every instance's field into a boxed double.
   */
  immValue = 0;
  /** A relative branch's target minus the address after it (0 for other forms), as an int32. */
  branchRel = 0;
  /** Address and operand size in bits. */
  addrBits = 32;
  opBits = 32;

  /** Copies the operand facts out of the decoder's packed fields (after each `decodeOut`). */
  prepare(): void {
    this.kind0 = this.op0Kind;
    this.kind1 = this.op1Kind;
    this.kind2 = this.op2Kind;
    this.reg0 = this.op0Register;
    this.reg1 = this.op1Register;
    this.reg2 = this.op2Register;
    this.mBase = this.memBase;
    this.mIndex = this.memIndex;
    this.mScale = this.memScale;
    this.mDisp = this.memDisplacement | 0;
    this.mSeg = this.memSegment;
    this.immValue = this.immediate | 0;
    this.branchRel =
      this.kind0 === OpKind.nearBranch ? (this.nearBranchTarget - this.ip - this.length) | 0 : 0;
    this.addrBits = this.addressSize;
    this.opBits = this.operandSize;
  }
}
