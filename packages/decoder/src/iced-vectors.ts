import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bitness } from './decoder';
import { CODE_NAMES } from './generated/tables';
import type { Instruction } from './instruction';
import { OpKind } from './kinds';
import { REGISTER_NAMES } from './registers';

/**
 * Reader for the iced project's plain-text decoder vectors (`DecoderTest32.txt` and friends,
 * kept in `shared/testdata/iced-x86/` beside the repository) and the comparison of one case
 * with a decoded instruction. iced's names differ from ours in a few places; the tables below
 * map them.
 */

/** Where the vectors live, or undefined when the folder is not beside this checkout. */
export function icedVectorDir(): string | undefined {
  const dir = join(import.meta.dirname, '..', '..', '..', '..', 'shared', 'testdata', 'iced-x86');
  return existsSync(join(dir, 'DecoderTest32.txt')) ? dir : undefined;
}

export interface IcedCase {
  readonly file: string;
  readonly line: number;
  readonly bitness: Bitness;
  readonly bytes: Uint8Array;
  /** iced's code name lower-cased, `'invalid'` for an invalid encoding. */
  readonly code: string;
  readonly mnemonic: string;
  readonly opCount: number;
  readonly operands: readonly string[];
  /** Decoder options the case needs (`NoInvalidCheck`, `AMD`, ...). */
  readonly options: readonly string[];
  /** For invalid cases: the code iced would decode with its invalid-check off. */
  readonly invalidCode: string | undefined;
  readonly text: string;
}

/** Our form names where they differ from iced's (lower-cased) names. */
export const ICED_CODE_ALIASES: Readonly<Record<string, string>> = {};

/** Our mnemonics where they differ from iced's. */
export const ICED_MNEMONIC_ALIASES: Readonly<Record<string, string>> = {
  retnw: 'ret',
  retnd: 'ret',
  retnq: 'ret',
  retfw: 'retf',
  retfd: 'retf',
  xlatb: 'xlatb',
};

export function readIcedCases(dir: string, file: string, bitness: Bitness): IcedCase[] {
  const text = readFileSync(join(dir, file), 'utf8');
  const out: IcedCase[] = [];
  text.split('\n').forEach((raw, idx) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const parts = line.split(', ');
    if (parts.length < 4) return;
    const hexText = (parts[0] ?? '').replace(/\s+/g, '');
    if (!/^[0-9A-Fa-f]*$/.test(hexText) || hexText.length % 2 !== 0) return;
    const bytes = new Uint8Array(hexText.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(hexText.slice(i * 2, i * 2 + 2), 16);
    const rest = parts.slice(4).join(', ').split(/\s+/).filter(Boolean);
    const operands: string[] = [];
    const options: string[] = [];
    let invalidCode: string | undefined;
    for (const tok of rest) {
      const m = /^op(\d)=(.*)$/.exec(tok);
      if (m) operands[Number(m[1])] = m[2] ?? '';
      else if (tok.startsWith('decopt=')) options.push(...tok.slice(7).split(';'));
      else if (tok.startsWith('code=')) invalidCode = tok.slice(5).toLowerCase();
    }
    out.push({
      file,
      line: idx + 1,
      bitness,
      bytes,
      code: (parts[1] ?? '').toLowerCase(),
      mnemonic: (parts[2] ?? '').toLowerCase(),
      opCount: Number(parts[3]),
      operands,
      options,
      invalidCode,
      text: line,
    });
  });
  return out;
}

const knownCodes = new Set(CODE_NAMES.map((n) => n));

/** Whether our tables have the form a case expects (so the case is in scope). */
export function caseInScope(c: IcedCase): boolean {
  if (c.options.length > 0) return false;
  if (c.code === 'invalid') return c.invalidCode === undefined || knownCodes.has(ourCode(c.invalidCode));
  return knownCodes.has(ourCode(c.code));
}

export function ourCode(icedCode: string): string {
  return ICED_CODE_ALIASES[icedCode] ?? icedCode;
}

/** iced calls the low bytes of r8–r15 `r8l`..`r15l`; we say `r8b`..`r15b`. */
function regName(n: number): string {
  const name = REGISTER_NAMES[n] ?? '?';
  return /^r\d+b$/.test(name) ? `${name.slice(0, -1)}l` : name;
}

/** Compares a decoded instruction with a case; returns the first difference, or undefined. */
export function compareCase(c: IcedCase, ins: Instruction): string | undefined {
  if (c.code === 'invalid')
    return ins.code === 0 ? undefined : `decoded as ${ins.codeName}, expected invalid`;
  if (ins.code === 0) return `invalid (${ins.invalidReasonName}), expected ${c.code}`;
  if (ins.codeName !== ourCode(c.code)) return `code ${ins.codeName}, expected ${c.code}`;
  if (ins.length !== c.bytes.length) return `length ${ins.length}, expected ${c.bytes.length}`;
  for (let i = 0; i < c.operands.length; i++) {
    const exp = c.operands[i];
    if (exp === undefined) continue;
    const f = exp.split(';');
    const kind = ins.opKind(i);
    if (f[0] === 'r') {
      if (kind !== OpKind.register) return `op${i} kind ${kind}, expected register`;
      if (regName(ins.opRegister(i)) !== (f[1] ?? '').toLowerCase()) {
        return `op${i} ${regName(ins.opRegister(i))}, expected ${f[1]}`;
      }
    } else if (f[0] === 'm') {
      if (kind !== OpKind.memory) return `op${i} kind ${kind}, expected memory`;
      const seg = (f[1] ?? '').toLowerCase();
      const base = (f[2] ?? '').toLowerCase();
      const index = (f[3] ?? '').toLowerCase();
      if (regName(ins.memSegment) !== seg)
        return `op${i} segment ${regName(ins.memSegment)}, expected ${seg}`;
      if (regName(ins.memBase) !== base) return `op${i} base ${regName(ins.memBase)}, expected ${base}`;
      if (regName(ins.memIndex) !== index) return `op${i} index ${regName(ins.memIndex)}, expected ${index}`;
      if (index !== '' && String(ins.memScale) !== f[4])
        return `op${i} scale ${ins.memScale}, expected ${f[4]}`;
    } else if (f[0]?.startsWith('i')) {
      if (kind !== OpKind.immediate) return `op${i} kind ${kind}, expected immediate`;
    } else if (f[0]?.startsWith('nb')) {
      if (kind !== OpKind.nearBranch) return `op${i} kind ${kind}, expected near branch`;
    } else if (f[0] === 'segsi' || f[0] === 'segesi' || f[0] === 'segrsi') {
      if (kind !== OpKind.memorySegSI) return `op${i} kind ${kind}, expected seg:rSI`;
    } else if (f[0] === 'esdi' || f[0] === 'esedi' || f[0] === 'esrdi') {
      if (kind !== OpKind.memoryESDI) return `op${i} kind ${kind}, expected es:rDI`;
    }
  }
  return undefined;
}
