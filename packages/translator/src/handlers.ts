import { CODE_COUNT, CODE_NAMES, OpKind, PrefixBit, Register } from '@ringzero/decoder';
import { farTransferOrTask, loadTaskRegister, taskReturnTarget } from '@ringzero/rings';
import {
  AluOp,
  alu,
  bitOp,
  bitScan,
  bswap32,
  dec,
  div,
  doubleShift,
  imul2,
  inc,
  MULDIV_OUT,
  maskOf,
  mul1,
  neg,
  setStatus,
  shift,
} from './alu';
import { Eflags, isFlatDataSegment, Reg, Seg } from './cpu-state';
import type { Decoded } from './decoded';
import { raise, Vector } from './fault';
import { MMX_HANDLERS } from './mmx';
import { switchTask } from './task-switch';
import type { Tier0 } from './tier0';
import { X87_HANDLERS } from './x87';

/** A tier-0 handler: runs one decoded instruction on the processor. EIP is already past it. */
export type Handler = (c: Tier0, ins: Decoded) => void;

const ud: Handler = () => raise(Vector.ud);
/** Forms whose defined behaviour is #UD (a different function from `ud`, which marks missing semantics). */
const undefinedOpcode: Handler = () => raise(Vector.ud);
const nop: Handler = () => {};

function widthOf(name: string): number {
  const toks = name.split('_').slice(1);
  for (const t of toks) {
    if (t === 'al') return 8;
    if (t === 'ax') return 16;
    if (t === 'eax') return 32;
    const m = /^(?:rm|r|m)(8|16|32)$/.exec(t);
    if (m) return Number(m[1]);
  }
  return 0;
}

function userOf(c: Tier0): boolean {
  return c.state.cpl === 3;
}

// ---- Arithmetic and logic -------------------------------------------------------------------

function aluH(op: number, bits: number): Handler {
  const writes = op !== AluOp.cmp && op !== AluOp.test;
  return (c, ins) => {
    const s = c.state;
    if (ins.kind0 === OpKind.register) {
      const a = c.readReg(ins.reg0);
      const r = alu(s, op, a, c.readOp(ins, 1, bits), bits);
      if (writes) c.writeReg(ins.reg0, r);
      return;
    }
    const lin = c.memLinear(ins, bits >> 3, writes);
    if (writes) c.mmu.probeWrite(lin, bits >> 3, userOf(c));
    const a = c.read(lin, bits);
    const r = alu(s, op, a, c.readOp(ins, 1, bits), bits);
    if (writes) c.write(lin, r, bits);
  };
}

type Unary = (c: Tier0, a: number, bits: number) => number;

function unaryH(f: Unary, bits: number): Handler {
  return (c, ins) => {
    if (ins.kind0 === OpKind.register) {
      c.writeReg(ins.reg0, f(c, c.readReg(ins.reg0), bits));
      return;
    }
    const lin = c.memLinear(ins, bits >> 3, true);
    c.mmu.probeWrite(lin, bits >> 3, userOf(c));
    c.write(lin, f(c, c.read(lin, bits), bits), bits);
  };
}

function shiftH(op: number, bits: number): Handler {
  return (c, ins) => {
    const count =
      ins.kind1 === OpKind.register
        ? c.readReg(Register.cl)
        : ins.kind1 === OpKind.immediate
          ? ins.immValue & 0xff
          : 1;
    if (ins.kind0 === OpKind.register) {
      c.writeReg(ins.reg0, shift(c.state, op, c.readReg(ins.reg0), count, bits));
      return;
    }
    const lin = c.memLinear(ins, bits >> 3, true);
    c.mmu.probeWrite(lin, bits >> 3, userOf(c));
    c.write(lin, shift(c.state, op, c.read(lin, bits), count, bits), bits);
  };
}

function dshiftH(left: boolean, bits: number): Handler {
  return (c, ins) => {
    const count = ins.kind2 === OpKind.register ? c.readReg(Register.cl) : ins.immValue & 0xff;
    const b = c.readReg(ins.reg1);
    if (ins.kind0 === OpKind.register) {
      c.writeReg(ins.reg0, doubleShift(c.state, left, c.readReg(ins.reg0), b, count, bits));
      return;
    }
    const lin = c.memLinear(ins, bits >> 3, true);
    c.mmu.probeWrite(lin, bits >> 3, userOf(c));
    c.write(lin, doubleShift(c.state, left, c.read(lin, bits), b, count, bits), bits);
  };
}

function mulH(signed: boolean, bits: number): Handler {
  return (c, ins) => {
    const src = c.readOp(ins, 0, bits);
    const s = c.state;
    const acc =
      bits === 8 ? c.readReg(Register.al) : bits === 16 ? c.readReg(Register.ax) : (s.regs[Reg.eax] ?? 0);
    mul1(s, signed, acc, src, bits);
    const lo = MULDIV_OUT[0] ?? 0;
    const hi = MULDIV_OUT[1] ?? 0;
    if (bits === 8) c.writeReg(Register.ax, (lo & 0xff) | ((hi & 0xff) << 8));
    else if (bits === 16) {
      c.writeReg(Register.ax, lo);
      c.writeReg(Register.dx, hi);
    } else {
      s.regs[Reg.eax] = lo;
      s.regs[Reg.edx] = hi;
    }
  };
}

function divH(signed: boolean, bits: number): Handler {
  return (c, ins) => {
    const src = c.readOp(ins, 0, bits);
    const s = c.state;
    let lo: number;
    let hi: number;
    if (bits === 8) {
      lo = c.readReg(Register.ax);
      hi = 0;
    } else if (bits === 16) {
      lo = c.readReg(Register.ax);
      hi = c.readReg(Register.dx);
    } else {
      lo = s.regs[Reg.eax] ?? 0;
      hi = s.regs[Reg.edx] ?? 0;
    }
    if (!div(signed, lo, hi, src, bits)) raise(Vector.de);
    const q = MULDIV_OUT[0] ?? 0;
    const r = MULDIV_OUT[1] ?? 0;
    if (bits === 8) c.writeReg(Register.ax, (q & 0xff) | ((r & 0xff) << 8));
    else if (bits === 16) {
      c.writeReg(Register.ax, q);
      c.writeReg(Register.dx, r);
    } else {
      s.regs[Reg.eax] = q;
      s.regs[Reg.edx] = r;
    }
  };
}

function imulNH(bits: number): Handler {
  return (c, ins) => {
    const a = c.readOp(ins, 1, bits);
    const b = ins.opCount === 3 ? ins.immValue & maskOf(bits) : c.readReg(ins.reg0);
    c.writeReg(ins.reg0, imul2(c.state, a, b, bits));
  };
}

// ---- Bits -----------------------------------------------------------------------------------

function btH(which: number, bits: number): Handler {
  return (c, ins) => {
    const s = c.state;
    if (ins.kind0 === OpKind.register) {
      const bit = ins.kind1 === OpKind.immediate ? ins.immValue : c.readReg(ins.reg1);
      const r = bitOp(s, which, c.readReg(ins.reg0), bit, bits);
      if (which !== 0) c.writeReg(ins.reg0, r);
      return;
    }
    // Memory form: a register bit offset addresses beyond the operand (SDM vol. 2 "BT").
    let off = c.offset(ins);
    let bit: number;
    if (ins.kind1 === OpKind.immediate) bit = ins.immValue & (bits - 1);
    else {
      const raw = bits === 16 ? (c.readReg(ins.reg1) << 16) >> 16 : c.readReg(ins.reg1) | 0;
      off = off + (raw >> (bits === 16 ? 4 : 5)) * (bits >> 3);
      if (ins.addrBits === 16) off &= 0xffff;
      bit = raw & (bits - 1);
    }
    const lin = c.linear(ins.mSeg - Register.es, off, bits >> 3, which !== 0);
    if (which !== 0) c.mmu.probeWrite(lin, bits >> 3, userOf(c));
    const r = bitOp(s, which, c.read(lin, bits), bit, bits);
    if (which !== 0) c.write(lin, r, bits);
  };
}

function bsH(reverse: boolean, bits: number): Handler {
  return (c, ins) => {
    const r = bitScan(c.state, reverse, c.readOp(ins, 1, bits), bits);
    if (r >= 0) c.writeReg(ins.reg0, r);
  };
}

function xaddH(bits: number): Handler {
  return (c, ins) => {
    const s = c.state;
    const src = c.readReg(ins.reg1);
    if (ins.kind0 === OpKind.register) {
      const d = c.readReg(ins.reg0);
      const r = alu(s, AluOp.add, d, src, bits);
      c.writeReg(ins.reg1, d);
      c.writeReg(ins.reg0, r);
      return;
    }
    const lin = c.memLinear(ins, bits >> 3, true);
    c.mmu.probeWrite(lin, bits >> 3, userOf(c));
    const d = c.read(lin, bits);
    const r = alu(s, AluOp.add, d, src, bits);
    c.write(lin, r, bits);
    c.writeReg(ins.reg1, d);
  };
}

function cmpxchgH(bits: number): Handler {
  const accId = bits === 8 ? Register.al : bits === 16 ? Register.ax : Register.eax;
  return (c, ins) => {
    const s = c.state;
    const src = c.readReg(ins.reg1);
    const acc = c.readReg(accId);
    if (ins.kind0 === OpKind.register) {
      const d = c.readReg(ins.reg0);
      alu(s, AluOp.cmp, acc, d, bits);
      if (((acc ^ d) & maskOf(bits)) === 0) c.writeReg(ins.reg0, src);
      else c.writeReg(accId, d);
      return;
    }
    // The destination is always written (with its old value on failure; SDM vol. 2 "CMPXCHG").
    const lin = c.memLinear(ins, bits >> 3, true);
    c.mmu.probeWrite(lin, bits >> 3, userOf(c));
    const d = c.read(lin, bits);
    alu(s, AluOp.cmp, acc, d, bits);
    if (((acc ^ d) & maskOf(bits)) === 0) c.write(lin, src, bits);
    else {
      c.write(lin, d, bits);
      c.writeReg(accId, d);
    }
  };
}

const cmpxchg8b: Handler = (c, ins) => {
  const s = c.state;
  const lin = c.memLinear(ins, 8, true);
  c.mmu.probeWrite(lin, 8, userOf(c));
  const lo = c.read(lin, 32);
  const hi = c.read(lin + 4, 32);
  s.materializeFlags();
  if (lo === (s.regs[Reg.eax] ?? 0) && hi === (s.regs[Reg.edx] ?? 0)) {
    c.write(lin, s.regs[Reg.ebx] ?? 0, 32);
    c.write(lin + 4, s.regs[Reg.ecx] ?? 0, 32);
    s.flags |= Eflags.zf;
  } else {
    c.write(lin, lo, 32);
    c.write(lin + 4, hi, 32);
    s.regs[Reg.eax] = lo;
    s.regs[Reg.edx] = hi;
    s.flags &= ~Eflags.zf;
  }
};

// ---- Data movement --------------------------------------------------------------------------

function movH(bits: number): Handler {
  return (c, ins) => {
    const v = c.readOp(ins, 1, bits);
    c.writeOp0(ins, v, bits);
  };
}

function movxH(signed: boolean, dst: number, src: number): Handler {
  return (c, ins) => {
    let v = c.readOp(ins, 1, src);
    if (signed) v = src === 8 ? (v << 24) >> 24 : (v << 16) >> 16;
    c.writeReg(ins.reg0, dst === 16 ? v & 0xffff : v);
  };
}

function leaH(bits: number): Handler {
  return (c, ins) => {
    c.writeReg(ins.reg0, bits === 16 ? c.offset(ins) & 0xffff : c.offset(ins));
  };
}

function xchgH(bits: number): Handler {
  return (c, ins) => {
    const b = c.readReg(ins.reg1);
    if (ins.kind0 === OpKind.register) {
      const a = c.readReg(ins.reg0);
      c.writeReg(ins.reg0, b);
      c.writeReg(ins.reg1, a);
      return;
    }
    const lin = c.memLinear(ins, bits >> 3, true);
    c.mmu.probeWrite(lin, bits >> 3, userOf(c));
    const a = c.read(lin, bits);
    c.write(lin, b, bits);
    c.writeReg(ins.reg1, a);
  };
}

const movFromSreg: Handler = (c, ins) => {
  const v = c.state.segSel[ins.reg1 - Register.es] ?? 0;
  // To a 32-bit register the upper half is zeroed on P6-family processors; to memory, 16 bits.
  if (ins.kind0 === OpKind.register) c.writeReg(ins.reg0, v);
  else c.writeOp0(ins, v, 16);
};

const movToSreg: Handler = (c, ins) => {
  const v = ins.kind1 === OpKind.register ? c.readReg(ins.reg1) & 0xffff : c.readOp(ins, 1, 16);
  c.loadSegment(ins.reg0 - Register.es, v);
};

function farLoadH(seg: number, bits: number): Handler {
  return (c, ins) => {
    const lin = c.memLinear(ins, (bits >> 3) + 2, false);
    const off = c.read(lin, bits);
    const sel = c.read(lin + (bits >> 3), 16);
    c.loadSegment(seg, sel);
    c.writeReg(ins.reg0, off);
  };
}

const xlat: Handler = (c, ins) => {
  const s = c.state;
  const base = ins.addrBits === 16 ? (s.regs[Reg.ebx] ?? 0) & 0xffff : (s.regs[Reg.ebx] ?? 0);
  let off = base + c.readReg(Register.al);
  if (ins.addrBits === 16) off &= 0xffff;
  c.writeReg(Register.al, c.read(c.linear(ins.mSeg - Register.es, off, 1, false), 8));
};

function bswapH(bits: number): Handler {
  return (c, ins) => {
    // BSWAP of a 16-bit register is undefined; P6-family processors leave 0 (SDM note).
    c.writeReg(ins.reg0, bits === 32 ? bswap32(c.readReg(ins.reg0)) : 0);
  };
}

function setccH(cc: number): Handler {
  return (c, ins) => c.writeOp0(ins, c.state.condition(cc) ? 1 : 0, 8);
}

function cmovH(cc: number, bits: number): Handler {
  return (c, ins) => {
    // The source is read (and may fault) whether or not the condition holds.
    const v = c.readOp(ins, 1, bits);
    if (c.state.condition(cc)) c.writeReg(ins.reg0, v);
    else if (bits === 32) c.writeReg(ins.reg0, c.readReg(ins.reg0));
  };
}

// ---- Stack ----------------------------------------------------------------------------------

function pushH(bits: number): Handler {
  return (c, ins) => {
    let v: number;
    if (ins.kind0 === OpKind.register) {
      const r = ins.reg0;
      v = r >= Register.es && r <= Register.gs ? (c.state.segSel[r - Register.es] ?? 0) : c.readReg(r);
    } else v = c.readOp(ins, 0, bits);
    c.push(v, bits);
  };
}

function popH(bits: number): Handler {
  return (c, ins) => {
    const r = ins.reg0;
    if (ins.kind0 === OpKind.register && r >= Register.es && r <= Register.gs) {
      const v = c.peek(bits, 0);
      c.loadSegment(r - Register.es, v & 0xffff);
      c.adjustSp(bits >> 3);
      return;
    }
    const v = c.peek(bits, 0);
    if (ins.kind0 === OpKind.register) {
      c.adjustSp(bits >> 3);
      c.writeReg(r, v);
      return;
    }
    // POP to memory with an ESP-based address uses ESP after the pop (SDM vol. 2 "POP").
    const s = c.state;
    const sp = s.regs[Reg.esp] ?? 0;
    c.adjustSp(bits >> 3);
    try {
      c.writeOp0(ins, v, bits);
    } catch (e) {
      s.regs[Reg.esp] = sp;
      throw e;
    }
  };
}

function pushaH(bits: number): Handler {
  return (c) => {
    const s = c.state;
    const size = bits >> 3;
    const sp0 = s.regs[Reg.esp] ?? 0;
    const mask = s.stackBits === 32 ? -1 : 0xffff;
    const lin = c.linear(Seg.ss, (sp0 - size * 8) & mask, size * 8, true);
    c.mmu.probeWrite(lin, size * 8, userOf(c));
    for (let i = 0; i < 8; i++) {
      const v = i === Reg.esp ? sp0 : (s.regs[i] ?? 0);
      c.write(c.linear(Seg.ss, (sp0 - size * (i + 1)) & mask, size, true), v, bits);
    }
    s.regs[Reg.esp] = mask === -1 ? (sp0 - size * 8) | 0 : (sp0 & ~0xffff) | ((sp0 - size * 8) & 0xffff);
  };
}

function popaH(bits: number): Handler {
  return (c) => {
    const size = bits >> 3;
    const vals = POPA_TMP;
    for (let i = 0; i < 8; i++) vals[7 - i] = c.peek(bits, i * size);
    for (let i = 0; i < 8; i++) {
      if (i === Reg.esp) continue;
      c.writeReg((bits === 16 ? Register.ax : Register.eax) + i, vals[i] ?? 0);
    }
    c.adjustSp(size * 8);
  };
}
const POPA_TMP = new Int32Array(8);

function pushfH(bits: number): Handler {
  return (c) => {
    const s = c.state;
    if (s.flags & Eflags.vm && ((s.flags >>> 12) & 3) < 3) raise(Vector.gp, 0);
    c.push(s.getFlags() & ~(Eflags.vm | Eflags.rf), bits);
  };
}

/** Writes EFLAGS as POPF/IRET do at the current CPL and IOPL (SDM vol. 2 "POPF", table 4-15). */
export function writeFlagsChecked(c: Tier0, v: number, bits: number, iret: boolean): void {
  const s = c.state;
  const old = s.getFlags();
  let mask =
    Eflags.cf | Eflags.pf | Eflags.af | Eflags.zf | Eflags.sf | Eflags.tf | Eflags.df | Eflags.of | Eflags.nt;
  if (bits === 32) mask |= Eflags.ac | Eflags.id | (iret ? Eflags.rf : 0);
  const iopl = (old >>> 12) & 3;
  const pm = (s.cr0 & 1) !== 0;
  if (!pm || s.cpl === 0) mask |= Eflags.iopl | Eflags.if;
  else if (s.cpl <= iopl) mask |= Eflags.if;
  if (old & Eflags.vm) mask = (mask | Eflags.if) & ~Eflags.iopl;
  if (bits === 16) mask &= 0xffff;
  s.setFlags((old & ~mask) | (v & mask));
}

function popfH(bits: number): Handler {
  return (c) => {
    const s = c.state;
    if (s.flags & Eflags.vm && ((s.flags >>> 12) & 3) < 3) raise(Vector.gp, 0);
    const v = c.peek(bits, 0);
    c.adjustSp(bits >> 3);
    writeFlagsChecked(c, v, bits, false);
  };
}

function enterH(bits: number): Handler {
  return (c, ins) => {
    const s = c.state;
    const size = bits >> 3;
    const alloc = ins.immValue & 0xffff;
    const level = ins.immediate2 & 31;
    const stack32 = s.stackBits === 32;
    const mask = stack32 ? -1 : 0xffff;
    const sp0 = s.regs[Reg.esp] ?? 0;
    const bp0 = s.regs[Reg.ebp] ?? 0;
    let sp = sp0;
    const pushv = (v: number) => {
      sp = (sp - size) & mask;
      c.write(c.linear(Seg.ss, sp, size, true), v, bits);
    };
    pushv(bp0);
    const frame = sp;
    if (level > 0) {
      let bp = bp0;
      for (let i = 1; i < level; i++) {
        bp = (bp - size) & mask;
        pushv(c.read(c.linear(Seg.ss, bp, size, false), bits));
      }
      pushv(frame);
    }
    const newSp = (sp - alloc) & mask;
    // The final stack pointer must be addressable (SDM vol. 2 "ENTER": #SS if it is not).
    if (alloc > 0) c.linear(Seg.ss, newSp, 1, true);
    s.regs[Reg.esp] = stack32 ? newSp : (sp0 & ~0xffff) | newSp;
    if (bits === 16) s.regs[Reg.ebp] = (bp0 & ~0xffff) | (frame & 0xffff);
    else s.regs[Reg.ebp] = frame;
  };
}

function leaveH(bits: number): Handler {
  return (c) => {
    const s = c.state;
    const stack32 = s.stackBits === 32;
    const bp = s.regs[Reg.ebp] ?? 0;
    const sp = stack32 ? bp : bp & 0xffff;
    const v = c.read(c.linear(Seg.ss, sp, bits >> 3, false), bits);
    s.regs[Reg.esp] = stack32
      ? (sp + (bits >> 3)) | 0
      : ((s.regs[Reg.esp] ?? 0) & ~0xffff) | ((sp + (bits >> 3)) & 0xffff);
    c.writeReg(bits === 16 ? Register.bp : Register.ebp, v);
  };
}

// ---- Control flow ---------------------------------------------------------------------------

/** Near branch: checks the target against the CS limit (#GP(0) at the branch, SDM "JMP"). */
export function branch(c: Tier0, target: number, bits: number): void {
  const s = c.state;
  const t = bits === 16 ? target & 0xffff : target | 0;
  if (s.cr0 & 1 && t >>> 0 > (s.segLimit[Seg.cs] ?? 0)) raise(Vector.gp, 0);
  s.eip = t;
}

/**
 * Target of a relative branch. Cached instructions are keyed by physical address, so the
 * decoder's absolute target is turned back into a displacement from the current EIP.
 */
function relTarget(c: Tier0, ins: Decoded): number {
  return (c.state.eip + ins.branchRel) | 0;
}

function jmpRelH(): Handler {
  return (c, ins) => branch(c, relTarget(c, ins), ins.opBits);
}

function jccH(cc: number): Handler {
  return (c, ins) => {
    if (c.state.condition(cc)) branch(c, relTarget(c, ins), ins.opBits);
  };
}

function callRelH(bits: number): Handler {
  return (c, ins) => {
    const s = c.state;
    const target = relTarget(c, ins);
    const t = bits === 16 ? target & 0xffff : target | 0;
    if (s.cr0 & 1 && t >>> 0 > (s.segLimit[Seg.cs] ?? 0)) raise(Vector.gp, 0);
    c.push(s.eip, bits);
    s.eip = t;
  };
}

function jmpIndH(bits: number): Handler {
  return (c, ins) => branch(c, c.readOp(ins, 0, bits), bits);
}

function callIndH(bits: number): Handler {
  return (c, ins) => {
    const s = c.state;
    const t = c.readOp(ins, 0, bits);
    const tt = bits === 16 ? t & 0xffff : t;
    if (s.cr0 & 1 && tt >>> 0 > (s.segLimit[Seg.cs] ?? 0)) raise(Vector.gp, 0);
    c.push(s.eip, bits);
    s.eip = tt;
  };
}

function retH(bits: number, imm: boolean): Handler {
  return (c, ins) => {
    const t = c.peek(bits, 0);
    branch(c, t, bits);
    c.adjustSp((bits >> 3) + (imm ? ins.immValue & 0xffff : 0));
  };
}

function farJump(c: Tier0, sel: number, off: number, bits: number): void {
  const s = c.state;
  const target = bits === 16 ? off & 0xffff : off;
  if ((s.cr0 & 1) === 0 || s.flags & Eflags.vm) {
    s.segSel[Seg.cs] = sel & 0xffff;
    s.segBase[Seg.cs] = (sel & 0xffff) << 4;
    s.eip = target;
    return;
  }
  // Direct, through a call gate, or a task switch, by the rings package's rules (SDM vol. 3
  // §5.8, §7.3).
  const t = farTransferOrTask(c.tables, s.cpl, sel & 0xffff, target >>> 0, 'jmp');
  if (!t.ok) raise(t.fault.vector, t.fault.errorCode);
  if (t.kind === 'task') {
    switchTask(c, 'jmp', t, s.eip);
    c.deliverTaskTrap();
    return;
  }
  c.desc[0] = t.code.lo | 0;
  c.desc[1] = t.code.hi | 0;
  c.commitCodeSegment(t.selector, t.newCpl);
  s.eip = t.gate !== null && !t.gate.is32 ? t.offset & 0xffff : t.offset | 0;
}

function jmpFarH(bits: number, mem: boolean): Handler {
  return (c, ins) => {
    if (!mem) {
      farJump(c, ins.farSelector, ins.farOffset, bits);
      return;
    }
    const lin = c.memLinear(ins, (bits >> 3) + 2, false);
    const off = c.read(lin, bits);
    farJump(c, c.read(lin + (bits >> 3), 16), off, bits);
  };
}

const GATE_PARAMS = new Int32Array(32);

function callFarH(bits: number, mem: boolean): Handler {
  return (c, ins) => {
    const s = c.state;
    let sel: number;
    let off: number;
    if (mem) {
      const lin = c.memLinear(ins, (bits >> 3) + 2, false);
      off = c.read(lin, bits);
      sel = c.read(lin + (bits >> 3), 16);
    } else {
      sel = ins.farSelector;
      off = ins.farOffset;
    }
    const cs = s.segSel[Seg.cs] ?? 0;
    const eip = s.eip;
    const sp0 = s.regs[Reg.esp] ?? 0;
    if ((s.cr0 & 1) === 0 || s.flags & Eflags.vm) {
      c.push(cs, bits);
      try {
        c.push(eip, bits);
      } catch (e) {
        s.regs[Reg.esp] = sp0;
        throw e;
      }
      s.segSel[Seg.cs] = sel & 0xffff;
      s.segBase[Seg.cs] = (sel & 0xffff) << 4;
      s.eip = bits === 16 ? off & 0xffff : off;
      return;
    }
    // Check the destination first (a bad selector faults before the stack changes).
    const target = bits === 16 ? off & 0xffff : off >>> 0;
    const t = farTransferOrTask(c.tables, s.cpl, sel & 0xffff, target, 'call');
    if (!t.ok) raise(t.fault.vector, t.fault.errorCode);
    if (t.kind === 'task') {
      // A nested task (SDM vol. 3 §7.3, §7.4): nothing is pushed; the new TSS links back to this one.
      switchTask(c, 'call', t, eip);
      c.deliverTaskTrap();
      return;
    }
    const size = t.gate !== null ? (t.gate.is32 ? 32 : 16) : bits;
    const ss = s.segSel[Seg.ss] ?? 0;
    const ssBase = s.segBase[Seg.ss] ?? 0;
    const ssLimit = s.segLimit[Seg.ss] ?? 0;
    const ssAccess = s.segAccess[Seg.ss] ?? 0;
    const cpl = s.cpl;
    try {
      if (t.stackSwitch) {
        // Inner-level call gate (SDM vol. 3 §5.8.5): new stack from the TSS, then the caller's
        // SS:ESP, the parameters copied from the caller's stack, CS and EIP.
        const n = t.paramCount & 31;
        for (let i = 0; i < n; i++) GATE_PARAMS[i] = c.peek(size, i * (size >> 3));
        c.switchToInnerStack(t.newCpl, 0);
        c.push(ss, size);
        c.push(sp0, size);
        for (let i = n - 1; i >= 0; i--) c.push(GATE_PARAMS[i] ?? 0, size);
      }
      c.push(cs, size);
      c.push(eip, size);
    } catch (e) {
      s.segSel[Seg.ss] = ss;
      s.segBase[Seg.ss] = ssBase;
      s.segLimit[Seg.ss] = ssLimit;
      s.segAccess[Seg.ss] = ssAccess;
      s.cpl = cpl;
      s.regs[Reg.esp] = sp0;
      throw e;
    }
    c.desc[0] = t.code.lo | 0;
    c.desc[1] = t.code.hi | 0;
    c.commitCodeSegment(t.selector, t.newCpl);
    s.eip = size === 16 ? t.offset & 0xffff : t.offset | 0;
  };
}

function retfH(bits: number, imm: boolean): Handler {
  return (c, ins) => {
    const s = c.state;
    const size = bits >> 3;
    const off = c.peek(bits, 0);
    const sel = c.peek(bits, size) & 0xffff;
    const extra = imm ? ins.immValue & 0xffff : 0;
    if ((s.cr0 & 1) === 0 || s.flags & Eflags.vm) {
      c.adjustSp(size * 2 + extra);
      s.segSel[Seg.cs] = sel;
      s.segBase[Seg.cs] = sel << 4;
      s.eip = bits === 16 ? off & 0xffff : off;
      return;
    }
    const newCpl = c.loadCodeSegment(sel, true);
    const d0 = c.desc[0] ?? 0;
    const d1 = c.desc[1] ?? 0;
    if (newCpl > s.cpl) {
      const newSp = c.peek(bits, size * 2 + extra);
      const newSs = c.peek(bits, size * 3 + extra) & 0xffff;
      const oldCpl = s.cpl;
      s.cpl = newCpl;
      try {
        c.loadSegment(Seg.ss, newSs);
      } catch (e) {
        s.cpl = oldCpl;
        throw e;
      }
      c.desc[0] = d0;
      c.desc[1] = d1;
      c.commitCodeSegment(sel, newCpl);
      s.regs[Reg.esp] = bits === 16 ? ((s.regs[Reg.esp] ?? 0) & ~0xffff) | (newSp & 0xffff) : newSp;
      c.adjustSp(extra);
      c.nullInaccessibleSegments();
    } else {
      c.commitCodeSegment(sel, newCpl);
      c.adjustSp(size * 2 + extra);
    }
    s.eip = bits === 16 ? off & 0xffff : off;
  };
}

function iretH(bits: number): Handler {
  return (c) => {
    const s = c.state;
    if (s.cr0 & 1 && (s.flags & (Eflags.vm | Eflags.nt)) === Eflags.nt) {
      // Task return (SDM vol. 2A IRET "TASK-RETURN", vol. 3 §7.4): nothing is popped; the
      // back-link of the current TSS names the task to resume.
      const t = taskReturnTarget(c.tables, s.tr);
      if (!t.ok) raise(t.fault.vector, t.fault.errorCode);
      switchTask(c, 'iret', t, s.eip);
      c.deliverTaskTrap();
      return;
    }
    const size = bits >> 3;
    const off = c.peek(bits, 0);
    const sel = c.peek(bits, size) & 0xffff;
    const fl = c.peek(bits, size * 2);
    if ((s.cr0 & 1) === 0) {
      c.adjustSp(size * 3);
      s.segSel[Seg.cs] = sel;
      s.segBase[Seg.cs] = sel << 4;
      s.eip = bits === 16 ? off & 0xffff : off;
      writeFlagsChecked(c, fl, bits, true);
      return;
    }
    if (s.flags & Eflags.vm) {
      if (((s.flags >>> 12) & 3) < 3) raise(Vector.gp, 0);
      c.adjustSp(size * 3);
      s.segSel[Seg.cs] = sel;
      s.segBase[Seg.cs] = sel << 4;
      s.eip = bits === 16 ? off & 0xffff : off;
      writeFlagsChecked(c, fl, bits, true);
      return;
    }
    if (bits === 32 && fl & Eflags.vm && s.cpl === 0) {
      // Return to virtual-8086 mode (SDM vol. 3 §20.3.1.3).
      const esp = c.peek(32, 12);
      const ss = c.peek(32, 16);
      const es = c.peek(32, 20);
      const ds = c.peek(32, 24);
      const fs = c.peek(32, 28);
      const gs = c.peek(32, 32);
      s.setFlags(fl);
      s.cpl = 3;
      const segs = [es, sel, ss, ds, fs, gs];
      for (let i = 0; i < 6; i++) c.loadSegment(i, (segs[i] ?? 0) & 0xffff);
      s.regs[Reg.esp] = esp;
      s.eip = off & 0xffff;
      return;
    }
    const newCpl = c.loadCodeSegment(sel, true);
    const d0 = c.desc[0] ?? 0;
    const d1 = c.desc[1] ?? 0;
    const oldCpl = s.cpl;
    if (newCpl > oldCpl) {
      const newSp = c.peek(bits, size * 3);
      const newSs = c.peek(bits, size * 4) & 0xffff;
      s.cpl = newCpl;
      try {
        c.loadSegment(Seg.ss, newSs);
      } catch (e) {
        s.cpl = oldCpl;
        throw e;
      }
      s.cpl = oldCpl;
      writeFlagsChecked(c, fl, bits, true);
      c.desc[0] = d0;
      c.desc[1] = d1;
      c.commitCodeSegment(sel, newCpl);
      s.regs[Reg.esp] = bits === 16 ? ((s.regs[Reg.esp] ?? 0) & ~0xffff) | (newSp & 0xffff) : newSp;
      c.nullInaccessibleSegments();
    } else {
      writeFlagsChecked(c, fl, bits, true);
      c.commitCodeSegment(sel, newCpl);
      c.adjustSp(size * 3);
    }
    s.eip = bits === 16 ? off & 0xffff : off;
  };
}

function loopH(kind: number): Handler {
  // kind: 0 loopne, 1 loope, 2 loop, 3 jcxz
  return (c, ins) => {
    const s = c.state;
    const a16 = ins.addrBits === 16;
    let cx = s.regs[Reg.ecx] ?? 0;
    if (kind === 3) {
      if ((a16 ? cx & 0xffff : cx) === 0) branch(c, relTarget(c, ins), ins.opBits);
      return;
    }
    const next = a16 ? (cx & ~0xffff) | ((cx - 1) & 0xffff) : (cx - 1) | 0;
    let take = (a16 ? next & 0xffff : next) !== 0;
    if (kind === 0) take = take && s.getZF() === 0;
    else if (kind === 1) take = take && s.getZF() !== 0;
    if (take) branch(c, relTarget(c, ins), ins.opBits);
    cx = next;
    s.regs[Reg.ecx] = cx;
  };
}

// ---- Flags and BCD (SDM pseudo-code; these do not exist in 64-bit mode) ---------------------

function flagOp(f: (c: Tier0) => void): Handler {
  return (c) => {
    c.state.materializeFlags();
    f(c);
  };
}

const daa: Handler = (c) => {
  const s = c.state;
  const oldAl = c.readReg(Register.al);
  const oldCf = s.getCF();
  const af = s.getAF();
  let al = oldAl;
  let cf = 0;
  let newAf = 0;
  if ((al & 0xf) > 9 || af) {
    al = (al + 6) & 0xff;
    cf = oldCf | (oldAl + 6 > 0xff ? 1 : 0);
    newAf = 1;
  }
  if (oldAl > 0x99 || oldCf) {
    al = (al + 0x60) & 0xff;
    cf = 1;
  }
  c.writeReg(Register.al, al);
  setStatus(s, cf, 0, al, 8, newAf);
};

const das: Handler = (c) => {
  const s = c.state;
  const oldAl = c.readReg(Register.al);
  const oldCf = s.getCF();
  const af = s.getAF();
  let al = oldAl;
  let cf = 0;
  let newAf = 0;
  if ((al & 0xf) > 9 || af) {
    cf = oldCf | (al < 6 ? 1 : 0);
    al = (al - 6) & 0xff;
    newAf = 1;
  }
  if (oldAl > 0x99 || oldCf) {
    al = (al - 0x60) & 0xff;
    cf = 1;
  }
  c.writeReg(Register.al, al);
  setStatus(s, cf, 0, al, 8, newAf);
};

function aaaAas(sub: boolean): Handler {
  return (c) => {
    const s = c.state;
    let ax = c.readReg(Register.ax);
    let adj = 0;
    if ((ax & 0xf) > 9 || s.getAF()) {
      // SDM vol. 2 "AAS": AX ← AX − 6 (the borrow from AL reaches AH), then AH ← AH − 1.
      ax = sub ? (ax - 6 - 0x100) & 0xffff : (ax + 0x106) & 0xffff;
      adj = 1;
    }
    ax &= 0xff0f;
    c.writeReg(Register.ax, ax);
    setStatus(s, adj, 0, ax, 8, adj);
  };
}

const aam: Handler = (c, ins) => {
  const base = ins.immValue & 0xff;
  if (base === 0) raise(Vector.de);
  const al = c.readReg(Register.al);
  const r = al % base;
  c.writeReg(Register.ax, (Math.floor(al / base) << 8) | r);
  setStatus(c.state, 0, 0, r, 8);
};

const aad: Handler = (c, ins) => {
  const base = ins.immValue & 0xff;
  const ax = c.readReg(Register.ax);
  const al = ((ax & 0xff) + (ax >> 8) * base) & 0xff;
  c.writeReg(Register.ax, al);
  setStatus(c.state, 0, 0, al, 8);
};

// ---- String instructions --------------------------------------------------------------------

const STRING_BURST = 4096;
const StrOp = { movs: 0, cmps: 1, stos: 2, lods: 3, scas: 4, ins: 5, outs: 6 } as const;

/**
 * REP MOVS/STOS forward through flat segments in protected mode, a run of elements at a time:
 * the elements up to the next page end of the destination (and source), the remaining count or
 * the burst limit, whichever comes first. Each run is translated once — in the element loop's
 * order, source before destination, so a #PF is the one its first element raises — and done as
 * one copy or fill when both sides are RAM, the destination holds no cached code and a copy
 * would not read bytes it has already written (the element loop's result for a destination just
 * above the source differs from a block move). Returns the elements done (0: take one element
 * the slow way); the registers and the retired count move as the element loop moves them.
 */
function repRun(c: Tier0, op: number, size: number, srcSeg: number, left: number): number {
  const s = c.state;
  const regs = s.regs;
  const di = regs[Reg.edi] ?? 0;
  const si = regs[Reg.esi] ?? 0;
  let k = Math.min(left, ((4096 - (di & 4095)) / size) | 0);
  if (op === StrOp.movs) k = Math.min(k, ((4096 - (si & 4095)) / size) | 0);
  // Runs that wrap around 4 GiB go the slow way.
  if (k < 2 || (di >>> 0) + k * size > 0x1_0000_0000 || (si >>> 0) + k * size > 0x1_0000_0000) return 0;
  if (!isFlatDataSegment(s, Seg.es, true) || (op === StrOp.movs && !isFlatDataSegment(s, srcSeg, false)))
    return 0;
  const mmu = c.mmu;
  const ram = mmu.ram;
  const u = s.cpl === 3;
  const bytes = k * size;
  const ps = op === StrOp.movs ? mmu.translate(si, false, u) : 0;
  const pd = mmu.translate(di, true, u);
  if (pd + bytes > ram.length || mmu.codePages[pd >>> 12] !== 0) return 0;
  if (op === StrOp.movs) {
    if (ps + bytes > ram.length || (pd > ps && pd < ps + bytes)) return 0;
    ram.copyWithin(pd, ps, ps + bytes);
    regs[Reg.esi] = (si + bytes) | 0;
  } else {
    const v = regs[Reg.eax] ?? 0;
    if (size === 1) ram.fill(v & 0xff, pd, pd + bytes);
    else if (size === 4 && (pd & 3) === 0 && (pd + bytes) >>> 2 <= mmu.ram32.length)
      mmu.ram32.fill(v, pd >>> 2, (pd + bytes) >>> 2);
    else for (let i = 0; i < bytes; i++) ram[pd + i] = v >>> ((i % size) * 8);
  }
  regs[Reg.edi] = (di + bytes) | 0;
  regs[Reg.ecx] = ((regs[Reg.ecx] ?? 0) - k) | 0;
  c.instructions += k;
  return k;
}

function stringH(op: number, bits: number): Handler {
  const size = bits >> 3;
  return (c, ins) => {
    const s = c.state;
    const a16 = ins.addrBits === 16;
    const amask = a16 ? 0xffff : -1;
    const rep = (ins.prefixes & (PrefixBit.rep | PrefixBit.repne)) !== 0;
    const repne = (ins.prefixes & PrefixBit.repne) !== 0;
    const srcSeg = ins.mSeg !== 0 ? ins.mSeg - Register.es : Seg.ds;
    const step = s.flags & Eflags.df ? -size : size;
    const regs = s.regs;
    const port = c.readReg(Register.dx);
    if (op === StrOp.ins || op === StrOp.outs) c.checkIo(port, size);
    let n = 0;
    const runs =
      rep &&
      !a16 &&
      step > 0 &&
      (op === StrOp.movs || op === StrOp.stos) &&
      (s.cr0 & 1) !== 0 &&
      (s.flags & Eflags.vm) === 0;
    for (;;) {
      if (rep) {
        const cx = regs[Reg.ecx] ?? 0;
        if ((a16 ? cx & 0xffff : cx) === 0) break;
        if (n === STRING_BURST) {
          // Let interrupts in: re-execute the instruction with the registers as they are now.
          s.eip = c.startEip;
          break;
        }
        if (runs) {
          const done = repRun(c, op, size, srcSeg, Math.min(cx >>> 0, STRING_BURST - n));
          if (done > 0) {
            n += done;
            continue;
          }
        }
      }
      const si = (regs[Reg.esi] ?? 0) & amask;
      const di = (regs[Reg.edi] ?? 0) & amask;
      let updSi = false;
      let updDi = false;
      switch (op) {
        case StrOp.movs: {
          const v = c.read(c.linear(srcSeg, si, size, false), bits);
          c.write(c.linear(Seg.es, di, size, true), v, bits);
          updSi = updDi = true;
          break;
        }
        case StrOp.cmps: {
          const a = c.read(c.linear(srcSeg, si, size, false), bits);
          const b = c.read(c.linear(Seg.es, di, size, false), bits);
          alu(s, AluOp.cmp, a, b, bits);
          updSi = updDi = true;
          break;
        }
        case StrOp.stos:
          c.write(c.linear(Seg.es, di, size, true), regs[Reg.eax] ?? 0, bits);
          updDi = true;
          break;
        case StrOp.lods: {
          const v = c.read(c.linear(srcSeg, si, size, false), bits);
          c.writeReg(bits === 8 ? Register.al : bits === 16 ? Register.ax : Register.eax, v);
          updSi = true;
          break;
        }
        case StrOp.scas: {
          const b = c.read(c.linear(Seg.es, di, size, false), bits);
          alu(s, AluOp.cmp, regs[Reg.eax] ?? 0, b, bits);
          updDi = true;
          break;
        }
        case StrOp.ins: {
          const lin = c.linear(Seg.es, di, size, true);
          c.mmu.probeWrite(lin, size, userOf(c));
          c.write(lin, c.callouts.ioRead(port, size as 1 | 2 | 4), bits);
          updDi = true;
          break;
        }
        default: {
          const v = c.read(c.linear(srcSeg, si, size, false), bits);
          c.callouts.ioWrite(port, size as 1 | 2 | 4, v & maskOf(bits));
          updSi = true;
          break;
        }
      }
      if (updSi)
        regs[Reg.esi] = a16 ? ((regs[Reg.esi] ?? 0) & ~0xffff) | ((si + step) & 0xffff) : (si + step) | 0;
      if (updDi)
        regs[Reg.edi] = a16 ? ((regs[Reg.edi] ?? 0) & ~0xffff) | ((di + step) & 0xffff) : (di + step) | 0;
      if (!rep) return;
      const cx = regs[Reg.ecx] ?? 0;
      regs[Reg.ecx] = a16 ? (cx & ~0xffff) | ((cx - 1) & 0xffff) : (cx - 1) | 0;
      n++;
      c.instructions++;
      if (op === StrOp.cmps || op === StrOp.scas) {
        const zf = s.getZF() !== 0;
        if (repne ? zf : !zf) break;
      }
    }
    if (n > 0) c.instructions--;
  };
}

// ---- Port I/O and system --------------------------------------------------------------------

function inH(bits: number): Handler {
  return (c, ins) => {
    const port = ins.kind1 === OpKind.immediate ? ins.immValue & 0xff : c.readReg(Register.dx);
    const size = (bits >> 3) as 1 | 2 | 4;
    c.checkIo(port, size);
    c.writeReg(ins.reg0, c.callouts.ioRead(port, size));
  };
}

function outH(bits: number): Handler {
  return (c, ins) => {
    const port = ins.kind0 === OpKind.immediate ? ins.immValue & 0xff : c.readReg(Register.dx);
    const size = (bits >> 3) as 1 | 2 | 4;
    c.checkIo(port, size);
    c.callouts.ioWrite(port, size, c.readReg(ins.reg1) & maskOf(bits));
  };
}

const cpuid: Handler = (c) => {
  const s = c.state;
  const out = c.cpuidOut;
  c.callouts.cpuid(s.regs[Reg.eax] ?? 0, s.regs[Reg.ecx] ?? 0, out);
  s.regs[Reg.eax] = out[0] ?? 0;
  s.regs[Reg.ebx] = out[1] ?? 0;
  s.regs[Reg.ecx] = out[2] ?? 0;
  s.regs[Reg.edx] = out[3] ?? 0;
};

const rdtsc: Handler = (c) => {
  const s = c.state;
  if (s.cr4 & 4 && s.cpl !== 0 && s.cr0 & 1) raise(Vector.gp, 0);
  // The bare machine's counter is `state.tsc`; a hypervisor's callout keeps its own time.
  if (c.tscInState) c.syncTsc();
  const t = c.callouts.rdtsc(s);
  if (typeof t === 'number' && Number.isSafeInteger(t) && t >= 0) {
    s.regs[Reg.eax] = (t % 0x1_0000_0000) | 0;
    s.regs[Reg.edx] = Math.floor(t / 0x1_0000_0000) | 0;
    return;
  }
  const b = BigInt.asUintN(64, BigInt(typeof t === 'number' ? Math.trunc(t) : t));
  s.regs[Reg.eax] = Number(BigInt.asIntN(32, b));
  s.regs[Reg.edx] = Number(BigInt.asIntN(32, b >> 32n));
};

/** RDPMC (P6): #GP(0) unless CPL 0 or CR4.PCE; counters read as 0 (none are modelled). */
const rdpmc: Handler = (c) => {
  const s = c.state;
  if (s.cr0 & 1 && s.cpl !== 0 && (s.cr4 & 0x100) === 0) raise(Vector.gp, 0);
  if ((s.regs[Reg.ecx] ?? 0) >>> 0 > 1) raise(Vector.gp, 0);
  s.regs[Reg.eax] = 0;
  s.regs[Reg.edx] = 0;
};

const rdmsr: Handler = (c) => {
  const s = c.state;
  c.syncTsc();
  const v = c.callouts.rdmsr((s.regs[Reg.ecx] ?? 0) >>> 0, s);
  if (v === undefined) raise(Vector.gp, 0);
  s.regs[Reg.eax] = Number(BigInt.asIntN(32, v));
  s.regs[Reg.edx] = Number(BigInt.asIntN(32, v >> 32n));
};

const wrmsr: Handler = (c) => {
  const s = c.state;
  c.syncTsc();
  const v = (BigInt((s.regs[Reg.edx] ?? 0) >>> 0) << 32n) | BigInt((s.regs[Reg.eax] ?? 0) >>> 0);
  if (!c.callouts.wrmsr((s.regs[Reg.ecx] ?? 0) >>> 0, v, s)) raise(Vector.gp, 0);
};

const hlt: Handler = (c) => {
  c.state.halted = true;
  c.callouts.hlt(c.state);
  c.endRun(1);
};

const movFromCr: Handler = (c, ins) => {
  const s = c.state;
  const n = ins.reg1 - Register.cr0;
  const v = n === 0 ? s.cr0 : n === 2 ? s.cr2 : n === 3 ? s.cr3 : n === 4 ? s.cr4 : raise(Vector.ud);
  c.writeReg(ins.reg0, v);
};

/** Writes a control register with the checks of SDM vol. 2 "MOV—Move to/from Control Registers". */
export function writeCr(c: Tier0, n: number, v: number): void {
  const s = c.state;
  if (n === 0) {
    if ((v & 0x80000000) !== 0 && (v & 1) === 0) raise(Vector.gp, 0);
    if ((v & 0x20000000) !== 0 && (v & 0x40000000) === 0) raise(Vector.gp, 0);
  } else if (n === 4) {
    if (v & ~0x7ff) raise(Vector.gp, 0);
  } else if (n !== 2 && n !== 3) raise(Vector.ud);
  if (!c.callouts.writeCr(n, v, s)) raise(Vector.gp, 0);
  if (n === 0) {
    const changed = (s.cr0 ^ v) & 0x80010001;
    s.cr0 = v | 0x10;
    if (changed) c.mmu.flush();
  } else if (n === 2) s.cr2 = v;
  else if (n === 3) {
    s.cr3 = v;
    c.mmu.flush();
  } else {
    if ((s.cr4 ^ v) & 0xb0) c.mmu.flush();
    s.cr4 = v;
  }
}

const movToCr: Handler = (c, ins) => writeCr(c, ins.reg0 - Register.cr0, c.readReg(ins.reg1));

/**
 * DR7.GD: a MOV to or from a debug register raises #DB (a fault) before it runs, with DR6.BD set
 * and GD cleared so the handler can use the registers (SDM vol. 3 §17.2.4).
 */
function generalDetect(c: Tier0): void {
  const s = c.state;
  if (((s.dr[7] ?? 0) & 0x2000) === 0) return;
  s.dr[6] = (s.dr[6] ?? 0) | 0x2000;
  s.dr[7] = (s.dr[7] ?? 0) & ~0x2000;
  raise(Vector.db);
}

const movFromDr: Handler = (c, ins) => {
  const s = c.state;
  generalDetect(c);
  let n = ins.reg1 - Register.dr0;
  if (n === 4 || n === 5) {
    if (s.cr4 & 8) raise(Vector.ud);
    n += 2;
  }
  if (n > 7) raise(Vector.ud);
  c.writeReg(ins.reg0, s.dr[n] ?? 0);
};

const movToDr: Handler = (c, ins) => {
  const s = c.state;
  generalDetect(c);
  let n = ins.reg0 - Register.dr0;
  if (n === 4 || n === 5) {
    if (s.cr4 & 8) raise(Vector.ud);
    n += 2;
  }
  if (n > 7) raise(Vector.ud);
  const v = c.readReg(ins.reg1);
  s.dr[n] = n === 6 ? (v & 0xe00f) | 0xffff0ff0 : n === 7 ? (v & 0xffff2bff) | 0x400 : v;
};

function descTableStore(idt: boolean): Handler {
  return (c, ins) => {
    const s = c.state;
    const lin = c.memLinear(ins, 6, true);
    c.mmu.probeWrite(lin, 6, userOf(c));
    c.write(lin, idt ? s.idtrLimit : s.gdtrLimit, 16);
    const base = idt ? s.idtrBase : s.gdtrBase;
    c.write(lin + 2, ins.opBits === 16 ? base & 0xffffff : base, 32);
  };
}

function descTableLoad(idt: boolean): Handler {
  return (c, ins) => {
    const s = c.state;
    const lin = c.memLinear(ins, 6, false);
    const limit = c.read(lin, 16);
    let base = c.read(lin + 2, 32);
    if (ins.opBits === 16) base &= 0xffffff;
    if (idt) {
      s.idtrLimit = limit;
      s.idtrBase = base;
    } else {
      s.gdtrLimit = limit;
      s.gdtrBase = base;
    }
  };
}

function requireProtected(c: Tier0): void {
  const s = c.state;
  if ((s.cr0 & 1) === 0 || s.flags & Eflags.vm) raise(Vector.ud);
}

const sldt: Handler = (c, ins) => {
  requireProtected(c);
  c.writeOp0(ins, c.state.ldtr.selector, ins.kind0 === OpKind.register ? 32 : 16);
};

const str: Handler = (c, ins) => {
  requireProtected(c);
  c.writeOp0(ins, c.state.tr.selector, ins.kind0 === OpKind.register ? 32 : 16);
};

const lldt: Handler = (c, ins) => {
  requireProtected(c);
  const s = c.state;
  const sel = c.readOp(ins, 0, 16) & 0xffff;
  if ((sel & 0xfffc) === 0) {
    s.ldtr.selector = sel;
    s.ldtr.access = 0;
    s.ldtr.base = 0;
    s.ldtr.limit = 0;
    return;
  }
  if (sel & 4) raise(Vector.gp, sel & 0xfffc);
  c.readDescriptor(sel, Vector.gp);
  const hi = c.desc[1] ?? 0;
  const lo = c.desc[0] ?? 0;
  if (((hi >>> 8) & 0x1f) !== 0x02) raise(Vector.gp, sel & 0xfffc);
  if ((hi & 0x8000) === 0) raise(Vector.np, sel & 0xfffc);
  let limit = (lo & 0xffff) | (hi & 0xf0000);
  if (hi & 0x800000) limit = ((limit << 12) | 0xfff) >>> 0;
  s.ldtr.selector = sel;
  s.ldtr.base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
  s.ldtr.limit = limit;
  s.ldtr.access = ((hi >>> 8) & 0xff) | ((hi >>> 8) & 0xf000);
};

/**
 * LTR (SDM vol. 2A "LTR"), by the rings package's rule: a null selector is #GP(0); TI = 1, beyond
 * the GDT or not an available 16- or 32-bit TSS #GP(selector); not present #NP(selector). The
 * descriptor is marked busy in the GDT before TR is loaded; no task switch happens.
 */
const ltr: Handler = (c, ins) => {
  requireProtected(c);
  const s = c.state;
  const sel = c.readOp(ins, 0, 16) & 0xffff;
  const r = loadTaskRegister(c.tables, sel);
  if (!r.ok) raise(r.fault.vector, r.fault.errorCode);
  c.mmu.write32(r.write.linear | 0, r.write.value | 0, false);
  const d = r.descriptor;
  s.tr.selector = sel;
  s.tr.base = d.base >>> 0;
  s.tr.limit = d.limit >>> 0;
  s.tr.access = ((d.hi >>> 8) & 0xff) | ((d.hi >>> 8) & 0xf000);
};

const smsw: Handler = (c, ins) => {
  const v = c.state.cr0;
  if (ins.kind0 === OpKind.register) c.writeReg(ins.reg0, ins.opBits === 16 ? v & 0xffff : v);
  else c.writeOp0(ins, v, 16);
};

const lmsw: Handler = (c, ins) => {
  const s = c.state;
  const v = c.readOp(ins, 0, 16);
  // LMSW cannot clear PE (SDM vol. 2 "LMSW").
  writeCr(c, 0, (s.cr0 & ~0xe) | (v & 0xf) | (s.cr0 & 1));
};

const clts: Handler = (c) => {
  c.state.cr0 &= ~8;
};

const invlpg: Handler = (c, ins) => {
  const lin = (c.state.segBase[ins.mSeg - Register.es] ?? 0) + c.offset(ins);
  c.mmu.invalidate(lin);
  c.callouts.invlpg(lin | 0, c.state);
};

/** LAR/LSL/VERR/VERW: read a descriptor without faulting on it (SDM vol. 2 "LAR", "LSL", "VERR"). */
function descriptorProbe(c: Tier0, sel: number): number {
  requireProtected(c);
  const s = c.state;
  if ((sel & 0xfffc) === 0) return -1;
  const ti = sel & 4;
  const limit = ti ? s.ldtr.limit : s.gdtrLimit;
  if (ti && (s.ldtr.access & 0x80) === 0) return -1;
  if ((sel & 0xfff8) + 7 > limit) return -1;
  c.readDescriptor(sel, Vector.gp);
  const hi = c.desc[1] ?? 0;
  const dpl = (hi >>> 13) & 3;
  const type = (hi >>> 8) & 0x1f;
  const conformingCode = (type & 0x1c) === 0x1c;
  if (!conformingCode && (dpl < s.cpl || dpl < (sel & 3))) return -1;
  return type;
}

function setZf(c: Tier0, on: boolean): void {
  const s = c.state;
  s.materializeFlags();
  s.flags = on ? s.flags | Eflags.zf : s.flags & ~Eflags.zf;
}

const LSL_TYPES: readonly number[] = [1, 2, 3, 9, 11];
const LAR_TYPES: readonly number[] = [1, 2, 3, 4, 5, 9, 11, 12];

function larLslH(lsl: boolean, bits: number): Handler {
  return (c, ins) => {
    const sel = c.readOp(ins, 1, 16) & 0xffff;
    const type = descriptorProbe(c, sel);
    // System types valid for LAR: TSS, LDT, call/task gates; for LSL: TSS and LDT only.
    const okSys = lsl ? LSL_TYPES : LAR_TYPES;
    if (type < 0 || ((type & 0x10) === 0 && !okSys.includes(type))) {
      setZf(c, false);
      return;
    }
    const hi = c.desc[1] ?? 0;
    const lo = c.desc[0] ?? 0;
    let v: number;
    if (lsl) {
      v = (lo & 0xffff) | (hi & 0xf0000);
      if (hi & 0x800000) v = ((v << 12) | 0xfff) >>> 0;
    } else v = hi & 0x00f0ff00;
    c.writeReg(ins.reg0, bits === 16 ? v & 0xffff : v);
    setZf(c, true);
  };
}

function verH(write: boolean): Handler {
  return (c, ins) => {
    const sel = c.readOp(ins, 0, 16) & 0xffff;
    const type = descriptorProbe(c, sel);
    let ok = type >= 0 && (type & 0x10) !== 0;
    if (ok) ok = write ? (type & 0x0a) === 0x02 : (type & 0x0a) !== 0x08;
    setZf(c, ok);
  };
}

const arpl: Handler = (c, ins) => {
  requireProtected(c);
  const dst = c.readOp(ins, 0, 16);
  const src = c.readReg(ins.reg1);
  if ((dst & 3) < (src & 3)) {
    c.writeOp0(ins, (dst & ~3) | (src & 3), 16);
    setZf(c, true);
  } else setZf(c, false);
};

function boundH(bits: number): Handler {
  return (c, ins) => {
    const lin = c.memLinear(ins, (bits >> 3) * 2, false);
    const sx = (v: number) => (bits === 16 ? (v << 16) >> 16 : v | 0);
    const lo = sx(c.read(lin, bits));
    const hi = sx(c.read(lin + (bits >> 3), bits));
    const idx = sx(c.readReg(ins.reg0));
    if (idx < lo || idx > hi) raise(Vector.br);
  };
}

const sysenter: Handler = (c) => {
  const s = c.state;
  if ((s.cr0 & 1) === 0 || (s.sysenterCs & 0xfffc) === 0) raise(Vector.gp, 0);
  const cs = s.sysenterCs & 0xfffc;
  s.setFlags(s.getFlags() & ~(Eflags.vm | Eflags.if | Eflags.rf));
  s.segSel[Seg.cs] = cs;
  s.segBase[Seg.cs] = 0;
  s.segLimit[Seg.cs] = 0xffffffff;
  s.segAccess[Seg.cs] = 0xc09b;
  s.segSel[Seg.ss] = cs + 8;
  s.segBase[Seg.ss] = 0;
  s.segLimit[Seg.ss] = 0xffffffff;
  s.segAccess[Seg.ss] = 0xc093;
  s.cpl = 0;
  s.regs[Reg.esp] = s.sysenterEsp;
  s.eip = s.sysenterEip;
};

const sysexit: Handler = (c) => {
  const s = c.state;
  if ((s.cr0 & 1) === 0 || (s.sysenterCs & 0xfffc) === 0) raise(Vector.gp, 0);
  const cs = ((s.sysenterCs & 0xfffc) + 16) | 3;
  s.segSel[Seg.cs] = cs;
  s.segBase[Seg.cs] = 0;
  s.segLimit[Seg.cs] = 0xffffffff;
  s.segAccess[Seg.cs] = 0xc0fb;
  s.segSel[Seg.ss] = cs + 8;
  s.segBase[Seg.ss] = 0;
  s.segLimit[Seg.ss] = 0xffffffff;
  s.segAccess[Seg.ss] = 0xc0f3;
  s.cpl = 3;
  s.regs[Reg.esp] = s.regs[Reg.ecx] ?? 0;
  s.eip = s.regs[Reg.edx] ?? 0;
};

// ---- The table ------------------------------------------------------------------------------

/** Condition-code suffixes in Jcc/SETcc/CMOVcc opcode order (shared with tier 1's templates). */
export const CC_NAMES = [
  'o',
  'no',
  'b',
  'ae',
  'e',
  'ne',
  'be',
  'a',
  's',
  'ns',
  'p',
  'np',
  'l',
  'ge',
  'le',
  'g',
];
/** Two-operand ALU mnemonics and their `AluOp` (shared with tier 1's templates). */
export const ALU_NAMES: Readonly<Record<string, number>> = {
  add: AluOp.add,
  or: AluOp.or,
  adc: AluOp.adc,
  sbb: AluOp.sbb,
  and: AluOp.and,
  sub: AluOp.sub,
  xor: AluOp.xor,
  cmp: AluOp.cmp,
  test: AluOp.test,
};
/** Shift and rotate mnemonics and their `ShiftOp` (shared with tier 1's templates). */
export const SHIFT_NAMES: Readonly<Record<string, number>> = {
  rol: 0,
  ror: 1,
  rcl: 2,
  rcr: 3,
  shl: 4,
  shr: 5,
  sal: 6,
  sar: 7,
};

const incU: Unary = (c, a, b) => inc(c.state, a, b);
const decU: Unary = (c, a, b) => dec(c.state, a, b);
const negU: Unary = (c, a, b) => neg(c.state, a, b);
const notU: Unary = (_c, a, b) => ~a & maskOf(b);

function stringOf(m: string): [number, number] | undefined {
  const base = m.slice(0, -1);
  const w = m.endsWith('b') ? 8 : m.endsWith('w') ? 16 : m.endsWith('d') ? 32 : 0;
  const op = (StrOp as Record<string, number>)[base];
  return op === undefined || w === 0 ? undefined : [op, w];
}

/** Builds the handler of one form from its name (called once per form code at load). */
function build(name: string): Handler {
  const m = name.split('_')[0] ?? '';
  const w = widthOf(name);
  const aluOp = ALU_NAMES[m];
  if (aluOp !== undefined && w) return aluH(aluOp, w);
  const sh = SHIFT_NAMES[m];
  if (sh !== undefined && w) return shiftH(sh, w);
  if (
    m.startsWith('j') &&
    m !== 'jmp' &&
    !m.startsWith('jcxz') &&
    !m.startsWith('jecxz') &&
    !m.startsWith('jrcxz')
  ) {
    const cc = CC_NAMES.indexOf(m.slice(1));
    if (cc >= 0) return jccH(cc);
  }
  if (m.startsWith('set')) {
    const cc = CC_NAMES.indexOf(m.slice(3));
    if (cc >= 0) return setccH(cc);
  }
  if (m.startsWith('cmov')) {
    const cc = CC_NAMES.indexOf(m.slice(4));
    if (cc >= 0 && w) return cmovH(cc, w);
  }
  const so = stringOf(m);
  if (so && /^(movs|cmps|stos|lods|scas|ins|outs)[bwd]$/.test(m) && name.includes('_m'))
    return stringH(so[0], so[1]);
  const x87 = X87_HANDLERS[name];
  if (x87 !== undefined) return x87;
  const mmx = MMX_HANDLERS[name];
  if (mmx !== undefined) return mmx;
  if (/64|^rax|rcx|rdx/.test(name) && !/m1664|cmpxchg8b/.test(name)) {
    // 64-bit-only forms never reach tier 0 (decoded in 16/32-bit modes only).
    if (name.includes('r64') || name.includes('rm64') || name.endsWith('q') || name.includes('rax'))
      return ud;
  }
  switch (m) {
    case 'inc':
      return w ? unaryH(incU, w) : ud;
    case 'dec':
      return w ? unaryH(decU, w) : ud;
    case 'neg':
      return w ? unaryH(negU, w) : ud;
    case 'not':
      return w ? unaryH(notU, w) : ud;
    case 'shld':
      return dshiftH(true, w);
    case 'shrd':
      return dshiftH(false, w);
    case 'mul':
      return mulH(false, w);
    case 'imul':
      return name.split('_').length === 2 ? mulH(true, w) : imulNH(w);
    case 'div':
      return divH(false, w);
    case 'idiv':
      return divH(true, w);
    case 'bt':
      return btH(0, w);
    case 'bts':
      return btH(1, w);
    case 'btr':
      return btH(2, w);
    case 'btc':
      return btH(3, w);
    case 'bsf':
      return bsH(false, w);
    case 'bsr':
      return bsH(true, w);
    // The i686 profile has no BMI1/LZCNT: there F3 0F BC/BD execute as BSF/BSR with the REP
    // prefix ignored, as on the CPUs before those extensions (SDM Vol. 2B TZCNT/LZCNT). Linux
    // relies on it: its `__ffs` is emitted as REP BSF.
    case 'tzcnt':
      return bsH(false, w);
    case 'lzcnt':
      return bsH(true, w);
    case 'xadd':
      return xaddH(w);
    case 'cmpxchg':
      return cmpxchgH(w);
    case 'cmpxchg8b':
      return cmpxchg8b;
    case 'bswap':
      return bswapH(w);
    case 'mov':
      if (name === 'mov_rm16_sreg' || name === 'mov_r32m16_sreg') return movFromSreg;
      if (name === 'mov_sreg_rm16' || name === 'mov_sreg_r32m16') return movToSreg;
      if (name === 'mov_r32_cr') return movFromCr;
      if (name === 'mov_cr_r32') return movToCr;
      if (name === 'mov_r32_dr') return movFromDr;
      if (name === 'mov_dr_r32') return movToDr;
      return w ? movH(w) : ud;
    case 'movzx':
    case 'movsx':
      return movxH(m === 'movsx', name.includes('r16_') ? 16 : 32, name.endsWith('rm8') ? 8 : 16);
    case 'lea':
      return leaH(w);
    case 'xchg':
      return xchgH(w);
    case 'nopw':
    case 'nopd':
    case 'nop':
    case 'reservednop':
    case 'endbr32':
    case 'lfence':
    case 'sfence':
    case 'mfence':
    case 'prefetchnta':
    case 'prefetcht0':
    case 'prefetcht1':
    case 'prefetcht2':
      return nop;
    case 'pause':
      // A spin-wait hint: it does nothing unless PAUSE-loop exiting is on.
      return (c) => c.pauseExecuted();
    case 'cbw':
      return (c) => c.writeReg(Register.ax, (c.readReg(Register.al) << 24) >> 24);
    case 'cwde':
      return (c) => {
        c.state.regs[Reg.eax] = (c.readReg(Register.ax) << 16) >> 16;
      };
    case 'cwd':
      return (c) => c.writeReg(Register.dx, c.readReg(Register.ax) & 0x8000 ? 0xffff : 0);
    case 'cdq':
      return (c) => {
        c.state.regs[Reg.edx] = (c.state.regs[Reg.eax] ?? 0) >> 31;
      };
    case 'xlat':
      return xlat;
    case 'lds':
      return farLoadH(Seg.ds, w);
    case 'les':
      return farLoadH(Seg.es, w);
    case 'lss':
      return farLoadH(Seg.ss, w);
    case 'lfs':
      return farLoadH(Seg.fs, w);
    case 'lgs':
      return farLoadH(Seg.gs, w);
    case 'push':
      return pushH(w || (name.includes('imm16') ? 16 : 32));
    case 'pushw':
      return pushH(16);
    case 'pushd':
      return pushH(32);
    case 'pop':
      return popH(w);
    case 'popw':
      return popH(16);
    case 'popd':
      return popH(32);
    case 'pushaw':
      return pushaH(16);
    case 'pushad':
      return pushaH(32);
    case 'popaw':
      return popaH(16);
    case 'popad':
      return popaH(32);
    case 'pushfw':
      return pushfH(16);
    case 'pushfd':
      return pushfH(32);
    case 'popfw':
      return popfH(16);
    case 'popfd':
      return popfH(32);
    case 'enterw':
      return enterH(16);
    case 'enterd':
      return enterH(32);
    case 'leavew':
      return leaveH(16);
    case 'leaved':
      return leaveH(32);
    case 'jmp':
      if (name.includes('rel')) return jmpRelH();
      if (name === 'jmp_rm16') return jmpIndH(16);
      if (name === 'jmp_rm32') return jmpIndH(32);
      if (name === 'jmp_m1616') return jmpFarH(16, true);
      if (name === 'jmp_m1632') return jmpFarH(32, true);
      if (name === 'jmp_ptr1616') return jmpFarH(16, false);
      if (name === 'jmp_ptr1632') return jmpFarH(32, false);
      return ud;
    case 'call':
      if (name === 'call_rel16') return callRelH(16);
      if (name === 'call_rel32_32') return callRelH(32);
      if (name === 'call_rm16') return callIndH(16);
      if (name === 'call_rm32') return callIndH(32);
      if (name === 'call_m1616') return callFarH(16, true);
      if (name === 'call_m1632') return callFarH(32, true);
      if (name === 'call_ptr1616') return callFarH(16, false);
      if (name === 'call_ptr1632') return callFarH(32, false);
      return ud;
    case 'retnw':
      return retH(16, name.includes('imm'));
    case 'retnd':
      return retH(32, name.includes('imm'));
    case 'retfw':
      return retfH(16, name.includes('imm'));
    case 'retfd':
      return retfH(32, name.includes('imm'));
    case 'iretw':
      return iretH(16);
    case 'iretd':
      return iretH(32);
    case 'int3':
      return (c) => c.softwareInterrupt(Vector.bp);
    case 'int':
      return (c, ins) => c.softwareInterrupt(ins.immValue & 0xff);
    case 'into':
      return (c) => {
        if (c.state.getOF()) c.softwareInterrupt(Vector.of);
      };
    case 'int1':
      return (c) => c.deliver(Vector.db, -1, false, c.state.eip);
    case 'loopne':
      return name.includes('rcx') ? ud : loopH(0);
    case 'loope':
      return name.includes('rcx') ? ud : loopH(1);
    case 'loop':
      return name.includes('rcx') ? ud : loopH(2);
    case 'jcxz':
    case 'jecxz':
      return loopH(3);
    case 'daa':
      return daa;
    case 'das':
      return das;
    case 'aaa':
      return aaaAas(false);
    case 'aas':
      return aaaAas(true);
    case 'aam':
      return aam;
    case 'aad':
      return aad;
    case 'salc':
      return (c) => c.writeReg(Register.al, c.state.getCF() ? 0xff : 0);
    case 'sahf':
      return flagOp((c) => {
        const s = c.state;
        s.flags = (s.flags & ~0xd5) | (c.readReg(Register.ah) & 0xd5);
      });
    case 'lahf':
      return (c) => c.writeReg(Register.ah, (c.state.getFlags() & 0xd5) | 2);
    case 'cmc':
      return flagOp((c) => {
        c.state.flags ^= Eflags.cf;
      });
    case 'clc':
      return flagOp((c) => {
        c.state.flags &= ~Eflags.cf;
      });
    case 'stc':
      return flagOp((c) => {
        c.state.flags |= Eflags.cf;
      });
    case 'cld':
      return (c) => {
        c.state.flags &= ~Eflags.df;
      };
    case 'std':
      return (c) => {
        c.state.flags |= Eflags.df;
      };
    case 'cli':
      return (c) => {
        c.state.flags &= ~Eflags.if;
      };
    case 'sti':
      return (c) => {
        const s = c.state;
        if ((s.flags & Eflags.if) === 0) s.interruptShadow = true;
        s.flags |= Eflags.if;
      };
    case 'in':
      return inH(w);
    case 'out':
      return outH(widthOf(name.replace('_imm8', '').replace('_dx', '')));
    case 'hlt':
      return hlt;
    case 'cpuid':
      return cpuid;
    case 'rdtsc':
      return rdtsc;
    case 'rdmsr':
      return rdmsr;
    case 'wrmsr':
      return wrmsr;
    case 'sysenter':
      return sysenter;
    case 'sysexitd':
      return sysexit;
    case 'clts':
      return clts;
    case 'invd':
    case 'wbinvd':
    case 'wbnoinvd':
      return nop;
    case 'sgdt':
      return descTableStore(false);
    case 'sidt':
      return descTableStore(true);
    case 'lgdt':
      return descTableLoad(false);
    case 'lidt':
      return descTableLoad(true);
    case 'sldt':
      return sldt;
    case 'str':
      return str;
    case 'lldt':
      return lldt;
    case 'ltr':
      return ltr;
    case 'smsw':
      return smsw;
    case 'lmsw':
      return lmsw;
    case 'invlpg':
      return invlpg;
    case 'lar':
      return larLslH(false, name.includes('r16') ? 16 : 32);
    case 'lsl':
      return larLslH(true, name.includes('r16') ? 16 : 32);
    case 'verr':
      return verH(false);
    case 'verw':
      return verH(true);
    case 'arpl':
      return arpl;
    case 'bound':
      return boundH(name.includes('r16') ? 16 : 32);
    case 'ud0':
    case 'ud1':
    case 'ud2':
    case 'rsm':
      // Defined to raise #UD (RSM outside system-management mode; SDM vol. 2 "UD", "RSM").
      return undefinedOpcode;
    case 'rdpmc':
      return rdpmc;
    default:
      return ud;
  }
}

/** The tier-0 handler of every form code; forms without semantics raise #UD. */
export const HANDLERS: readonly Handler[] = Array.from({ length: CODE_COUNT }, (_, code) =>
  code === 0 ? ud : build(CODE_NAMES[code] ?? ''),
);

/** Whether tier 0 implements a form (its handler is not the #UD placeholder for missing semantics). */
export function implemented(code: number): boolean {
  return HANDLERS[code] !== ud;
}
