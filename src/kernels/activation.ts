// Pointwise activations (an elementwise map over shaders/activation.wgsl's act_* functions).
import type { Gpu } from '../runtime/device.ts';
import type { DType, Tensor } from '../runtime/tensor.ts';
import { map } from './elementwise.ts';
import type { Activation } from './types.ts';

export { default as ACTIVATION_WGSL } from '../../shaders/activation.wgsl';

const NAMES: readonly Activation[] = ['none', 'silu', 'gelu', 'gelu_tanh', 'quick_gelu'];

export async function activation(gpu: Gpu, x: Tensor, act: Activation, outDtype?: DType): Promise<Tensor> {
  if (!NAMES.includes(act)) throw new Error(`activation: unknown activation '${act}' (expected one of ${NAMES.join(', ')})`);
  return map(gpu, { op: act, expr: `act_${act}(x)`, a: x, outDtype });
}
