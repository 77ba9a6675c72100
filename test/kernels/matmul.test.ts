import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linear, matmul, MATMUL_VARIANTS, type LinearOptions } from '../../src/kernels/matmul.ts';
import { setAutotune, setKernelChoice } from '../../src/kernels/registry.ts';
import type { Activation } from '../../src/kernels/types.ts';
import type { DeviceOptions, Gpu } from '../../src/runtime/device.ts';
import { roundF16 } from '../../src/runtime/f16.ts';
import { fromArray, type DType } from '../../src/runtime/tensor.ts';
import { device, expectClose, PRECISIONS, rand } from '../helpers.ts';
import { linearRef, matmulRef, type LinearRefOpts } from './ref.ts';

// Variant choice by timing is tested once below; elsewhere the first supported variant runs
// (each test then compiles one pipeline instead of one per variant).
beforeAll(() => setAutotune(false));
afterAll(() => {
  setAutotune(undefined);
  setKernelChoice('matmul', undefined);
});

/** Values as the GPU sees them after upload in `dtype`. */
const as = (x: Float32Array, dtype: DType) => (dtype === 'f16' ? roundF16(x) : x);

function tolerance(gpu: Gpu, dtype: DType, K: number) {
  // f16 outputs are rounded to 11 significant bits; f32 sums of K products drift by ~√K ulps.
  return dtype === 'f16' && gpu.caps.f16 ? { atol: 2e-3, rtol: 2e-3 } : { atol: 2e-6 * Math.sqrt(K) + 1e-6, rtol: 1e-5 };
}

interface Case {
  M: number;
  N: number;
  K: number;
  bias?: boolean;
  act?: Activation;
  residual?: boolean;
  /** 'chunk': chunk 1 of 3 of a [2, 3N] tensor; 'tensor': a [2, N] tensor. */
  gate?: 'chunk' | 'tensor';
}

async function checkLinear(where: DeviceOptions | Gpu, dtype: DType, c: Case, label: string, tol = {}): Promise<void> {
  const gpu = 'caps' in where ? where : await device(where);
  const { M, N, K } = c;
  const x = rand(M * K, 1);
  const w = rand(N * K, 2);
  const bias = c.bias ? rand(N, 3) : undefined;
  const residual = c.residual ? rand(M * N, 4) : undefined;
  const gateAll = c.gate ? rand(2 * (c.gate === 'chunk' ? 3 : 1) * N, 5) : undefined;
  const o: LinearOptions = { act: c.act };
  if (residual) o.residual = fromArray(gpu, residual, [M, N], dtype);
  if (gateAll) {
    const t = fromArray(gpu, gateAll, [2, gateAll.length / 2], dtype);
    o.gate = c.gate === 'chunk' ? { tensor: t, chunk: 1, chunks: 3 } : t;
  }
  const y = await linear(gpu, fromArray(gpu, x, [M, K], dtype), fromArray(gpu, w, [N, K], dtype), bias && fromArray(gpu, bias, [N], dtype), o);
  expect(y.shape).toEqual([M, N]);
  const ref: LinearRefOpts = { act: c.act, bias: bias && as(bias, dtype), residual: residual && as(residual, dtype) };
  if (gateAll) {
    const g = as(gateAll, dtype);
    // The gate rows the kernel must use: per sample, columns [chunk·N, (chunk+1)·N).
    ref.gate = c.gate === 'chunk' ? [...g.subarray(N, 2 * N), ...g.subarray(4 * N, 5 * N)] : g;
  }
  expectClose(await y.read(), linearRef(as(x, dtype), as(w, dtype), M, N, K, ref), { ...tolerance(gpu, dtype, K), ...tol, label });
}

describe.each(PRECISIONS)('linear ($name)', ({ name, dtype, opts }) => {
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [7, 13, 5],
    [1, 64, 64],
    [33, 17, 12],
    [70, 35, 36],
    [3, 5, 6144],
  ];
  it.each(shapes)('M=%i N=%i K=%i with bias', async (M, N, K) => {
    await checkLinear(opts, dtype, { M, N, K, bias: true }, `${name} ${M}x${N}x${K}`);
  });

  it.each(['gelu_tanh', 'gelu', 'quick_gelu', 'silu'] as const)('epilogue act=%s (M=19 N=21 K=36)', async (act) => {
    await checkLinear(opts, dtype, { M: 19, N: 21, K: 36, bias: true, act }, `${name} ${act}`);
  });

  it('epilogue residual, and gate as a Chunk and as a [B, N] tensor (M=22 N=9 K=10)', async () => {
    await checkLinear(opts, dtype, { M: 22, N: 9, K: 10, residual: true }, `${name} residual`);
    await checkLinear(opts, dtype, { M: 22, N: 9, K: 10, bias: true, act: 'silu', residual: true, gate: 'chunk' }, `${name} gate chunk`);
    await checkLinear(opts, dtype, { M: 22, N: 9, K: 12, residual: true, gate: 'tensor' }, `${name} gate tensor`);
  });

  it('keeps leading dimensions: [2, 3, 8] x [5, 8] -> [2, 3, 5]', async () => {
    const gpu = await device(opts);
    const y = await linear(gpu, fromArray(gpu, rand(48), [2, 3, 8], dtype), fromArray(gpu, rand(40, 2), [5, 8], dtype));
    expect(y.shape).toEqual([2, 3, 5]);
  });

  it.each([false, true])('batched matmul [3, 9, 11] x [3, 11, 7] (transB=%s)', async (transB) => {
    const gpu = await device(opts);
    const [B, M, K, N] = [3, 9, 11, 7];
    const a = rand(B * M * K, 6);
    const b = rand(B * K * N, 7);
    const y = await matmul(gpu, fromArray(gpu, a, [B, M, K], dtype), fromArray(gpu, b, transB ? [B, N, K] : [B, K, N], dtype), { transB });
    expect(y.shape).toEqual([B, M, N]);
    expectClose(await y.read(), matmulRef(as(a, dtype), as(b, dtype), B, M, N, K, transB), { ...tolerance(gpu, dtype, K), label: `${name} batched` });
  });

  // Last in the block: a new device per binding limit.
  it('splits operands above a 4 KiB binding limit (x 38x100, W 50x100, batched 3x20x30)', async () => {
    const small = { ...opts, maxStorageBinding: 4096 };
    await checkLinear(small, dtype, { M: 38, N: 50, K: 100, bias: true, act: 'gelu', residual: true, gate: 'chunk' }, `${name} split`);
    await checkLinear(small, dtype, { M: 37, N: 50, K: 98, bias: true }, `${name} split K%4`);
    const gpu = await device(small);
    const [B, M, K, N] = [3, 20, 30, 11];
    const a = rand(B * M * K, 6);
    const b = rand(B * N * K, 7);
    const y = await matmul(gpu, fromArray(gpu, a, [B, M, K], dtype), fromArray(gpu, b, [B, N, K], dtype), { transB: true });
    expectClose(await y.read(), matmulRef(as(a, dtype), as(b, dtype), B, M, N, K, true), { ...tolerance(gpu, dtype, K), label: `${name} split batched` });
  });
});

// Every variant in every precision, on three calls whose defines differ (compiles dominate the
// run time, f16 products compile slowly on lavapipe): a banded linear with the whole epilogue
// (vec4 loads; K % 8 == 0, so f16 words for `words` variants), one row per batch with a long K
// that is no multiple of 4 or of any tile (B transposed, scalar loads), and a batched product
// with B not transposed.
describe.each(PRECISIONS)('matmul variants ($name)', ({ name, dtype, opts }) => {
  // f16 products are only for f16 operands (the registry never picks them for f32 ones).
  const variants = MATMUL_VARIANTS.filter((v) => !v.f16Math || dtype === 'f16');
  afterAll(() => setKernelChoice('matmul', undefined));

  it.each(variants.map((v) => [v.name, v] as const))('%s gives the reference result, or is refused clearly', async (_, v) => {
    const gpu = await device(opts);
    setKernelChoice('matmul', v.name);
    const label = `${name} ${v.name}`;
    if (!v.supports(gpu.caps)) {
      const x = fromArray(gpu, rand(4), [1, 4], dtype);
      await expect(linear(gpu, x, x)).rejects.toThrow(`forced variant '${v.name}' is not supported`);
      return;
    }
    // f16 math rounds each product to 11 bits.
    const loose = (K: number) => (v.f16Math ? { atol: 5e-3 * Math.sqrt(K) } : {});
    const small = await device({ ...opts, maxStorageBinding: 4096 });
    await checkLinear(small, dtype, { M: 38, N: 70, K: 104, bias: true, act: 'gelu', residual: true, gate: 'chunk' }, `${label} banded epilogue`, loose(104));
    for (const [B, M, K, N, transB] of [[2, 1, 1030, 45, true], [2, 70, 36, 68, false]] as const) {
      const a = rand(B * M * K, 6);
      const b = rand(B * K * N, 7);
      const y = await matmul(gpu, fromArray(gpu, a, [B, M, K], dtype), fromArray(gpu, b, transB ? [B, N, K] : [B, K, N], dtype), { transB });
      const ref = matmulRef(as(a, dtype), as(b, dtype), B, M, N, K, transB);
      expectClose(await y.read(), ref, { ...tolerance(gpu, dtype, K), ...loose(K), label: `${label} batched ${B}x${M}x${K}x${N} transB=${transB}` });
    }
  });
});
