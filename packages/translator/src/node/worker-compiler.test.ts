import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { CompiledModule, ModuleCompiler } from '../module-compiler';
import { createWorkerCompiler } from './worker-compiler';

const RING = 1 << 20;

function sleb(out: number[], v: number): void {
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

/**
 * A module of exactly `length` bytes (at least 50) exporting `f`, which returns `value`: the
 * function, then a custom section (which V8 skips) that makes up the length.
 */
function moduleOf(value: number, length: number): Uint8Array {
  const body = [0, 0x41];
  sleb(body, value);
  body.push(0x0b);
  const code = [1, body.length, ...body];
  const out = [
    0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7f, 3, 2, 1, 0, 7, 5, 1, 1, 0x66, 0, 0,
  ];
  out.push(10, code.length, ...code);
  // Custom section: id 0, its size in a 5-byte LEB (padded, which the format allows, so any
  // length can be made), then the name "p" (length 1) and the padding.
  const content = length - out.length - 6;
  if (content < 2) throw new Error(`no module of ${length} bytes`);
  const bytes = new Uint8Array(length);
  bytes.set(out);
  const section = [0];
  for (let k = 0; k < 5; k++) section.push(((content >>> (7 * k)) & 0x7f) | (k < 4 ? 0x80 : 0));
  section.push(1, 0x70);
  bytes.set(section, out.length);
  return bytes;
}

/** The value request `id`'s module returns: distinct per id, of either sign, of 1 to 5 LEB bytes. */
const returnOf = (id: number) => Math.imul(id + 1, 0x9e3779b1) >> (id % 29);

/** A size from 50 B to 20 KiB, spread by `id`. */
const sizeOf = (id: number) => 50 + ((Math.imul(id, 0x2545f491) >>> 0) % (20 * 1024 - 50));

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the thread, as the guest's run loop does: the event loop never runs. */
function sleep(ms: number): void {
  Atomics.wait(pause, 0, 0, ms);
}

/** Takes answers into `got` until it holds `count` or more (or 10 s pass); an id answered twice fails. */
function takeUntil(c: ModuleCompiler, got: Map<number, CompiledModule>, count: number): void {
  const end = performance.now() + 10_000;
  while (got.size < count && performance.now() < end) {
    if (!c.ready()) {
      sleep(0.25);
      continue;
    }
    for (const r of c.take()) {
      if (got.has(r.id)) throw new Error(`request ${r.id} answered twice`);
      got.set(r.id, r);
    }
  }
  expect(got.size).toBeGreaterThanOrEqual(count);
}

/** Nothing more comes after a while (no request answered twice, none made up). */
function expectNoMore(c: ModuleCompiler): void {
  sleep(20);
  expect(c.take()).toEqual([]);
}

/** The ids in `ids`, and only those, came back compiled, and each module returns its id's value. */
function expectCompiled(got: Map<number, CompiledModule>, ids: readonly number[]): void {
  expect(got.size).toBe(ids.length);
  for (const id of ids) {
    const r = got.get(id);
    expect(r?.error, `request ${id}`).toBeUndefined();
    expect(r?.module, `request ${id}`).toBeInstanceOf(WebAssembly.Module);
    const f = new WebAssembly.Instance(r?.module as WebAssembly.Module).exports.f as () => number;
    expect(f(), `request ${id}`).toBe(returnOf(id));
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

/** Waits (blocking) until the worker sleeps, at least `ms` after now. */
function sleepUntilWorkerSleeps(c: ReturnType<typeof createWorkerCompiler>, ms: number): void {
  const start = performance.now();
  while ((!c.stats.sleeping || performance.now() - start < ms) && performance.now() - start < 5000) sleep(5);
  expect(c.stats.sleeping).toBe(true);
}

describe('createWorkerCompiler: requests through a shared ring', () => {
  it('answers 600 modules of 50 B to 20 KiB, in bursts, each once and each with its own module', () => {
    const c = createWorkerCompiler();
    try {
      const got = new Map<number, CompiledModule>();
      let bytes = 0;
      // Bursts of 20, one burst still out when the next goes: at most ~820 KiB in the ring, so
      // every request goes through it, and the total (~6 MiB) wraps it several times.
      for (let id = 0; id < 600; id += 20) {
        for (const k of range(id, id + 20)) {
          const m = moduleOf(returnOf(k), sizeOf(k));
          bytes += m.length;
          c.submit(k, m);
        }
        takeUntil(c, got, Math.max(0, id));
      }
      takeUntil(c, got, 600);
      expectNoMore(c);
      expect(bytes).toBeGreaterThan(4 * RING);
      expect(c.stats).toMatchObject({ ring: 600, posted: 0 });
      expectCompiled(got, range(0, 600));
      expect(c.alive()).toBe(true);
    } finally {
      c.close();
    }
  });

  it('wraps the ring many times, with records that end exactly at its end', () => {
    // 4 KiB records (8 B header + 4088 B): every 256th ends at the end of a 1 MiB ring, every
    // 4th at the end of a 16 KiB one, with no wrap record in between.
    for (const [ringBytes, burst] of [
      [RING, 32],
      [16 * 1024, 2],
    ] as const) {
      const c = createWorkerCompiler({ ringBytes });
      try {
        const got = new Map<number, CompiledModule>();
        const n = 640;
        for (let id = 0; id < n; id += burst) {
          for (const k of range(id, id + burst)) c.submit(k, moduleOf(returnOf(k), 4088));
          // All answered before the next burst: the ring never fills, so none goes as a message.
          takeUntil(c, got, id + burst);
        }
        expectNoMore(c);
        expect(n * 4096).toBeGreaterThan(2 * RING);
        expect(c.stats).toMatchObject({ ring: n, posted: 0 });
        expectCompiled(got, range(0, n));
      } finally {
        c.close();
      }
    }
  });

  it('wraps a small ring with records of odd sizes (wrap records before the end)', () => {
    const c = createWorkerCompiler({ ringBytes: 32 * 1024 });
    try {
      const got = new Map<number, CompiledModule>();
      const n = 900;
      // Bursts of 3 of up to 6000 B, all answered before the next: at most one wrap per burst,
      // so they always fit.
      for (let id = 0; id < n; id += 3) {
        for (const k of range(id, id + 3)) c.submit(k, moduleOf(returnOf(k), 50 + ((k * 2731) % 5951)));
        takeUntil(c, got, id + 3);
      }
      expectNoMore(c);
      expect(c.stats).toMatchObject({ ring: n, posted: 0 });
      expectCompiled(got, range(0, n));
    } finally {
      c.close();
    }
  });

  it('sends a module larger than the ring as a message, and one that just fits through the ring', () => {
    const c = createWorkerCompiler({ ringBytes: 64 * 1024 });
    try {
      const got = new Map<number, CompiledModule>();
      // The empty ring takes a record as large as itself.
      c.submit(0, moduleOf(returnOf(0), 64 * 1024 - 8));
      takeUntil(c, got, 1);
      expect(c.stats).toMatchObject({ ring: 1, posted: 0 });
      c.submit(1, moduleOf(returnOf(1), 64 * 1024 - 7));
      // Not a whole buffer: copied before it is transferred.
      const big = moduleOf(returnOf(2), 3 * RING);
      const within = new Uint8Array(big.length + 16);
      within.set(big, 16);
      c.submit(2, within.subarray(16));
      c.submit(3, moduleOf(returnOf(3), 100));
      takeUntil(c, got, 4);
      expectNoMore(c);
      expect(c.stats).toMatchObject({ ring: 2, posted: 2 });
      expectCompiled(got, range(0, 4));
    } finally {
      c.close();
    }
  });

  it('sends what a full ring has no room for as messages, and answers all', () => {
    const c = createWorkerCompiler({ ringBytes: 64 * 1024 });
    try {
      const got = new Map<number, CompiledModule>();
      // 1.2 MiB at once into 64 KiB: the first few always fit, the worker cannot keep up with the
      // rest (a copy takes about a microsecond, a compile and its answer far longer). The sizes
      // vary, so records wrap while the worker is still reading the ring's start.
      const n = 200;
      const size = (k: number) => 50 + ((k * 7919) % 12_000);
      for (const k of range(0, n)) c.submit(k, moduleOf(returnOf(k), size(k)));
      expect(c.stats.ring).toBeGreaterThanOrEqual(5);
      expect(c.stats.posted).toBeGreaterThan(0);
      expect(c.stats.ring + c.stats.posted).toBe(n);
      // The ring is used again once it has room.
      takeUntil(c, got, n);
      const before = c.stats.ring;
      c.submit(n, moduleOf(returnOf(n), 4000));
      expect(c.stats.ring).toBe(before + 1);
      takeUntil(c, got, n + 1);
      expectNoMore(c);
      expectCompiled(got, range(0, n + 1));
    } finally {
      c.close();
    }
  });

  it('a record that must wrap needs the start of the ring read, not only the room left at its end', () => {
    // 64 KiB ring: request 0 (8 KiB) is read; the worker goes to sleep; request 1 (52 KiB) ends
    // 4 KiB before the end, request 2 (10 KiB) follows at once, before the woken worker has read
    // request 1 (most likely: waking takes tens of microseconds). It does not fit in the 4 KiB,
    // nor in the 8 KiB read at the start, so it must go as a message: written at the start it
    // would overwrite request 1. Either way, all three come back whole.
    for (let round = 0; round < 2; round++) {
      const c = createWorkerCompiler({ ringBytes: 64 * 1024 });
      try {
        const got = new Map<number, CompiledModule>();
        const mods = [8 * 1024, 52 * 1024, 10 * 1024].map((n, id) => moduleOf(returnOf(id), n - 8));
        c.submit(0, mods[0] as Uint8Array);
        takeUntil(c, got, 1);
        sleepUntilWorkerSleeps(c, 60);
        c.submit(1, mods[1] as Uint8Array);
        c.submit(2, mods[2] as Uint8Array);
        takeUntil(c, got, 3);
        expectNoMore(c);
        expectCompiled(got, [0, 1, 2]);
      } finally {
        c.close();
      }
    }
  });

  it('answers bytes that are not a module with the reason, through the ring and as a message', () => {
    const c = createWorkerCompiler({ ringBytes: 64 * 1024 });
    try {
      const got = new Map<number, CompiledModule>();
      c.submit(7, new Uint8Array([0, 0x61, 0x73, 0x6d, 9, 9, 9, 9]));
      c.submit(8, new Uint8Array(100 * 1024).fill(0xee));
      c.submit(9, new Uint8Array(0));
      c.submit(10, moduleOf(returnOf(10), 64));
      takeUntil(c, got, 4);
      expect(c.stats).toMatchObject({ ring: 3, posted: 1 });
      for (const id of [7, 8, 9]) {
        expect(got.get(id)?.module).toBeUndefined();
        expect(got.get(id)?.error).toMatch(/version|magic|Wasm|WebAssembly|BufferSource|empty/i);
        got.delete(id);
      }
      expectCompiled(got, [10]);
      expect(c.alive()).toBe(true);
    } finally {
      c.close();
    }
  });

  it('a worker that went to sleep (idle > 100 ms) is woken by the next request, once', () => {
    const c = createWorkerCompiler();
    try {
      const got = new Map<number, CompiledModule>();
      c.submit(0, moduleOf(returnOf(0), 500));
      takeUntil(c, got, 1);
      sleepUntilWorkerSleeps(c, 150);
      expect(c.stats.wakes).toBe(0);
      for (const k of range(1, 21)) c.submit(k, moduleOf(returnOf(k), 500));
      takeUntil(c, got, 21);
      // Only the first request of the burst notified: it cleared the flag.
      expect(c.stats.wakes).toBe(1);
      sleepUntilWorkerSleeps(c, 150);
      c.submit(21, moduleOf(returnOf(21), 500));
      takeUntil(c, got, 22);
      expect(c.stats.wakes).toBe(2);
      expectNoMore(c);
      expectCompiled(got, range(0, 22));
    } finally {
      c.close();
    }
  });

  it('closes while the worker sleeps; submit after close throws', () => {
    const c = createWorkerCompiler();
    sleepUntilWorkerSleeps(c, 100);
    expect(c.alive()).toBe(true);
    c.close();
    c.close();
    expect(c.alive()).toBe(false);
    expect(c.ready()).toBe(false);
    expect(c.take()).toEqual([]);
    expect(() => c.submit(1, moduleOf(1, 100))).toThrow(/closed/);
    expect(() => createWorkerCompiler({ ringBytes: 3000 })).toThrow(/power of two/);
  });

  it('does not keep the process alive: idle, or with its worker asleep', () => {
    const dir = mkdtempSync(join(tmpdir(), 'worker-compiler-'));
    try {
      const source = fileURLToPath(new URL('./worker-compiler.ts', import.meta.url));
      const scripts = {
        idle: `import { createWorkerCompiler } from ${JSON.stringify(source)};\ncreateWorkerCompiler();\n`,
        asleep: `import { createWorkerCompiler } from ${JSON.stringify(source)};
const c = createWorkerCompiler();
c.submit(1, new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
const p = new Int32Array(new SharedArrayBuffer(4));
for (let k = 0; k < 5000 && !c.ready(); k++) Atomics.wait(p, 0, 0, 1);
for (let k = 0; k < 5000 && !c.stats.sleeping; k++) Atomics.wait(p, 0, 0, 1);
console.log(c.take().length, c.stats.sleeping);
`,
      };
      for (const [name, text] of Object.entries(scripts)) {
        const file = join(dir, `${name}.mts`);
        writeFileSync(file, text);
        const run = spawnSync(process.execPath, ['--import', 'tsx', file], {
          cwd: fileURLToPath(new URL('../..', import.meta.url)),
          encoding: 'utf8',
          timeout: 15_000,
        });
        expect(run.stderr, name).toBe('');
        expect(run.signal, name).toBeNull();
        expect(run.status, name).toBe(0);
        if (name === 'asleep') expect(run.stdout.trim()).toBe('1 true');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
