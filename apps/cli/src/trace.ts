import type { Instruction } from '@ringzero/decoder';
import { formatIntel } from '@ringzero/decoder/format';
import type { TraceHooks } from '@ringzero/translator';

/** What `--trace` can show, as in QEMU's `-d`: first decodes, interrupts, every instruction. */
export const TRACE_ITEMS = ['in_asm', 'int', 'exec'] as const;
export type TraceItem = (typeof TRACE_ITEMS)[number];

/** Parses `--trace in_asm,int,exec`; an unknown item is an error naming it and the choices. */
export function parseTraceItems(text: string): Set<TraceItem> {
  const items = new Set<TraceItem>();
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    if (!(TRACE_ITEMS as readonly string[]).includes(item)) {
      throw new Error(`unknown trace item "${item}" (choose from ${TRACE_ITEMS.join(', ')})`);
    }
    items.add(item as TraceItem);
  }
  if (items.size === 0) throw new Error(`--trace needs at least one of ${TRACE_ITEMS.join(', ')}`);
  return items;
}

const hex = (v: number, w: number) => (v >>> 0).toString(16).padStart(w, '0');
const VECTOR_NAMES: Readonly<Record<number, string>> = {
  0: '#DE',
  1: '#DB',
  2: 'NMI',
  3: '#BP',
  4: '#OF',
  5: '#BR',
  6: '#UD',
  7: '#NM',
  8: '#DF',
  10: '#TS',
  11: '#NP',
  12: '#SS',
  13: '#GP',
  14: '#PF',
  16: '#MF',
  17: '#AC',
  18: '#MC',
  19: '#XM',
};

/** Trace hooks writing one line per event through `write`. */
export function traceHooks(items: ReadonlySet<TraceItem>, write: (line: string) => void): TraceHooks {
  const hooks: TraceHooks = {};
  if (items.has('exec')) {
    hooks.exec = (cs: number, eip: number, linear: number, ins: Instruction) =>
      write(`exec   ${hex(cs, 4)}:${hex(eip, 8)} [${hex(linear, 8)}] ${formatIntel(ins)}`);
  }
  if (items.has('in_asm')) {
    hooks.decode = (cs: number, eip: number, phys: number, ins: Instruction) =>
      write(`in_asm ${hex(cs, 4)}:${hex(eip, 8)} phys ${hex(phys, 8)} ${formatIntel(ins)}`);
  }
  if (items.has('int')) {
    hooks.interrupt = (vector, errorCode, kind, eip) => {
      const name = VECTOR_NAMES[vector] ?? `0x${hex(vector, 2)}`;
      const err = errorCode >= 0 ? ` error 0x${hex(errorCode, 4)}` : '';
      write(`int    ${name} (${kind}) at eip ${hex(eip, 8)}${err}`);
    };
  }
  return hooks;
}
