import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
