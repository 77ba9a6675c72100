// Plain CPU attention: softmax(Q·Kᵀ·scale + bias + causal mask)·V per (batch, head), in f64.

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

/** q [B, Tq, H·D], k/v [B, Tk, H·D] -> [B, Tq, H·D]. */
export function attentionRef(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, s: RefAttention): Float32Array {
  const { batch, tq, tk, heads, headDim: d } = s;
  const hd = heads * d;
  const out = new Float32Array(batch * tq * hd);
  const p = new Float64Array(tk);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < tq; i++) {
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
          out[qo + c] = acc / sum;
        }
      }
    }
  }
  return out;
}

/** Softmax over the last dimension of rows of length n. */
export function softmaxRef(x: ArrayLike<number>, n: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / n; r++) {
    let mx = -Infinity;
    for (let j = 0; j < n; j++) mx = Math.max(mx, x[r * n + j]);
    let sum = 0;
    for (let j = 0; j < n; j++) sum += Math.exp(x[r * n + j] - mx);
    for (let j = 0; j < n; j++) out[r * n + j] = Math.exp(x[r * n + j] - mx) / sum;
  }
  return out;
}
