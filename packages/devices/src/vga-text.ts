import { type PortDevice, stateBytes, stateInt, stateObject } from './device';

export const VGA_TEXT = {
  memoryBase: 0xb8000,
  memorySize: 0x8000,
  crtcIndex: 0x3d4,
  crtcData: 0x3d5,
  status: 0x3da,
} as const;

/**
 * VGA text mode (80×25, colour): 32 KiB of text memory at 0xB8000 (character and attribute byte
 * per cell), the CRTC registers the cursor and start address live in (index 0x3D4, data 0x3D5),
 * and input status 1 (0x3DA). The apps render `cell(row, col)`; `version` changes whenever the
 * screen may look different.
 */
export class VgaText {
  readonly columns = 80;
  readonly rows = 25;
  readonly memory = new Uint8Array(VGA_TEXT.memorySize);
  private readonly crtc = new Uint8Array(0x19);
  private crtcIndex = 0;
  private statusToggle = 0;
  /** Bumped on every change that may alter the picture. */
  version = 0;

  /** Text memory, for the hypervisor to map as MMIO at 0xB8000. */
  readonly mmio = {
    read: (offset: number, size: 1 | 2 | 4): number => {
      let v = 0;
      for (let i = size - 1; i >= 0; i--) v = (v << 8) | (this.memory[(offset + i) & 0x7fff] ?? 0);
      return v >>> 0;
    },
    write: (offset: number, size: 1 | 2 | 4, value: number): void => {
      for (let i = 0; i < size; i++) this.memory[(offset + i) & 0x7fff] = (value >>> (8 * i)) & 0xff;
      this.version++;
    },
  };

  /** CRTC index/data at offsets 0/1 (ports 0x3D4/0x3D5). */
  readonly crtcPorts: PortDevice = {
    read: (offset) => ((offset & 1) === 0 ? this.crtcIndex : (this.crtc[this.crtcIndex] ?? 0xff)),
    write: (offset, _size, v) => {
      if ((offset & 1) === 0) this.crtcIndex = v & 0x1f;
      else if (this.crtcIndex < this.crtc.length) {
        this.crtc[this.crtcIndex] = v & 0xff;
        this.version++;
      }
    },
  };

  /** Input status register 1 (0x3DA): display-enable and vertical-retrace bits toggle on reads. */
  readonly statusPort: PortDevice = {
    read: () => {
      this.statusToggle ^= 1;
      return this.statusToggle ? 0x09 : 0x00;
    },
    write: () => {},
  };

  constructor() {
    this.crtc[0x0a] = 0x0d; // cursor start scan line
    this.crtc[0x0b] = 0x0e; // cursor end
    for (let i = 0; i < this.memory.length; i += 2) this.memory[i + 1] = 0x07;
  }

  /** First cell shown (CRTC start address, in cells). */
  get startAddress(): number {
    return (this.crtc[0x0c]! << 8) | this.crtc[0x0d]!;
  }

  /** Cursor position in cells from the start of text memory, and whether it is shown. */
  get cursor(): { offset: number; row: number; column: number; visible: boolean } {
    const offset = (this.crtc[0x0e]! << 8) | this.crtc[0x0f]!;
    const rel = offset - this.startAddress;
    return {
      offset,
      row: Math.floor(rel / this.columns),
      column: ((rel % this.columns) + this.columns) % this.columns,
      visible: (this.crtc[0x0a]! & 0x20) === 0,
    };
  }

  /** The character code and attribute of a visible cell. */
  cell(row: number, column: number): { char: number; attr: number } {
    const i = (((this.startAddress + row * this.columns + column) * 2) & 0x7fff) >>> 0;
    return { char: this.memory[i]!, attr: this.memory[i + 1]! };
  }

  /** The screen as text lines (code page 437 printable ASCII; others as spaces). */
  text(): string[] {
    const lines: string[] = [];
    for (let r = 0; r < this.rows; r++) {
      let s = '';
      for (let c = 0; c < this.columns; c++) {
        const ch = this.cell(r, c).char;
        s += ch >= 0x20 && ch < 0x7f ? String.fromCharCode(ch) : ' ';
      }
      lines.push(s.trimEnd());
    }
    return lines;
  }

  saveState(): Record<string, unknown> {
    return {
      device: 'vga-text',
      version: 1,
      memory: Array.from(this.memory),
      crtc: Array.from(this.crtc),
      index: this.crtcIndex,
    };
  }

  restoreState(state: unknown): void {
    const d = 'vga-text';
    const s = stateObject(d, state, 1);
    const memory = stateBytes(d, s, 'memory', VGA_TEXT.memorySize);
    const crtc = stateBytes(d, s, 'crtc', 0x19);
    const index = stateInt(d, s, 'index', 0, 0x1f);
    if (memory.length !== VGA_TEXT.memorySize || crtc.length !== 0x19) stateInt(d, s, 'memory', 0, -1);
    this.memory.set(memory);
    this.crtc.set(crtc);
    this.crtcIndex = index;
    this.version++;
  }
}
