import { DEMO_KERNEL_SYMBOLS } from '@ringzero/guests';
import { describe, expect, it } from 'vitest';
import { prepare } from './run';
import { parseTraceItems, traceHooks } from './trace';

describe('--trace', () => {
  it('parses QEMU-style item lists and names unknown items', () => {
    expect([...parseTraceItems('in_asm,int')]).toEqual(['in_asm', 'int']);
    expect(() => parseTraceItems('exec,cpu')).toThrow(
      /unknown trace item "cpu" \(choose from in_asm, int, exec\)/,
    );
    expect(() => parseTraceItems(',')).toThrow(/at least one/);
  });

  it('traces the demo kernel: its first instruction decoded and executed, and a worker page fault', () => {
    const { vm } = prepare({ memory: '32M', deterministic: true, stats: false }, () => {});
    const lines: string[] = [];
    vm.cpu.trace = traceHooks(parseTraceItems('in_asm,int,exec'), (l) => lines.push(l));
    vm.run(200_000);
    const start = (DEMO_KERNEL_SYMBOLS.start ?? 0).toString(16).padStart(8, '0');
    expect(lines[0]).toBe(`in_asm 0010:${start} phys ${start} mov esp, 0x198000`);
    expect(lines[1]).toBe(`exec   0010:${start} [${start}] mov esp, 0x198000`);
    expect(lines.some((l) => /^int {4}#PF \(exception\) at eip [0-9a-f]{8} error 0x0006$/.test(l))).toBe(
      true,
    );
  });
});
