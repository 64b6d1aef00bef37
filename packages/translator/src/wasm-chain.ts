import { CHAIN_ENTRIES, chainEntry, type WasmArena } from './arena';
import { FunctionBuilder, ModuleBuilder, ValType } from './wasm-encoder';

/** A region's `run(block, e0, lim, ic) -> rv` (see `tier1-wasm.ts`). */
export type RunFn = (block: number, e0: number, lim: number, ic: number) => number;

const I32 = ValType.i32;

/** `RunFn`'s parameters, the type every element of the chain's table has (with an i32 result). */
export const RUN_PARAMS: readonly ValType[] = [I32, I32, I32, I32];

/** Table elements before the chain starts over (a flush), bounding what the table keeps alive. */
export const CHAIN_FUNCTIONS = 1 << 16;

/**
 * Region-to-region chaining inside WebAssembly. Every WebAssembly region's `run` has an element
 * in one shared function table, and the arena's chain map (`WasmArena.chain`) gives, by physical
 * address and mode, the element and block of each region entry. A region leaving for an EIP whose
 * entry the map holds tail-calls it (`return_call_indirect`) without coming back to JavaScript;
 * JavaScript enters any region through one exported trampoline (`enter`), so V8 sees a single
 * JavaScript-to-WebAssembly call site instead of one per region.
 *
 * The map is a cache: an entry is overwritten by another address that hashes alike, dropped when
 * its page is written (`dropPage`) and all of it goes at a flush. A miss leaves the region, and the
 * dispatcher looks the entry up as before.
 */
export class WasmChain {
  readonly table: WebAssembly.Table;
  /** Calls table element `fn` with `run`'s arguments. */
  readonly enter: (fn: number, block: number, e0: number, lim: number, ic: number) => number;
  /** `c.codeWrites` when JavaScript last entered a region (each region's imports compare with it). */
  w0 = 0;
  /** Incremented at each flush: an element index of an older generation is no longer valid. */
  generation = 0;
  private readonly map: Int32Array;
  private next = 0;
  /** The chain map entries filled per physical page (some may since hold another address). */
  private readonly byPage = new Map<number, number[]>();

  constructor(arena: WasmArena) {
    this.map = arena.chain;
    this.table = new WebAssembly.Table({ element: 'anyfunc', initial: 256 });
    const mb = new ModuleBuilder();
    mb.importTable('x', 't', 0);
    const type = mb.type(RUN_PARAMS, [I32]);
    // enter(fn, ...run's arguments): the arguments, then the element index.
    const params = [I32, ...RUN_PARAMS];
    const f = new FunctionBuilder(params.length);
    for (let k = 1; k < params.length; k++) f.get(k);
    f.get(0).callIndirect(type);
    const fn = mb.addFunction(params, [I32], f);
    mb.exportFunction('enter', fn);
    const instance = new WebAssembly.Instance(new WebAssembly.Module(mb.build()), { x: { t: this.table } });
    this.enter = instance.exports.enter as WasmChain['enter'];
  }

  /** Puts a region's `run` in the table; returns its element index. */
  add(run: RunFn): number {
    if (this.next === CHAIN_FUNCTIONS) this.flush();
    const k = this.next++;
    if (k >= this.table.length)
      this.table.grow(Math.min(this.table.length, CHAIN_FUNCTIONS - this.table.length));
    this.table.set(k, run);
    return k;
  }

  /** Records that block `block` of table element `fn` is the entry at `phys` in `mode`. */
  insert(phys: number, mode: number, fn: number, block: number): void {
    const k = chainEntry(phys);
    const m = this.map;
    m[4 * k] = phys;
    m[4 * k + 1] = mode;
    m[4 * k + 2] = fn;
    m[4 * k + 3] = block;
    const page = phys >>> 12;
    let list = this.byPage.get(page);
    if (list === undefined) {
      list = [];
      this.byPage.set(page, list);
    }
    list.push(k);
  }

  /** The table element and block of the entry at `phys` in `mode`, if the map holds it (for tests and inspection). */
  lookup(phys: number, mode: number): { fn: number; block: number } | undefined {
    const k = chainEntry(phys);
    const m = this.map;
    if (m[4 * k] !== (phys | 0) || m[4 * k + 1] !== mode) return undefined;
    return { fn: m[4 * k + 2] as number, block: m[4 * k + 3] as number };
  }

  /** Drops the entries on physical page `page` (its code was written or dropped). */
  dropPage(page: number): void {
    const list = this.byPage.get(page);
    if (list === undefined) return;
    const m = this.map;
    for (const k of list) if ((m[4 * k] as number) >>> 12 === page) m[4 * k] = -1;
    this.byPage.delete(page);
  }

  /** Drops the entries of table element `fn` on physical page `page`. */
  dropFunction(page: number, fn: number): void {
    const list = this.byPage.get(page);
    if (list === undefined) return;
    const m = this.map;
    for (const k of list) if ((m[4 * k] as number) >>> 12 === page && m[4 * k + 2] === fn) m[4 * k] = -1;
  }

  /** Drops every entry; table elements are handed out from 0 again (a new generation). */
  flush(): void {
    this.map.fill(-1);
    this.byPage.clear();
    this.next = 0;
    this.generation++;
  }

  /** Entries in use (for tests and inspection). */
  get size(): number {
    let n = 0;
    const m = this.map;
    for (let k = 0; k < CHAIN_ENTRIES; k++) if ((m[4 * k] as number) !== -1) n++;
    return n;
  }
}
