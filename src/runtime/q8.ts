// 8-bit weights on the CPU: the quantiser that packs a Linear weight for the q8 matmul path,
// and the dequantiser the kernel tests use as their reference. No GPU here.
//
// Format, for a weight W [N out, K in] (row-major, PyTorch's Linear layout):
// - data: int8 values q, 4 per u32 little-endian along K (k % 4 == 0 in the low byte), each
//   row ceil(K/4) words, zero-padded past K.
// - scales: one per (row, group of `group` consecutive input columns), [N, ceil(K/group)];
//   the last group of a row may be partial.
// - Symmetric: scale = max|w in group| / 127, q = round(w / scale) in [-127, 127]; an all-zero
//   group has scale 0 and q = 0. W ≈ q · scale.
//
// Scales are f16 (half the bytes of f32), stored as the smallest half ≥ max|w|/127: rounding
// up keeps every |q| ≤ 127 (nothing clips, even where the scale is subnormal), and q is
// rounded against the stored scale, so the error per element is at most scale/2. f16 overflows
// only when a group's max|w| exceeds 65504·127 ≈ 8.3e6; such a tensor gets f32 scales for all
// of its groups (the kernels read either).
import { f16BitsToF32, f32ToF16Bits } from './f16.ts';

/** Group sizes the model uses (input columns per scale); the kernels take any multiple of 4. */
export const Q8_GROUPS = [64, 128] as const;
export const Q8_DEFAULT_GROUP = 64;

const F16_MAX = 65504;

export interface Q8Packed {
  /** Output rows and input columns of the weight. */
  N: number;
  K: number;
  /** Input columns per scale. */
  group: number;
  /** int8 values, 4 per u32 little-endian along K; [N, ceil(K/4)] words, zero-padded. */
  data: Uint32Array;
  /** [N, ceil(K/group)]: f16 bits (Uint16Array), or f32 (Float32Array) for a tensor whose scales overflow f16. */
  scales: Uint16Array | Float32Array;
}

/** u32 words per row of K int8 values. */
export const q8Words = (K: number): number => Math.ceil(K / 4);
/** Scales per row of K values in groups of `group`. */
export const q8Groups = (K: number, group: number): number => Math.ceil(K / group);

function checkGroup(group: number, what: string): void {
  if (!Number.isInteger(group) || group < 4 || group % 4 !== 0) {
    throw new Error(`${what}: q8 group ${group} must be a positive multiple of 4 (the model uses ${Q8_GROUPS.join(' or ')})`);
  }
}

/** The smallest f16 ≥ v (v ≥ 0, ≤ 65504), as bits. */
function f16AtLeast(v: number): number {
  const h = f32ToF16Bits(v);
  return f16BitsToF32(h) < v ? h + 1 : h;
}

/** Rounds half away from zero (symmetric for ±w). */
const roundSym = (v: number): number => (v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5));

/** Quantises W [N, K] (row-major) to q8 with one scale per `group` input columns. `name` is for errors. */
export function quantizeQ8(w: Float32Array, N: number, K: number, group: number = Q8_DEFAULT_GROUP, name = 'weight'): Q8Packed {
  const what = `quantizeQ8 ${name}`;
  checkGroup(group, what);
  if (!(Number.isInteger(N) && Number.isInteger(K) && N > 0 && K > 0)) throw new Error(`${what}: shape [${N}, ${K}] must be positive integers`);
  if (w.length !== N * K) throw new Error(`${what}: ${w.length} values for shape [${N}, ${K}] (${N * K} expected)`);
  const KW = q8Words(K);
  const G = q8Groups(K, group);
  // Group maxima first: they decide whether f16 can hold every scale.
  const maxAbs = new Float64Array(N * G);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const v = w[n * K + k];
      if (!Number.isFinite(v)) throw new Error(`${what}: non-finite value ${v} at [${n}, ${k}] cannot be quantised`);
      const g = n * G + Math.floor(k / group);
      maxAbs[g] = Math.max(maxAbs[g], Math.abs(v));
    }
  }
  const f16 = maxAbs.every((m) => m / 127 <= F16_MAX);
  const scales = f16 ? new Uint16Array(N * G) : new Float32Array(N * G);
  const scale = new Float64Array(N * G);
  for (let g = 0; g < N * G; g++) {
    if (scales instanceof Uint16Array) {
      scales[g] = f16AtLeast(maxAbs[g] / 127);
      scale[g] = f16BitsToF32(scales[g]);
    } else {
      scale[g] = scales[g] = maxAbs[g] / 127;
    }
  }
  const data = new Uint32Array(N * KW);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const s = scale[n * G + Math.floor(k / group)];
      const q = s === 0 ? 0 : Math.max(-127, Math.min(127, roundSym(w[n * K + k] / s)));
      data[n * KW + (k >> 2)] |= (q & 0xff) << (8 * (k & 3));
    }
  }
  return { N, K, group, data, scales };
}

/** Checks the sizes of a packed weight (e.g. one read from a file); throws naming `name`. */
export function checkQ8(p: Q8Packed, name = 'weight'): void {
  const what = `q8 ${name}`;
  checkGroup(p.group, what);
  if (p.data.length !== p.N * q8Words(p.K)) {
    throw new Error(`${what}: ${p.data.length} data words, expected ${p.N}·ceil(${p.K}/4) = ${p.N * q8Words(p.K)}`);
  }
  const G = q8Groups(p.K, p.group);
  if (p.scales.length !== p.N * G) throw new Error(`${what}: ${p.scales.length} scales, expected ${p.N}·ceil(${p.K}/${p.group}) = ${p.N * G}`);
}

/** The q8 weight's value at [n, k], i.e. q · scale (what the kernels compute in f32). */
function scaleAt(p: Q8Packed, i: number): number {
  return p.scales instanceof Uint16Array ? f16BitsToF32(p.scales[i]) : p.scales[i];
}

/** W ≈ q · scale as [N, K] f32 values: the CPU reference for the q8 kernels. */
export function dequantizeQ8(p: Q8Packed): Float32Array {
  checkQ8(p);
  const { N, K, group } = p;
  const KW = q8Words(K);
  const G = q8Groups(K, group);
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const q = (p.data[n * KW + (k >> 2)] << (24 - 8 * (k & 3))) >> 24; // sign-extends the byte
      out[n * K + k] = q * scaleAt(p, n * G + Math.floor(k / group));
    }
  }
  return out;
}
