// The precision a model runs in and the storage dtypes it implies on this adapter.
import type { Gpu } from '../runtime/device.ts';
import type { DType } from '../runtime/tensor.ts';
import type { Precision } from './pipeline-types.ts';

/** f32: everything f32. f16: f16 weights; f16 activations where the adapter has shader-f16. */
export type { Precision };

export interface Dtypes {
  /** Matrices (Linear weights). Small vectors (biases, norms) stay f32. */
  weight: DType;
  /** Activations that feed matmuls and attention. Residual streams and modulation stay f32. */
  act: DType;
}

export function dtypesFor(gpu: Gpu, precision: Precision): Dtypes {
  if (precision !== 'f32' && precision !== 'f16') throw new Error(`precision must be 'f32' or 'f16', got '${String(precision)}'`);
  if (precision === 'f32') return { weight: 'f32', act: 'f32' };
  // Without shader-f16 the weights stay packed halves and shaders compute in f32.
  return { weight: 'f16', act: gpu.caps.f16 ? 'f16' : 'f32' };
}
