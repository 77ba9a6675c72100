// Half-precision conversions on the CPU (weights arrive as F16/BF16; readback of f16 tensors).

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The smallest magnitude that rounds to ±Inf in f16 (65504 is the largest finite half). */
export const F16_OVERFLOW = 65520;

/** The largest finite |value| in `src` (0 when empty): what decides whether f16 can hold it. */
export function maxFiniteAbs(src: Float32Array): number {
  let m = 0;
  for (let i = 0; i < src.length; i++) {
    const a = Math.abs(src[i]);
    if (a > m && a !== Infinity) m = a;
  }
  return m;
}

/** f32 -> IEEE half bits, round to nearest even; overflow goes to ±Inf, NaN stays NaN. */
export function f32ToF16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  let r = mant >>> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) {
    r++;
    if (r === 0x400) {
      r = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | r;
}

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function bf16BitsToF32(b: number): number {
  u32[0] = b << 16;
  return f32[0];
}

/** `out` (optional) receives the result, so chunked converters need not allocate per chunk. */
export function f32ArrayToF16(src: ArrayLike<number>, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) out[i] = f32ToF16Bits(src[i]);
  return out;
}

let f16Table: Float32Array | undefined;

export function f16ArrayToF32(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  // A 256 KiB table of all 65536 halves: one load per element instead of a pow().
  f16Table ??= Float32Array.from({ length: 65536 }, (_, h) => f16BitsToF32(h));
  for (let i = 0; i < src.length; i++) out[i] = f16Table[src[i]];
  return out;
}

export function bf16ArrayToF32(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  const o32 = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) o32[i] = src[i] << 16;
  return out;
}

/** Rounds every value through f16 (what an f16 upload stores): for CPU references. */
export function roundF16(src: ArrayLike<number>): Float32Array {
  return f16ArrayToF32(f32ArrayToF16(src));
}
