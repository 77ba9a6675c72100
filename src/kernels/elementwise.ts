// Elementwise binary ops with trailing-block broadcasting (bias adds).
import type { Gpu } from '../runtime/device.ts';
import { empty, type DType, type Tensor } from '../runtime/tensor.ts';
import source from '../../shaders/elementwise.wgsl';
import { grid1d } from './grid.ts';

const OPS = { add: 'x + y', mul: 'x * y', sub: 'x - y' } as const;
export type BinaryOp = keyof typeof OPS;

export async function binary(gpu: Gpu, op: BinaryOp, a: Tensor, b: Tensor, outDtype: DType = a.dtype): Promise<Tensor> {
  if (a.numel % b.numel !== 0) {
    throw new Error(`${op}: shapes [${a.shape}] and [${b.shape}] do not broadcast (b must tile a's trailing block)`);
  }
  const kernel = await gpu.pipelines.get({
    name: 'elementwise',
    source,
    bindings: [
      { name: 'a', dtype: a.dtype },
      { name: 'b', dtype: b.dtype },
      { name: 'out', dtype: outDtype, access: 'read_write' },
    ],
    uniforms: true,
    defines: { OP: OPS[op] },
  });
  const out = empty(gpu, a.shape, outDtype);
  gpu.recorder.dispatch(kernel, [a, b, out], new Uint32Array([a.numel, b.numel, 0, 0]), grid1d(gpu, a.numel, 256), op);
  return out;
}

export const add = (gpu: Gpu, a: Tensor, b: Tensor, outDtype?: DType) => binary(gpu, 'add', a, b, outDtype);
export const mul = (gpu: Gpu, a: Tensor, b: Tensor, outDtype?: DType) => binary(gpu, 'mul', a, b, outDtype);
