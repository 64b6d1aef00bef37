/** Node-only parts of the translator (worker threads). */
export { createWorkerCompiler } from './node/worker-compiler';
