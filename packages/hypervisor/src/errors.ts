/** Stable codes for what went wrong setting up or running a machine. */
export type HypervisorErrorCode =
  | 'bad-kernel'
  | 'bad-initrd'
  | 'unsupported-protocol'
  | 'memory-too-small'
  | 'bad-memory-size'
  | 'bad-cmdline'
  | 'bad-option';

/** The error this package throws for bad input; `value` is the offending input. */
export class HypervisorError extends Error {
  readonly code: HypervisorErrorCode;
  readonly value: unknown;

  constructor(code: HypervisorErrorCode, message: string, value: unknown) {
    super(message);
    this.name = 'HypervisorError';
    this.code = code;
    this.value = value;
  }
}

/**
 * Parses a memory size as users write it: `128M`, `1G`, `65536K`, `134217728`. Throws a
 * `HypervisorError` naming the input for anything else or a size outside 16 MiB – 3.5 GiB.
 */
export function parseMemorySize(text: string): number {
  const m = /^\s*(\d+)\s*([kKmMgG]?)(i?[bB])?\s*$/.exec(text);
  if (!m)
    throw new HypervisorError(
      'bad-memory-size',
      `cannot read memory size "${text}" (use e.g. 128M or 1G)`,
      text,
    );
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toUpperCase();
  const bytes = n * (unit === 'K' ? 1024 : unit === 'M' ? 1 << 20 : unit === 'G' ? 1 << 30 : 1);
  if (bytes < 16 << 20)
    throw new HypervisorError('bad-memory-size', `memory size ${text} is below the 16 MiB minimum`, text);
  if (bytes > 0xe000_0000)
    throw new HypervisorError('bad-memory-size', `memory size ${text} is above the 3.5 GiB maximum`, text);
  if (bytes % 4096 !== 0)
    throw new HypervisorError('bad-memory-size', `memory size ${text} is not a multiple of 4 KiB`, text);
  return bytes;
}
