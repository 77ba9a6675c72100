// Plain-TypeScript references for the kernels, in f64, written from the definitions.
import type { Activation } from '../../src/kernels/types.ts';

/** erf by its Maclaurin series (exact to ~1e-12 for |z| < 4.5; beyond, |1 − erf| < 3e-10). */
export function erf(z: number): number {
  if (Math.abs(z) >= 4.5) return Math.sign(z);
  let term = z;
  let sum = z;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-17; n++) {
    term *= (-z * z) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

export const ACT: Record<Activation, (x: number) => number> = {
  none: (x) => x,
  silu: (x) => x / (1 + Math.exp(-x)),
  quick_gelu: (x) => x / (1 + Math.exp(-1.702 * x)),
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  gelu_tanh: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
};

export interface ChunkRef {
  data: ArrayLike<number>;
  batch: number;
  chunk: number;
  chunks: number;
}

/** Value of a per-sample column chunk for element (row, col) of a tensor with `rows` rows. */
export function chunkAt(ch: ChunkRef, rows: number, c: number, row: number, col: number): number {
  const sample = Math.floor(row / (rows / ch.batch));
  return ch.data[sample * ch.chunks * c + ch.chunk * c + col];
}

export interface NormRef {
  eps: number;
  rms?: boolean;
  weight?: ArrayLike<number>;
  bias?: ArrayLike<number>;
  shift?: ChunkRef;
  scale?: ChunkRef;
}

export function normRef(x: ArrayLike<number>, c: number, o: NormRef): Float64Array {
  const rows = x.length / c;
  const out = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    if (!o.rms) {
      for (let i = 0; i < c; i++) mean += x[r * c + i];
      mean /= c;
    }
    let v = 0;
    for (let i = 0; i < c; i++) v += (x[r * c + i] - mean) ** 2;
    const rstd = 1 / Math.sqrt(v / c + o.eps);
    for (let i = 0; i < c; i++) {
      let y = (x[r * c + i] - mean) * rstd;
      if (o.weight) y *= o.weight[i];
      if (o.bias) y += o.bias[i];
      if (o.shift && o.scale) y = y * (1 + chunkAt(o.scale, rows, c, r, i)) + chunkAt(o.shift, rows, c, r, i);
      out[r * c + i] = y;
    }
  }
  return out;
}

/** Moves element index `i` of `src` (shape `dims`, row-major) through a permutation of axes. */
export function permuteRef(src: ArrayLike<number>, dims: number[], perm: number[]): Float64Array {
  const outDims = perm.map((p) => dims[p]);
  const strides = dims.map((_, k) => dims.slice(k + 1).reduce((a, b) => a * b, 1));
  const out = new Float64Array(src.length);
  const idx = new Array(outDims.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let rem = o;
    for (let k = outDims.length - 1; k >= 0; k--) {
      idx[k] = rem % outDims[k];
      rem = Math.floor(rem / outDims[k]);
    }
    let s = 0;
    for (let k = 0; k < perm.length; k++) s += idx[k] * strides[perm[k]];
    out[o] = src[s];
  }
  return out;
}
