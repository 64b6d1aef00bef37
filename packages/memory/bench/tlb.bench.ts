/**
 * TLB-hit 32-bit reads and writes against raw typed-array access of RAM at the same addresses,
 * measured in the same run, and page walks per second.   pnpm --filter @ringzero/memory bench
 *
 * Every case runs in each of ROUNDS (7) interleaved rounds (each at least MS = 200 ms of CPU
 * time), timed by the process's CPU time so that time the machine spends on other processes
 * does not count against whichever case happened to be running. The TLB and raw cases are the
 * same loop over the same addresses; only the access differs. Printed: the best rate, the
 * spread between the worst and best round, the time against both raw loops (best against best)
 * and the range of the per-round ratio against the faster raw loop of the same round.
 * CASES=regex runs only the matching cases (and the raw ones).
 */
import { Mmu, TLB_CPL } from '../src/mmu';
import {
  Access,
  CR0_PG,
  CR4_PAE,
  EFER_LME,
  loadPdptes,
  type PagingControl,
  WalkResult,
  walk,
} from '../src/paging';
import { PhysicalMemory } from '../src/physical';

const ROUNDS = Number(process.env.ROUNDS ?? 7);
const MS = Number(process.env.MS ?? 200);

// 32-bit paging: the first 16 MiB identity-mapped with 4 KiB pages (page tables at 8 MiB).
const mem = new PhysicalMemory(64 << 20);
const mmu = new Mmu(mem);
for (let t = 0; t < 4; t++) mem.write32(0x1000 + t * 4, (0x80_0000 + t * 0x1000) | 0x67);
for (let p = 0; p < 4096; p++) mem.write32(0x80_0000 + p * 4, (p << 12) | 0x67);
mmu.setCr3(0x1000);
mmu.setCr0(CR0_PG | 1);
// A guest changes CPL; so does this benchmark, once, so the engine cannot treat the current
// privilege as a constant (the accesses below all run at CPL 0).
mmu.cpl = 3;
mmu.cpl = 0;

const N = 1 << 16; // dword addresses within 256 KiB (64 pages, hot in the TLB)
const addrs = new Uint32Array(N);
for (let i = 0; i < N; i++) addrs[i] = 0x10_0000 + (((i * 2654435761) % (256 * 1024)) & ~3);

// 4-level paging: linear 0xffff_8000_0000_0000 + x → physical 0x100000 + x for the same 256 KiB.
const mem64 = new PhysicalMemory(16 << 20);
const mmu64 = new Mmu(mem64);
mem64.write32(0x1000 + 256 * 8, 0x2003 | 4); // PML4E 256 (the first of the upper half)
mem64.write32(0x2000, 0x3007); // PDPTE 0
mem64.write32(0x3000, 0x4007); // PDE 0
for (let p = 0; p < 64; p++) mem64.write32(0x4000 + p * 8, (0x10_0000 + p * 4096) | 0x67);
mmu64.setEfer(EFER_LME);
mmu64.setCr4(CR4_PAE);
mmu64.setCr3(0x1000);
mmu64.setCr0(CR0_PG | 1);
const UPPER = -(2 ** 47);
const addrs64 = new Float64Array(N);
for (let i = 0; i < N; i++) addrs64[i] = UPPER + (addrs[i]! - 0x10_0000);

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function rate(fn: () => number): number {
  fn();
  const t0 = cpuMs();
  let ops = 0;
  let t = 0;
  do {
    ops += fn();
    t = cpuMs() - t0;
  } while (t < MS);
  return (ops / t) * 1000;
}

let sink = 0;
const view = mem.view;
const ram32 = mem.ram32;
const ramDwords = ram32.length;
// A local copy: the engine reads an imported binding through a cell; a translator embeds the number.
const CPL = TLB_CPL;
const rd = mmu.tlbRead;
const wr = mmu.tlbWrite;

function rawViewRead(): number {
  let s = 0;
  for (let i = 0; i < N; i++) s ^= view.getUint32(addrs[i]!, true);
  sink ^= s;
  return N;
}
function rawViewWrite(): number {
  for (let i = 0; i < N; i++) view.setUint32(addrs[i]!, i, true);
  return N;
}
/** Raw reads of the same kind of array the hit path reads (a `Uint32Array` over RAM). */
function rawWordsRead(): number {
  let s = 0;
  for (let i = 0; i < N; i++) s ^= ram32[addrs[i]! >>> 2]!;
  sink ^= s;
  return N;
}
function rawWordsWrite(): number {
  for (let i = 0; i < N; i++) ram32[addrs[i]! >>> 2] = i;
  return N;
}
function mmuRead(): number {
  let s = 0;
  for (let i = 0; i < N; i++) s ^= mmu.read32(addrs[i]!);
  sink ^= s;
  return N;
}
function mmuWrite(): number {
  for (let i = 0; i < N; i++) mmu.write32(addrs[i]!, i);
  return N;
}
/** `Mmu.read32` with the privilege named (0: supervisor), as a translator calls it. */
function mmuReadSup(): number {
  let s = 0;
  for (let i = 0; i < N; i++) s ^= mmu.read32(addrs[i]!, 0);
  sink ^= s;
  return N;
}
function mmuWriteSup(): number {
  for (let i = 0; i < N; i++) mmu.write32(addrs[i]!, i, 0);
  return N;
}
/** The hit path as a translator inlines it (the contract in the README), supervisor mode. */
function inlinedRead(): number {
  let s = 0;
  for (let i = 0; i < N; i++) {
    const lin = addrs[i]!;
    const p = (lin | 0) + rd[lin >>> 12]!;
    const q = ((p >>> 2) | (p << 30)) >>> 0;
    s ^= q < ramDwords ? ram32[q]! : mmu.read32(lin, 0);
  }
  sink ^= s;
  return N;
}
/** The same with the privilege of the CPL, from the tables' `TLB_CPL` entry. */
function inlinedReadCpl(): number {
  let s = 0;
  for (let i = 0; i < N; i++) {
    const lin = addrs[i]!;
    const p = (lin | 0) + rd[(lin >>> 12) | rd[CPL]!]!;
    const q = ((p >>> 2) | (p << 30)) >>> 0;
    s ^= q < ramDwords ? ram32[q]! : mmu.read32(lin);
  }
  sink ^= s;
  return N;
}
function inlinedWrite(): number {
  for (let i = 0; i < N; i++) {
    const lin = addrs[i]!;
    const p = (lin | 0) + wr[lin >>> 12]!;
    const q = ((p >>> 2) | (p << 30)) >>> 0;
    if (q < ramDwords) ram32[q] = i;
    else mmu.write32(lin, i, 0);
  }
  return N;
}
/**
 * The floor of any design that looks a page up in a table before touching RAM: the two
 * dependent loads alone, with no rights test and no miss path (not a usable hit path).
 */
function floorRead(): number {
  let s = 0;
  for (let i = 0; i < N; i++) {
    const lin = addrs[i]!;
    s ^= ram32[(lin + rd[lin >>> 12]!) >>> 2]!;
  }
  sink ^= s;
  return N;
}
function mmuReadLong(): number {
  let s = 0;
  for (let i = 0; i < N; i++) s ^= mmu64.read32Long(addrs64[i]!);
  sink ^= s;
  return N;
}
function mmuWriteLong(): number {
  for (let i = 0; i < N; i++) mmu64.write32Long(addrs64[i]!, i);
  return N;
}

// Page walks: 4 KiB pages in each mode, one walk per call (no TLB).
const out = new WalkResult();
const ctl32 = mmu.control;
const memPae = new PhysicalMemory(16 << 20);
memPae.write32(0x1000, 0x2001); // PDPTE 0
memPae.write32(0x2000, 0x3007); // PDE 0
for (let p = 0; p < 512; p++) memPae.write32(0x3000 + p * 8, (p << 12) | 0x67);
const ctlPae: PagingControl = { cr0: CR0_PG | 1, cr3: 0x1000, cr4: CR4_PAE, efer: 0 };
const pdpte = new Uint32Array(8);
loadPdptes(memPae, 0x1000, pdpte);
const ctl64 = mmu64.control;
function walks32(): number {
  for (let i = 0; i < 4096; i++) walk(mem, ctl32, addrs[i]!, Access.read, false, false, out);
  return 4096;
}
function walksPae(): number {
  for (let i = 0; i < 4096; i++)
    walk(memPae, ctlPae, addrs[i]! & 0x1f_ffff, Access.read, false, false, out, pdpte);
  return 4096;
}
function walks64(): number {
  for (let i = 0; i < 4096; i++) walk(mem64, ctl64, addrs64[i]!, Access.read, false, false, out);
  return 4096;
}

const cases: [string, () => number][] = [
  ['raw DataView read32', rawViewRead],
  ['raw Uint32Array read32', rawWordsRead],
  ['Mmu.read32 (TLB hit, CPL)', mmuRead],
  ['Mmu.read32 (TLB hit, named)', mmuReadSup],
  ['inlined hit read32 (named)', inlinedRead],
  ['inlined hit read32 (TLB_CPL)', inlinedReadCpl],
  ['floor: two loads, no test read32', floorRead],
  ['Mmu.read32Long (upper half)', mmuReadLong],
  ['raw DataView write32', rawViewWrite],
  ['raw Uint32Array write32', rawWordsWrite],
  ['Mmu.write32 (TLB hit, CPL)', mmuWrite],
  ['Mmu.write32 (TLB hit, named)', mmuWriteSup],
  ['inlined hit write32 (named)', inlinedWrite],
  ['Mmu.write32Long (upper half)', mmuWriteLong],
  ['page walks, 32-bit', walks32],
  ['page walks, PAE', walksPae],
  ['page walks, 4-level', walks64],
];
const only = process.env.CASES === undefined ? undefined : new RegExp(process.env.CASES);
const run = cases.filter(([name]) => only === undefined || name.startsWith('raw') || only.test(name));
// rates[name][round]; each round runs every case once, starting one case later than the round
// before, so no case always follows the same neighbour.
const rates = new Map<string, number[]>(run.map(([name]) => [name, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (let k = 0; k < run.length; k++) {
    const [name, fn] = run[(k + r) % run.length]!;
    rates.get(name)![r] = rate(fn);
  }
}
const series = (name: string) => rates.get(name) ?? [];
const bestOf = (name: string) => Math.max(...series(name));
const mps = (n: number) => (n / 1e6).toFixed(1);
console.log(
  `${ROUNDS} interleaved rounds of >= ${MS} ms CPU time each; best rate, spread (worst/best - 1), ` +
    'time vs the raw loops (best vs best), and the per-round range of time vs the faster raw loop of that round',
);
for (const [name] of run) {
  const v = bestOf(name);
  const spread = `${((1 - Math.min(...series(name)) / v) * 100).toFixed(0).padStart(3)}%`;
  const kind = name.includes('read') ? 'read32' : name.includes('write') ? 'write32' : '';
  let vs = '';
  if (kind !== '' && !name.startsWith('raw')) {
    const view = series(`raw DataView ${kind}`);
    const words = series(`raw Uint32Array ${kind}`);
    const perRound = series(name).map((x, r) => Math.max(view[r]!, words[r]!) / x);
    vs =
      `   ${(bestOf(`raw DataView ${kind}`) / v).toFixed(2)}x DataView, ` +
      `${(bestOf(`raw Uint32Array ${kind}`) / v).toFixed(2)}x Uint32Array, ` +
      `rounds ${Math.min(...perRound).toFixed(2)}–${Math.max(...perRound).toFixed(2)}x`;
  }
  console.log(`${name.padEnd(36)}${mps(v).padStart(7)} M/s ${spread}${vs}`);
}
if (sink === 0.5) console.log(sink);
