import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { TranslatorError } from '../errors';
import type { CompiledModule, ModuleCompiler } from '../module-compiler';

/**
 * The control block's int32 slots, shared by the guest thread and the worker. The two byte
 * counters only grow (wrapping at 2^32, `| 0`); a position in the ring is `counter & (size - 1)`
 * and the bytes in use are `(write - read) | 0`, right across the wrap, because the ring's size
 * is a power of two that divides 2^32 and never exceeds 2^30.
 */
const WRITE = 0; // bytes ever written to the ring (only the guest thread stores it)
const READ = 1; // bytes ever freed in the ring (only the worker stores it)
const DONE = 2; // answers posted on the reply port (the guest thread polls it)
const SLEEPING = 3; // 1 while the worker waits on WRITE without a timeout (it needs a notify)
const CONTROL_SLOTS = 4;

/** The ring's size unless told: several bursts of tier 1's modules (a few KiB each) at once. */
const DEFAULT_RING_BYTES = 1 << 20;

/** A record's header: `[id:int32][len:int32]`; the bytes follow, padded to 8. */
const HEADER = 8;

/** `len` of the record that says "nothing more before the ring's end: go on at its start". */
const WRAP = -1;

/**
 * The worker's program (CommonJS, run with `eval`). It compiles each request, posts the module
 * back on the reply port (a compiled module crosses threads without being compiled again), then
 * bumps DONE, which the guest thread polls (it never yields to the event loop, so it cannot be
 * told by an event).
 *
 * Requests come through the ring; those the ring had no room for come as messages. The ring is
 * drained by an async loop, so messages are still handled whenever the loop waits. While
 * requests keep coming the loop polls WRITE every millisecond: the guest thread does not notify
 * a worker that polls, since a notify wakes the other thread, which costs the guest far more
 * than the copy into the ring. After IDLE_MS with nothing new the worker sleeps on WRITE until
 * notified, so an idle guest costs no CPU.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ctrl = new Int32Array(workerData.control);
const ring8 = new Uint8Array(workerData.ring);
const ring32 = new Int32Array(workerData.ring);
const reply = workerData.reply;
const SIZE = ring8.length;
const MASK = SIZE - 1;
const WRITE = ${WRITE}, READ = ${READ}, DONE = ${DONE}, SLEEPING = ${SLEEPING}, WRAP = ${WRAP};
const HEADER = ${HEADER};
const POLL_MS = 1;
const IDLE_MS = 50;

function compile(id, bytes) {
  let module;
  let error;
  try {
    module = new WebAssembly.Module(bytes);
  } catch (e) {
    error = String(e && e.message ? e.message : e);
  }
  reply.postMessage(error === undefined ? { id, module } : { id, error });
  Atomics.add(ctrl, DONE, 1);
}

// Also what keeps this thread's event loop alive: a pending Atomics.waitAsync does not, and
// without a listening port the worker would exit at its first wait.
parentPort.on('message', (m) => compile(m.id, m.bytes));

// Bytes freed so far (this thread alone moves READ, so it keeps its own copy).
let read = 0;

// Compiles every record written up to now; returns the WRITE it ended at.
function drain() {
  for (;;) {
    const write = Atomics.load(ctrl, WRITE);
    if (read === write) return write;
    const at = read & MASK;
    const len = ring32[(at >> 2) + 1];
    if (len === WRAP) {
      read = (read + SIZE - at) | 0;
      Atomics.store(ctrl, READ, read);
      continue;
    }
    const id = ring32[at >> 2];
    // A copy into memory of this thread's own: the guest writes over the slot once READ says
    // it is free, and V8 must not compile bytes that can change under it.
    const bytes = ring8.slice(at + HEADER, at + HEADER + len);
    read = (read + HEADER + ((len + 7) & ~7)) | 0;
    Atomics.store(ctrl, READ, read);
    compile(id, bytes);
  }
}

async function run() {
  let seen = drain();
  let idleSince = performance.now();
  for (;;) {
    if (Atomics.load(ctrl, WRITE) !== seen) {
      seen = drain();
      idleSince = performance.now();
      continue;
    }
    if (performance.now() - idleSince < IDLE_MS) {
      const w = Atomics.waitAsync(ctrl, WRITE, seen, POLL_MS);
      if (w.async) await w.value;
      continue;
    }
    // Going to sleep, Dekker style. This thread stores SLEEPING then loads WRITE; the guest
    // thread stores WRITE then loads SLEEPING; all four are sequentially consistent, so in
    // their one total order at least one thread sees the other's store: either this load sees
    // the new WRITE (and the worker does not sleep), or the guest sees SLEEPING = 1 (and
    // notifies). A request is never left in the ring with the worker asleep. waitAsync checks
    // WRITE once more, atomically with becoming a waiter, so a notify that comes between this
    // load and the wait is not lost either: the wait returns at once ("not-equal").
    Atomics.store(ctrl, SLEEPING, 1);
    if (Atomics.load(ctrl, WRITE) === seen) {
      const w = Atomics.waitAsync(ctrl, WRITE, seen);
      if (w.async) await w.value;
    }
    Atomics.store(ctrl, SLEEPING, 0);
    idleSince = performance.now();
  }
}

run();
`;

/** Counts of a worker compiler's requests, by the way they went (for tests and profiles). */
export interface WorkerCompilerStats {
  /** Requests copied into the ring. */
  readonly ring: number;
  /** Requests posted as messages: the ring had no room, or the module is larger than the ring. */
  readonly posted: number;
  /** Requests after which the guest thread woke the sleeping worker (`Atomics.notify`). */
  readonly wakes: number;
  /** Whether the worker is asleep, and the next request through the ring will wake it. */
  readonly sleeping: boolean;
}

/** A `ModuleCompiler` on a worker thread, with counts of how its requests went. */
export interface WorkerCompiler extends ModuleCompiler {
  readonly stats: WorkerCompilerStats;
}

export interface WorkerCompilerOptions {
  /**
   * The ring's size in bytes: a power of two from 64 to 2^30 (1 MiB unless told). A request
   * that does not fit in the free part goes as a message instead.
   */
  readonly ringBytes?: number;
}

/**
 * A `ModuleCompiler` on a Node worker thread: V8 compiles tier 1's modules there, on another
 * core, while the guest runs on. The guest thread's cost per request is what matters (a Linux
 * boot makes 1,100 to 1,500 of them, in bursts), and waking another thread is most of it: tens
 * to over a hundred microseconds, against 1 to 3 for copying a module's bytes. So requests are copied
 * into a shared ring, and the guest wakes the worker only when it sleeps (idle for a while).
 * Results are taken without yielding to the event loop (the guest's run loop is synchronous):
 * a shared counter tells that one arrived, and `receiveMessageOnPort` takes it. The worker does
 * not keep the process alive.
 */
export function createWorkerCompiler(options: WorkerCompilerOptions = {}): WorkerCompiler {
  const size = options.ringBytes ?? DEFAULT_RING_BYTES;
  if (!Number.isInteger(size) || size < 64 || size > 1 << 30 || (size & (size - 1)) !== 0)
    throw new TranslatorError('bad-argument', 'ring size must be a power of two from 64 to 2^30', size);
  const mask = size - 1;
  const control = new SharedArrayBuffer(CONTROL_SLOTS * 4);
  const ring = new SharedArrayBuffer(size);
  const ctrl = new Int32Array(control);
  const ring8 = new Uint8Array(ring);
  const ring32 = new Int32Array(ring);
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { control, ring, reply: port2 },
    transferList: [port2],
  });
  worker.unref();
  port1.unref();
  // Bytes written so far (this thread alone moves WRITE, so it keeps its own copy).
  let write = 0;
  let seen = 0;
  let closed = false;
  let failure: Error | undefined;
  const stats = { ring: 0, posted: 0, wakes: 0 };
  worker.on('error', (e) => {
    failure = e;
  });
  // An exit nobody asked for (the worker's loop never ends by itself) leaves requests unanswered.
  worker.on('exit', (code) => {
    if (!closed && failure === undefined) failure = new Error(`worker exited (code ${code})`);
  });

  /** Copies the request into the ring; false if the free part has no room for it. */
  function toRing(id: number, bytes: Uint8Array): boolean {
    const len = bytes.byteLength;
    // The header holds an int32 id; any other id keeps its value by going as a message.
    if ((id | 0) !== id || len > size - HEADER) return false;
    const need = HEADER + ((len + 7) & ~7);
    let at = write & mask;
    // A record does not wrap: if it does not fit before the ring's end, a WRAP header fills
    // the rest (records are 8-aligned, so there is always room for a header).
    const skip = need <= size - at ? 0 : size - at;
    const free = size - ((write - Atomics.load(ctrl, READ)) | 0);
    if (skip + need > free) return false;
    if (skip !== 0) {
      ring32[(at >> 2) + 1] = WRAP;
      at = 0;
    }
    ring32[at >> 2] = id;
    ring32[(at >> 2) + 1] = len;
    ring8.set(bytes, at + HEADER);
    write = (write + skip + need) | 0;
    // The store publishes the record (the worker's load of WRITE sees the bytes written before).
    Atomics.store(ctrl, WRITE, write);
    // This store of WRITE, then this load of SLEEPING: the guest's half of the Dekker pair the
    // worker's comment explains. The compare-exchange clears the flag, so only the first
    // request after the worker went to sleep pays for a notify (it fails only if the worker
    // cleared the flag itself: then it is awake and needs none).
    if (Atomics.load(ctrl, SLEEPING) !== 0 && Atomics.compareExchange(ctrl, SLEEPING, 1, 0) === 1) {
      Atomics.notify(ctrl, WRITE);
      stats.wakes++;
    }
    return true;
  }

  return {
    submit(id, bytes) {
      if (closed) throw new TranslatorError('bad-argument', 'module compiler is closed', id);
      if (failure !== undefined)
        throw new TranslatorError('bad-argument', `module compiler worker failed: ${failure.message}`, id);
      if (toRing(id, bytes)) {
        stats.ring++;
        return;
      }
      // No room: a message, which wakes the worker (it always listens to messages). The bytes
      // go over without a copy when they are a whole buffer (as `emitModule` makes them).
      const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
      const own = whole && bytes.buffer instanceof ArrayBuffer ? bytes : bytes.slice();
      worker.postMessage({ id, bytes: own }, [own.buffer as ArrayBuffer]);
      stats.posted++;
    },
    ready: () => !closed && Atomics.load(ctrl, DONE) !== seen,
    alive: () => !closed && failure === undefined,
    take() {
      const out: CompiledModule[] = [];
      if (closed) return out;
      seen = Atomics.load(ctrl, DONE);
      for (;;) {
        const m = receiveMessageOnPort(port1);
        if (m === undefined) break;
        out.push(m.message as CompiledModule);
      }
      return out;
    },
    close() {
      if (closed) return;
      closed = true;
      port1.close();
      // Terminating stops the worker wherever it is, also while it waits on WRITE.
      void worker.terminate();
    },
    stats: {
      get ring() {
        return stats.ring;
      },
      get posted() {
        return stats.posted;
      },
      get wakes() {
        return stats.wakes;
      },
      get sleeping() {
        return Atomics.load(ctrl, SLEEPING) !== 0;
      },
    },
  };
}
