import { assemble } from '@ringzero/assembler';
import { Code } from '@ringzero/decoder';
import { describe, expect, it } from 'vitest';
import { Reg } from './cpu-state';
import { CC_NAMES } from './handlers';
import { createHarness, type HarnessMode } from './harness';
import { Action } from './policy';
import { StopReason } from './tier0';

const ORIGIN = 0x1000;
/** Set by `tier1-wasm.test.ts`: the translated side emits WebAssembly. */
const WASM = (globalThis as { RINGZERO_TIER1_WASM?: boolean }).RINGZERO_TIER1_WASM === true;

function program(source: string): Uint8Array {
  return assemble(`bits 32\norg ${ORIGIN}\n${source}`).bytes;
}

/**
 * Runs `code` with tier 0 only and with tier 1 side by side, in slices like the hypervisor's
 * (so block budgets are exercised), and compares registers, EIP, flags and the instruction
 * count after every slice: a divergence is caught where it happens, not only if it survives to
 * the end. Returns both processors.
 */
function both(
  code: Uint8Array,
  opts: {
    limit?: number;
    mode?: HarnessMode;
    slice?: number;
    memorySize?: number;
    /** More code, copied to RAM at these physical addresses. */
    extra?: readonly (readonly [at: number, bytes: Uint8Array])[];
  } = {},
) {
  const make = (jit: boolean) => {
    // A low threshold, so short programs spend most of their time translated.
    const h = createHarness(code, {
      jit,
      wasm: WASM && jit,
      jitThreshold: 64,
      mode: opts.mode,
      memorySize: opts.memorySize,
      callouts: { exception: () => true },
    });
    for (const [at, bytes] of opts.extra ?? []) h.memory.ram.set(bytes, at);
    return h;
  };
  const a = make(false);
  const b = make(true);
  const limit = opts.limit ?? 2_000_000;
  const slice = opts.slice ?? 97;
  let ra: number = StopReason.limit;
  let rb: number = StopReason.limit;
  while (a.cpu.instructions < limit) {
    ra = a.cpu.run(Math.min(slice, limit - a.cpu.instructions));
    rb = b.cpu.run(Math.min(slice, limit - b.cpu.instructions));
    const sa = a.cpu.state;
    const sb = b.cpu.state;
    if (
      ra !== rb ||
      sa.eip !== sb.eip ||
      a.cpu.instructions !== b.cpu.instructions ||
      sa.getFlags() !== sb.getFlags() ||
      sa.regs.some((v, i) => v !== sb.regs[i])
    ) {
      break;
    }
    if (ra !== StopReason.limit) break;
  }
  return { t0: { ...a, reason: ra }, t1: { ...b, reason: rb } };
}

type Run = ReturnType<typeof both>['t0'];

function expectSameState(a: Run, b: Run): void {
  expect(Array.from(b.cpu.state.regs)).toEqual(Array.from(a.cpu.state.regs));
  expect(b.cpu.state.eip).toBe(a.cpu.state.eip);
  expect(b.cpu.state.getFlags()).toBe(a.cpu.state.getFlags());
  expect(b.cpu.instructions).toBe(a.cpu.instructions);
  expect(b.reason).toBe(a.reason);
  expect(b.cpu.lastVector).toBe(a.cpu.lastVector);
  // Byte-wise comparison of guest RAM (a deep equality of 1 MiB would dominate the test's time).
  expect(Buffer.compare(Buffer.from(b.memory.ram), Buffer.from(a.memory.ram))).toBe(0);
}

/**
 * Runs, in both tiers, a 300-round loop (ECX counts down, EBX starts at 0) that sets `reg` to
 * 0x8000 in every round but the last, where it is `last`, and goes on with `rest` (which ends the
 * round); checks that the tiers agree and that tier 1 translated code.
 */
function lastRoundDiffers(reg: string, last: string, rest: string): { t0: Run; t1: Run } {
  const { t0, t1 } = both(
    program(`
        mov ecx, 300
        xor ebx, ebx
      l:
        mov ${reg}, 0x8000
        cmp ecx, 1
        jne normal
        mov ${reg}, ${last}
      normal:
${rest}`),
  );
  expectSameState(t0, t1);
  expect(t1.cpu.jit?.stats.blocksCompiled ?? 0).toBeGreaterThan(0);
  return { t0, t1 };
}

/**
 * Both tiers halted in the same state, and tier 1 translated and retired more than `share` of
 * the instructions. Returns tier 1's statistics.
 */
function expectHaltedTranslated({ t0, t1 }: ReturnType<typeof both>, share: number) {
  expect(t0.reason).toBe(StopReason.halt);
  expectSameState(t0, t1);
  const stats = t1.cpu.jit?.stats;
  expect(stats?.blocksCompiled).toBeGreaterThan(0);
  expect(stats?.instructionsTranslated ?? 0).toBeGreaterThan(share * t1.cpu.instructions);
  // With the WebAssembly back end, every region is WebAssembly (none fell back to JavaScript).
  if (WASM) expect(stats?.wasmFallbacks).toBe(0);
  return stats;
}

describe('tier 1', () => {
  it('translates a hot loop and ends in the same state as tier 0', () => {
    // The loop runs translated: only the tails of the 97-instruction slices are left to tier 0.
    expectHaltedTranslated(
      both(
        program(`
        mov ecx, 3000
        xor eax, eax
        mov esi, 0x8000
      l:
        mov [esi], ecx
        add eax, [esi]
        lea edx, [eax + ecx * 4 + 7]
        xor edx, eax
        push edx
        pop ebx
        add esi, 4
        cmp esi, 0x9000
        jb ok
        mov esi, 0x8000
      ok:
        dec ecx
        jnz l
        hlt`),
      ),
      0.6,
    );
  });

  it('a store into a tier-0 run takes effect at the next instruction of the run', () => {
    // 30 iterations: fewer than the translation threshold, so the loop runs in tier 0, as a run
    // from its 5th iteration on. Its store goes to a data page, except at ECX = 10, where it
    // rewrites the immediate of the ADD two instructions further in the same run: 20 × 1 + 10 × 10.
    const { t0, t1 } = both(
      program(`
        mov ecx, 30
        xor eax, eax
        mov esi, patch + 2
      l:
        mov edi, 0x8000
        cmp ecx, 10
        cmove edi, esi
        mov [edi], cl
        inc ebx
      patch:
        add eax, strict byte 1
        dec ecx
        jnz l
        hlt`),
      { slice: 1000 },
    );
    expect(t0.reason).toBe(StopReason.halt);
    expect(t0.cpu.state.regs[Reg.eax]).toBe(120);
    expectSameState(t0, t1);
    expect(t1.cpu.jit?.stats.blocksCompiled).toBe(0);
  });

  it('a tier-0 run that page-faults on a PUSH leaves ESP and the registers as tier 0 does', () => {
    // Paging on, with page 0x70000 not present. The loop runs in tier 0 (as a run from its 5th
    // iteration: MOV, PUSH, a load through SS, LEA), its stack descending into that page: the
    // 41st PUSH faults, before ESP moves.
    const { t0, t1 } = both(
      program(`
        mov edi, 0x11000
        mov eax, 3
        mov ecx, 256
      fill:
        mov [edi], eax
        add eax, 0x1000
        add edi, 4
        dec ecx
        jnz fill
        mov dword [0x11000 + 0x70 * 4], 0
        mov dword [0x10000], 0x11003
        mov eax, 0x10000
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        mov esp, 0x71000 + 4 * 40
        mov ecx, 100
      l:
        mov eax, ecx
        push eax
        mov ebx, [esp]
        lea edx, [ebx + ecx * 2 + 1]
        dec ecx
        jnz l
        hlt`),
      { slice: 1000 },
    );
    expect(t0.reason).toBe(StopReason.exception);
    expect(t0.cpu.lastVector).toBe(14);
    expect(t0.cpu.state.regs[Reg.esp]).toBe(0x71000);
    expect(t0.cpu.state.regs[Reg.ecx]).toBe(60);
    expectSameState(t0, t1);
  });

  it('instructions a region holds are not translated again when slice ends leave them to tier 0', () => {
    // An 11-instruction loop run in 97-instruction slices: most slices end inside the loop body,
    // and tier 0 runs the instructions between there and the next block entry, which were all
    // hot when the loop was translated.
    const stats = expectHaltedTranslated(
      both(
        program(`
        mov ecx, 20000
        xor eax, eax
      l:
        add eax, ecx
        mov ebx, eax
        shl ebx, 3
        xor ebx, ecx
        add eax, ebx
        mov edx, eax
        and edx, 0xff
        sub eax, edx
        or eax, 1
        dec ecx
        jnz l
        hlt`),
      ),
      0.8,
    );
    // The loop once, and its exit path: not a region per instruction a slice ended at.
    expect(stats?.blocksCompiled).toBeLessThanOrEqual(2);
  });

  it('a path tier 0 ran less than 1/64 as often as the threshold stays out of the region', () => {
    // The side path runs once every `every` iterations. At a threshold of 640 a block needs 10
    // tier-0 runs to join; when the loop is translated (its head has run 640 times) the side path
    // has run 5 times with every = 128 and 40 times with every = 16.
    const loop = (every: number) =>
      program(`
        mov ecx, 20000
        xor eax, eax
      l:
        add eax, ecx
        test ecx, ${every - 1}
        jnz skip
        xor eax, 0x5a5a
        rol eax, 3
        add eax, 7
      skip:
        dec ecx
        jnz l
        hlt`);
    const run = (every: number, jit: boolean) => {
      const h = createHarness(loop(every), { jit, jitThreshold: 640 });
      while (h.cpu.run(100_000) === StopReason.limit) {}
      return { eax: h.cpu.state.regs[Reg.eax], compiled: h.cpu.jit?.stats.instructionsCompiled ?? 0 };
    };
    const rare = run(128, true);
    const often = run(16, true);
    expect(rare.compiled).toBeGreaterThan(0);
    // The same loop; only the side path's three instructions differ.
    expect(often.compiled - rare.compiled).toBeGreaterThanOrEqual(3);
    // And both compute what tier 0 computes.
    expect(rare.eax).toBe(run(128, false).eax);
    expect(often.eax).toBe(run(16, false).eax);
  });

  it('a store into the running block takes effect at the next instruction (self-modifying code)', () => {
    const { t0, t1 } = both(
      program(`
        mov ecx, 200
        xor ebx, ebx
      l:
        inc dword [target + 1]   ; rewrites the immediate of the next instruction
      target:
        mov eax, 0
        add ebx, eax
        dec ecx
        jnz l
        hlt`),
    );
    expectSameState(t0, t1);
    expect(t1.cpu.state.regs[Reg.ebx]).toBe((200 * 201) / 2);
  });

  it('a CALL whose push rewrites the callee in the same region runs the new bytes (self-modifying code)', () => {
    // On the last iteration the return address is pushed over the immediate of f's
    // `mov eax, 7`, so that call returns the address a1 in EAX instead of 7.
    const { t0 } = lastRoundDiffers(
      'esp',
      'f + 5',
      `
        call f
      a1:
        add ebx, eax
        dec ecx
        jnz l
        mov esp, 0x8000
        hlt
      f:
        mov eax, 7
        ret`,
    );
    // EAX holds what the last call returned: the address a1, not 7.
    const a1 = t0.cpu.state.regs[Reg.eax] ?? 0;
    expect(a1).toBeGreaterThan(ORIGIN);
    expect(t0.cpu.state.regs[Reg.ebx]).toBe(299 * 7 + a1);
  });

  it('a PUSH that rewrites the next instruction runs the new bytes with ESP updated', () => {
    // On the last iteration the push writes its value over the immediate of `mov eax, 7`, from
    // the store's slow way, which leaves the region after the push with ESP already moved.
    const { t0 } = lastRoundDiffers(
      'esp',
      'p + 5',
      `
        push 0x1111
      p:
        mov eax, 7
        add ebx, eax
        dec ecx
        jnz l
        hlt`,
    );
    expect(t0.cpu.state.regs[Reg.eax]).toBe(0x1111);
    expect(t0.cpu.state.regs[Reg.ebx]).toBe(299 * 7 + 0x1111);
  });

  it('a read-modify-write that rewrites the next instruction leaves its flags for the reader', () => {
    // The last ADD to memory lowers the immediate of `mov eax, 7` to 6 and sets CF; the region
    // leaves from the store's slow way, and ADC (in the new code) must see that CF.
    const { t0 } = lastRoundDiffers(
      'edi',
      'q + 1',
      `
        add dword [edi], 0xffffffff
      q:
        mov eax, 7
        adc ebx, eax
        dec ecx
        jnz l
        hlt`,
    );
    expect(t0.cpu.state.regs[Reg.eax]).toBe(6);
    // 299 rounds of 7 plus the carries of the data word (0 - 1 carries from its second round
    // on), then 6 and the carry of 7 - 1.
    expect(t0.cpu.state.regs[Reg.ebx]).toBe(299 * 7 + 298 + 6 + 1);
  });

  it('a fault in the middle of a block is precise: same EIP, registers and instruction count', () => {
    const { t0, t1 } = both(
      program(`
        mov ecx, 100
        mov ebx, 5
      l:
        add eax, 3
        mov edx, 0
        mov esi, eax
        div ebx               ; #DE once ebx reaches 0
        dec ebx
        cmp ecx, 20
        cmovb ebx, ecx
        dec ecx
        jnz l
        hlt`),
    );
    expect(t0.reason).toBe(StopReason.exception);
    expect(t0.cpu.lastVector).toBe(0);
    expectSameState(t0, t1);
  });

  it('an instruction that faults while being fetched counts as retired in both tiers', () => {
    const { t0, t1 } = both(
      program(`
        mov ecx, 300
      l:
        add eax, ecx
        dec ecx
        jnz l
        db 0x0f, 0x04         ; not an instruction: #UD when fetched
        hlt`),
    );
    expect(t0.reason).toBe(StopReason.exception);
    expect(t0.cpu.lastVector).toBe(6);
    expectSameState(t0, t1);
  });

  it('runs user-mode (CPL 3) code with user accesses in its own blocks', () => {
    const { t0, t1 } = both(
      program(`
        mov ecx, 500
      l:
        push ecx
        call f
        add esp, 4
        dec ecx
        jnz l
        mov eax, [0]          ; then a fault from ring 3 (no paging: allowed, reads 0)
        int3
      f:
        mov eax, [esp + 4]
        add [0x9000], eax
        ret`),
      { mode: 'flat32-user' },
    );
    expectSameState(t0, t1);
  });

  it('runs RDTSC, CPUID, PUSHFD and byte ALU from memory inside regions, the count current at each RDTSC', () => {
    const { t0, t1 } = both(
      program(`
        mov esi, 0x8000
        mov dword [esi], 0x5a5a1234
        rdtsc
        mov edi, eax
      l:
        pause
        rdtsc                 ; a delay loop on the time-stamp counter, as Linux's udelay
        xor bl, [esi + 1]
        add bl, [esi]
        pushfd
        pop edx
        sub eax, edi
        cmp eax, 20000
        jb l
        mov eax, 1
        cpuid
        hlt`),
    );
    expect(t0.reason).toBe(StopReason.halt);
    expectSameState(t0, t1);
    // The loop runs translated, RDTSC included (0.93 of the instructions; with RDTSC left to
    // tier 0, 0.75): only the tails of the 97-instruction slices are left to tier 0.
    expect(t1.cpu.jit?.stats.instructionsTranslated ?? 0).toBeGreaterThan(0.88 * t1.cpu.instructions);
  });

  it('8-, 16- and 32-bit shifts by every kind of count leave the same registers and flags in both tiers', () => {
    const counts = [0, 1, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33];
    const body = counts
      .map(
        (k) => `
        shr ax, ${k}
        adc esi, 0
        sar bh, ${k}
        sbb esi, edi
        shl dl, ${k}
        seto cl
        add esi, ecx
        shl ebp, ${k}
        adc edi, ebp
        sar edx, ${k}
        setc cl
        add edi, ecx`,
      )
      .join('');
    const { t0, t1 } = both(
      program(`
        mov ecx, 400
      l:
        push ecx
        imul eax, ecx, 0x9e3779b1
        mov ebx, eax
        rol ebx, 7
        mov edx, eax
        xor edx, ebx
        mov ebp, edx
        ${body}
        pop ecx
        dec ecx
        jnz l
        hlt`),
    );
    expect(t0.reason).toBe(StopReason.halt);
    expectSameState(t0, t1);
  });

  it('ROL/ROR, IMUL and byte ALU whose flags the next instruction overwrites, or that a reader sees, agree with tier 0', () => {
    const { t0, t1 } = both(
      program(`
        mov ecx, 3000
        mov eax, 0x12345678
        mov ebx, 0x9abcdef0
      l:
        rol ebx, 5            ; dead: ADD overwrites every flag
        add ebx, eax
        ror eax, 11           ; live: ADC reads CF
        adc esi, 0
        imul edx, ebx, 0x9e3779b1 ; dead: XOR overwrites
        xor edx, eax
        imul ebx, edx         ; live: SETO reads OF
        seto al
        rol edi, cl           ; by CL (0 to 31), dead: CMP overwrites
        cmp edi, esi
        ror ebp, cl           ; by CL, live: JC reads CF
        jc skip
        inc esi
      skip:
        add bl, dh            ; dead byte ALU: SUB overwrites
        sub ebx, ecx
        sub ah, [0x8000 + ecx] ; live: ADC reads CF (and the byte load is real)
        adc edi, 0
        cmp al, 7             ; dead: only its flags, and AND overwrites them
        and esi, 0x7fffffff
        xor dl, bh            ; live: SETS reads SF
        sets al
        add ebp, edx
        dec ecx
        jnz l
        hlt`),
    );
    expect(t0.reason).toBe(StopReason.halt);
    expectSameState(t0, t1);
  });

  it('byte ALU with deferred 8-bit flags: every SETcc and Jcc, through a LEA, PUSHFD and a region exit, agree with tier 0 on edge values', () => {
    const ops = [
      'cmp al, bh',
      'test al, bh',
      'add al, bh',
      'sub al, bh',
      'and al, bh',
      'or al, bh',
      'xor al, bh',
    ];
    const lines: string[] = [];
    let label = 0;
    for (const op of [...ops, 'cmp byte [esi], bh', 'test byte [esi], 0x81']) {
      for (const cc of CC_NAMES) {
        // SETcc right after the operation, and Jcc after a LEA (which leaves the flags alone).
        lines.push('mov al, bl', op, `set${cc} dl`, 'movzx edx, dl', 'lea edi, [edi * 2 + edx]');
        lines.push('mov al, bl', op, 'lea edx, [edx + 1]', `j${cc} t${label}`, 'add ebp, 3', `t${label}:`);
        label++;
      }
      // Every status flag of the operation, as PUSHFD sees it (AF and PF included).
      lines.push('mov al, bl', op, 'pushfd', 'pop edx', 'and edx, 0x8d5', 'add ebp, edx', 'rol ebp, 3');
    }
    const { t0, t1 } = both(
      program(`
        mov dword [0x8100], 3   ; rounds
      round:
        xor ebp, ebp
      outer:
        xor ecx, ecx
      inner:
        mov bl, [vals + ebp]
        mov bh, [vals + ecx]
        mov esi, 0x8000
        mov [esi], bl
        push ebp
        ${lines.join('\n        ')}
        pop ebp
        mov [0x8200 + ecx * 4], edi
        inc ecx
        cmp ecx, 9
        jb inner
        inc ebp
        cmp ebp, 9
        jb outer
        dec dword [0x8100]
        jnz round
        cmp al, bh              ; byte flags pending when the region is left
        hlt
      vals:
        db 0, 1, 0x0f, 0x10, 0x7f, 0x80, 0x81, 0xfe, 0xff`),
      { limit: 5_000_000 },
    );
    expect(t0.reason).toBe(StopReason.halt);
    expectSameState(t0, t1);
    expect(t1.cpu.jit?.stats.instructionsTranslated ?? 0).toBeGreaterThan(0.6 * t1.cpu.instructions);
  });

  it('LODS, STOS, MOVS, SCAS and CMPS without REP run inline forwards and backwards, with a source override', () => {
    const { t0, t1 } = both(
      program(`
        mov edi, 0x8000         ; pseudo-random bytes at 0x8000–0x9fff
        mov eax, 12345
      fill:
        imul eax, eax, 1103515245
        add eax, 12345
        mov [edi], ah
        inc edi
        cmp edi, 0xa000
        jb fill
        mov ecx, 2000
        mov esi, 0x8000
        mov edi, 0x9000
      l:
        test ecx, 1
        jz fwd
        std
        jmp go
      fwd:
        cld
      go:
        lodsb
        add ebx, eax
        lodsw
        lodsd
        xor ebx, eax
        stosb
        stosw
        stosd
        movsb
        movsw
        movsd
        es movsd
        ss lodsb
        scasb
        setb dl
        add ebx, edx
        cmpsb
        seta dl
        adc ebx, edx
        cmpsb
        jl less
        inc ebx
      less:
        scasb
        pushfd                  ; every status flag of SCAS and of CMPS, as the state has them
        pop edx
        and edx, 0x8d5
        add ebx, edx
        cmpsb
        pushfd
        pop edx
        and edx, 0x8d5
        add ebx, edx
        and esi, 0x8fff
        and edi, 0x9fff
        or esi, 0x8000
        or edi, 0x9000
        mov [esi], bl
        dec ecx
        jnz l
        cld
        hlt`),
    );
    expect(t0.reason).toBe(StopReason.halt);
    expectSameState(t0, t1);
    expect(t1.cpu.jit?.stats.instructionsTranslated ?? 0).toBeGreaterThan(0.8 * t1.cpu.instructions);
  });

  /**
   * A loop `span` whose body straddles the page end at 0x3000 (code from ORIGIN 0x1000): `first`
   * ends exactly at the page end (padded with NOPs before it, its length found by assembling it
   * alone), `second` follows in the next page. `imm` is the immediate of its `add ebx, 1`.
   */
  const straddle = (first: string, second = ''): string => {
    const len = assemble(`bits 32\n${first}`).bytes.length;
    return `
      times 0x2000 - ${len} - ($ - $$) nop
      ${first}
      ${second}
      add ebx, 1
    imm equ $ - 1
      dec ecx
      jnz span
      ret`;
  };
  const STRADDLE = straddle(`
    span:
      mov eax, [0x8000 + ecx * 4]
      add eax, ecx
      mov [0x8000 + ecx * 4], eax
      xor edx, eax
      lea esi, [esi + 1]
      add esi, edx`);

  it('a loop straddling a page end runs in one region across both pages (in WebAssembly, two that chain)', () => {
    const { t0, t1 } = both(
      program(`
        mov esp, 0x7000
        mov ecx, 4000
        call span
        hlt
        ${STRADDLE}`),
    );
    expect(t0.reason).toBe(StopReason.halt);
    expectSameState(t0, t1);
    expect(t1.cpu.state.regs[Reg.ebx]).toBe(4000);
    const stats = t1.cpu.jit?.stats;
    expect(stats?.instructionsTranslated ?? 0).toBeGreaterThan(0.8 * t1.cpu.instructions);
    if (WASM) {
      // WebAssembly regions stay in one page: each half is a region, and they tail-call each other.
      expect(stats?.wasmRegions).toBe(stats?.blocksCompiled);
      expect(stats?.wasmChained ?? 0).toBeGreaterThan(4000);
    } else {
      // One region run per slice of 97 instructions (about 11 iterations), not two per iteration.
      expect(stats?.blockRuns ?? 0).toBeLessThan(t1.cpu.instructions / 50);
    }
  });

  it('a write to the second page of a region takes effect, while it runs and after it', () => {
    const { t0, t1 } = both(
      program(`
        mov esp, 0x7000
        mov edi, 0x7800         ; scratch: no patch
        mov ecx, 3000
        call span
        mov byte [imm], 3       ; from outside the region: the next run adds 3
        mov ecx, 3000
        call span
        mov edi, imm            ; from inside, in the first page, when ECX is 1500: adds 5
        mov ecx, 3000
        call span
        hlt
        ${straddle(`
          span:
            mov eax, [0x8000 + ecx * 4]
            cmp ecx, 1500
            jne .n
            mov byte [edi], 5
          .n:
            xor edx, eax
            add esi, edx`)}`),
    );
    expect(t0.reason).toBe(StopReason.halt);
    expectSameState(t0, t1);
    // 3000 × 1, then 3000 × 3, then 1500 × 3 and 1500 × 5 (the patching iteration adds 5).
    expect(t1.cpu.state.regs[Reg.ebx]).toBe(3000 + 9000 + 4500 + 7500);
    expect(t1.cpu.jit?.stats.invalidations ?? 0).toBeGreaterThan(0);
  });

  it('the second page is guarded: remapped to other code, the region leaves and the new code runs', () => {
    // Identity paging for the first MiB, then the linear page 0x3000 (the loop's second half)
    // moved to a copy at 0x50000 whose `add ebx, 1` adds 7.
    const { t0, t1 } = both(
      program(`
        mov esp, 0x7000
        mov edi, 0x81000
        xor eax, eax
      pte:
        lea edx, [eax + 3]
        mov [edi], edx
        add edi, 4
        add eax, 0x1000
        cmp eax, 0x100000
        jb pte
        mov dword [0x80000], 0x81003
        mov eax, 0x80000
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        mov ecx, 3000
        call span
        mov esi, 0x3000
        mov edi, 0x50000
        mov ecx, 1024
        cld
        rep movsd
        mov byte [0x50000 + imm - 0x3000], 7
        mov dword [0x81000 + 3 * 4], 0x50003
        invlpg [0x3000]
        mov ecx, 3000
        call span
        hlt
        ${STRADDLE}`),
    );
    expect(t0.reason).toBe(StopReason.halt);
    expectSameState(t0, t1);
    expect(t1.cpu.state.regs[Reg.ebx]).toBe(3000 + 3000 * 7);
  });

  it('code at physical addresses a power of two apart (the same instruction-cache slot) runs its own instructions in both tiers', () => {
    // Four functions at the same offset, 128 KiB, 1 MiB and 2 MiB apart. Each is called 200 times
    // in a row (so it gets hot and is translated), then the next, for five rounds: each evicts the
    // others' decoded instructions, heat and region entries wherever the direct-mapped cache is
    // smaller than their distance. Each adds its own constant, so running another's cached code
    // or region shows in the sum.
    const at = [0x2000, 0x2000 + (1 << 17), 0x2000 + (1 << 20), 0x2000 + (1 << 21)];
    // The same instruction lengths, different immediates at every offset but the RET's.
    const fn = (k: number) =>
      assemble(
        `bits 32\norg ${at[k]}\nmov edx, ${k + 1}\nimul edx, edx, ${k * 10 + 3}\nadd eax, edx\nadd eax, ${k * 1000}\nsub edx, ${k}\nret`,
      ).bytes;
    const calls = at
      .map(
        (a, k) => `
        mov ebx, ${a}
        mov esi, 200
      call${k}:
        call ebx
        dec esi
        jnz call${k}`,
      )
      .join('');
    const { t0, t1 } = both(
      program(`
        mov esp, 0x7000
        xor eax, eax
        mov ecx, 5
      again:
        ${calls}
        dec ecx
        jnz again
        hlt`),
      { memorySize: 4 << 20, extra: at.map((a, k) => [a, fn(k)] as const) },
    );
    expect(t0.reason).toBe(StopReason.halt);
    expectSameState(t0, t1);
    // 1·3 + 2·13 + 3·23 + 4·33, and 0 + 1000 + 2000 + 3000, per round of four calls.
    expect(t1.cpu.state.regs[Reg.eax]).toBe(5 * 200 * (3 + 26 + 69 + 132 + 6000));
    expect(t1.cpu.jit?.stats.instructionsTranslated ?? 0).toBeGreaterThan(0.5 * t1.cpu.instructions);
  });

  it('a policy exit on a sensitive instruction inside a region stops at it, as in tier 0', () => {
    const rdtsc = Code.rdtsc;
    const run = (jit: boolean) => {
      let seen = 0;
      const h = createHarness(program('l: rdtsc\nadd ebx, eax\ninc ecx\njmp l'), {
        jit,
        jitThreshold: 8,
        callouts: { exception: () => true },
        policy: { decide: (code) => (code === rdtsc && ++seen === 500 ? Action.exit : Action.inline) },
      });
      const reason = h.cpu.run(1_000_000);
      return { h, reason };
    };
    const a = run(false);
    const b = run(true);
    expect(a.reason).toBe(StopReason.exit);
    expect(b.reason).toBe(StopReason.exit);
    expect(b.h.cpu.exitCode).toBe(Code.rdtsc);
    expect(b.h.cpu.state.eip).toBe(a.h.cpu.state.eip);
    expect(b.h.cpu.state.eip).toBe(ORIGIN);
    expect(b.h.cpu.instructions).toBe(a.h.cpu.instructions);
    expect(Array.from(b.h.cpu.state.regs)).toEqual(Array.from(a.h.cpu.state.regs));
    expect(b.h.cpu.jit?.stats.instructionsTranslated ?? 0).toBeGreaterThan(1000);
  });

  it('emits only integers from the decoder into the block source', () => {
    const h = createHarness(program('l: add eax, 0x7fffffff\nmov [ebx + ecx * 8 - 4], edx\njmp l'), {
      jit: true,
      jitThreshold: 64,
    });
    h.cpu.run(2000);
    const sources = h.cpu.jit?.sources() ?? [];
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) {
      // No string or template literals: nothing but code, comments naming forms, and integers.
      expect(src).not.toMatch(/["'`]/);
    }
    expect(sources.some((src) => src.includes('2147483647'))).toBe(true);
  });
});

/** A seeded generator of small random programs: ALU, moves, stack, memory in a data window, branches. */
function randomProgram(seed: number): string {
  let x = seed >>> 0 || 1;
  const rnd = (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
  const regs = ['eax', 'ebx', 'ecx', 'edx', 'esi', 'edi'];
  const r = () => regs[rnd(regs.length)] as string;
  const imm = () => [0, 1, -1, 0x7fffffff, -0x80000000, rnd(1000), -rnd(100), rnd(0x10000)][rnd(8)] as number;
  const mem = () => `[ebp + ${rnd(64) * 4}]`;
  const lines: string[] = ['mov ebp, 0x8000', 'mov dword [0x7ff0], 250', 'top:'];
  const n = 8 + rnd(24);
  const ccs = ['z', 'nz', 'c', 'nc', 'o', 'no', 's', 'ns', 'p', 'l', 'ge', 'le', 'g', 'be', 'a'];
  for (let i = 0; i < n; i++) {
    // Fold a flag into EDI now and then, so a wrong flag shows up in a register.
    if (i > 0 && rnd(2) === 0) lines.push(`set${ccs[rnd(ccs.length)]} bl`, 'adc edi, ebx');
    const op = ['add', 'sub', 'and', 'or', 'xor', 'cmp', 'test'][rnd(7)] as string;
    switch (rnd(18)) {
      case 0:
        lines.push(`${op} ${r()}, ${r()}`);
        break;
      case 1:
        lines.push(`${op} ${r()}, ${imm()}`);
        break;
      case 2:
        lines.push(`${op} ${r()}, ${mem()}`);
        break;
      case 3:
        lines.push(`mov ${mem()}, ${r()}`);
        break;
      case 4:
        lines.push(`mov ${r()}, ${mem()}`);
        break;
      case 5:
        lines.push(`push ${r()}`, `pop ${r()}`);
        break;
      case 6:
        lines.push(`${['inc', 'dec', 'neg', 'not'][rnd(4)]} ${r()}`);
        break;
      case 7:
        lines.push(`lea ${r()}, [${r()} + ${r()} * ${[1, 2, 4, 8][rnd(4)]} + ${imm()}]`);
        break;
      case 8:
        lines.push(`${['shl', 'shr', 'sar', 'rol', 'ror'][rnd(5)]} ${r()}, ${rnd(40)}`);
        break;
      case 9:
        lines.push(`adc ${r()}, ${r()}`, `sbb ${r()}, ${imm()}`);
        break;
      case 10:
        if (rnd(3) === 0) {
          // An unconditional jump over code (the block follows it to its target).
          lines.push(`jmp skip${i}`, `dec ${r()}`, `not ${r()}`, `skip${i}:`);
        } else {
          lines.push(
            `j${['z', 'nz', 'c', 'nc', 'o', 's', 'l', 'ge', 'be', 'a', 'p'][rnd(11)]} skip${i}`,
            `inc ${r()}`,
            `skip${i}:`,
          );
        }
        break;
      case 11:
        lines.push(`mov ${r()}, ${imm()}`);
        break;
      case 12:
        lines.push(
          [
            `movzx ${r()}, byte ${mem()}`,
            `movsx ${r()}, word ${mem()}`,
            `movsx ${r()}, ${['al', 'bh', 'cl'][rnd(3)]}`,
            `movzx ${r()}, ${['dx', 'si'][rnd(2)]}`,
            `mov ${r()}, [cs:ebp + ${rnd(64) * 4}]`,
          ][rnd(5)] as string,
          `imul ${r()}, ${r()}`,
        );
        break;
      case 13:
        // Self-modifying code: rewrite the immediate of an instruction further down the block.
        lines.push(`mov dword [patch${i} + 1], ${r()}`, `patch${i}:`, `mov ${r()}, 0`);
        break;
      case 14:
        // A division that may fault (#DE) in the middle of a block.
        {
          // Usually a safe divisor; sometimes zero, so some runs end in a #DE mid-block.
          const d = r();
          if (rnd(6) !== 0) lines.push(`or ${d}, 1`);
          lines.push('xor edx, edx', `div ${d}`);
        }
        break;
      case 15:
        // Byte and word forms, which share opcodes' operand-size attribute with dword ones.
        lines.push(
          [
            `${op} byte ${mem()}, ${rnd(256)}`,
            `mov ${['al', 'bl', 'ch', 'dh'][rnd(4)]}, byte ${mem()}`,
            `${op} word ${mem()}, ${['ax', 'bx', 'si'][rnd(3)]}`,
            `mov ${mem()}, ${['cl', 'dx', 'di'][rnd(3)]}`,
          ][rnd(4)] as string,
        );
        break;
      case 16: {
        // 8-bit ALU on registers, 16-bit moves, NOT, INC/DEC of memory, three-operand IMUL, PAUSE.
        const r8 = () => ['al', 'bl', 'ch', 'dh', 'ah', 'cl'][rnd(6)] as string;
        const r16 = () => ['ax', 'bx', 'cx', 'dx', 'si', 'di'][rnd(6)] as string;
        lines.push(
          [
            `${['add', 'adc', 'sbb', 'xor', 'cmp', 'test', 'and'][rnd(7)]} ${r8()}, ${r8()}`,
            `cmp ${r8()}, ${rnd(256)}`,
            `xor ${r8()}, byte ${mem()}`,
            `mov ${r16()}, ${r16()}`,
            `mov ${r16()}, word ${mem()}`,
            `mov word ${mem()}, ${rnd(65536)}`,
            `not ${r()}`,
            `${['inc', 'dec'][rnd(2)]} dword ${mem()}`,
            `imul ${r()}, ${r()}, ${imm()}`,
            `imul ${r()}, dword ${mem()}`,
            `sbb ${r()}, dword ${mem()}`,
            'pause',
            `cmov${['z', 'nz', 'b', 'ae', 'l', 'g', 's', 'o'][rnd(8)]} ${r()}, ${r()}`,
            `cmov${['e', 'ne', 'be', 'a'][rnd(4)]} ${r()}, dword ${mem()}`,
            `mov ${r8()}, ${r8()}`,
            `mov ${r8()}, ${rnd(256)}`,
            'push ebp\nmov ebp, esp\npush eax\nleave',
          ][rnd(17)] as string,
        );
        break;
      }
      default:
        lines.push(`${op} dword ${mem()}, ${imm()}`);
        break;
    }
  }
  lines.push('dec dword [0x7ff0]', 'jnz top', 'hlt');
  return lines.join('\n');
}

describe('tier 1 against tier 0: random programs', () => {
  // CI-sized by default (over ten million instructions per tier); RINGZERO_TIER1_FUZZ=N for more.
  const count = Number(process.env.RINGZERO_TIER1_FUZZ ?? 1200);
  it(`${count} seeded random programs end in identical states`, () => {
    let instructions = 0;
    let wasmRegions = 0;
    let fallbacks = 0;
    for (let seed = 1; seed <= count; seed++) {
      const source = randomProgram(seed * 2654435761);
      const { t0, t1 } = both(program(source), { limit: 200_000 });
      try {
        expectSameState(t0, t1);
      } catch (e) {
        throw new Error(`seed ${seed} diverged:\n${source}\n${(e as Error).message}`);
      }
      instructions += t0.cpu.instructions;
      wasmRegions += t1.cpu.jit?.stats.wasmRegions ?? 0;
      fallbacks += t1.cpu.jit?.stats.wasmFallbacks ?? 0;
    }
    console.log(
      `tier 1 differential${WASM ? ' (WebAssembly)' : ''}: ${count} programs, ${instructions} instructions per tier, no divergence`,
    );
    if (WASM) {
      expect(wasmRegions).toBeGreaterThan(count / 10);
      expect(fallbacks).toBe(0);
    }
    expect(instructions).toBeGreaterThan(count * 1000);
  }, 900_000);
});
