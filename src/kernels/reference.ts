// Plain-TypeScript references (matmul, attention) computed in f64 from the definitions, one row
// at a time, for the kernel comparison (bench/compare.ts, the page's kernel lab) and the tests
// (test/kernels/ref.ts builds whole products from them). Browser-safe.

/** Row m of batch z of a·b (b [N, K] when transB, else [K, N]) into out[at .. at+N). */
export function matmulRow(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  z: number,
  m: number,
  M: number,
  N: number,
  K: number,
  transB: boolean,
  out: Float64Array,
  at = 0,
): void {
  const a0 = (z * M + m) * K;
  const b0 = z * N * K;
  for (let n = 0; n < N; n++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += a[a0 + k] * b[b0 + (transB ? n * K + k : k * N + n)];
    out[at + n] = s;
  }
}

export interface RefAttention {
  batch: number;
  tq: number;
  tk: number;
  heads: number;
  headDim: number;
  scale: number;
  causal?: boolean;
  /** [heads, tq, tk] */
  bias?: ArrayLike<number>;
}

/**
 * Query row i of batch b, every head: softmax(q·Kᵀ·scale + bias + causal mask)·V into
 * out[at .. at + heads·D). q [B, Tq, H·D], k/v [B, Tk, H·D].
 */
export function attentionRow(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  s: RefAttention,
  b: number,
  i: number,
  out: Float32Array,
  at = 0,
): void {
  const { tq, tk, heads, headDim: d } = s;
  const hd = heads * d;
  const p = new Float64Array(tk);
  for (let h = 0; h < heads; h++) {
    const qo = (b * tq + i) * hd + h * d;
    let mx = -Infinity;
    for (let j = 0; j < tk; j++) {
      if (s.causal && j > i) {
        p[j] = -Infinity;
        continue;
      }
      const ko = (b * tk + j) * hd + h * d;
      let dot = 0;
      for (let c = 0; c < d; c++) dot += q[qo + c] * k[ko + c];
      p[j] = dot * s.scale + (s.bias ? s.bias[(h * tq + i) * tk + j] : 0);
      mx = Math.max(mx, p[j]);
    }
    let sum = 0;
    for (let j = 0; j < tk; j++) sum += p[j] = Math.exp(p[j] - mx);
    for (let c = 0; c < d; c++) {
      let acc = 0;
      for (let j = 0; j < tk; j++) acc += p[j] * v[(b * tk + j) * hd + h * d + c];
      out[at + h * d + c] = acc / sum;
    }
  }
}
