import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { TranslatorError } from '../errors';
import type { CompiledModule, ModuleCompiler } from '../module-compiler';

/**
 * The worker's program (CommonJS, run with `eval`): compiles each submitted module, posts it back
 * on the reply port (a compiled module crosses threads without being compiled again), then bumps
 * the shared counter the guest thread polls.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const done = new Int32Array(workerData.counter);
const reply = workerData.reply;
parentPort.on('message', (m) => {
  let module;
  let error;
  try {
    module = new WebAssembly.Module(m.bytes);
  } catch (e) {
    error = String(e && e.message ? e.message : e);
  }
  reply.postMessage(error === undefined ? { id: m.id, module } : { id: m.id, error });
  Atomics.add(done, 0, 1);
});
`;

/**
 * A `ModuleCompiler` on a Node worker thread: V8 compiles tier 1's modules there, on another
 * core, while the guest runs on. Results are taken without yielding to the event loop (the
 * guest's run loop is synchronous): a shared counter tells that one arrived, and
 * `receiveMessageOnPort` takes it. The worker does not keep the process alive.
 */
export function createWorkerCompiler(): ModuleCompiler {
  const counter = new SharedArrayBuffer(4);
  const done = new Int32Array(counter);
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { counter, reply: port2 },
    transferList: [port2],
  });
  worker.unref();
  port1.unref();
  let seen = 0;
  let closed = false;
  let failure: Error | undefined;
  worker.on('error', (e) => {
    failure = e;
  });
  return {
    submit(id, bytes) {
      if (closed) throw new TranslatorError('bad-argument', 'module compiler is closed', id);
      if (failure !== undefined)
        throw new TranslatorError('bad-argument', `module compiler worker failed: ${failure.message}`, id);
      // The bytes go over without a copy when they are a whole buffer (as `emitModule` makes them).
      const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
      const own = whole && bytes.buffer instanceof ArrayBuffer ? bytes : bytes.slice();
      worker.postMessage({ id, bytes: own }, [own.buffer as ArrayBuffer]);
    },
    ready: () => !closed && Atomics.load(done, 0) !== seen,
    alive: () => !closed && failure === undefined,
    take() {
      const out: CompiledModule[] = [];
      if (closed) return out;
      seen = Atomics.load(done, 0);
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
      void worker.terminate();
    },
  };
}
