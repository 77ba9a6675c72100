// Softmax over the last dimension (shaders/softmax.wgsl).
import type { Gpu } from '../runtime/device.ts';
import { BYTES, empty, type DType, type Tensor } from '../runtime/tensor.ts';
import source from '../../shaders/softmax.wgsl';
import { runVariant, sizeClass } from './choice.ts';
import { grid1d } from './grid.ts';
import { kernelSource, registerFamily, type Variant } from './registry.ts';

// One variant: a tree reduction of each row in workgroup memory.
registerFamily('softmax', [{ name: 'workgroup', family: 'softmax', supports: () => true, needs: [], workgroupMemory: true }]);

/** softmax(x) along the last dimension; f16 input without shader-f16 gives f32 output. */
export async function softmax(gpu: Gpu, x: Tensor, outDtype?: DType): Promise<Tensor> {
  const n = x.shape[x.shape.length - 1];
  if (!x.shape.length || !n) throw new Error(`softmax: x must have a non-empty last dimension, got [${x.shape}]`);
  const dtype = outDtype ?? (x.dtype === 'f16' && !gpu.caps.f16 ? 'f32' : x.dtype);
  if (dtype === 'f16' && !gpu.caps.f16) throw new Error('softmax: f16 output needs shader-f16 on this adapter (ask for f32)');
  const rows = x.numel / n;
  // Whole rows per dispatch, each binding within the limit (views start 256-byte aligned, so
  // bands are a multiple of 128 rows: 256-byte aligned for any row length).
  const rowBytes = n * Math.max(BYTES[x.dtype], BYTES[dtype]);
  const fit = Math.floor(gpu.caps.maxStorageBinding / rowBytes);
  if (fit < 128 && fit < rows) throw new Error(`softmax: rows of ${rowBytes} bytes are too long for the storage binding limit`);
  const band = fit >= rows ? rows : Math.floor(fit / 128) * 128;
  const out = empty(gpu, x.shape, dtype);
  const record = async (v: Variant) => {
    const kernel = await gpu.pipelines.get({
      name: 'softmax',
      ...kernelSource('softmax', source, gpu),
      bindings: [
        { name: 'x', dtype: x.dtype },
        { name: 'out', dtype, access: 'read_write' },
      ],
      uniforms: true,
    });
    const flat = (t: Tensor) => t.reshape([rows, n]);
    for (let r0 = 0; r0 < rows; r0 += band) {
      const count = Math.min(band, rows - r0);
      const xs = rows === count ? x : flat(x).rows(r0, count);
      const os = rows === count ? out : flat(out).rows(r0, count);
      gpu.recorder.dispatch(kernel, [xs, os], new Uint32Array([count, n, 0, 0]), grid1d(gpu, count, 1), `softmax ${v.name}`);
    }
  };
  await runVariant(gpu, 'softmax', `${x.dtype}->${dtype} n${n} rows~${sizeClass(rows)}`, record, { outputs: [out] });
  return out;
}
