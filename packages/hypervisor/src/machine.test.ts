import { describe, expect, it } from 'vitest';
import { HypervisorError } from './errors';
import { VirtualMachine } from './machine';
import { PortBus } from './port-bus';
import { runSession, SerialCollector } from './session';

/** Puts a flat 32-bit ring-0 program at 0x1000 (GDT at 0x500: code 0x08, data 0x10) and starts there. */
function program(vm: VirtualMachine, bytes: number[]) {
  vm.memory.writeBytes(0x1000, new Uint8Array(bytes));
  for (const [i, hi] of [
    [1, 0x00cf9b00],
    [2, 0x00cf9300],
  ] as const) {
    vm.memory.write32(0x500 + i * 8, 0x0000ffff);
    vm.memory.write32(0x500 + i * 8 + 4, hi);
  }
  const s = vm.cpu.state;
  s.gdtrBase = 0x500;
  s.gdtrLimit = 0x17;
  s.setFlat32();
  s.eip = 0x1000;
  s.regs[4] = 0x8000;
}

/** An IDT at 0x3000 whose gate for `vector` runs a handler at 0x2000 that ends the run with `mov al, status; out 0xf4, al`. */
function debugExitOn(vm: VirtualMachine, vector: number, status: number) {
  vm.memory.writeBytes(0x2000, new Uint8Array([0xb0, status, 0xe6, 0xf4]));
  vm.memory.write32(0x3000 + vector * 8, 0x00082000);
  vm.memory.write32(0x3000 + vector * 8 + 4, 0x00008e00);
  vm.cpu.state.idtrBase = 0x3000;
  vm.cpu.state.idtrLimit = 0x7ff;
}

describe('VirtualMachine', () => {
  it('runs guest code that writes to COM1 and ends through the debug-exit port', () => {
    const out: number[] = [];
    const vm = new VirtualMachine({ memory: 16 << 20, deterministic: true, onSerial: (b) => out.push(b) });
    // mov dx,0x3f8 / mov al,'h' / out dx,al / mov al,'i' / out dx,al / mov al,1 / out 0xf4,al
    program(vm, [0x66, 0xba, 0xf8, 0x03, 0xb0, 0x68, 0xee, 0xb0, 0x69, 0xee, 0xb0, 0x01, 0xe6, 0xf4, 0xf4]);
    expect(vm.run(1000)).toEqual({ kind: 'debug-exit', status: 3 });
    expect(String.fromCharCode(...out)).toBe('hi');
  });

  it('HLT with interrupts disabled ends the run as halted', () => {
    const vm = new VirtualMachine({ memory: 16 << 20, deterministic: true });
    program(vm, [0xfa, 0xf4]);
    expect(vm.run(100)).toEqual({ kind: 'halted' });
  });

  it('HLT with interrupts enabled sleeps until the PIT fires; deterministic time skips the idle part', () => {
    const vm = new VirtualMachine({ memory: 16 << 20, deterministic: true });
    // IDT at 0x3000 with vector 0x20 → handler at 0x2000 (out 0xf4, al=7).
    // PIC: ICW1..4 with base 0x20, unmask IRQ0; PIT channel 0 mode 2, count 1193 (~1 kHz); sti; hlt.
    program(
      vm,
      [
        0xb0, 0x11, 0xe6, 0x20, 0xb0, 0x20, 0xe6, 0x21, 0xb0, 0x04, 0xe6, 0x21, 0xb0, 0x01, 0xe6, 0x21, 0xb0,
        0xfe, 0xe6, 0x21, 0xb0, 0x34, 0xe6, 0x43, 0xb0, 0xa9, 0xe6, 0x40, 0xb0, 0x04, 0xe6, 0x40, 0xfb, 0xf4,
        0xeb, 0xfd,
      ],
    );
    debugExitOn(vm, 0x20, 0x07);
    const o = vm.run(100_000);
    expect(o).toEqual({ kind: 'debug-exit', status: 15 });
    expect(vm.now()).toBeGreaterThan(900_000); // about 1 ms of virtual time passed, mostly idle
    expect(vm.stats.interrupts).toBe(1);
  });

  it('an interrupt pending while the guest sits in `sti; hlt` is delivered (the STI shadow ends at HLT)', () => {
    const vm = new VirtualMachine({ memory: 16 << 20, deterministic: true });
    // PIC base 0x20, all unmasked; then sti; hlt.
    program(
      vm,
      [
        0xb0, 0x11, 0xe6, 0x20, 0xb0, 0x20, 0xe6, 0x21, 0xb0, 0x04, 0xe6, 0x21, 0xb0, 0x01, 0xe6, 0x21, 0xb0,
        0x00, 0xe6, 0x21, 0xfb, 0xf4,
      ],
    );
    debugExitOn(vm, 0x21, 0x09);
    vm.run(11); // through the PIC setup and STI
    vm.keyboard.keyboardInput([0x1c]); // IRQ1 arrives right at the HLT
    expect(vm.run(10_000)).toEqual({ kind: 'debug-exit', status: 19 });
  });

  it('a device interrupt raised by an OUT mid-slice is taken at once, not at the end of the slice', () => {
    const vm = new VirtualMachine({ memory: 16 << 20, deterministic: true });
    const s = vm.cpu.state;
    // Vector 0x24 (IRQ4, COM1) → handler at 0x2000: debug exit.
    // PIC base 0x20 with only IRQ4 unmasked; xor ecx, ecx; sti; UART MCR.OUT2, then IER.THRE
    // (the transmitter is empty, so the line rises at that OUT); then count in ECX forever.
    program(
      vm,
      [
        0xb0, 0x11, 0xe6, 0x20, 0xb0, 0x20, 0xe6, 0x21, 0xb0, 0x04, 0xe6, 0x21, 0xb0, 0x01, 0xe6, 0x21, 0xb0,
        0xef, 0xe6, 0x21, 0x31, 0xc9, 0xfb, 0x66, 0xba, 0xfc, 0x03, 0xb0, 0x08, 0xee, 0x66, 0xba, 0xf9, 0x03,
        0xb0, 0x02, 0xee, 0x41, 0xeb, 0xfd,
      ],
    );
    debugExitOn(vm, 0x24, 0x07);
    expect(vm.run(1_000_000)).toEqual({ kind: 'debug-exit', status: 15 });
    // Taken before the counting loop's first instruction (a slice end would have let it count
    // for thousands of instructions).
    expect(s.regs[1]).toBe(0);
  });

  describe('PAUSE-loop exiting', () => {
    // A delay loop as Linux's delay_tsc: read the TSC, spin with PAUSE until 1 ms (10^6 ns of
    // virtual time at 1 ns per instruction) has passed, then end through the debug-exit port.
    // rdtsc; mov ebx,eax / l: pause; rdtsc; sub eax,ebx; cmp eax,1000000; jb l / mov al,1; out 0xf4,al
    const delay = [
      0x0f, 0x31, 0x89, 0xc3, 0xf3, 0x90, 0x0f, 0x31, 0x29, 0xd8, 0x3d, 0x40, 0x42, 0x0f, 0x00, 0x72, 0xf3,
      0xb0, 0x01, 0xe6, 0xf4,
    ];

    it('lets virtual time pass instead of running a delay loop out, and overshoots little', () => {
      const vm = new VirtualMachine({ memory: 16 << 20, deterministic: true });
      program(vm, delay);
      expect(vm.run(2_000_000)).toEqual({ kind: 'debug-exit', status: 3 });
      // Run out, the loop takes a million instructions (five per 5 ns iteration); here a few
      // windows of spinning and the time they skipped.
      expect(vm.cpu.instructions).toBeLessThan(50_000);
      expect(vm.stats.pauseLoopExits).toBeGreaterThan(10);
      expect(vm.now()).toBeGreaterThanOrEqual(1_000_000);
      expect(vm.now()).toBeLessThan(1_100_000);
      expect(vm.stats.pauseSkippedNs).toBe(vm.now() - vm.cpu.instructions);
    });

    it('is the same run every time, and off with pauseLoopExiting: false', () => {
      const once = () => {
        const vm = new VirtualMachine({ memory: 16 << 20, deterministic: true });
        program(vm, delay);
        vm.run(2_000_000);
        return [vm.cpu.instructions, vm.now(), vm.stats.pauseLoopExits];
      };
      expect(once()).toEqual(once());
      const vm = new VirtualMachine({ memory: 16 << 20, deterministic: true, pauseLoopExiting: false });
      program(vm, delay);
      expect(vm.run(2_000_000)).toEqual({ kind: 'debug-exit', status: 3 });
      expect(vm.cpu.instructions).toBeGreaterThan(1_000_000);
      expect(vm.stats.pauseLoopExits).toBe(0);
    });

    it('never skips past a timer event: the PIT interrupt arrives on time during a spin', () => {
      const vm = new VirtualMachine({ memory: 16 << 20, deterministic: true });
      // PIC base 0x20 with IRQ0 unmasked; PIT channel 0 mode 2, count 1193 (1 ms); sti; then
      // PAUSE forever. The PIT handler ends the run.
      program(
        vm,
        [
          0xb0, 0x11, 0xe6, 0x20, 0xb0, 0x20, 0xe6, 0x21, 0xb0, 0x04, 0xe6, 0x21, 0xb0, 0x01, 0xe6, 0x21,
          0xb0, 0xfe, 0xe6, 0x21, 0xb0, 0x34, 0xe6, 0x43, 0xb0, 0xa9, 0xe6, 0x40, 0xb0, 0x04, 0xe6, 0x40,
          0xfb, 0xf3, 0x90, 0xeb, 0xfc,
        ],
      );
      debugExitOn(vm, 0x20, 0x07);
      expect(vm.run(2_000_000)).toEqual({ kind: 'debug-exit', status: 15 });
      expect(vm.stats.interrupts).toBe(1);
      // 1193 PIT ticks are 999,847 ns. A skip that jumped the event would land up to 64 µs past
      // it; here the interrupt came within one window (1,024 ns) of spinning after it.
      expect(vm.now()).toBeGreaterThanOrEqual(999_847);
      expect(vm.now()).toBeLessThan(999_847 + 1_100);
      expect(vm.cpu.instructions).toBeLessThan(50_000);
    });
  });

  it('runs the same with tier 1 emitting WebAssembly as with JavaScript', () => {
    // xor eax,eax / mov ecx,300000 / l: add eax,ecx / mov [0x4000],eax / shr edx,3 / dec ecx /
    // jnz l / mov al,1 / out 0xf4,al
    const code = [
      0x31, 0xc0, 0xb9, 0xe0, 0x93, 0x04, 0x00, 0x01, 0xc8, 0xa3, 0x00, 0x40, 0x00, 0x00, 0xc1, 0xea, 0x03,
      0x49, 0x75, 0xf3, 0xb0, 0x01, 0xe6, 0xf4,
    ];
    const runWith = (jitBackend: 'js' | 'wasm') => {
      const vm = new VirtualMachine({ memory: 16 << 20, deterministic: true, jitBackend });
      program(vm, code);
      vm.cpu.state.regs[2] = 0x7fffffff;
      const stop = vm.run(5_000_000);
      return { vm, stop };
    };
    const js = runWith('js');
    const wasm = runWith('wasm');
    expect(wasm.stop).toEqual({ kind: 'debug-exit', status: 3 });
    expect(wasm.stop).toEqual(js.stop);
    expect(Array.from(wasm.vm.cpu.state.regs)).toEqual(Array.from(js.vm.cpu.state.regs));
    expect(wasm.vm.cpu.instructions).toBe(js.vm.cpu.instructions);
    expect(wasm.vm.memory.read32(0x4000)).toBe(((300000 * 300001) / 2) % 2 ** 32);
    expect(wasm.vm.cpu.jit?.stats.wasmRegions).toBeGreaterThan(0);
    expect(js.vm.cpu.jit?.stats.wasmRegions).toBe(0);
  });

  it('rejects an unknown jitBackend by name', () => {
    expect(() => new VirtualMachine({ memory: 16 << 20, jitBackend: 'asm' as 'js' })).toThrow(
      /jitBackend must be 'js' or 'wasm' \(got asm\)/,
    );
  });

  it('rejects impossible memory sizes', () => {
    expect(() => new VirtualMachine({ memory: 1 << 20 })).toThrow(HypervisorError);
  });
});

describe('PortBus', () => {
  it('routes ports to device offsets and reads unclaimed ports as all ones', () => {
    const bus = new PortBus();
    const seen: string[] = [];
    bus.map(0x100, 4, { read: (o) => o * 10, write: (o, s, v) => seen.push(`${o}:${s}:${v}`) });
    expect(bus.read(0x102, 1)).toBe(20);
    bus.write(0x103, 2, 9);
    expect(seen).toEqual(['3:2:9']);
    expect(bus.read(0x200, 2)).toBe(0xffff);
    expect(bus.unclaimed.get(0x200)).toBe(1);
  });
});

describe('MSRs of the guest profile', () => {
  it('SYSENTER MSRs read back, an MSR the profile lacks raises #GP, the TSC is virtual time', () => {
    const vm = new VirtualMachine({ memory: 16 << 20, deterministic: true });
    // mov ecx,0x174 / mov eax,0x1234 / xor edx,edx / wrmsr / xor eax,eax / rdmsr / mov ebx,eax /
    // mov ecx,0x10 / rdmsr / mov esi,eax / mov ecx,0x1b / rdmsr (APIC base: #GP, no IDT: triple fault)
    program(
      vm,
      [
        0xb9, 0x74, 0x01, 0, 0, 0xb8, 0x34, 0x12, 0, 0, 0x31, 0xd2, 0x0f, 0x30, 0x31, 0xc0, 0x0f, 0x32, 0x89,
        0xc3, 0xb9, 0x10, 0, 0, 0, 0x0f, 0x32, 0x89, 0xc6, 0xb9, 0x1b, 0, 0, 0, 0x0f, 0x32, 0xf4,
      ],
    );
    const o = vm.run(1000);
    expect(o.kind).toBe('triple-fault');
    const r = vm.cpu.state.regs;
    expect(r[3]).toBe(0x1234); // EBX: SYSENTER_CS as written
    expect(r[6]).toBe(9); // ESI: TSC = 9 ns of virtual time after 9 instructions
    expect(vm.stats.exceptions.get(13)).toBe(1);
  });
});

describe('runSession', () => {
  // mov dx,0x3f8 / mov al,'A' / out dx,al / mov al,'>' / out dx,al / cli / hlt
  const PRINT_AND_HALT = [0x66, 0xba, 0xf8, 0x03, 0xb0, 0x41, 0xee, 0xb0, 0x3e, 0xee, 0xfa, 0xf4];

  it('waits for each expectation in order and records the instruction count at each', () => {
    const serial = new SerialCollector();
    const vm = new VirtualMachine({ memory: 16 << 20, deterministic: true, onSerial: serial.push });
    program(vm, PRINT_AND_HALT);
    const r = runSession(vm, serial, [{ expect: 'A' }, { expect: /[>]/ }], { slice: 2 });
    expect(r.failure).toBeUndefined();
    expect(r.transcript).toBe('A>');
    expect(r.marks).toEqual([4, 6]);
  });

  it('reports the step whose output never came and why', () => {
    const serial = new SerialCollector();
    const vm = new VirtualMachine({ memory: 16 << 20, deterministic: true, onSerial: serial.push });
    program(vm, PRINT_AND_HALT);
    const r = runSession(vm, serial, [{ expect: 'A' }, { expect: 'login:' }]);
    expect(r.failure).toEqual({ step: 1, reason: 'the guest stopped (halted) before "login:"' });
    expect(r.outcome).toEqual({ kind: 'halted' });
  });
});
