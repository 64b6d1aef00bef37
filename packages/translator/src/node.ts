/** Node-only parts of the translator (worker threads, V8 tuning). */
export { tuneWasmTiering, WASM_TIERING_BUDGET } from './node/tiering';
export {
  createWorkerCompiler,
  type WorkerCompiler,
  type WorkerCompilerOptions,
  type WorkerCompilerStats,
} from './node/worker-compiler';
