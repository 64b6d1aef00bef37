import { Decoder, formInfo, Instruction, privilege } from '@ringzero/decoder';
import type { Bits } from './encoder';
import { allForms, type Form } from './forms';

/** A small seeded PRNG (xorshift32) for reproducible test inputs. */
export function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** The instruction set a form belongs to, for coverage reports. */
export type FormSet = 'general' | 'system' | 'x87' | 'sse' | 'vex';

export function formSet(f: Form): FormSet {
  if (f.vexMap !== 0) return 'vex';
  const info = formInfo(f.code);
  if (
    info.cpuidFeature === 'fpu' ||
    (f.opcode.length === 1 && (f.opcode[0] ?? 0) >= 0xd8 && (f.opcode[0] ?? 0) <= 0xdf)
  )
    return 'x87';
  if (
    f.ops.some((o) => 'cls' in o && (o.cls === 'xmm' || o.cls === 'mm' || o.cls === 'ymm')) ||
    /^(sse|mmx|aes|sha|pclmul)/.test(info.cpuidFeature)
  )
    return 'sse';
  if (privilege(f.code) !== 0) return 'system';
  return 'general';
}

/** One decoded sample of a form. */
export interface Sample {
  readonly form: Form;
  readonly bits: Bits;
  readonly bytes: Uint8Array;
  readonly ins: Instruction;
}

const MODRMS = [0xc0, 0xd9, 0x00, 0x05, 0x04, 0x44, 0x84, 0x4d, 0x96, 0x0e, 0x3f, 0xf7, 0x7a];
const SIBS = [0x24, 0x88, 0x4b, 0xd5, 0x25];

/**
 * Bytes that decode to each form: prefixes (mandatory, 66, REX, 67) × opcode × a spread of
 * ModRM/SIB bytes, with a seeded tail for displacements and immediates; kept when the decoder
 * returns the form itself. Up to `perForm` distinct samples per form and mode.
 */
export function formSamples(bits: Bits, perForm = 4, seed = 1): Sample[] {
  const rnd = xorshift(seed + bits);
  const dec = new Decoder(bits);
  const out: Sample[] = [];
  const modeBit = bits === 16 ? 1 : bits === 32 ? 2 : 4;
  for (const f of allForms()) {
    if ((f.modes & modeBit) === 0) continue;
    const seen = new Set<string>();
    const pre: number[][] = [[]];
    const mp = f.mp === 2 ? [0x66] : f.mp === 3 ? [0xf3] : f.mp === 4 ? [0xf2] : [];
    for (const a of [[], [0x66], [0x67]])
      for (const r of bits === 64 ? [[], [0x48], [0x41], [0x4c], [0x40], [0x4b]] : [[]])
        pre.push([...a, ...mp, ...r]);
    let found = 0;
    for (const p of pre) {
      if (found >= perForm) break;
      const opcodes = f.plusR
        ? [0, 3, 5].map((i) => [...f.opcode.slice(0, -1), (f.opcode.at(-1) ?? 0) + i])
        : [f.opcode];
      for (const op of opcodes) {
        if (found >= perForm) break;
        const modrms =
          f.modrm === 0
            ? [-1]
            : f.modrm === 3
              ? [f.fixedModrm]
              : MODRMS.map((m) => (f.modrm === 2 ? (m & 0xc7) | (f.digit << 3) : m));
        for (const m of modrms) {
          if (found >= perForm) break;
          for (const sib of m >= 0 && (m & 7) === 4 && m < 0xc0 ? SIBS : [-1]) {
            const bytes: number[] = [];
            if (f.vexMap !== 0) {
              // VEX: C4 with R/X/B set (no extension), map, W/vvvv/L/pp from the form.
              const pp = f.mp === 2 ? 1 : f.mp === 3 ? 2 : f.mp === 4 ? 3 : 0;
              const w = f.rexw === 1 ? 1 : 0;
              const l = f.vexL === 1 ? 1 : 0;
              const vvvv = f.ops.some((o) => o.t === 'vvvv') ? (rnd() & 7) ^ 15 : 15;
              if (p.includes(0x66) && f.mp !== 2) continue;
              bytes.push(0xc4, 0xe0 | f.vexMap, (w << 7) | (vvvv << 3) | (l << 2) | pp);
            } else bytes.push(...p);
            bytes.push(...op);
            if (m >= 0) bytes.push(m);
            if (sib >= 0) bytes.push(sib);
            for (let i = 0; i < 10; i++) bytes.push(rnd() & 0xff);
            const buf = Uint8Array.from(bytes);
            const ins = new Instruction();
            dec.decodeOut(buf, 0, bits === 64 ? 0x80000000 : 0x1000, ins);
            if (ins.code !== f.code) continue;
            const key = Array.from(buf.subarray(0, ins.length)).join(',');
            if (seen.has(key)) continue;
            seen.add(key);
            out.push({ form: f, bits, bytes: buf.slice(0, ins.length), ins });
            found++;
            if (found >= perForm) break;
          }
        }
      }
    }
  }
  return out;
}
