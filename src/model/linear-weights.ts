// Loading Linear layers (upstream names `<name>.weight` [out, in], `<name>.bias` [out]) with
// their shapes checked, so a checkpoint for another config fails naming the tensor.
import type { Gpu } from '../runtime/device.ts';
import type { DType, Tensor } from '../runtime/tensor.ts';
import { uploadWeight, type WeightReader } from '../runtime/weights.ts';
import { linear, type LinearOptions } from '../kernels/matmul.ts';

export interface Linear {
  weight: Tensor;
  bias?: Tensor;
}

export class LinearLoader {
  /** Everything uploaded so far, for dispose(). */
  readonly tensors: Tensor[] = [];

  constructor(
    readonly gpu: Gpu,
    readonly weights: WeightReader,
    /** dtype of weight matrices; biases stay f32. */
    readonly weightDtype: DType,
  ) {}

  async tensor(name: string, dtype: DType, shape: readonly number[]): Promise<Tensor> {
    const t = await uploadWeight(this.gpu, this.weights, name, dtype, shape);
    this.tensors.push(t);
    return t;
  }

  async linear(name: string, out: number, inp: number, bias = true): Promise<Linear> {
    return {
      weight: await this.tensor(`${name}.weight`, this.weightDtype, [out, inp]),
      bias: bias ? await this.tensor(`${name}.bias`, 'f32', [out]) : undefined,
    };
  }

  dispose(): void {
    for (const t of this.tensors) t.dispose();
    this.tensors.length = 0;
  }
}

export function applyLinear(gpu: Gpu, x: Tensor, l: Linear, o?: LinearOptions): Promise<Tensor> {
  return linear(gpu, x, l.weight, l.bias, o);
}
