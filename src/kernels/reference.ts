// Plain-TypeScript references computed in f64 from the definitions, used by the tests and by
// the kernel comparison (bench/compare.ts, the web page's kernel lab). Browser-safe.

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
