/**
 * TLB-hit 32-bit reads and writes against raw typed-array access measured in the same run, and
 * page walks per second.   pnpm --filter @ringzero/memory bench
 */
import { Mmu } from '../src/mmu';
import { Access, CR0_PG, WalkResult, walk } from '../src/paging';
import { PhysicalMemory } from '../src/physical';

const mem = new PhysicalMemory(64 << 20);
const mmu = new Mmu(mem);
// Identity-map the first 16 MiB with 4 KiB pages (page tables at 8 MiB).
for (let t = 0; t < 4; t++) mem.write32(0x1000 + t * 4, (0x80_0000 + t * 0x1000) | 0x67);
for (let p = 0; p < 4096; p++) mem.write32(0x80_0000 + p * 4, (p << 12) | 0x67);
mmu.setCr3(0x1000);
mmu.setCr0(CR0_PG | 1);

const N = 1 << 16; // addresses within 256 KiB (hot in the TLB)
const addrs = new Uint32Array(N);
for (let i = 0; i < N; i++) addrs[i] = 0x10_0000 + (((i * 2654435761) % (256 * 1024)) & ~3);

function rate(fn: () => number): number {
  fn();
  const t0 = performance.now();
  let ops = 0;
  while (performance.now() - t0 < 1000) ops += fn();
  return (ops / (performance.now() - t0)) * 1000;
}

const view = mem.view;
let sink = 0;
const rawRead = rate(() => {
  let s = 0;
  for (let i = 0; i < N; i++) s ^= view.getUint32(addrs[i]!, true);
  sink ^= s;
  return N;
});
const tlbRead = rate(() => {
  let s = 0;
  for (let i = 0; i < N; i++) s ^= mmu.read32(addrs[i]!);
  sink ^= s;
  return N;
});
const rawWrite = rate(() => {
  for (let i = 0; i < N; i++) view.setUint32(addrs[i]!, i, true);
  return N;
});
const tlbWrite = rate(() => {
  for (let i = 0; i < N; i++) mmu.write32(addrs[i]!, i);
  return N;
});
const out = new WalkResult();
const walks = rate(() => {
  for (let i = 0; i < 4096; i++) walk(mem, mmu.control, addrs[i]!, Access.read, false, false, out);
  return 4096;
});
const f = (n: number) => `${(n / 1e6).toFixed(1)} M/s`;
console.log(`raw DataView read32   ${f(rawRead)}`);
console.log(`TLB-hit read32        ${f(tlbRead)}   (${(rawRead / tlbRead).toFixed(2)}x slower than raw)`);
console.log(`raw DataView write32  ${f(rawWrite)}`);
console.log(`TLB-hit write32       ${f(tlbWrite)}   (${(rawWrite / tlbWrite).toFixed(2)}x slower than raw)`);
console.log(`page walks (32-bit)   ${f(walks)}`);
if (sink === 0.5) console.log(sink);
