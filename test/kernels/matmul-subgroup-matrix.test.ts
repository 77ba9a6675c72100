// The subgroup-matrix matmul variants on adapters without cooperative matrices: a Gpu that
// pretends its adapter lists subgroup-matrix shapes runs the SM_KERNEL tiling with the shader's
// plain-WGSL stand-ins for the builtins (same load/store/multiply semantics), so the staging,
// offsets, strides and majorness are checked against the CPU reference here, in f32, f16 and
// packed f16. Shapes are no multiples of the blocks (and non-square matrices, so a swapped M, N
// or K cannot pass). Which path a real adapter gets is checked from the defines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linear, matmul, MATMUL_VARIANTS, subgroupMatrixDefines } from '../../src/kernels/matmul.ts';
import { setAutotune, setKernelChoice } from '../../src/kernels/registry.ts';
import { Gpu, type Capabilities, type SubgroupMatrixConfig } from '../../src/runtime/device.ts';
import { roundF16 } from '../../src/runtime/f16.ts';
import { preprocess } from '../../src/runtime/shader.ts';
import { fromArray, type DType } from '../../src/runtime/tensor.ts';
import source from '../../shaders/matmul.wgsl';
import { device, expectClose, PRECISIONS, rand } from '../helpers.ts';
import { linearRef, matmulRef } from './ref.ts';

/**
 * Pretend shapes: left M×K, right K×N, with M, N, K all different; small, because lavapipe
 * compiles the stand-ins' unrolled loops slowly (8×8×8 took minutes per pipeline).
 */
const CONFIGS: SubgroupMatrixConfig[] = [
  { componentType: 'f32', resultComponentType: 'f32', M: 2, N: 3, K: 4 },
  { componentType: 'f16', resultComponentType: 'f32', M: 3, N: 2, K: 4 },
];

/** `base`'s device with an adapter that lists CONFIGS (and subgroups of 8). */
function pretend(base: Gpu): Gpu {
  return new Gpu(base.device, { ...base.caps, subgroups: true, subgroupMaxSize: 8, subgroupMatrixConfigs: CONFIGS });
}

const SM_VARIANTS = MATMUL_VARIANTS.filter((v) => v.subgroupMatrix);
const as = (x: Float32Array, dtype: DType) => (dtype === 'f16' ? roundF16(x) : x);

beforeAll(() => setAutotune(false));
afterAll(() => {
  setAutotune(undefined);
  setKernelChoice('matmul', undefined);
});

describe.each(PRECISIONS)('subgroup-matrix variants, builtins stood in for ($name)', ({ name, dtype, opts }) => {
  it.each(SM_VARIANTS.map((v) => [v.name, v] as const))('%s gives the reference result', async (_, v) => {
    const gpu = pretend(await device(opts));
    // f16 products only for f16 operands on an adapter with shader-f16 (else refused, as the registry does).
    if (v.subgroupMatrix === 'f16' && (dtype !== 'f16' || !gpu.caps.f16)) {
      expect(v.supports(gpu.caps)).toBe(gpu.caps.f16);
      return;
    }
    setKernelChoice('matmul', v.name);
    const label = `${name} ${v.name}`;
    // Products of f16 components are exact in f32; f16 outputs and operands round to 11 bits.
    const tol = (K: number) => (dtype === 'f16' && gpu.caps.f16 ? { atol: 3e-3, rtol: 3e-3 } : { atol: 2e-6 * Math.sqrt(K) + 1e-6, rtol: 1e-5 });

    // Linears with the whole epilogue (one pipeline): 38 rows under a 4 KiB binding limit
    // (banded), and one row with a long K off every block.
    const small = pretend(await device({ ...opts, maxStorageBinding: 4096 }));
    for (const [where, M, N, K, samples] of [[small, 38, 70, 100, 2], [gpu, 1, 45, 1030, 1]] as const) {
      const [x, w, bias, res, gate] = [rand(M * K, 1), rand(N * K, 2), rand(N, 3), rand(M * N, 4), rand(samples * 3 * N, 5)];
      const t = (a: Float32Array, shape: number[]) => fromArray(where, a, shape, dtype);
      const gateT = { tensor: t(gate, [samples, 3 * N]), chunk: 1, chunks: 3 };
      const y = await linear(where, t(x, [M, K]), t(w, [N, K]), t(bias, [N]), { act: 'gelu', residual: t(res, [M, N]), gate: gateT });
      const g = as(gate, dtype);
      const gateRows = Array.from({ length: samples }, (_, s) => [...g.subarray((3 * s + 1) * N, (3 * s + 2) * N)]).flat();
      const ref = linearRef(as(x, dtype), as(w, dtype), M, N, K, { act: 'gelu', bias: as(bias, dtype), residual: as(res, dtype), gate: gateRows });
      expectClose(await y.read(), ref, { ...tol(K), label: `${label} linear ${M}x${N}x${K}` });
    }

    // Batched, B not transposed (row-major right matrices).
    const [B, m, k, n] = [2, 70, 36, 68];
    const a = rand(B * m * k, 6);
    const b = rand(B * k * n, 7);
    const out = await matmul(gpu, fromArray(gpu, a, [B, m, k], dtype), fromArray(gpu, b, [B, k, n], dtype));
    expectClose(await out.read(), matmulRef(as(a, dtype), as(b, dtype), B, m, n, k, false), { ...tol(k), label: `${label} batched ${B}x${m}x${k}x${n}` });
  });
});

describe('subgroup-matrix variant choice', () => {
  const caps = (configs: SubgroupMatrixConfig[]): Capabilities => ({
    adapterName: 'pretend GPU', vendor: 'nvidia', architecture: '', isFallback: false, f16: true, subgroups: true,
    subgroupMinSize: 32, subgroupMaxSize: 32, timestamps: true, packed4x8: true, maxStorageBinding: 2 ** 31, maxBufferSize: 2 ** 31,
    maxWorkgroupStorage: 32768, maxInvocations: 1024, maxWorkgroupSizeX: 1024, maxWorkgroupsPerDim: 65535,
    maxStorageBuffersPerStage: 10, minStorageOffsetAlignment: 256, subgroupMatrixConfigs: configs,
  });
  const f16x16: SubgroupMatrixConfig = { componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 };
  const withFeature = (c: Capabilities) => ({ caps: c, device: { features: new Set(['chromium-experimental-subgroup-matrix']) } as unknown as GPUDevice });

  it('is offered (and so autotuned) only where the adapter lists a shape with f32 results', () => {
    const [f16v, f32v] = ['subgroup-matrix-f16', 'subgroup-matrix'].map((n) => SM_VARIANTS.find((v) => v.name === n)!);
    expect(f16v.supports(caps([]))).toBe(false);
    expect(f16v.supports(caps([{ ...f16x16, resultComponentType: 'f16' }]))).toBe(false);
    expect(f16v.supports(caps([f16x16]))).toBe(true);
    expect(f32v.supports(caps([f16x16]))).toBe(false);
    expect(f16v.supports({ ...caps([f16x16]), f16: false })).toBe(false);
    expect(f16v.supports({ ...caps([f16x16]), subgroupMaxSize: 0 })).toBe(false);
    expect(f16v.supports({ ...caps([f16x16]), maxWorkgroupStorage: 16384 })).toBe(false); // 24 KiB of slices and results
  });

  it('uses the builtins, not the stand-ins, on an adapter with the feature', () => {
    const d = subgroupMatrixDefines(withFeature(caps([f16x16])), 'f16');
    expect(d).toEqual({ SM_KERNEL: true, SUBGROUP_MATRIX: true, SM_M: 16, SM_N: 16, SM_K: 16, SM_T: 'f16', WG: 128 });
    for (const TRANS_B of [true, false]) {
      const code = preprocess(source, { ...d, TRANS_B, TM: 0, TN: 0, SGR: 1, MATH: 'f16' });
      expect(code).toContain('subgroupMatrixLoad<Left, row_major>(&sliceA');
      expect(code).toContain(`subgroupMatrixLoad<Right, ${TRANS_B ? 'col' : 'row'}_major>(&sliceB`);
      expect(code).toContain('subgroupMatrixMultiplyAccumulate(l, r, acc)');
      expect(code).toContain('@builtin(subgroup_id) sg: u32');
      expect(code).not.toContain('let sg = li;');
      expect(code).not.toContain('alias Left = array<');
    }
    const standIn = subgroupMatrixDefines({ ...withFeature(caps([f16x16])), device: { features: new Set() } as unknown as GPUDevice }, 'f16');
    expect(standIn.SUBGROUP_MATRIX).toBe(false);
    expect(() => subgroupMatrixDefines(withFeature(caps([])), 'f32')).toThrow('lists no f32 subgroup-matrix shape');
  });
});
