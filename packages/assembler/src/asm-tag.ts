import { type AssembleOptions, assemble } from './assemble';

/** A value interpolated into `asm`: numbers become decimal literals, strings are pasted as source. */
export type AsmValue = string | number | bigint;

/** The `asm` tagged template: assembles its text and returns the bytes. */
export interface AsmTag {
  (strings: TemplateStringsArray, ...values: AsmValue[]): Uint8Array;
  /** A tag with other options: ``asm.with({ bits: 16 })`mov ax, 1` ``. */
  with(options: AssembleOptions): AsmTag;
}

function text(strings: TemplateStringsArray, values: readonly AsmValue[]): string {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    if (typeof v === 'number' && !Number.isInteger(v)) out += String(v);
    else out += typeof v === 'string' ? v : v.toString();
    out += strings[i + 1] ?? '';
  });
  return out;
}

function makeTag(options: AssembleOptions): AsmTag {
  const tag = (strings: TemplateStringsArray, ...values: AsmValue[]) =>
    assemble(text(strings, values), options).bytes;
  return Object.assign(tag, { with: (more: AssembleOptions) => makeTag({ ...options, ...more }) });
}

/**
 * Assembles a template literal in 32-bit mode (the most common case in tests) and returns the
 * bytes: ``asm`mov eax, ${n}` ``. `asm.with({ bits: 16 })` gives a tag for another mode.
 */
export const asm: AsmTag = makeTag({ bits: 32, fileName: '<asm>' });
