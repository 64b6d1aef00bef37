export { AluOp, alu, ShiftOp, shift } from './alu';
export { ARENA_MAX_RAM, CHAIN_ENTRIES, chainEntry, createArena, type WasmArena } from './arena';
export {
  type CpuSnapshot,
  CpuState,
  Eflags,
  exportSnapshot,
  importSnapshot,
  LazyOp,
  Reg,
  Seg,
  type SegmentCache,
  STATUS_FLAGS,
} from './cpu-state';
export { Decoded } from './decoded';
export { TranslatorError, type TranslatorErrorCode } from './errors';
export { GuestFault, Vector } from './fault';
export { HANDLERS, type Handler, implemented } from './handlers';
export { type CodeWriteListener, Mmu, type PhysicalBus } from './mmu';
export type { CompiledModule, ModuleCompiler } from './module-compiler';
export {
  Action,
  type Callouts,
  defaultCallouts,
  defaultCpuid,
  NATIVE_POLICY,
  type Policy,
  Sensitivity,
  sensitivity,
} from './policy';
export { type PauseLoopExiting, StopReason, Tier0, type Tier0Options, type TraceHooks } from './tier0';
export { CHAIN_FUNCTIONS, type RunFn, WasmChain } from './wasm-chain';
