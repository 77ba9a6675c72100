// CPU references of attention (src/kernels/reference.ts, shared with the kernel lab) and softmax.
export { attentionRef, type RefAttention } from '../../src/kernels/reference.ts';

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
