// Loading Linear layers (upstream names `<name>.weight` [out, in], `<name>.bias` [out]) with
// their shapes checked, so a checkpoint for another config fails naming the tensor. Under
// `--weights q8` the linears isQ8Linear picks are quantised tensor by tensor as they load
// (or read as they are from a pre-quantised file, which always wins).
import type { Gpu } from '../runtime/device.ts';
import { q8Groups, q8Words, quantizeQ8, type Q8Packed } from '../runtime/q8.ts';
import { uploadQ8, type LinearWeight, type Q8Weight } from '../kernels/q8.ts';
import type { DType, Tensor } from '../runtime/tensor.ts';
import { readF32, readRaw, uploadWeight, type WeightReader } from '../runtime/weights.ts';
import { linear, type LinearOptions } from '../kernels/matmul.ts';
import { isQ8Linear, Q8_GROUP, q8DataName, q8FileGroup, q8ScalesName, type Q8Summary, type WeightFormat } from './q8-weights.ts';

export type { Q8Summary };

export interface Linear {
  weight: LinearWeight;
  bias?: Tensor;
}

export class LinearLoader {
  /** Everything uploaded so far, for dispose(). */
  readonly tensors: (Tensor | Q8Weight)[] = [];
  /** Set once a linear is held in 8 bits. */
  q8?: Q8Summary;

  constructor(
    readonly gpu: Gpu,
    readonly weights: WeightReader,
    /** dtype of weight matrices; biases stay f32. */
    readonly weightDtype: DType,
    /** 'q8': the linears isQ8Linear names are quantised at load. */
    readonly format: WeightFormat = 'f16',
  ) {}

  async tensor(name: string, dtype: DType, shape: readonly number[]): Promise<Tensor> {
    const t = await uploadWeight(this.gpu, this.weights, name, dtype, shape);
    this.tensors.push(t);
    return t;
  }

  async linear(name: string, out: number, inp: number, bias = true): Promise<Linear> {
    const w = `${name}.weight`;
    const prequantised = this.weights.has(q8DataName(w));
    return {
      weight: prequantised || (this.format === 'q8' && isQ8Linear(name)) ? await this.q8Weight(w, out, inp, prequantised) : await this.tensor(w, this.weightDtype, [out, inp]),
      bias: bias ? await this.tensor(`${name}.bias`, 'f32', [out]) : undefined,
    };
  }

  /** One weight in 8 bits: the file's int8 + scales, or the published tensor quantised here. */
  private async q8Weight(w: string, N: number, K: number, prequantised: boolean): Promise<Q8Weight> {
    const p = prequantised ? await this.readQ8(w, N, K) : quantizeQ8(await readF32(this.checked(w, N, K)), N, K, Q8_GROUP, w);
    const weight = uploadQ8(this.gpu, p, w);
    this.tensors.push(weight);
    const s = (this.q8 ??= { linears: 0, bytes: 0, f16Bytes: 0, group: p.group, source: prequantised ? 'file' : 'load' });
    s.linears++;
    s.bytes += weight.byteLength;
    s.f16Bytes += N * K * 2;
    return weight;
  }

  /** The published [N, K] weight's entry, its shape checked. */
  private checked(w: string, N: number, K: number) {
    const e = this.weights.entry(w);
    if (e.shape.join() !== `${N},${K}`) throw new Error(`${e.source.name}: tensor '${w}' has shape [${e.shape}], expected [${N},${K}]`);
    return e;
  }

  /** A pre-quantised weight as `convert --weights q8` wrote it (see q8-weights.ts), checked against [N, K]. */
  private async readQ8(w: string, N: number, K: number): Promise<Q8Packed> {
    const group = q8FileGroup(this.weights);
    const data = this.weights.entry(q8DataName(w));
    const scales = this.weights.entry(q8ScalesName(w));
    const want = `I8 [${N},${q8Words(K) * 4}] and F16 or F32 [${N},${q8Groups(K, group)}]`;
    if (data.dtype !== 'I8' || data.shape.join() !== `${N},${q8Words(K) * 4}` || (scales.dtype !== 'F16' && scales.dtype !== 'F32') || scales.shape.join() !== `${N},${q8Groups(K, group)}`) {
      throw new Error(`${data.source.name}: '${data.name}' ${data.dtype} [${data.shape}] and '${scales.name}' ${scales.dtype} [${scales.shape}] are not the 8-bit form of a [${N}, ${K}] weight in groups of ${group} (${want})`);
    }
    const d = await readRaw(data);
    const s = await readRaw(scales);
    return {
      N, K, group,
      data: new Uint32Array(d.buffer, 0, d.byteLength / 4),
      scales: scales.dtype === 'F16' ? new Uint16Array(s.buffer, 0, s.byteLength / 2) : new Float32Array(s.buffer, 0, s.byteLength / 4),
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
