/**
 * Compiling tier 1's WebAssembly modules away from the thread that runs the guest. A region's
 * module is made (discovery, emission) where the guest runs, then handed to a `ModuleCompiler`;
 * tier 0 keeps running the region's code until the compiled module comes back, and tier 1 then
 * instantiates it and installs its entries. The guest sees the same instruction stream either
 * way (tier 1 retires exactly what tier 0 would), so only the host's time changes.
 */

/** A module that came back from a `ModuleCompiler`: compiled, or the reason it was not. */
export interface CompiledModule {
  /** The id it was submitted under. */
  readonly id: number;
  readonly module?: WebAssembly.Module;
  /**
   * Why it did not compile: tier 0 runs the region's code meanwhile, and it is compiled on the
   * guest's thread when next hot (as JavaScript if that fails too).
   */
  readonly error?: string;
}

/** A compiler of WebAssembly modules that works while the guest runs (`createWorkerCompiler`). */
export interface ModuleCompiler {
  /** Starts compiling `bytes` as request `id` (the bytes may be transferred: not used after). */
  submit(id: number, bytes: Uint8Array): void;
  /** Whether any result may have arrived (cheap: asked at each dispatcher entry). */
  ready(): boolean;
  /** The results that have arrived, without waiting for more. */
  take(): CompiledModule[];
  /** Whether it still takes requests and answers them (false once closed, or its thread failed). */
  alive(): boolean;
  /** Stops the compiler; requests still being compiled are dropped. */
  close(): void;
}
