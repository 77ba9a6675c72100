// Plain-TypeScript references for the kernel tests, computed in f64 from the definitions.
import type { Activation } from '../../src/kernels/types.ts';
import { matmulRow } from '../../src/kernels/reference.ts';

/** a [batch, M, K] · b -> [batch, M, N] (b [batch, N, K] when transB, else [batch, K, N]). */
export function matmulRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  batch: number,
  M: number,
  N: number,
  K: number,
  transB: boolean,
): Float64Array {
  const out = new Float64Array(batch * M * N);
  for (let z = 0; z < batch; z++) for (let m = 0; m < M; m++) matmulRow(a, b, z, m, M, N, K, transB, out, (z * M + m) * N);
  return out;
}

/** erf to ~1e-15: Taylor series below 2.5, continued fraction of erfc above. */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (a < 2.5) {
    let term = a;
    let sum = a;
    for (let n = 1; n < 80; n++) {
      term *= (-a * a) / n;
      sum += term / (2 * n + 1);
    }
    return (Math.sign(x) * 2 * sum) / Math.sqrt(Math.PI);
  }
  // erfc(a) = exp(-a²)/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + ...)))), evaluated bottom-up.
  let f = a;
  for (let n = 60; n >= 1; n--) f = a + n / 2 / f;
  return Math.sign(x) * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / f);
}

export const ACT: Record<Activation, (x: number) => number> = {
  none: (x) => x,
  silu: (x) => x / (1 + Math.exp(-x)),
  quick_gelu: (x) => x / (1 + Math.exp(-1.702 * x)),
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  gelu_tanh: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
};

export const activation = (act: Activation, x: number): number => ACT[act](x);

export interface LinearRefOpts {
  bias?: ArrayLike<number>;
  act?: Activation;
  residual?: ArrayLike<number>;
  /** Per-sample gate rows: gate[sample][n], samples = gate.length / N. */
  gate?: ArrayLike<number>;
}

/** act(x·Wᵀ + bias), then residual + gate ⊙ y (gate rows per sample). */
export function linearRef(x: ArrayLike<number>, w: ArrayLike<number>, M: number, N: number, K: number, o: LinearRefOpts = {}): Float64Array {
  const y = matmulRef(x, w, 1, M, N, K, true);
  const samples = o.gate ? o.gate.length / N : 1;
  for (let m = 0; m < M; m++) {
    const s = Math.floor(m / (M / samples));
    for (let n = 0; n < N; n++) {
      const i = m * N + n;
      let v = activation(o.act ?? 'none', y[i] + (o.bias ? o.bias[n] : 0));
      if (o.residual) v = o.residual[i] + (o.gate ? o.gate[s * N + n] : 1) * v;
      y[i] = v;
    }
  }
  return y;
}

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
