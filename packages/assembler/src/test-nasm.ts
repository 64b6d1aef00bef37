import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { xorshift } from './test-samples';

/** Where NASM is, or undefined when it is not installed. */
export function findNasm(): string | undefined {
  for (const p of [process.env.NASM, '/usr/bin/nasm', '/usr/local/bin/nasm']) {
    if (p && existsSync(p)) return p;
  }
  try {
    const out = execFileSync('which', ['nasm'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return out || undefined;
  } catch {
    return undefined;
  }
}

/** NASM's output for a source: the bytes of each source line (by line number, from 1). */
export interface NasmOutput {
  readonly ok: boolean;
  readonly bytes: Uint8Array;
  readonly lines: Map<number, Uint8Array>;
  /** `file:line: error: ...` messages. */
  readonly errors: { line: number; message: string }[];
}

/**
 * Assembles `source` with `nasm -f bin` and splits the binary by source line using the listing
 * (which gives each line's offset). Sources must not use sections other than .text.
 */
export function runNasm(nasm: string, source: string): NasmOutput {
  const dir = mkdtempSync(join(tmpdir(), 'rz-nasm-'));
  try {
    const src = join(dir, 'in.asm');
    const bin = join(dir, 'out.bin');
    const lst = join(dir, 'out.lst');
    writeFileSync(src, source);
    let stderr = '';
    let ok = true;
    try {
      execFileSync(nasm, ['-f', 'bin', '-w-all', '-o', bin, '-l', lst, src], {
        stdio: ['ignore', 'pipe', 'pipe'],
        encoding: 'utf8',
      });
    } catch (e) {
      ok = false;
      stderr = String((e as { stderr?: string }).stderr ?? '');
    }
    const errors: NasmOutput['errors'] = [];
    for (const l of stderr.split('\n')) {
      const m = /:(\d+): error: (.*)$/.exec(l);
      if (m) errors.push({ line: Number(m[1]), message: m[2] ?? '' });
    }
    if (!ok) return { ok, bytes: new Uint8Array(), lines: new Map(), errors };
    const bytes = new Uint8Array(readFileSync(bin));
    const offsets: { line: number; offset: number }[] = [];
    const seen = new Set<number>();
    for (const l of readFileSync(lst, 'utf8').split('\n')) {
      const m = /^\s*(\d+) ([0-9A-F]{8}) /.exec(l);
      if (!m) continue;
      const line = Number(m[1]);
      if (seen.has(line)) continue;
      seen.add(line);
      offsets.push({ line, offset: Number.parseInt(m[2] ?? '0', 16) });
    }
    const lines = new Map<number, Uint8Array>();
    offsets.forEach((o, i) => {
      const end = offsets[i + 1]?.offset ?? bytes.length;
      lines.set(o.line, bytes.subarray(o.offset, Math.max(o.offset, end)));
    });
    return { ok, bytes, lines, errors };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}

/** `bits | source | bytes` lines: the encodings NASM chooses, written down once from NASM itself. */
export function readVectors(): { bits: 16 | 32 | 64; source: string; bytes: string; line: number }[] {
  const text = readFileSync(new URL('../testdata/vectors.txt', import.meta.url), 'utf8');
  return text
    .split('\n')
    .map((l, i) => ({ l, i }))
    .filter(({ l }) => l.trim() !== '' && !l.startsWith('#'))
    .map(({ l, i }) => {
      const [bits, source, bytes] = l.split(' | ');
      return { bits: Number(bits) as 16 | 32 | 64, source: source ?? '', bytes: bytes ?? '', line: i + 1 };
    });
}

/**
 * Random instruction lines for a differential run against NASM: the common integer mnemonics
 * with register, memory (every addressing shape of the mode), immediate and label operands.
 * Uses `K` (a constant), `lbl` (a label after the lines), `start`/`start2` (labels before them).
 */
export function randomLines(bits: 16 | 32 | 64, seed: number, count: number): string[] {
  const rnd = xorshift(seed);
  const pick = <T>(a: readonly T[]) => a[rnd() % a.length] as T;
  const bases: Record<number, string[]> = {
    16: ['bx', 'bp', 'si', 'di'],
    32: ['eax', 'ebx', 'ecx', 'edx', 'esi', 'edi', 'ebp', 'esp'],
    64: ['rax', 'rbx', 'rcx', 'rsi', 'rbp', 'rsp', 'r8', 'r12', 'r13', 'r15'],
  };
  const regs: Record<number, string[][]> = {
    16: [
      ['al', 'bl', 'ch'],
      ['ax', 'bx', 'si', 'bp'],
      ['eax', 'ecx', 'edi'],
    ],
    32: [
      ['al', 'bl', 'ch'],
      ['ax', 'bx', 'si'],
      ['eax', 'ecx', 'edi', 'esp', 'ebp'],
    ],
    64: [
      ['al', 'bl', 'sil', 'r9b'],
      ['ax', 'r10w'],
      ['eax', 'r11d', 'esp'],
      ['rax', 'rcx', 'r8', 'r15', 'rsp'],
    ],
  };
  const sizes = ['byte', 'word', 'dword', 'qword'].slice(0, bits === 64 ? 4 : 3);
  const group = regs[bits] as string[][];
  const regOf = (i: number) => pick(group[Math.min(i, group.length - 1)] as string[]);
  const imm = () =>
    pick([
      '0',
      '1',
      '-1',
      '0x7f',
      '0x80',
      '-0x80',
      '-0x81',
      '0xff',
      '0x7fff',
      '0x8000',
      'lbl',
      'start2-start',
      'K',
      "'a'",
    ]);
  const mem = () => {
    const rs = bases[bits] as string[];
    let parts: string[];
    if (bits === 16) {
      parts = [
        ...pick([['bx'], ['bp'], ['si'], ['di'], ['bx', 'si'], ['bx', 'di'], ['bp', 'si'], ['bp', 'di'], []]),
      ];
    } else {
      parts = [];
      const kind = rnd() % 6;
      if (kind !== 0) parts.push(pick(rs));
      if (kind >= 3) {
        const ix = pick(rs.filter((r) => !r.endsWith('sp')));
        parts.push(rnd() % 2 ? `${ix}*${pick(['1', '2', '4', '8'])}` : ix);
      }
    }
    if (rnd() % 3 || parts.length === 0)
      parts.push(pick(['4', '-4', '0x7f', '0x80', '-0x80', '0x1000', 'lbl', 'K', '0']));
    const seg = rnd() % 8 === 0 ? `${pick(['es', 'fs', 'ss', 'cs'])}:` : '';
    return `[${seg}${parts.join('+').replace(/\+-/g, '-')}]`;
  };
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const m = pick([
      'mov',
      'add',
      'sub',
      'cmp',
      'and',
      'or',
      'xor',
      'adc',
      'test',
      'lea',
      'push',
      'inc',
      'neg',
      'shl',
      'sar',
      'imul',
      'xchg',
      'movzx',
      'bt',
      'cmovne',
      'jmp',
      'call',
    ]);
    const sz = rnd() % (bits === 64 ? 4 : 3);
    const w = Math.max(1, sz);
    const k = rnd() % 6;
    const r = regOf(sz);
    switch (m) {
      case 'lea':
        out.push(`lea ${regOf(w)}, ${mem()}`);
        break;
      case 'push':
        out.push(
          k < 2
            ? `push ${imm()}`
            : k < 4
              ? `push ${regOf(bits === 64 ? 3 : 1 + (rnd() % 2))}`
              : `push ${pick(['word', bits === 64 ? 'qword' : 'dword'])} ${mem()}`,
        );
        break;
      case 'inc':
      case 'neg':
        out.push(k < 3 ? `${m} ${r}` : `${m} ${pick(sizes)} ${mem()}`);
        break;
      case 'shl':
      case 'sar':
        out.push(`${m} ${k < 3 ? r : `${pick(sizes.slice(0, 3))} ${mem()}`}, ${pick(['1', '3', 'cl', 'K'])}`);
        break;
      case 'imul':
        out.push(k < 2 ? `imul ${regOf(w)}, ${mem()}` : `imul ${regOf(w)}, ${regOf(w)}, ${imm()}`);
        break;
      case 'movzx':
        out.push(`movzx ${regOf(w)}, ${k < 3 ? regOf(0) : `byte ${mem()}`}`);
        break;
      case 'bt':
        out.push(`bt ${regOf(w)}, ${k < 3 ? pick(['3', '31']) : regOf(w)}`);
        break;
      case 'cmovne':
        out.push(`cmovne ${regOf(w)}, ${mem()}`);
        break;
      case 'jmp':
      case 'call':
        out.push(
          `${m} ${pick(['lbl', 'start', '$+5', `[${(bases[bits] as string[])[0]}]`, regOf(bits === 16 ? 1 : bits === 32 ? 2 : 3)])}`,
        );
        break;
      default:
        out.push(
          k === 0
            ? `${m} ${r}, ${regOf(sz)}`
            : k === 1
              ? `${m} ${r}, ${mem()}`
              : k === 2
                ? `${m} ${mem()}, ${r}`
                : k === 3
                  ? `${m} ${r}, ${imm()}`
                  : `${m} ${pick(sizes)} ${mem()}, ${imm()}`,
        );
    }
  }
  return out;
}
