/**
 * The cost of a hardware task switch in tier 0, as a ratio to other control transfers measured
 * in the same run: round trips of far JMPs between two code-segment labels (the reference), INT n
 * through an interrupt gate and IRET, JMP to a TSS and back, and CALL through a task gate and
 * IRET with NT = 1. Prints nanoseconds per round trip (best of 5). Run:
 * pnpm --filter @ringzero/translator exec tsx --conditions=@ringzero/source bench/task-switch.bench.ts
 */
import { assemble } from '@ringzero/assembler';
import { encodeDescriptor, encodeGate, SystemType, TSS32 } from '@ringzero/rings';
import { createHarness, HARNESS_GDT, setGate } from '../src/harness';
import { StopReason } from '../src/tier0';

const ROUNDS = 20_000;
const TSS_B = 0x3000;

/** Each loop runs ROUNDS round trips; `peer` is the code the round trip goes to and back from. */
const LOOPS = [
  {
    name: 'far JMP to a code segment and back (reference)',
    loop: 'jmp 0x08:peer\nback:',
    peer: 'peer: jmp 0x08:back',
  },
  { name: 'INT n (interrupt gate) and IRET', loop: 'int 0x40', peer: 'peer: iret' },
  { name: 'JMP to a TSS and back (two switches)', loop: 'jmp 0x30:0', peer: 'peer: jmp 0x28:0\njmp peer' },
  { name: 'CALL task gate, IRET (two switches)', loop: 'call 0x38:0', peer: 'peer: iret\njmp peer' },
] as const;

function run(loop: string, peer: string): number {
  const r = assemble(`bits 32
org 0x1000
        mov ax, 0x28
        ltr ax
        mov esi, ${ROUNDS}
top:    ${loop}
        dec esi
        jnz top
        hlt
${peer}`);
  const { cpu, memory } = createHarness(r.bytes);
  const peerAt = r.symbols.get('peer') ?? 0;
  // Task B's TSS (selector 0x30) starts at `peer`; 0x38 is a task gate to it.
  memory.write32(TSS_B + TSS32.eip, peerAt);
  memory.write32(TSS_B + TSS32.eflags, 2);
  memory.write32(TSS_B + TSS32.gpr + 16, 0x9000);
  [0x10, 0x08, 0x10, 0x10, 0x10, 0x10].forEach((sel, i) => {
    memory.write16(TSS_B + TSS32.seg + 4 * i, sel);
  });
  const put = (sel: number, [lo, hi]: [number, number]) => {
    memory.write32(HARNESS_GDT + sel, lo);
    memory.write32(HARNESS_GDT + sel + 4, hi);
  };
  put(
    0x30,
    encodeDescriptor({ base: TSS_B, limit: 0x67, type: 9, codeOrData: false, dpl: 0, present: true }),
  );
  put(0x38, encodeGate({ type: SystemType.taskGate, selector: 0x30, offset: 0, dpl: 0, present: true }));
  cpu.state.gdtrLimit = 0x3f;
  setGate(memory, 0x40, peerAt);
  const t0 = process.hrtime.bigint();
  const reason = cpu.run(100 * ROUNDS);
  const ns = Number(process.hrtime.bigint() - t0);
  if (reason !== StopReason.halt) throw new Error(`loop did not finish (stop reason ${reason})`);
  return ns / ROUNDS;
}

const results = LOOPS.map(({ name, loop, peer }) => {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) best = Math.min(best, run(loop, peer));
  return { name, ns: best };
});
const ref = results[0]?.ns ?? 1;
for (const { name, ns } of results) {
  console.log(`${name.padEnd(48)} ${ns.toFixed(0).padStart(7)} ns   ×${(ns / ref).toFixed(1)}`);
}
