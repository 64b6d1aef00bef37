import { describe, expect, it } from 'vitest';
import { HypervisorError } from './errors';
import { VirtualMachine } from './machine';
import {
  findMultibootHeader,
  MULTIBOOT_BOOTLOADER_MAGIC,
  MULTIBOOT_HEADER_MAGIC,
  MultibootInfoFlag,
  parseMultiboot,
} from './multiboot';

function header(flags: number, fields: number[] = []): number[] {
  const words = [MULTIBOOT_HEADER_MAGIC, flags, -(MULTIBOOT_HEADER_MAGIC + flags) >>> 0, ...fields];
  return words.flatMap((w) => [w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24]);
}

// mov eax, ebx (info pointer) ... the program: out 0xf4 with al = low byte of [ebx+16]'s first char.
// mov esi,[ebx+16]; mov al,[esi]; out 0xf4,al
const CODE = [0x8b, 0x73, 0x10, 0x8a, 0x06, 0xe6, 0xf4, 0xf4];

/** An a.out-kludge image: header at file offset 0, loaded at 1 MiB, code right after the header. */
function aoutImage(bss = 0x100): Uint8Array {
  const load = 0x100000;
  const hdr = header(0x10003, [load, load, 0, load + 32 + CODE.length + bss, load + 32]);
  return new Uint8Array([...hdr, ...CODE]);
}

/** A minimal ELF32 executable with one PT_LOAD segment at 2 MiB and the header inside it. */
function elfImage(): Uint8Array {
  const b = new Uint8Array(0x200);
  const dv = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  dv.setUint16(16, 2, true); // ET_EXEC
  dv.setUint16(18, 3, true); // EM_386
  dv.setUint32(20, 1, true);
  dv.setUint32(24, 0x200000 + 12, true); // entry: after the 12-byte header
  dv.setUint32(28, 52, true); // phoff
  dv.setUint16(40, 52, true);
  dv.setUint16(42, 32, true);
  dv.setUint16(44, 1, true);
  const p = 52;
  dv.setUint32(p, 1, true); // PT_LOAD
  dv.setUint32(p + 4, 0x100, true); // offset
  dv.setUint32(p + 8, 0xc0200000, true); // vaddr (higher half; physical is what counts)
  dv.setUint32(p + 12, 0x200000, true); // paddr
  dv.setUint32(p + 16, 0x100, true); // filesz
  dv.setUint32(p + 20, 0x2000, true); // memsz: bss after the file bytes
  b.set([...header(0x3), ...CODE], 0x100);
  return b;
}

describe('Multiboot v1', () => {
  it('finds the header only at a 4-byte boundary with a valid checksum', () => {
    const img = new Uint8Array([0, 0, ...header(0), 0, 0, ...header(0)]);
    expect(findMultibootHeader(img)).toBe(16);
    const broken = new Uint8Array(header(0));
    broken[8] = (broken[8] ?? 0) ^ 1;
    expect(findMultibootHeader(broken)).toBe(-1);
  });

  it('parses an a.out-kludge image by its address fields, BSS included', () => {
    const img = parseMultiboot(aoutImage());
    expect(img.format).toBe('aout-kludge');
    expect(img.entry).toBe(0x100020);
    expect(img.segments).toHaveLength(1);
    expect(img.segments[0]!.address).toBe(0x100000);
    expect(img.segments[0]!.data.length).toBe(32 + CODE.length);
    expect(img.segments[0]!.memorySize).toBe(32 + CODE.length + 0x100);
  });

  it('parses an ELF image by its PT_LOAD physical addresses', () => {
    const img = parseMultiboot(elfImage());
    expect(img.format).toBe('elf');
    expect(img.segments[0]).toMatchObject({ address: 0x200000, memorySize: 0x2000 });
  });

  it('boots both formats: EAX has the magic, EBX the info structure with command line and memory', () => {
    for (const image of [aoutImage(), elfImage()]) {
      const vm = new VirtualMachine({ memory: 32 << 20, deterministic: true });
      vm.memory.write32(0x100000 + 40 + CODE.length, 0xdeadbeef); // must be cleared as BSS
      const boot = vm.bootMultiboot(image, { cmdline: 'Z kernel args' });
      const s = vm.cpu.state;
      expect(s.regs[0]! >>> 0).toBe(MULTIBOOT_BOOTLOADER_MAGIC);
      expect(s.regs[3]).toBe(boot.info);
      const flags = vm.memory.read32(boot.info);
      expect(flags & MultibootInfoFlag.memory).not.toBe(0);
      expect(flags & MultibootInfoFlag.memoryMap).not.toBe(0);
      expect(vm.memory.read32(boot.info + 8)).toBe((32 << 10) - 1024);
      // The guest reads the first byte of its command line and reports it on the debug-exit port.
      expect(vm.run(100)).toEqual({ kind: 'debug-exit', status: ('Z'.charCodeAt(0) << 1) | 1 });
    }
    const vm = new VirtualMachine({ memory: 32 << 20, deterministic: true });
    vm.bootMultiboot(aoutImage(), { cmdline: '' });
    expect(vm.memory.read32(0x100000 + 40 + CODE.length)).toBe(0);
  });

  it('places modules page aligned above the kernel and lists them', () => {
    const vm = new VirtualMachine({ memory: 32 << 20, deterministic: true });
    const boot = vm.bootMultiboot(aoutImage(), {
      cmdline: '',
      modules: [
        { data: new Uint8Array([1, 2, 3]), string: 'one' },
        { data: new Uint8Array(5000).fill(7), string: 'two' },
      ],
    });
    expect(boot.modules).toEqual([
      { start: 0x101000, end: 0x101003 },
      { start: 0x102000, end: 0x102000 + 5000 },
    ]);
    expect(vm.memory.read32(boot.info + 20)).toBe(2);
    const table = vm.memory.read32(boot.info + 24);
    expect(vm.memory.read32(table + 16)).toBe(0x102000);
    expect(vm.memory.read8(vm.memory.read32(table + 8))).toBe('o'.charCodeAt(0));
  });

  it('rejects images with clear errors', () => {
    const expectError = (img: Uint8Array, code: string, text: RegExp) => {
      try {
        parseMultiboot(img);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(HypervisorError);
        expect((e as HypervisorError).code).toBe(code);
        expect((e as HypervisorError).message).toMatch(text);
      }
    };
    expectError(new Uint8Array(100), 'bad-kernel', /no Multiboot header/);
    expectError(new Uint8Array(header(0x4)), 'unsupported-protocol', /video mode/);
    expectError(new Uint8Array(header(0)), 'bad-kernel', /neither ELF nor/);
    expectError(aoutImage().subarray(0, 30), 'bad-kernel', /truncated/);
    const truncated = new Uint8Array(header(0x10000, [0x100000, 0x100000, 0x100400, 0, 0x100020]));
    expectError(truncated, 'bad-kernel', /truncated/);
    const elf = elfImage();
    elf[18] = 62;
    expectError(elf, 'bad-kernel', /not for i386/);
  });

  it('refuses a kernel that does not fit in memory', () => {
    const vm = new VirtualMachine({ memory: 16 << 20, deterministic: true });
    const big = new Uint8Array(header(0x10000, [0x100000, 0x100000, 0, 0x2000000, 0x100020]));
    expect(() => vm.bootMultiboot(big, { cmdline: '' })).toThrow(/too small/);
  });
});
