import { CODE_ATTR, CODE_COUNT, CODE_OPS, MNEMONIC_NAMES } from './generated/tables';
import type { Instruction } from './instruction';
import { MemSize, OperandDecode as OD, OpKind } from './kinds';
import { REGISTER_NAMES, Register } from './registers';

/*
 * Intel syntax is written the way NASM reads it (`mov dword [eax+ecx*4+0x10], 0x1`), so the
 * output of `formatIntel` assembles back with @ringzero/assembler or NASM. AT&T syntax follows
 * the GNU assembler (`movl $0x1,0x10(%eax,%ecx,4)`).
 */

const INTEL_SIZE: readonly string[] = [
  '',
  'byte ',
  'word ',
  'dword ',
  'qword ',
  'oword ',
  'yword ',
  'dword ',
  'qword ',
  'tword ',
  'word ',
  'dword ',
  'qword ',
  'tword ',
  '',
  '',
  '',
  '',
  '',
  '',
  '',
  '',
  '',
  '',
  '',
  '',
  '',
];
const ATT_SUFFIX: readonly string[] = [
  '',
  'b',
  'w',
  'l',
  'q',
  '',
  '',
  's',
  'l',
  't',
  's',
  'l',
  'q',
  '',
  '',
  '',
  '',
  '',
  '',
  '',
  '',
  '',
  '',
  '',
  '',
  '',
  '',
];

/** `0x` and a byte without leading zeros; a byte as two digits. */
const HEX: string[] = [];
const HEX2: string[] = [];
for (let i = 0; i < 256; i++) {
  HEX.push(`0x${i.toString(16)}`);
  HEX2.push(i.toString(16).padStart(2, '0'));
}

/**
 * `0x…` in lower case. Values up to 2^32 - 1 (addresses, displacements, immediates) are put
 * together from byte tables: `Number#toString(16)` of a number above 2^31 (not a small
 * integer in V8) is several times slower, and kernel addresses are all up there.
 */
function hex(n: number): string {
  if (n >= 0 && n <= 0xffffffff && Math.floor(n) === n) {
    if (n < 0x100) return HEX[n]!;
    const b0 = HEX2[n & 0xff]!;
    const b1 = (n >>> 8) & 0xff;
    if (n < 0x10000) return HEX[b1]! + b0;
    const b2 = (n >>> 16) & 0xff;
    if (n < 0x1000000) return HEX[b2]! + HEX2[b1]! + b0;
    return HEX[n >>> 24]! + HEX2[b2]! + HEX2[b1]! + b0;
  }
  return `0x${n.toString(16)}`;
}

function hex64(lo: number, hi: number): string {
  if (hi === 0) return hex(lo >>> 0);
  return `0x${(hi >>> 0).toString(16)}${(lo >>> 0).toString(16).padStart(8, '0')}`;
}

/** A signed immediate (sign-extended imm8 forms) as `-0x1` / `0x7f`. */
function signedImm(ins: Instruction, k: number): string {
  let v = ins.immediate;
  if (k === OD.ibs16) v = (v << 16) >> 16;
  else v = v | 0;
  return v < 0 ? `-${hex(-v)}` : hex(v);
}

function immText(ins: Instruction, k: number): string {
  if (k === OD.ib2) return hex(ins.immediate2);
  if (k === OD.ibs16 || k === OD.ibs32 || k === OD.ibs64 || k === OD.ids64) return signedImm(ins, k);
  if (k === OD.iq) return hex64(ins.immediate, ins.immediateHigh);
  return hex(ins.immediate);
}

function displacement(ins: Instruction): number {
  const d = ins.memDisplacement;
  if (ins.addressSize === 16) return (d << 16) >> 16;
  return d | 0;
}

function intelMemory(ins: Instruction, withSize: boolean): string {
  const size = ins.memSize;
  let s = withSize ? (INTEL_SIZE[size] ?? '') : '';
  if (size === MemSize.far16 || size === MemSize.far32 || size === MemSize.far64) {
    const m = ins.mnemonic;
    if (m === 'jmp' || m === 'call') s = 'far ';
  }
  s += '[';
  const seg = ins.segmentPrefix;
  if (seg !== 0) s += `${REGISTER_NAMES[seg]}:`;
  const base = ins.memBase;
  if (base === Register.rip || base === Register.eip) {
    return `${s}rel ${hex((ins.ip + ins.length + displacement(ins)) >>> 0)}]`;
  }
  let any = false;
  if (base !== 0) {
    s += REGISTER_NAMES[base];
    any = true;
  }
  const index = ins.memIndex;
  if (index !== 0) {
    s += any ? `+${REGISTER_NAMES[index]}` : REGISTER_NAMES[index];
    const scale = ins.memScale;
    if (scale !== 1 && index !== Register.al) s += `*${scale}`;
    any = true;
  }
  const dispSize = ins.memDisplacementSize;
  if (dispSize === 8) {
    s += hex64(ins.memDisplacement, ins.memDisplacementHigh);
  } else if (!any) {
    s += hex(ins.addressSize === 16 ? ins.memDisplacement & 0xffff : ins.memDisplacement >>> 0);
  } else if (dispSize !== 0) {
    const d = displacement(ins);
    if (d < 0) s += `-${hex(-d)}`;
    else if (d > 0) s += `+${hex(d)}`;
  }
  return `${s}]`;
}

function prefixText(ins: Instruction): string {
  let s = '';
  const attr = CODE_ATTR[ins.code] ?? 0;
  if (ins.prefixes & 1) s += 'lock ';
  if (attr & 2 && ins.prefixes & 2) s += 'rep ';
  if (attr & 4) {
    if (ins.prefixes & 2) s += 'repe ';
    else if (ins.prefixes & 4) s += 'repne ';
  }
  return s;
}

function isString(k: number): boolean {
  return k === OD.segSI || k === OD.esDI;
}

/**
 * Conversions from 128 or 256 bits to an XMM register: only the memory size tells the two VEX
 * forms apart (NASM `oword`/`yword`, GNU `x`/`y` suffixes).
 */
const XY_MNEMONICS = new Set(['vcvtpd2ps', 'vcvtpd2dq', 'vcvttpd2dq']);
const XY_MNEMONIC = new Uint8Array(MNEMONIC_NAMES.length);
MNEMONIC_NAMES.forEach((m, i) => {
  XY_MNEMONIC[i] = XY_MNEMONICS.has(m) ? 1 : 0;
});

/** Per form: 1 string instruction (implied operands), 2 the memory size is always written. */
const FORM_STYLE = new Uint8Array(CODE_COUNT);
/** Per mnemonic: whether Intel syntax writes the memory size even next to a register operand. */
const SIZE_MATTERS = new Uint8Array(MNEMONIC_NAMES.length);
/** Per mnemonic: JMP and CALL (`far` memory operands, `*` in AT&T syntax). */
const FLOW_MNEMONIC = new Uint8Array(MNEMONIC_NAMES.length);
MNEMONIC_NAMES.forEach((m, i) => {
  SIZE_MATTERS[i] =
    m === 'movzx' ||
    m === 'movsx' ||
    m === 'movsxd' ||
    m.startsWith('sh') ||
    m.startsWith('ro') ||
    m.startsWith('rc') ||
    m === 'sal' ||
    m === 'sar' ||
    m === 'crc32' ||
    XY_MNEMONICS.has(m)
      ? 1
      : 0;
  FLOW_MNEMONIC[i] = m.startsWith('jmp') || m.startsWith('call') ? 1 : 0;
});
for (let c = 1; c < CODE_COUNT; c++) {
  if (isString(CODE_OPS[c * 4] ?? 0) || isString(CODE_OPS[c * 4 + 1] ?? 0)) FORM_STYLE[c] = 1;
}

/**
 * Formats an instruction in Intel syntax as NASM accepts it: `add dword [eax+0x10], ecx`.
 * Invalid instructions format as `(bad)`.
 */
export function formatIntel(ins: Instruction): string {
  const code = ins.code;
  if (code === 0) return '(bad)';
  const mn = ins.mnemonicId;
  let s = ins.prefixes === 0 ? (MNEMONIC_NAMES[mn] ?? '') : prefixText(ins) + (MNEMONIC_NAMES[mn] ?? '');
  const n = ins.opCount;
  if (n === 0) return s;
  const base = code * 4;
  // String instructions: the operands are implied; show a segment override and address size.
  if (FORM_STYLE[code] === 1) {
    if (ins.addressSize !== ins.bitness && !(ins.bitness === 64 && ins.addressSize === 64)) {
      s = `a${ins.addressSize} ${s}`;
    }
    if (ins.segmentPrefix !== 0 && ins.segmentPrefix !== Register.es) {
      s = `${REGISTER_NAMES[ins.segmentPrefix]} ${s}`;
    }
    return s;
  }
  let hasReg = false;
  for (let i = 0; i < n; i++) if (ins.opKind(i) === OpKind.register) hasReg = true;
  const sizeMatters = !hasReg || SIZE_MATTERS[mn] === 1;
  s += ' ';
  for (let i = 0; i < n; i++) {
    if (i > 0) s += ', ';
    const kind = ins.opKind(i);
    if (kind === OpKind.register) s += REGISTER_NAMES[ins.opRegister(i)];
    else if (kind === OpKind.memory) s += intelMemory(ins, sizeMatters);
    else if (kind === OpKind.immediate) s += immText(ins, CODE_OPS[base + i] ?? 0);
    else if (kind === OpKind.nearBranch) s += hex(ins.nearBranchTarget);
    else if (kind === OpKind.farBranch) s += `${hex(ins.farSelector)}:${hex(ins.farOffset)}`;
  }
  return s;
}

function attMemory(ins: Instruction): string {
  let s = '';
  if (ins.segmentPrefix !== 0) s += `%${REGISTER_NAMES[ins.segmentPrefix]}:`;
  if (ins.memBase === Register.rip || ins.memBase === Register.eip) {
    const d = displacement(ins);
    return `${s}${d < 0 ? `-${hex(-d)}` : hex(d)}(%${REGISTER_NAMES[ins.memBase]})`;
  }
  if (ins.memDisplacementSize === 8) s += hex64(ins.memDisplacement, ins.memDisplacementHigh);
  else if (ins.memBase === 0 && ins.memIndex === 0) {
    s += hex(ins.addressSize === 16 ? ins.memDisplacement & 0xffff : ins.memDisplacement >>> 0);
    return s;
  } else if (ins.memDisplacementSize !== 0) {
    const d = displacement(ins);
    if (d !== 0) s += d < 0 ? `-${hex(-d)}` : hex(d);
  }
  if (ins.memBase === 0 && ins.memIndex === 0) return s;
  s += '(';
  if (ins.memBase !== 0) s += `%${REGISTER_NAMES[ins.memBase]}`;
  if (ins.memIndex !== 0) {
    s += `,%${REGISTER_NAMES[ins.memIndex]}`;
    if (ins.memIndex !== Register.al) s += `,${ins.memScale}`;
  }
  return `${s})`;
}

/** Formats an instruction in AT&T syntax as the GNU assembler reads it: `addl %ecx,0x10(%eax)`. */
export function formatAtt(ins: Instruction): string {
  if (ins.code === 0) return '(bad)';
  const code = ins.code;
  const base = code * 4;
  let mnem = ins.mnemonic;
  const n = ins.opCount;
  if (FORM_STYLE[code] === 1) {
    let s = prefixText(ins) + mnem;
    if (ins.segmentPrefix !== 0 && ins.segmentPrefix !== Register.es)
      s = `%${REGISTER_NAMES[ins.segmentPrefix]} ${s}`;
    return s;
  }
  let hasReg = false;
  let hasMem = false;
  for (let i = 0; i < n; i++) {
    const kind = ins.opKind(i);
    if (kind === OpKind.register) hasReg = true;
    else if (kind === OpKind.memory) hasMem = true;
  }
  if (hasMem && !hasReg) mnem += ATT_SUFFIX[ins.memSize] ?? '';
  else if (hasMem && XY_MNEMONIC[ins.mnemonicId] === 1) mnem += ins.memSize === MemSize.u256 ? 'y' : 'x';
  const parts: string[] = [];
  for (let i = n - 1; i >= 0; i--) {
    const kind = ins.opKind(i);
    const k = CODE_OPS[base + i] ?? 0;
    if (kind === OpKind.register) parts.push(`%${REGISTER_NAMES[ins.opRegister(i)]}`);
    else if (kind === OpKind.memory) {
      const flow = FLOW_MNEMONIC[ins.mnemonicId] === 1;
      parts.push(`${flow ? '*' : ''}${attMemory(ins)}`);
    } else if (kind === OpKind.immediate) parts.push(`$${immText(ins, k)}`);
    else if (kind === OpKind.nearBranch) parts.push(hex(ins.nearBranchTarget));
    else if (kind === OpKind.farBranch) parts.push(`$${hex(ins.farSelector)},$${hex(ins.farOffset)}`);
  }
  const s = prefixText(ins) + mnem;
  return parts.length > 0 ? `${s} ${parts.join(',')}` : s;
}
