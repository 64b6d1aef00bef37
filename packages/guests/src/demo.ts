import {
  DEMO_KERNEL_BASE64,
  DEMO_KERNEL_SIZE,
  DEMO_KERNEL_SOURCE,
  DEMO_KERNEL_SYMBOLS,
} from './generated/demo-kernel';

export { DEMO_KERNEL_SOURCE, DEMO_KERNEL_SYMBOLS };

/** The shell prompt the demo kernel prints when it waits for a command. */
export const DEMO_PROMPT = 'demo> ';

/** The command line `ringzero run` passes to the demo kernel. */
export const DEMO_COMMAND_LINE = 'demo';

let cached: Uint8Array | undefined;

/**
 * The demo kernel image: a Multiboot (a.out kludge) kernel loaded at 1 MiB. Boot it with
 * `VirtualMachine.bootMultiboot`. Returns a fresh copy each call, so a caller may patch it.
 */
export function demoKernel(): Uint8Array {
  if (!cached) {
    const text = atob(DEMO_KERNEL_BASE64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    if (bytes.length !== DEMO_KERNEL_SIZE) {
      throw new Error(`the embedded demo kernel is damaged (${bytes.length} of ${DEMO_KERNEL_SIZE} bytes)`);
    }
    cached = bytes;
  }
  return cached.slice();
}
