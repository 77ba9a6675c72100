// Plain-TypeScript references for the kernel tests, computed in f64 from the definitions.
import type { Activation } from '../../src/kernels/types.ts';
import { chunkAt, matmulRow, normRef, permuteRef, type ChunkRef, type NormRef } from '../../src/kernels/reference.ts';

export { chunkAt, normRef, permuteRef, type ChunkRef, type NormRef };

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
