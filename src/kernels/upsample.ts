// Nearest ×2 upsampling of channels-last activations, banded over output rows above the
// binding limit.
import type { Gpu } from '../runtime/device.ts';
import { empty, type DType, type Tensor } from '../runtime/tensor.ts';
import source from '../../shaders/upsample.wgsl';
import { grid1d } from './grid.ts';
import { bandItems, writable, baseWindow } from './bands.ts';

export async function upsampleNearest2x(gpu: Gpu, x: Tensor, o: { outDtype?: DType } = {}): Promise<Tensor> {
  if (x.shape.length !== 4) throw new Error(`upsampleNearest2x: input must be NHWC [B, H, W, C], got [${x.shape}]`);
  const [B, H, W, C] = x.shape;
  const outDtype = o.outDtype ?? writable(gpu, x.dtype);
  const vec = C % 4 === 0 ? 4 : 1;
  const kernel = await gpu.pipelines.get({
    name: 'upsample',
    source,
    bindings: [
      { name: 'x', dtype: x.dtype, vec: vec as 1 | 4 },
      { name: 'out', dtype: outDtype, access: 'read_write', vec: vec as 1 | 4 },
    ],
    uniforms: true,
    defines: { VEC: vec === 4 },
  });
  const out = empty(gpu, [B, 2 * H, 2 * W, C], outDtype);
  const outRow = 2 * W * C;
  // Output rows per band; band starts are even so each reads whole input rows.
  let rows = bandItems(gpu, outRow, [outDtype, x.dtype], 'upsampleNearest2x');
  rows -= rows % 2;
  if (rows < 2) throw new Error(`upsampleNearest2x: two output rows of [${out.shape}] exceed the ${gpu.caps.maxStorageBinding}-byte binding limit`);
  const u = new Uint32Array([C, H, W, 0, 0, 0, 0, 0]);
  const totalRows = B * 2 * H; // bands may span batch elements: rows are contiguous across them
  for (let r0 = 0; r0 < totalRows; r0 += rows) {
    const r = Math.min(rows, totalRows - r0);
    const xs = (r0 / 2) * W * C;
    const xw = baseWindow(x, xs, (r / 2) * W * C);
    const ow = baseWindow(out, r0 * outRow, r * outRow);
    // Shaders index from the tensor's start minus the elements before the window.
    u.set([(r * outRow) / vec, r0 * outRow, xw.base, ow.base], 3);
    gpu.recorder.dispatch(kernel, [xw.binding, ow.binding], u, grid1d(gpu, (r * outRow) / vec, 256), 'upsample');
  }
  return out;
}
