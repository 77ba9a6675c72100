// CPU references of attention (rows from src/kernels/reference.ts, shared with the kernel lab) and softmax.
import { attentionRow, type RefAttention } from '../../src/kernels/reference.ts';

/** q [B, Tq, H·D], k/v [B, Tk, H·D] -> [B, Tq, H·D]. */
export function attentionRef(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, s: RefAttention): Float32Array {
  const hd = s.heads * s.headDim;
  const out = new Float32Array(s.batch * s.tq * hd);
  for (let b = 0; b < s.batch; b++) for (let i = 0; i < s.tq; i++) attentionRow(q, k, v, s, b, i, out, (b * s.tq + i) * hd);
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
