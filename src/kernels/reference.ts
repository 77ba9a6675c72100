// Plain-TypeScript references computed in f64 from the definitions, one row (or pixel) at a
// time, for the kernel comparison (bench/compare.ts, the page's kernel lab) and the tests
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

/** Softmax of row r of x [rows, n] into out[at .. at+n). */
export function softmaxRow(x: ArrayLike<number>, n: number, r: number, out: Float64Array, at = 0): void {
  let mx = -Infinity;
  for (let j = 0; j < n; j++) mx = Math.max(mx, x[r * n + j]);
  let sum = 0;
  for (let j = 0; j < n; j++) sum += out[at + j] = Math.exp(x[r * n + j] - mx);
  for (let j = 0; j < n; j++) out[at + j] /= sum;
}

/** GroupNorm statistics of x [B, P, C] (channels last, biased variance as torch): [B·G] means and 1/std. */
export function groupNormStats(x: ArrayLike<number>, B: number, P: number, C: number, G: number, eps: number): { mean: Float64Array; rstd: Float64Array } {
  const cg = C / G;
  const mean = new Float64Array(B * G);
  const rstd = new Float64Array(B * G);
  for (let b = 0; b < B; b++)
    for (let g = 0; g < G; g++) {
      let s = 0;
      for (let p = 0; p < P; p++) for (let k = 0; k < cg; k++) s += x[(b * P + p) * C + g * cg + k];
      const m = s / (P * cg);
      let v = 0;
      for (let p = 0; p < P; p++) for (let k = 0; k < cg; k++) v += (x[(b * P + p) * C + g * cg + k] - m) ** 2;
      mean[b * G + g] = m;
      rstd[b * G + g] = 1 / Math.sqrt(v / (P * cg) + eps);
    }
  return { mean, rstd };
}

/** GroupNorm of x [B, P, C] (channels last) with gamma/beta, then SiLU when `silu`. */
export function groupNormRef(x: ArrayLike<number>, B: number, P: number, C: number, G: number, gamma: ArrayLike<number>, beta: ArrayLike<number>, eps: number, silu: boolean): Float32Array {
  const out = new Float32Array(x.length);
  const cg = C / G;
  const { mean, rstd } = groupNormStats(x, B, P, C, G, eps);
  for (let b = 0; b < B; b++)
    for (let p = 0; p < P; p++)
      for (let c = 0; c < C; c++) {
        const i = (b * P + p) * C + c;
        const g = b * G + Math.floor(c / cg);
        const y = (x[i] - mean[g]) * rstd[g] * gamma[c] + beta[c];
        out[i] = silu ? y / (1 + Math.exp(-y)) : y;
      }
  return out;
}

export interface ConvRef {
  H: number;
  W: number;
  cin: number;
  cout: number;
  k: number;
  stride: number;
  pad: number;
}

/**
 * Output pixel (b, y, x) of a convolution over NHWC x [B, H, W, cin] with a PyTorch weight
 * [cout, cin, k, k] and bias, every output channel, into out[at .. at+cout).
 */
export function conv2dPixel(x: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number>, c: ConvRef, b: number, y: number, xx: number, out: Float64Array, at = 0): void {
  for (let o = 0; o < c.cout; o++) {
    let acc = bias[o];
    for (let ky = 0; ky < c.k; ky++) {
      const iy = y * c.stride - c.pad + ky;
      if (iy < 0 || iy >= c.H) continue;
      for (let kx = 0; kx < c.k; kx++) {
        const ix = xx * c.stride - c.pad + kx;
        if (ix < 0 || ix >= c.W) continue;
        const x0 = ((b * c.H + iy) * c.W + ix) * c.cin;
        for (let i = 0; i < c.cin; i++) acc += x[x0 + i] * w[((o * c.cin + i) * c.k + ky) * c.k + kx];
      }
    }
    out[at + o] = acc;
  }
}
