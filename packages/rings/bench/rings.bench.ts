/**
 * Cost of the rules an engine calls on its slow paths, measured in one run as ratios against the
 * protected-mode interrupt-gate lookup (`interruptTarget`), the rule tier 0 already calls on every
 * interrupt:
 *
 *   pnpm --filter @ringzero/rings bench
 */
import {
  type CurrentTask,
  type DescriptorTables,
  encodeDescriptor,
  encodeGate,
  encodeGate64,
  farTransferOrTask,
  interruptTarget,
  interruptTarget64,
  SystemType,
  type TaskTarget,
  TSS32,
  taskSwitch,
} from '../src/index';

const bytes = new Uint8Array(0x10000);
const view = new DataView(bytes.buffer);
const put = (a: number, [lo, hi]: [number, number]) => {
  view.setUint32(a, lo, true);
  view.setUint32(a + 4, hi, true);
};
const flat = (type: number, dpl: number, long = false) =>
  encodeDescriptor({
    base: 0,
    limit: 0xfffff,
    type,
    codeOrData: true,
    dpl,
    present: true,
    big: !long,
    long,
    granularity: true,
  });
put(0x1008, flat(0xb, 0));
put(0x1010, flat(0x3, 0));
put(0x1018, flat(0xb, 0, true));
put(
  0x1028,
  encodeDescriptor({
    base: 0x3000,
    limit: 0x67,
    type: SystemType.tss32Busy,
    codeOrData: false,
    dpl: 0,
    present: true,
  }),
);
put(
  0x1030,
  encodeDescriptor({
    base: 0x3100,
    limit: 0x67,
    type: SystemType.tss32Available,
    codeOrData: false,
    dpl: 0,
    present: true,
  }),
);
put(
  0x2000 + 14 * 8,
  encodeGate({ type: SystemType.interruptGate32, selector: 0x08, offset: 0x1000, dpl: 0, present: true }),
);
encodeGate64({
  type: 14,
  selector: 0x18,
  offset: 0xffffffff81000000n,
  dpl: 0,
  present: true,
  ist: 1,
}).forEach((d, i) => {
  view.setUint32(0x4000 + 14 * 16 + i * 4, d, true);
});
view.setUint32(0x3100 + TSS32.eip, 0x1000, true);
for (const [i, s] of [0x10, 0x08, 0x10, 0x10, 0x10, 0x10].entries())
  view.setUint16(0x3100 + TSS32.seg + 4 * i, s, true);
const read32 = (a: number) => view.getUint32(a & 0xfffc, true);
const t: DescriptorTables = {
  gdtBase: 0x1000,
  gdtLimit: 0x3f,
  ldtBase: 0,
  ldtLimit: -1,
  idtBase: 0x2000,
  idtLimit: 0x7ff,
  read32,
};
const t64: DescriptorTables = { ...t, idtBase: 0x4000, idtLimit: 0xfff, read32 };
const tss = {
  selector: 0x28,
  limit: 0x67,
  read32: (o: number) => (o === 0x28 ? 0x9000 : o === 0x2c ? 0xffffc900 : 0),
};
const cur: CurrentTask = {
  tr: { selector: 0x28, base: 0x3000, limit: 0x67, is32: true },
  eip: 0x1234,
  eflags: 0x202,
  gpr: [0, 0, 0, 0, 0, 0, 0, 0],
  seg: [0x10, 0x08, 0x10, 0x10, 0x10, 0x10],
};

function time(n: number, f: () => unknown): number {
  for (let i = 0; i < n / 10; i++) f();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  return Number(process.hrtime.bigint() - t0) / n;
}

const N = 200_000;
const base = time(N, () => interruptTarget(t, 3, 14, { software: false, external: true }));
const rows: [string, number][] = [
  ['interruptTarget (32-bit gate, reference)', base],
  [
    'interruptTarget64 (16-byte gate, IST)',
    time(N, () =>
      interruptTarget64(t64, 3, 14, { software: false, external: true }, { tss, rsp: 0x7ff000n, ss: 0x2b }),
    ),
  ],
  ['farTransferOrTask (JMP to a TSS)', time(N, () => farTransferOrTask(t, 0, 0x30, 0, 'jmp'))],
  [
    'taskSwitch (32-bit TSS, JMP, 18 writes)',
    time(N / 10, () =>
      taskSwitch(t, 'jmp', cur, farTransferOrTask(t, 0, 0x30, 0, 'jmp') as { ok: true } & TaskTarget),
    ),
  ],
];
for (const [name, ns] of rows)
  console.log(`${name.padEnd(44)} ${ns.toFixed(0).padStart(7)} ns   ×${(ns / base).toFixed(1)}`);
