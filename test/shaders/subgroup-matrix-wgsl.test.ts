// The subgroup-matrix matmul kernel as a real adapter gets it (the builtins, not the stand-ins)
// passes Tint's WGSL validation and pipeline creation. No adapter here lists subgroup-matrix
// shapes, and lavapipe's device refuses `enable chromium_experimental_subgroup_matrix`; Dawn's
// Null backend (Node only) has the feature with allow_unsafe_apis and validates shaders like any
// other, so its device compiles the kernel for a pretend adapter with GPU-like shapes.
import { create, globals } from 'webgpu';
import { afterAll, beforeAll, expect, it } from 'vitest';
import '../../src/kernels/families.ts';
import { matmul } from '../../src/kernels/matmul.ts';
import { setAutotune, setKernelChoice } from '../../src/kernels/registry.ts';
import { wrapDevice, type Gpu } from '../../src/runtime/device.ts';
import { fromArray } from '../../src/runtime/tensor.ts';

Object.assign(globalThis, globals);
const FEATURE = 'chromium-experimental-subgroup-matrix' as GPUFeatureName;
// Kept for the whole file: Dawn must not collect its instance while a device lives.
const nullDawn = create(['backend=null', 'enable-dawn-features=allow_unsafe_apis']) as GPU;
let gpu: Gpu;

beforeAll(async () => {
  const adapter = (await nullDawn.requestAdapter())!;
  expect(adapter.features.has(FEATURE)).toBe(true);
  const device = await adapter.requestDevice({
    requiredFeatures: [FEATURE, 'subgroups', 'shader-f16'],
    requiredLimits: { maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize },
  });
  const adapterInfo = {
    description: 'Dawn Null backend, pretend subgroup matrices',
    subgroupMinSize: 32,
    subgroupMaxSize: 32,
    subgroupMatrixConfigs: [
      // Fits the Null device's 16 KiB of workgroup memory (16×16×16 needs 24 KiB).
      { componentType: 'f16', resultComponentType: 'f32', M: 8, N: 16, K: 16 },
      { componentType: 'f32', resultComponentType: 'f32', M: 8, N: 8, K: 8 },
    ],
  } as unknown as GPUAdapterInfo;
  gpu = wrapDevice(device, { adapterInfo });
  setAutotune(false);
});
afterAll(() => {
  setAutotune(undefined);
  setKernelChoice('matmul', undefined);
  gpu?.destroy();
});

it.each([
  ['subgroup-matrix', true],
  ['subgroup-matrix', false],
  ['subgroup-matrix-f16', true],
  ['subgroup-matrix-f16', false],
] as const)('%s (transB=%s) compiles with the builtins', async (variant, transB) => {
  expect(gpu.caps.subgroupMatrixConfigs).toHaveLength(2);
  setKernelChoice('matmul', variant);
  const a = fromArray(gpu, new Float32Array(40 * 24), [40, 24], 'f16');
  const b = fromArray(gpu, new Float32Array(24 * 40), transB ? [40, 24] : [24, 40], 'f16');
  await matmul(gpu, a, b, { transB });
  await gpu.sync('subgroup-matrix compile');
});

it('rejects a wrong builtin call (so the check above can fail)', async () => {
  const code = `enable chromium_experimental_subgroup_matrix;
var<workgroup> s: array<f32, 64>;
@compute @workgroup_size(32) fn main() {
  let m = subgroupMatrixLoad<subgroup_matrix_left<f32, 8, 8>, row_major>(&s, 0u, 8u);
  subgroupMatrixStore<row_major>(&s, 0u, m, 8u, 1u);
}`;
  const info = await gpu.device.createShaderModule({ code }).getCompilationInfo();
  expect(info.messages.filter((m) => m.type === 'error').length).toBeGreaterThan(0);
});
