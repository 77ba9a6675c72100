// 8-bit Linear weights on the GPU: the packed words and scales of runtime/q8.ts as tensors.
// `linear` (matmul.ts) takes a Q8Weight wherever it takes an [N, K] weight tensor and
// dequantises in the kernels' load path (accumulation stays f32).
import type { Gpu } from '../runtime/device.ts';
import { checkQ8, q8Groups, q8Words, type Q8Packed } from '../runtime/q8.ts';
import { fromArray, fromWords, type Tensor } from '../runtime/tensor.ts';

export class Q8Weight {
  readonly kind = 'q8';

  constructor(
    /** [N out, K in], like the f16 weight it replaces. */
    readonly shape: readonly [number, number],
    /** Input columns per scale (a multiple of 4). */
    readonly group: number,
    /** int8 values, 4 per u32 little-endian along K: [N, ceil(K/4)] words, zero-padded. */
    readonly data: Tensor<'u32'>,
    /** [N, ceil(K/group)] f16 (f32 where a tensor's scales overflow f16). */
    readonly scales: Tensor,
  ) {}

  /** Bytes held on the GPU. */
  get byteLength(): number {
    return this.data.byteLength + this.scales.byteLength;
  }

  dispose(): void {
    this.data.dispose();
    this.scales.dispose();
  }
}

/** A weight for `linear`: a float tensor [N, K] or an 8-bit one. */
export type LinearWeight = Tensor | Q8Weight;

export const isQ8 = (w: LinearWeight): w is Q8Weight => w instanceof Q8Weight;

/** Uploads a packed weight (from quantizeQ8, or read from a file). `name` is for errors and labels. */
export function uploadQ8(gpu: Gpu, p: Q8Packed, name = 'weight'): Q8Weight {
  checkQ8(p, name);
  const { N, K, group } = p;
  const data = fromWords(gpu, p.data, [N, q8Words(K)], `${name} q8`);
  const shape = [N, q8Groups(K, group)];
  const scales = p.scales instanceof Uint16Array ? fromArray(gpu, p.scales, shape, 'f16') : fromArray(gpu, p.scales, shape, 'f32');
  return new Q8Weight([N, K], group, data, scales);
}
