import { describe, expect, it } from 'vitest';
import { FunctionBuilder, ModuleBuilder, Op, sleb, uleb, ValType } from './wasm-encoder';

const { i32: I32, i64: I64, f64: F64 } = ValType;

type I32Fn = (...args: number[]) => number;

type Imports = Record<string, Record<string, unknown>>;
type Exports = Record<string, unknown>;

/**
 * The parts of the WebAssembly JavaScript API these tests use, typed here because the package's
 * type environment (lib ES2023, @types/node 20) does not declare the `WebAssembly` global.
 */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Imports) => { readonly exports: Exports };
  Memory: new (descriptor: { initial: number; maximum?: number }) => { readonly buffer: ArrayBuffer };
  RuntimeError: new (message?: string) => Error;
  validate(bytes: Uint8Array): boolean;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** Compiles and instantiates `bytes`, returning its exports. */
function instantiate(bytes: Uint8Array, imports: Imports = {}): Exports {
  return new wasm.Instance(new wasm.Module(bytes), imports).exports;
}

/** A module of one exported function `f` with the signature and body. */
function single(params: readonly ValType[], results: readonly ValType[], body: FunctionBuilder): Uint8Array {
  const mb = new ModuleBuilder();
  mb.exportFunction('f', mb.addFunction(params, results, body));
  return mb.build();
}

/** Compiles the single-function module and returns `f`. */
function compile<T = I32Fn>(
  params: readonly ValType[],
  results: readonly ValType[],
  body: FunctionBuilder,
  imports?: Imports,
): T {
  return instantiate(single(params, results, body), imports).f as T;
}

const uleb_ = (v: number) => {
  const out: number[] = [];
  uleb(out, v);
  return out;
};
const sleb_ = (v: number) => {
  const out: number[] = [];
  sleb(out, v);
  return out;
};

/** The sections of a module as id -> contents, read with a minimal LEB128 decoder. */
function sections(bytes: Uint8Array): Map<number, Uint8Array> {
  const map = new Map<number, Uint8Array>();
  let p = 8;
  const read = () => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[p++]!;
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) return v;
    }
  };
  while (p < bytes.length) {
    const id = bytes[p++]!;
    const size = read();
    map.set(id, bytes.subarray(p, p + size));
    p += size;
  }
  return map;
}

describe('LEB128', () => {
  it('encodes unsigned edge values', () => {
    expect(uleb_(0)).toEqual([0x00]);
    expect(uleb_(63)).toEqual([0x3f]);
    expect(uleb_(64)).toEqual([0x40]);
    expect(uleb_(127)).toEqual([0x7f]);
    expect(uleb_(128)).toEqual([0x80, 0x01]);
    expect(uleb_(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(uleb_(2 ** 31 - 1)).toEqual([0xff, 0xff, 0xff, 0xff, 0x07]);
    expect(uleb_(0xffffffff)).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect(uleb_(2 ** 32)).toEqual([0x80, 0x80, 0x80, 0x80, 0x10]);
  });

  it('encodes signed edge values', () => {
    expect(sleb_(0)).toEqual([0x00]);
    expect(sleb_(63)).toEqual([0x3f]);
    expect(sleb_(64)).toEqual([0xc0, 0x00]);
    expect(sleb_(-1)).toEqual([0x7f]);
    expect(sleb_(-64)).toEqual([0x40]);
    expect(sleb_(-65)).toEqual([0xbf, 0x7f]);
    expect(sleb_(-123456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(sleb_(2 ** 31 - 1)).toEqual([0xff, 0xff, 0xff, 0xff, 0x07]);
    expect(sleb_(-(2 ** 31))).toEqual([0x80, 0x80, 0x80, 0x80, 0x78]);
    expect(sleb_(-(2 ** 33))).toEqual([0x80, 0x80, 0x80, 0x80, 0x60]);
  });

  it('rejects values it cannot encode', () => {
    expect(() => uleb_(-1)).toThrow(Error);
    expect(() => uleb_(1.5)).toThrow(Error);
    expect(() => sleb_(0.5)).toThrow(Error);
    expect(() => sleb_(Number.NaN)).toThrow(Error);
  });

  it('round-trips i32.const and i64.const edge values through the engine', () => {
    const cases: [number, number][] = [
      [0, 0],
      [63, 63],
      [64, 64],
      [-1, -1],
      [-64, -64],
      [-65, -65],
      [2 ** 31 - 1, 2 ** 31 - 1],
      [-(2 ** 31), -(2 ** 31)],
      [0xffffffff, -1],
      [0x80000000, -(2 ** 31)],
    ];
    for (const [value, expected] of cases) {
      expect(compile([], [I32], new FunctionBuilder(0).i32(value))()).toBe(expected);
    }
    const big: [bigint, bigint][] = [
      [0n, 0n],
      [-1n, -1n],
      [0x123456789abcdefn, 0x123456789abcdefn],
      [(1n << 63n) - 1n, (1n << 63n) - 1n],
      [-(1n << 63n), -(1n << 63n)],
      [(1n << 64n) - 1n, -1n],
      [1n << 40n, 1n << 40n],
    ];
    for (const [value, expected] of big) {
      expect(compile<() => bigint>([], [I64], new FunctionBuilder(0).i64(value))()).toBe(expected);
    }
  });

  it('rejects i32 and i64 constants out of range', () => {
    const f = new FunctionBuilder(0);
    expect(() => f.i32(1.5)).toThrow(/i32/);
    expect(() => f.i32(2 ** 32)).toThrow(/i32/);
    expect(() => f.i32(-(2 ** 31) - 1)).toThrow(/i32/);
    expect(() => f.i32(Number.NaN)).toThrow(/i32/);
    expect(() => f.i64(1n << 64n)).toThrow(/i64/);
    expect(() => f.i64(-(1n << 63n) - 1n)).toThrow(/i64/);
  });
});

describe('FunctionBuilder', () => {
  it('computes i32 arithmetic', () => {
    // ((a + b) * 3 - (a ^ b)) >>> 1
    const f = new FunctionBuilder(2)
      .get(0)
      .get(1)
      .op(Op.i32_add)
      .i32(3)
      .op(Op.i32_mul)
      .get(0)
      .get(1)
      .op(Op.i32_xor)
      .op(Op.i32_sub)
      .i32(1)
      .op(Op.i32_shr_u);
    const fn = compile([I32, I32], [I32], f);
    for (const [a, b] of [
      [1, 2],
      [-7, 3],
      [0x7fffffff, 5],
      [123456, -654321],
    ] as const) {
      expect(fn(a, b)).toBe(((((a + b) * 3 - (a ^ b)) | 0) >>> 1) | 0);
    }
  });

  it('encodes each binary i32 operation the way JavaScript computes it', () => {
    const ops: [number, (a: number, b: number) => number][] = [
      [Op.i32_add, (a, b) => (a + b) | 0],
      [Op.i32_sub, (a, b) => (a - b) | 0],
      [Op.i32_mul, (a, b) => Math.imul(a, b)],
      [Op.i32_div_s, (a, b) => (a / b) | 0],
      [Op.i32_div_u, (a, b) => ((a >>> 0) / (b >>> 0)) | 0],
      [Op.i32_rem_s, (a, b) => (a % b) | 0],
      [Op.i32_rem_u, (a, b) => ((a >>> 0) % (b >>> 0)) | 0],
      [Op.i32_and, (a, b) => a & b],
      [Op.i32_or, (a, b) => a | b],
      [Op.i32_xor, (a, b) => a ^ b],
      [Op.i32_shl, (a, b) => a << b],
      [Op.i32_shr_s, (a, b) => a >> b],
      [Op.i32_shr_u, (a, b) => (a >>> b) | 0],
      [Op.i32_rotl, (a, b) => (a << (b & 31)) | (a >>> (32 - (b & 31)))],
      [Op.i32_rotr, (a, b) => (a >>> (b & 31)) | (a << (32 - (b & 31)))],
      [Op.i32_eq, (a, b) => +(a === b)],
      [Op.i32_ne, (a, b) => +(a !== b)],
      [Op.i32_lt_s, (a, b) => +(a < b)],
      [Op.i32_lt_u, (a, b) => +(a >>> 0 < b >>> 0)],
      [Op.i32_gt_s, (a, b) => +(a > b)],
      [Op.i32_gt_u, (a, b) => +(a >>> 0 > b >>> 0)],
      [Op.i32_le_s, (a, b) => +(a <= b)],
      [Op.i32_le_u, (a, b) => +(a >>> 0 <= b >>> 0)],
      [Op.i32_ge_s, (a, b) => +(a >= b)],
      [Op.i32_ge_u, (a, b) => +(a >>> 0 >= b >>> 0)],
    ];
    const mb = new ModuleBuilder();
    ops.forEach(([code], k) => {
      mb.exportFunction(
        `op${k}`,
        mb.addFunction([I32, I32], [I32], new FunctionBuilder(2).get(0).get(1).op(code)),
      );
    });
    const unary: [number, (a: number) => number][] = [
      [Op.i32_eqz, (a) => +(a === 0)],
      [Op.i32_clz, (a) => Math.clz32(a)],
      [Op.i32_ctz, (a) => (a === 0 ? 32 : 31 - Math.clz32(a & -a))],
      [Op.i32_popcnt, (a) => [...(a >>> 0).toString(2)].filter((c) => c === '1').length],
      [Op.i32_extend8_s, (a) => (a << 24) >> 24],
      [Op.i32_extend16_s, (a) => (a << 16) >> 16],
    ];
    unary.forEach(([code], k) => {
      mb.exportFunction(`un${k}`, mb.addFunction([I32], [I32], new FunctionBuilder(1).get(0).op(code)));
    });
    const bytes = mb.build();
    // 31 functions of two signatures: two types.
    expect(sections(bytes).get(1)![0]).toBe(2);
    const ex = instantiate(bytes);
    const values = [0, 1, 3, -1, -2, 31, 33, 0x7fffffff, -0x80000000, 0x12345678, -98765];
    ops.forEach(([, ref], k) => {
      const fn = ex[`op${k}`] as I32Fn;
      for (const a of values) {
        for (const b of values) {
          const div = k >= 3 && k <= 6;
          if (div && (b === 0 || (k === 3 && a === -0x80000000 && b === -1))) continue;
          expect(fn(a, b), `op #${k}(${a}, ${b})`).toBe(ref(a, b) | 0);
        }
      }
    });
    unary.forEach(([, ref], k) => {
      const fn = ex[`un${k}`] as I32Fn;
      for (const a of values) expect(fn(a), `unary #${k}(${a})`).toBe(ref(a));
    });
  });

  it('groups consecutive same-type locals into runs', () => {
    const f = new FunctionBuilder(1);
    expect([f.local(), f.local(I32), f.local(I64), f.local(I64), f.local(F64), f.local(I32)]).toEqual([
      1, 2, 3, 4, 5, 6,
    ]);
    // 4 runs: 2 x i32, 2 x i64, 1 x f64, 1 x i32; then the final end.
    expect([...f.finish()]).toEqual([4, 2, 0x7f, 2, 0x7e, 1, 0x7c, 1, 0x7f, 0x0b]);
  });

  it('uses locals of several runs', () => {
    const f = new FunctionBuilder(2);
    const a = f.local();
    const wide = f.local(I64);
    const wide2 = f.local(I64);
    const d = f.local(F64);
    const b = f.local();
    // a = x * 2; wide = extend_u(y); wide2 = wide << 4; b = wrap(wide2) + a; d untouched (0.0)
    f.get(0).i32(2).op(Op.i32_mul).set(a);
    f.get(1).op(Op.i64_extend_i32_u).set(wide);
    f.get(wide).i64(4n).op(Op.i64_shl).set(wide2);
    f.get(wide2).op(Op.i32_wrap_i64).get(a).op(Op.i32_add).set(b);
    expect(d).toBe(5);
    f.get(b);
    const fn = compile([I32, I32], [I32], f);
    expect(fn(5, 3)).toBe(10 + 48);
    expect(fn(-1, 0x10000000)).toBe(-2);
  });

  it('rejects locals that do not exist and bad local types', () => {
    const f = new FunctionBuilder(2);
    expect(() => f.get(2)).toThrow(/local 2/);
    f.local();
    expect(() => f.get(2)).not.toThrow();
    expect(() => f.set(-1)).toThrow(/local -1/);
    expect(() => f.tee(1.5)).toThrow(/local/);
    expect(() => f.local(0x40 as ValType)).toThrow(/value type/);
  });

  it('runs a loop with br_if computing a sum', () => {
    const f = new FunctionBuilder(1);
    const i = f.local();
    const s = f.local();
    f.loop();
    expect(f.depth).toBe(1);
    f.get(s).get(i).op(Op.i32_add).set(s);
    f.get(i).i32(1).op(Op.i32_add).tee(i).get(0).op(Op.i32_le_s).brIf(0);
    f.end();
    expect(f.depth).toBe(0);
    f.get(s);
    const fn = compile([I32], [I32], f);
    expect(fn(0)).toBe(0);
    expect(fn(10)).toBe(55);
    expect(fn(1000)).toBe(500500);
  });

  it('dispatches over 4 cases with br_table in a loop', () => {
    // A tiny state machine laid out the way tier 1 lays out a region:
    // block $exit { loop $top { block { block { block { block { br_table pc } c0 } c1 } c2 } c3 } }
    const f = new FunctionBuilder(2); // acc, pc
    const steps = f.local();
    f.block();
    const exit = f.depth;
    f.loop();
    const top = f.depth;
    for (let k = 0; k < 4; k++) f.block();
    expect(f.depth).toBe(6);
    f.get(steps).i32(1).op(Op.i32_add).set(steps);
    f.get(1).brTable([0, 1, 2, 3], f.depth - exit);
    f.end(); // case 0: acc *= 2; pc = 1
    f.get(0)
      .i32(2)
      .op(Op.i32_mul)
      .set(0)
      .i32(1)
      .set(1)
      .br(f.depth - top);
    f.end(); // case 1: acc += 3; pc = acc < 100 ? 0 : 2
    f.get(0).i32(3).op(Op.i32_add).tee(0).i32(100).op(Op.i32_lt_s).if();
    f.i32(0).set(1);
    f.else();
    f.i32(2).set(1);
    f.end();
    f.br(f.depth - top);
    f.end(); // case 2: acc -= 1; pc = 3
    f.get(0)
      .i32(1)
      .op(Op.i32_sub)
      .set(0)
      .i32(3)
      .set(1)
      .br(f.depth - top);
    f.end(); // case 3: acc -= 100 and leave
    expect(f.depth).toBe(top);
    f.get(0)
      .i32(100)
      .op(Op.i32_sub)
      .set(0)
      .br(f.depth - exit);
    f.end().end();
    expect(f.depth).toBe(0);
    f.get(0).i32(1000).op(Op.i32_mul).get(steps).op(Op.i32_add);
    const fn = compile([I32, I32], [I32], f);

    const reference = (acc: number, pc: number): number => {
      let steps = 0;
      for (;;) {
        steps++;
        if (pc === 0) {
          acc *= 2;
          pc = 1;
        } else if (pc === 1) {
          acc += 3;
          pc = acc < 100 ? 0 : 2;
        } else if (pc === 2) {
          acc -= 1;
          pc = 3;
        } else if (pc === 3) {
          acc -= 100;
          break;
        } else break;
      }
      return acc * 1000 + steps;
    };
    for (const [acc, pc] of [
      [1, 0],
      [5, 1],
      [50, 2],
      [7, 3],
      [9, 4],
      [9, -1],
      [0, 0x7fffffff],
    ] as const) {
      expect(fn(acc, pc), `(${acc}, ${pc})`).toBe(reference(acc, pc));
    }
    // 1 -> 2, 5, 10, 13, 26, 29, 58, 61, 122, 125 -> 124 -> 24, in 12 steps.
    expect(fn(1, 0)).toBe(24012);
  });

  it('returns from the function with br at function level', () => {
    const f = new FunctionBuilder(1);
    f.get(0).if();
    expect(() => f.br(2)).toThrow(/depth 2/);
    f.i32(7).br(1);
    f.end();
    expect(() => f.br(1)).toThrow(/depth 1/);
    f.i32(9).br(0);
    const fn = compile([I32], [I32], f);
    expect(fn(1)).toBe(7);
    expect(fn(0)).toBe(9);
  });

  it('selects arms of an if with a result', () => {
    const f = new FunctionBuilder(1).get(0).if(I32).i32(-5).else().i32(0xffff).end();
    const fn = compile([I32], [I32], f);
    expect(fn(3)).toBe(-5);
    expect(fn(0)).toBe(0xffff);
  });

  it('grows its buffer for large bodies', () => {
    const f = new FunctionBuilder(1).get(0);
    for (let k = 0; k < 20000; k++) f.i32(k - 10000).op(Op.i32_add);
    const body = f.finish();
    expect(body.length).toBeGreaterThan(60000);
    // The sum of k - 10000 for k in 0..19999 is -10000.
    expect(compile([I32], [I32], f)(10)).toBe(-9990);
  });

  it('throws on unbalanced blocks and misplaced control', () => {
    expect(() => new FunctionBuilder(0).block().loop().end().finish()).toThrow(/1 block\(s\) still open/);
    expect(() => new FunctionBuilder(0).end()).toThrow(/end\(\) without an open block/);
    expect(() => new FunctionBuilder(0).else()).toThrow(/else\(\) outside an if/);
    expect(() => new FunctionBuilder(0).block().else()).toThrow(/else\(\) outside an if/);
    expect(() => new FunctionBuilder(0).i32(1).if().else().else()).toThrow(/second else/);
    expect(() => new FunctionBuilder(0).i32(1).if(I32).i32(2).end()).toThrow(/no else/);
    expect(() => new FunctionBuilder(0).block().brTable([0, 1, 2], 0)).toThrow(/depth 2/);
    expect(() => new FunctionBuilder(0).block().brTable([0], 3)).toThrow(/depth 3/);
    expect(() => new FunctionBuilder(0).brIf(-1)).toThrow(/depth -1/);
    expect(() => new FunctionBuilder(0).block(0x40 as ValType)).toThrow(/value type/);
  });

  it('rejects opcodes with immediates or structure in op()', () => {
    const f = new FunctionBuilder(0);
    for (const code of [
      Op.i32_const,
      Op.block,
      Op.end,
      Op.br,
      Op.local_get,
      Op.i32_load,
      Op.call,
      0x3f,
      0xff,
      256,
    ]) {
      expect(() => f.op(code), `op(${code})`).toThrow(/op\(/);
    }
    expect(() => f.op(Op.nop).op(Op.unreachable)).not.toThrow();
  });

  it('computes the high half of 32x32-bit products with i64', () => {
    const mb = new ModuleBuilder();
    const high = (extend: number, shr: number) =>
      new FunctionBuilder(2)
        .get(0)
        .op(extend)
        .get(1)
        .op(extend)
        .op(Op.i64_mul)
        .i64(32n)
        .op(shr)
        .op(Op.i32_wrap_i64);
    mb.exportFunction('mulhu', mb.addFunction([I32, I32], [I32], high(Op.i64_extend_i32_u, Op.i64_shr_u)));
    mb.exportFunction('mulhs', mb.addFunction([I32, I32], [I32], high(Op.i64_extend_i32_s, Op.i64_shr_s)));
    const ex = instantiate(mb.build());
    const mulhu = ex.mulhu as I32Fn;
    const mulhs = ex.mulhs as I32Fn;
    const values = [0, 1, -1, 2, 0x7fffffff, -0x80000000, 0x12345678, -0x55555555, 65536];
    for (const a of values) {
      for (const b of values) {
        const u = Number(BigInt.asIntN(32, (BigInt(a >>> 0) * BigInt(b >>> 0)) >> 32n));
        const s = Number(BigInt.asIntN(32, (BigInt(a) * BigInt(b)) >> 32n));
        expect(mulhu(a, b), `mulhu(${a}, ${b})`).toBe(u);
        expect(mulhs(a, b), `mulhs(${a}, ${b})`).toBe(s);
      }
    }
  });

  it('computes with i64 parameters and results', () => {
    const f = new FunctionBuilder(2)
      .get(0)
      .get(1)
      .op(Op.i64_add)
      .get(0)
      .get(1)
      .op(Op.i64_sub)
      .op(Op.i64_and)
      .get(0)
      .op(Op.i64_or);
    const fn = compile<(a: bigint, b: bigint) => bigint>([I64, I64], [I64], f);
    const ref = (a: bigint, b: bigint) => BigInt.asIntN(64, (((a + b) & (a - b)) | a) & ((1n << 64n) - 1n));
    for (const [a, b] of [
      [1n, 2n],
      [-(1n << 62n), 12345678901234n],
      [(1n << 63n) - 1n, 1n],
    ] as const) {
      expect(fn(a, b)).toBe(ref(BigInt.asIntN(64, a), BigInt.asIntN(64, b)));
    }
    const cmp = new FunctionBuilder(2).get(0).get(1).op(Op.i64_eq).get(0).get(1).op(Op.i64_ne).op(Op.i32_sub);
    const eqMinusNe = compile<(a: bigint, b: bigint) => number>([I64, I64], [I32], cmp);
    expect(eqMinusNe(5n, 5n)).toBe(1);
    expect(eqMinusNe(5n, 1n << 40n)).toBe(-1);
  });
});

describe('ModuleBuilder', () => {
  it('calls imported functions, which receive the arguments and return a value', () => {
    const seen: number[][] = [];
    const imports = {
      env: {
        combine: (a: number, b: number, c: number) => {
          seen.push([a, b, c]);
          return a * 100 + b * 10 + c;
        },
        note: (x: number) => {
          seen.push([x]);
        },
      },
    };
    const mb = new ModuleBuilder();
    const combine = mb.importFunction('env', 'combine', [I32, I32, I32], [I32]);
    const note = mb.importFunction('env', 'note', [I32], []);
    expect([combine, note]).toEqual([0, 1]);
    // helper(x) = combine(x, x + 1, -x); main(x) = note(x); helper(x) + 1
    const helper = mb.addFunction(
      [I32],
      [I32],
      new FunctionBuilder(1).get(0).get(0).i32(1).op(Op.i32_add).i32(0).get(0).op(Op.i32_sub).call(combine),
    );
    expect(helper).toBe(2);
    const main = mb.addFunction(
      [I32],
      [I32],
      new FunctionBuilder(1).get(0).call(note).get(0).call(helper).i32(1).op(Op.i32_add),
    );
    mb.exportFunction('main', main);
    mb.exportFunction('combine', combine);
    const ex = instantiate(mb.build(), imports);
    expect((ex.main as I32Fn)(4)).toBe(400 + 50 - 4 + 1);
    expect((ex.main as I32Fn)(-3)).toBe(-300 - 20 + 3 + 1);
    expect(seen).toEqual([[4], [4, 5, -4], [-3], [-3, -2, 3]]);
    expect((ex.combine as I32Fn)(1, 2, 3)).toBe(123);
  });

  it('propagates an Error thrown by an import unchanged', () => {
    const boom = new Error('boom from JavaScript');
    const mb = new ModuleBuilder();
    const raise = mb.importFunction('x', 'raise', [I32], [I32]);
    const body = new FunctionBuilder(1).block().get(0).call(raise).op(Op.drop).end().i32(0);
    mb.exportFunction('f', mb.addFunction([I32], [I32], body));
    const f = instantiate(mb.build(), {
      x: {
        raise: (v: number) => {
          if (v !== 0) throw boom;
          return 0;
        },
      },
    }).f as I32Fn;
    expect(f(0)).toBe(0);
    let caught: unknown;
    try {
      f(1);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBe(boom);
  });

  it('reads and writes an imported memory at static offsets above 64 KiB, unaligned', () => {
    const memory = new wasm.Memory({ initial: 2 });
    const mb = new ModuleBuilder();
    mb.importMemory('env', 'mem', 2);
    const add = (
      name: string,
      params: readonly ValType[],
      results: readonly ValType[],
      body: FunctionBuilder,
    ) => mb.exportFunction(name, mb.addFunction(params, results, body));
    add('store32', [I32, I32], [], new FunctionBuilder(2).get(0).get(1).store32(65537));
    add('store32a0', [I32, I32], [], new FunctionBuilder(2).get(0).get(1).store32(70001, 0));
    add('store16', [I32, I32], [], new FunctionBuilder(2).get(0).get(1).store16(65539));
    add('store8', [I32, I32], [], new FunctionBuilder(2).get(0).get(1).store8(65541));
    add('load32', [I32], [I32], new FunctionBuilder(1).get(0).load32(65537));
    add('load16u', [I32], [I32], new FunctionBuilder(1).get(0).load16u(65539, 0));
    add('load16s', [I32], [I32], new FunctionBuilder(1).get(0).load16s(65539));
    add('load8u', [I32], [I32], new FunctionBuilder(1).get(0).load8u(65541));
    add('load8s', [I32], [I32], new FunctionBuilder(1).get(0).load8s(65541));
    add('loadFar', [I32], [I32], new FunctionBuilder(1).get(0).load32(0xffffffff));
    const ex = instantiate(mb.build(), { env: { mem: memory } });
    const call = (name: string, ...args: number[]) => (ex[name] as I32Fn)(...args);
    const view = new DataView(memory.buffer);

    call('store32', 2, 0xdeadbeef);
    expect(view.getUint32(65539, true)).toBe(0xdeadbeef);
    call('store32a0', 10, -2);
    expect(view.getInt32(70011, true)).toBe(-2);
    expect(call('load32', 2)).toBe(0xdeadbeef | 0);

    call('store16', 100, 0x12348765);
    expect(view.getUint16(65639, true)).toBe(0x8765);
    expect(view.getUint8(65641)).toBe(0);
    call('store8', 100, 0x1ff);
    expect(view.getUint8(65641)).toBe(0xff);

    view.setUint16(65539 + 7, 0xfffe, true);
    expect(call('load16u', 7)).toBe(0xfffe);
    expect(call('load16s', 7)).toBe(-2);
    view.setUint16(65539 + 9, 0x7fff, true);
    expect(call('load16s', 9)).toBe(0x7fff);
    view.setUint8(65541 + 3, 0x80);
    expect(call('load8u', 3)).toBe(0x80);
    expect(call('load8s', 3)).toBe(-128);
    view.setUint8(65541 + 4, 0x7f);
    expect(call('load8s', 4)).toBe(0x7f);

    // The full 32-bit offset is encoded: the effective address is far out of bounds.
    expect(() => call('loadFar', 0)).toThrow(wasm.RuntimeError);
  });

  it('rejects memory offsets and alignments out of range', () => {
    const f = new FunctionBuilder(0);
    expect(() => f.load32(2 ** 32)).toThrow(/offset/);
    expect(() => f.store32(-1)).toThrow(/offset/);
    expect(() => f.load8u(0.5)).toThrow(/offset/);
    expect(() => f.load32(0, 3)).toThrow(/alignment/);
    expect(() => f.store16(0, 2)).toThrow(/alignment/);
    expect(() => f.load16s(0, -1)).toThrow(/alignment/);
    expect(() => f.load32(0xffffffff, 0)).not.toThrow();
  });

  it('shares one type between functions and imports of the same signature', () => {
    const mb = new ModuleBuilder();
    const id = mb.importFunction('env', 'id', [I32, I32], [I32]);
    const a = mb.addFunction([I32, I32], [I32], new FunctionBuilder(2).get(0).get(1).op(Op.i32_add));
    const b = mb.addFunction([I32, I32], [I32], new FunctionBuilder(2).get(0).get(1).call(id));
    const c = mb.addFunction([I32], [], new FunctionBuilder(1));
    mb.exportFunction('a', a);
    mb.exportFunction('b', b);
    mb.exportFunction('c', c);
    const bytes = mb.build();
    const s = sections(bytes);
    // Two types: (i32 i32) -> i32, then (i32) -> ().
    expect([...s.get(1)!]).toEqual([2, 0x60, 2, 0x7f, 0x7f, 1, 0x7f, 0x60, 1, 0x7f, 0]);
    // The function section gives the defined functions types 0, 0, 1.
    expect([...s.get(3)!]).toEqual([3, 0, 0, 1]);
    expect(wasm.validate(bytes)).toBe(true);
    const ex = instantiate(bytes, { env: { id: (x: number, y: number) => x - y } });
    expect((ex.a as I32Fn)(2, 3)).toBe(5);
    expect((ex.b as I32Fn)(2, 3)).toBe(-1);
    expect((ex.c as I32Fn)(1)).toBeUndefined();
  });

  it('encodes the module header, section order and memory limits', () => {
    const mb = new ModuleBuilder();
    mb.importMemory('m', 'mem', 1, 3);
    expect(() => mb.importMemory('m', 'again', 1)).toThrow(/at most one memory/);
    mb.exportFunction('f', mb.addFunction([], [], new FunctionBuilder(0)));
    const bytes = mb.build();
    expect([...bytes.subarray(0, 8)]).toEqual([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    expect([...sections(bytes).keys()]).toEqual([1, 2, 3, 7, 10]);
    // import: 1 entry, "m", "mem", memory, limits with max 1..3
    expect([...sections(bytes).get(2)!]).toEqual([1, 1, 0x6d, 3, 0x6d, 0x65, 0x6d, 0x02, 0x01, 1, 3]);
    expect(new wasm.Module(bytes)).toBeInstanceOf(wasm.Module);
    expect(() => new wasm.Instance(new wasm.Module(bytes), {})).toThrow();
    const ok = new wasm.Instance(new wasm.Module(bytes), {
      m: { mem: new wasm.Memory({ initial: 2, maximum: 3 }) },
    });
    expect(typeof ok.exports.f).toBe('function');
    expect(new ModuleBuilder().build()).toEqual(new Uint8Array([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
  });

  it('rejects misuse', () => {
    const mb = new ModuleBuilder();
    mb.importFunction('a', 'b', [], []);
    mb.addFunction([I32], [], new FunctionBuilder(1));
    expect(() => mb.importFunction('a', 'c', [], [])).toThrow(/after addFunction/);
    expect(() => mb.addFunction([I32], [], new FunctionBuilder(2))).toThrow(/parameters/);
    expect(() => mb.addFunction([], [I32, I32], new FunctionBuilder(0))).toThrow(/at most one result/);
    expect(() => mb.addFunction([], [], new FunctionBuilder(0).block())).toThrow(/still open/);
    expect(() => mb.exportFunction('x', 2)).toThrow(/no such function/);
    mb.exportFunction('x', 1);
    expect(() => mb.exportFunction('x', 0)).toThrow(/twice/);
    expect(() => new ModuleBuilder().importMemory('a', 'm', 2, 1)).toThrow(/memory limits/);
    expect(() => new ModuleBuilder().importMemory('a', 'm', 65537)).toThrow(/memory limits/);
    expect(() => new FunctionBuilder(-1)).toThrow(/parameter count/);
  });
});

describe('tables and indirect calls', () => {
  it('calls through an imported table, plain and as a tail call', () => {
    const I = ValType.i32;
    const table = new WebAssembly.Table({ element: 'anyfunc', initial: 2 });
    // Element 0: x -> x * 3.
    const lib = new ModuleBuilder();
    const triple = new FunctionBuilder(1);
    triple.get(0).i32(3).op(Op.i32_mul);
    lib.exportFunction('triple', lib.addFunction([I], [I], triple));
    table.set(0, new WebAssembly.Instance(new WebAssembly.Module(lib.build()), {}).exports.triple);
    const mb = new ModuleBuilder();
    mb.importTable('x', 't', 1);
    const type = mb.type([I], [I]);
    const plain = new FunctionBuilder(2);
    plain.get(0).get(1).callIndirect(type).i32(1).op(Op.i32_add);
    const tail = new FunctionBuilder(2);
    tail.get(0).get(1).returnCallIndirect(type);
    mb.exportFunction('plain', mb.addFunction([I, I], [I], plain));
    mb.exportFunction('tail', mb.addFunction([I, I], [I], tail));
    const ex = new WebAssembly.Instance(new WebAssembly.Module(mb.build()), { x: { t: table } })
      .exports as Record<string, (v: number, k: number) => number>;
    expect(ex.plain?.(5, 0)).toBe(16);
    expect(ex.tail?.(5, 0)).toBe(15);
    // An empty element traps.
    expect(() => ex.tail?.(5, 1)).toThrow(WebAssembly.RuntimeError);
  });

  it('tail-calls a function, imported from another instance or its own, 100,000 deep without growing the stack', () => {
    const I = ValType.i32;
    // lib: count(n, acc) -> n === 0 ? acc : count(n - 1, acc + 2), as a tail call of itself.
    const lib = new ModuleBuilder();
    const count = new FunctionBuilder(2);
    count.get(0).op(Op.i32_eqz).if(I).get(1).else();
    count.get(0).i32(1).op(Op.i32_sub).get(1).i32(2).op(Op.i32_add).returnCall(0);
    count.end();
    lib.exportFunction('count', lib.addFunction([I, I], [I], count));
    const libEx = new WebAssembly.Instance(new WebAssembly.Module(lib.build()), {}).exports;
    // user: start(n) tail-calls the imported count(n, 1).
    const user = new ModuleBuilder();
    user.importFunction('lib', 'count', [I, I], [I]);
    const start = new FunctionBuilder(1);
    start.get(0).i32(1).returnCall(0);
    user.exportFunction('start', user.addFunction([I], [I], start));
    const ex = new WebAssembly.Instance(new WebAssembly.Module(user.build()), { lib: libEx })
      .exports as Record<string, (n: number) => number>;
    expect(ex.start?.(100_000)).toBe(200_001);
    expect(() => new FunctionBuilder(0).returnCall(-1)).toThrow(/returnCall\(-1\)/);
  });

  it('refuses a second table, a bad minimum and a bad type index', () => {
    const mb = new ModuleBuilder();
    mb.importTable('x', 't', 0);
    expect(() => mb.importTable('x', 'u', 0)).toThrow(/at most one table/);
    expect(() => new ModuleBuilder().importTable('x', 't', -1)).toThrow(/table minimum -1/);
    expect(() => new FunctionBuilder(0).callIndirect(1.5)).toThrow(/type 1.5/);
  });
});

describe('FunctionBuilder.assigned', () => {
  it('marks the locals below 32 that a set or tee wrote, not those only read', () => {
    const f = new FunctionBuilder(2);
    const a = f.local();
    const b = f.local();
    const more: number[] = [];
    for (let k = 0; k < 33; k++) more.push(f.local());
    const [read, last, above] = [more[0] as number, more[27] as number, more[30] as number];
    expect([a, b, read, last, above]).toEqual([2, 3, 4, 31, 34]);
    expect(f.assigned).toBe(0);
    f.get(0).set(a);
    f.get(1).tee(b).set(above);
    f.get(read).get(a).op(Op.i32_add).set(last);
    expect(f.assigned).toBe((1 << a) | (1 << b) | (1 << last));
  });
});
