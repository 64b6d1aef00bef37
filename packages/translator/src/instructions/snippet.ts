import { assemble } from '@ringzero/assembler';
import { type CpuState, Reg, Seg } from '../cpu-state';
import { Vector } from '../fault';
import { createHarness, type FlatMemory, HARNESS_GDT, type HarnessOptions } from '../harness';
import type { StopReason, Tier0 } from '../tier0';

/**
 * Test support for the per-instruction suites: snippets written in assembly (with
 * `@ringzero/assembler`), loaded at `ORIGIN` in the flat-memory harness and run until HLT, an
 * exception taken out of the guest, or the instruction budget. Test-only: not exported by the
 * package.
 */

/** Where snippets are assembled and loaded (the harness's default origin). */
export const ORIGIN = 0x1000;
/** ESP the flat harness modes start with (1 MiB of RAM). */
export const STACK_TOP = (1 << 20) - 0x1000;
/** ESP0 in the harness TSS (where a ring-3 → ring-0 transition puts its frame). */
export const ESP0 = (1 << 20) - 16;

/** An assembled snippet: its bytes and the addresses of its labels. */
export interface Program {
  readonly bytes: Uint8Array;
  /** Address of a label; a missing label is a test bug and throws. */
  at(label: string): number;
}

function text(strings: TemplateStringsArray, values: readonly (number | string)[]): string {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += (typeof v === 'number' ? `0x${(v >>> 0).toString(16)}` : v) + (strings[i + 1] ?? '');
  });
  return out;
}

/** Assembles `source` for `bits`-bit code at `origin` (for snippets that must live elsewhere). */
export function program(bits: 16 | 32, source: string, origin = ORIGIN): Program {
  const r = assemble(source, { bits, org: origin, fileName: 'snippet.asm' });
  return {
    bytes: r.bytes,
    at(label: string): number {
      const v = r.symbols.get(label);
      if (v === undefined) throw new Error(`snippet has no label ${label}`);
      return Number(v);
    },
  };
}

/** Assembles 32-bit code at `ORIGIN`: ``a32`mov eax, ${n}\nhlt` `` (numbers are pasted in hex). */
export function a32(strings: TemplateStringsArray, ...values: (number | string)[]): Program {
  return program(32, text(strings, values));
}

/** Assembles 16-bit code at `ORIGIN` (real mode, or a 16-bit protected-mode code segment). */
export function a16(strings: TemplateStringsArray, ...values: (number | string)[]): Program {
  return program(16, text(strings, values));
}

export interface RunOptions extends HarnessOptions {
  /** Instruction budget (default 100,000). */
  limit?: number;
  /** Deliver exceptions through the guest's IDT/IVT instead of stopping with them (default false). */
  deliver?: boolean;
  /** Called after the harness is built and before the snippet runs. */
  prepare?(cpu: Tier0, memory: FlatMemory, s: CpuState): void;
}

export interface Run {
  cpu: Tier0;
  memory: FlatMemory;
  s: CpuState;
  reason: StopReason;
}

/**
 * Runs a snippet. By default a fault is taken out of the guest (`StopReason.exception`, with
 * `cpu.lastVector` / `cpu.lastErrorCode` and the state as it was before the faulting
 * instruction); `deliver: true` lets it go through the guest's tables.
 */
export function run(p: Program, options: RunOptions = {}): Run {
  const { limit, deliver, prepare, ...harness } = options;
  const exception = deliver ? undefined : () => true;
  const { cpu, memory } = createHarness(p.bytes, {
    ...harness,
    callouts: { ...(exception ? { exception } : {}), ...harness.callouts },
  });
  prepare?.(cpu, memory, cpu.state);
  const reason = cpu.run(limit ?? 100_000);
  return { cpu, memory, s: cpu.state, reason };
}

/** A general register as an unsigned 32-bit number. */
export function reg(s: CpuState, r: Reg): number {
  return (s.regs[r] ?? 0) >>> 0;
}

/** The six status flags as a string of the set ones, e.g. `'CZ'` (order C P A Z S O). */
export function statusFlags(s: CpuState): string {
  const f = s.getFlags();
  return [
    [0x1, 'C'],
    [0x4, 'P'],
    [0x10, 'A'],
    [0x40, 'Z'],
    [0x80, 'S'],
    [0x800, 'O'],
  ]
    .filter(([bit]) => f & (bit as number))
    .map(([, name]) => name)
    .join('');
}

/** Page directory and the one page table `identityMap` builds (4 MiB identity mapped). */
export const PAGE_DIR = 0x40000;
export const PAGE_TABLE = 0x41000;

/**
 * Turns on 32-bit paging with the first 4 MiB identity mapped by 4 KiB pages (user, writable),
 * except the linear pages in `missing` (not present) and `readOnly` (present, read-only).
 */
export function identityMap(
  memory: FlatMemory,
  s: CpuState,
  options: { missing?: readonly number[]; readOnly?: readonly number[]; supervisor?: readonly number[] } = {},
): void {
  memory.write32(PAGE_DIR, PAGE_TABLE | 7);
  for (let i = 0; i < 1024; i++) {
    const addr = i << 12;
    let pte = addr | 7;
    if (options.readOnly?.includes(addr)) pte &= ~2;
    if (options.supervisor?.includes(addr)) pte &= ~4;
    if (options.missing?.includes(addr)) pte = 0;
    memory.write32(PAGE_TABLE + i * 4, pte);
  }
  s.cr3 = PAGE_DIR;
  s.cr0 |= 0x80000000;
}

/** Maps a linear page (identity) that `identityMap` left out, as a fault handler would. */
export function mapPage(memory: FlatMemory, linear: number): void {
  memory.write32(PAGE_TABLE + (linear >>> 12) * 4, (linear & ~0xfff) | 7);
}

/**
 * Writes a segment descriptor into the harness GDT at `selector` (index 6 and up are free) and
 * grows GDTR.limit to cover it. `access` is descriptor byte 5, `flags` the G/D/L/AVL nibble.
 */
export function addDescriptor(
  memory: FlatMemory,
  s: CpuState,
  selector: number,
  d: { base?: number; limit: number; access: number; flags?: number },
): void {
  const base = d.base ?? 0;
  const lo = ((base & 0xffff) << 16) | (d.limit & 0xffff);
  const hi =
    (base & 0xff000000) |
    (((d.flags ?? 0) & 0xf) << 20) |
    (d.limit & 0xf0000) |
    ((d.access & 0xff) << 8) |
    ((base >>> 16) & 0xff);
  const at = HARNESS_GDT + (selector & 0xfff8);
  memory.write32(at, lo >>> 0);
  memory.write32(at + 4, hi >>> 0);
  s.gdtrLimit = Math.max(s.gdtrLimit, (selector & 0xfff8) + 7);
}

/** Selectors of the descriptors `protected16` installs. */
export const CODE16 = 0x30;
export const DATA16 = 0x38;

/**
 * Prepares 16-bit protected mode: a 16-bit ring-0 code segment (selector 0x30) and a 16-bit
 * data segment (0x38), both base 0 and limit 0xFFFF, loaded into CS and every data/stack
 * register, with SP at `sp`. Code must be assembled with `a16`.
 */
export function protected16(cpu: Tier0, memory: FlatMemory, s: CpuState, sp = 0xfff0): void {
  addDescriptor(memory, s, CODE16, { limit: 0xffff, access: 0x9b });
  addDescriptor(memory, s, DATA16, { limit: 0xffff, access: 0x93 });
  cpu.readDescriptor(CODE16, Vector.gp);
  cpu.installSegment(Seg.cs, CODE16);
  for (const seg of [Seg.es, Seg.ss, Seg.ds, Seg.fs, Seg.gs]) {
    cpu.readDescriptor(DATA16, Vector.gp);
    cpu.installSegment(seg, DATA16);
  }
  s.regs[Reg.esp] = sp;
}
