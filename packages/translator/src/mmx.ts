import { CODE_NAMES, OpKind, Register } from '@ringzero/decoder';
import type { Decoded } from './decoded';
import { raise, Vector } from './fault';
import type { Handler } from './handlers';
import type { Tier0 } from './tier0';

/*
 * The Pentium II MMX instruction set (SDM vol. 1 ch. 9). MMX registers live in
 * `CpuState.mmx` (two 32-bit halves each). Executing an MMX instruction sets TOP = 0 and marks
 * every x87 register valid, EMMS marks them empty (SDM vol. 1 §9.5.1); the register contents
 * are not aliased onto the x87 doubles (a documented limit of the double-precision x87 model).
 */

const buf = new ArrayBuffer(24);
// Operand A (destination) at bytes 0–7, B (source) at 8–15, result R at 16–23.
const u8 = new Uint8Array(buf);
const i8 = new Int8Array(buf);
const u16 = new Uint16Array(buf);
const i16 = new Int16Array(buf);
const i32 = new Int32Array(buf);

function prologue(c: Tier0): void {
  const s = c.state;
  if (s.cr0 & 4) raise(Vector.ud);
  if (s.cr0 & 8) raise(Vector.nm);
  if (s.fpuStatus & 0x80 && s.cr0 & 0x20) raise(Vector.mf);
  s.fpuTop = 0;
  s.fpuTag = 0;
}

function mmIndex(reg: number): number {
  return (reg - Register.mm0) & 7;
}

/** Loads A from operand 0 (an MMX register) and B from operand 1 (MMX register or memory). */
function load(c: Tier0, ins: Decoded, srcBytes: number): void {
  const m = c.state.mmx;
  const d = mmIndex(ins.reg0) * 2;
  i32[0] = m[d] ?? 0;
  i32[1] = m[d + 1] ?? 0;
  if (ins.kind1 === OpKind.register) {
    const r = mmIndex(ins.reg1) * 2;
    i32[2] = m[r] ?? 0;
    i32[3] = m[r + 1] ?? 0;
  } else {
    const lin = c.memLinear(ins, srcBytes, false);
    i32[2] = c.read(lin, 32);
    i32[3] = srcBytes === 8 ? c.read(lin + 4, 32) : 0;
  }
}

function store(c: Tier0, ins: Decoded): void {
  const m = c.state.mmx;
  const d = mmIndex(ins.reg0) * 2;
  m[d] = i32[4] ?? 0;
  m[d + 1] = i32[5] ?? 0;
}

const sat = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));

type LaneOp = () => void;

function lanes8(f: (a: number, b: number) => number, signed: boolean): LaneOp {
  const v = signed ? i8 : u8;
  return () => {
    for (let i = 0; i < 8; i++) v[16 + i] = f(v[i] ?? 0, v[8 + i] ?? 0);
  };
}

function lanes16(f: (a: number, b: number) => number, signed: boolean): LaneOp {
  const v = signed ? i16 : u16;
  return () => {
    for (let i = 0; i < 4; i++) v[8 + i] = f(v[i] ?? 0, v[4 + i] ?? 0);
  };
}

function lanes32(f: (a: number, b: number) => number): LaneOp {
  return () => {
    for (let i = 0; i < 2; i++) i32[4 + i] = f(i32[i] ?? 0, i32[2 + i] ?? 0);
  };
}

/** Shift count from B as an unsigned 64-bit value, capped (anything ≥ 64 behaves alike). */
function count(): number {
  return (i32[3] ?? 0) !== 0 ? 64 : Math.min((i32[2] ?? 0) >>> 0, 64);
}

function shiftOp(width: number, kind: 'l' | 'r' | 'a'): LaneOp {
  return () => {
    const n = count();
    if (width === 64) {
      const v = (BigInt((i32[1] ?? 0) >>> 0) << 32n) | BigInt((i32[0] ?? 0) >>> 0);
      const r = n >= 64 ? 0n : kind === 'l' ? (v << BigInt(n)) & 0xffffffffffffffffn : v >> BigInt(n);
      i32[4] = Number(r & 0xffffffffn) | 0;
      i32[5] = Number(r >> 32n) | 0;
      return;
    }
    if (width === 16) {
      for (let i = 0; i < 4; i++) {
        const a = i16[i] ?? 0;
        i16[8 + i] =
          kind === 'a' ? a >> Math.min(n, 15) : n >= 16 ? 0 : kind === 'l' ? a << n : (a & 0xffff) >>> n;
      }
      return;
    }
    for (let i = 0; i < 2; i++) {
      const a = i32[i] ?? 0;
      i32[4 + i] = kind === 'a' ? a >> Math.min(n, 31) : n >= 32 ? 0 : kind === 'l' ? a << n : a >>> n;
    }
  };
}

const OPS: Record<string, LaneOp> = {
  paddb: lanes8((a, b) => a + b, false),
  paddw: lanes16((a, b) => a + b, false),
  paddd: lanes32((a, b) => (a + b) | 0),
  paddsb: lanes8((a, b) => sat(a + b, -128, 127), true),
  paddsw: lanes16((a, b) => sat(a + b, -32768, 32767), true),
  paddusb: lanes8((a, b) => sat(a + b, 0, 255), false),
  paddusw: lanes16((a, b) => sat(a + b, 0, 65535), false),
  psubb: lanes8((a, b) => a - b, false),
  psubw: lanes16((a, b) => a - b, false),
  psubd: lanes32((a, b) => (a - b) | 0),
  psubsb: lanes8((a, b) => sat(a - b, -128, 127), true),
  psubsw: lanes16((a, b) => sat(a - b, -32768, 32767), true),
  psubusb: lanes8((a, b) => sat(a - b, 0, 255), false),
  psubusw: lanes16((a, b) => sat(a - b, 0, 65535), false),
  pmullw: lanes16((a, b) => Math.imul(a, b), true),
  pmulhw: lanes16((a, b) => (a * b) >> 16, true),
  pmaddwd: () => {
    for (let i = 0; i < 2; i++) {
      i32[4 + i] =
        ((i16[i * 2] ?? 0) * (i16[4 + i * 2] ?? 0) + (i16[i * 2 + 1] ?? 0) * (i16[5 + i * 2] ?? 0)) | 0;
    }
  },
  pcmpeqb: lanes8((a, b) => (a === b ? 0xff : 0), false),
  pcmpeqw: lanes16((a, b) => (a === b ? 0xffff : 0), false),
  pcmpeqd: lanes32((a, b) => (a === b ? -1 : 0)),
  pcmpgtb: lanes8((a, b) => (a > b ? -1 : 0), true),
  pcmpgtw: lanes16((a, b) => (a > b ? -1 : 0), true),
  pcmpgtd: lanes32((a, b) => (a > b ? -1 : 0)),
  pand: lanes32((a, b) => a & b),
  pandn: lanes32((a, b) => ~a & b),
  por: lanes32((a, b) => a | b),
  pxor: lanes32((a, b) => a ^ b),
  packsswb: () => {
    for (let i = 0; i < 4; i++) {
      i8[16 + i] = sat(i16[i] ?? 0, -128, 127);
      i8[20 + i] = sat(i16[4 + i] ?? 0, -128, 127);
    }
  },
  packuswb: () => {
    for (let i = 0; i < 4; i++) {
      u8[16 + i] = sat(i16[i] ?? 0, 0, 255);
      u8[20 + i] = sat(i16[4 + i] ?? 0, 0, 255);
    }
  },
  packssdw: () => {
    for (let i = 0; i < 2; i++) {
      i16[8 + i] = sat(i32[i] ?? 0, -32768, 32767);
      i16[10 + i] = sat(i32[2 + i] ?? 0, -32768, 32767);
    }
  },
  punpcklbw: () => {
    for (let i = 0; i < 4; i++) {
      u8[16 + i * 2] = u8[i] ?? 0;
      u8[17 + i * 2] = u8[8 + i] ?? 0;
    }
  },
  punpckhbw: () => {
    for (let i = 0; i < 4; i++) {
      u8[16 + i * 2] = u8[4 + i] ?? 0;
      u8[17 + i * 2] = u8[12 + i] ?? 0;
    }
  },
  punpcklwd: () => {
    for (let i = 0; i < 2; i++) {
      u16[8 + i * 2] = u16[i] ?? 0;
      u16[9 + i * 2] = u16[4 + i] ?? 0;
    }
  },
  punpckhwd: () => {
    for (let i = 0; i < 2; i++) {
      u16[8 + i * 2] = u16[2 + i] ?? 0;
      u16[9 + i * 2] = u16[6 + i] ?? 0;
    }
  },
  punpckldq: () => {
    i32[4] = i32[0] ?? 0;
    i32[5] = i32[2] ?? 0;
  },
  punpckhdq: () => {
    i32[4] = i32[1] ?? 0;
    i32[5] = i32[3] ?? 0;
  },
  psllw: shiftOp(16, 'l'),
  pslld: shiftOp(32, 'l'),
  psllq: shiftOp(64, 'l'),
  psrlw: shiftOp(16, 'r'),
  psrld: shiftOp(32, 'r'),
  psrlq: shiftOp(64, 'r'),
  psraw: shiftOp(16, 'a'),
  psrad: shiftOp(32, 'a'),
};

function build(name: string): Handler | undefined {
  const m = name.split('_')[0] ?? '';
  if (m === 'emms') {
    return (c) => {
      prologue(c);
      c.state.fpuTag = 0xffff;
    };
  }
  if (name === 'movd_mm_rm32') {
    return (c, ins) => {
      prologue(c);
      const v = c.readOp(ins, 1, 32);
      const d = mmIndex(ins.reg0) * 2;
      c.state.mmx[d] = v;
      c.state.mmx[d + 1] = 0;
    };
  }
  if (name === 'movd_rm32_mm') {
    return (c, ins) => {
      prologue(c);
      c.writeOp0(ins, c.state.mmx[mmIndex(ins.reg1) * 2] ?? 0, 32);
    };
  }
  if (name === 'movq_mm_mmm64') {
    return (c, ins) => {
      prologue(c);
      load(c, ins, 8);
      i32[4] = i32[2] ?? 0;
      i32[5] = i32[3] ?? 0;
      store(c, ins);
    };
  }
  if (name === 'movq_mmm64_mm') {
    return (c, ins) => {
      prologue(c);
      const s = c.state;
      const r = mmIndex(ins.reg1) * 2;
      const lo = s.mmx[r] ?? 0;
      const hi = s.mmx[r + 1] ?? 0;
      if (ins.kind0 === OpKind.register) {
        const d = mmIndex(ins.reg0) * 2;
        s.mmx[d] = lo;
        s.mmx[d + 1] = hi;
        return;
      }
      const lin = c.memLinear(ins, 8, true);
      c.mmu.probeWrite(lin, 8, s.cpl === 3);
      c.write(lin, lo, 32);
      c.write(lin + 4, hi, 32);
    };
  }
  const op = OPS[m];
  if (op === undefined) return undefined;
  if (name.endsWith('_imm8')) {
    // PSxx mm, imm8: the count is the immediate.
    return (c, ins) => {
      prologue(c);
      const d = mmIndex(ins.reg0) * 2;
      i32[0] = c.state.mmx[d] ?? 0;
      i32[1] = c.state.mmx[d + 1] ?? 0;
      i32[2] = ins.immValue & 0xff;
      i32[3] = 0;
      op();
      store(c, ins);
    };
  }
  const srcBytes = name.endsWith('mmm32') ? 4 : 8;
  return (c, ins) => {
    prologue(c);
    load(c, ins, srcBytes);
    op();
    store(c, ins);
  };
}

/** MMX handlers by form name (Pentium II set; later MMX-register forms are not included). */
export const MMX_HANDLERS: Record<string, Handler> = (() => {
  const out: Record<string, Handler> = {};
  for (const name of CODE_NAMES) {
    if (!/(^|_)mm(_|$)|mmm|^emms$/.test(name) || /xmm|ymm|r64|rm64|vex/.test(name)) continue;
    const h = build(name);
    if (h) out[name] = h;
  }
  return out;
})();
