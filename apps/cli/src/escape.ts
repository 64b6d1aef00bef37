/**
 * The QEMU-style console escape: Ctrl-A then a command key. Ctrl-A x quits, Ctrl-A h prints
 * help, Ctrl-A s prints statistics, Ctrl-A a sends a literal Ctrl-A; other bytes pass through.
 */
export type EscapeAction = 'quit' | 'help' | 'stats';

export const ESCAPE_HELP = [
  'C-a x    exit ringzero',
  'C-a s    print statistics',
  'C-a h    print this help',
  'C-a a    send C-a to the guest',
].join('\r\n');

const CTRL_A = 0x01;

export class EscapeReader {
  private pending = false;

  /** Splits host input into bytes for the guest and escape actions, in order. */
  feed(input: Uint8Array): { guest: Uint8Array; actions: EscapeAction[] } {
    const guest: number[] = [];
    const actions: EscapeAction[] = [];
    for (const b of input) {
      if (this.pending) {
        this.pending = false;
        if (b === 0x78 /* x */) actions.push('quit');
        else if (b === 0x68 /* h */) actions.push('help');
        else if (b === 0x73 /* s */) actions.push('stats');
        else if (b === 0x61 /* a */ || b === CTRL_A) guest.push(CTRL_A);
        // any other key after C-a is swallowed, as in QEMU
      } else if (b === CTRL_A) this.pending = true;
      else guest.push(b);
    }
    return { guest: Uint8Array.from(guest), actions };
  }
}
