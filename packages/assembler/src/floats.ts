/** IEEE 754 encodings of a JS number for `dw`/`dd`/`dq`/`dt` floating-point items (little-endian). */

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Binary16 (half precision). */
export function float16Bytes(x: number): number[] {
  let bits: number;
  if (Number.isNaN(x)) bits = 0x7e00;
  else {
    const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
    const a = Math.abs(x);
    if (a === Number.POSITIVE_INFINITY || a >= 65520) bits = sign | 0x7c00;
    else if (a < 2 ** -14) bits = sign | roundHalfEven(a / 2 ** -24);
    else {
      let e = Math.floor(Math.log2(a));
      if (2 ** e > a) e--;
      if (2 ** (e + 1) <= a) e++;
      let frac = roundHalfEven((a / 2 ** e - 1) * 1024);
      if (frac === 1024) {
        frac = 0;
        e++;
      }
      bits = e > 15 ? sign | 0x7c00 : sign | ((e + 15) << 10) | frac;
    }
  }
  return [bits & 0xff, bits >> 8];
}

export function float32Bytes(x: number): number[] {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setFloat32(0, x, true);
  return [...new Uint8Array(dv.buffer)];
}

export function float64Bytes(x: number): number[] {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, x, true);
  return [...new Uint8Array(dv.buffer)];
}

/** x87 extended precision (80 bits: 64-bit mantissa with explicit integer bit, 15-bit exponent). */
export function float80Bytes(x: number): number[] {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, x, true);
  const raw = dv.getBigUint64(0, true);
  const sign = Number(raw >> 63n);
  const e = Number((raw >> 52n) & 0x7ffn);
  const f = raw & ((1n << 52n) - 1n);
  let exp: number;
  let mant: bigint;
  if (e === 0 && f === 0n) {
    exp = 0;
    mant = 0n;
  } else if (e === 0x7ff) {
    exp = 0x7fff;
    mant = (1n << 63n) | (f << 11n);
  } else if (e === 0) {
    const k = f.toString(2).length - 1;
    mant = f << BigInt(63 - k);
    exp = k - 1074 + 16383;
  } else {
    exp = e - 1023 + 16383;
    mant = (1n << 63n) | (f << 11n);
  }
  const out: number[] = [];
  for (let i = 0; i < 8; i++) out.push(Number((mant >> BigInt(i * 8)) & 0xffn));
  const top = (sign << 15) | exp;
  out.push(top & 0xff, top >> 8);
  return out;
}
