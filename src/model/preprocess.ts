// Decoded RGB bytes → the pipeline's input tensor, the two ways the reference does it, and the
// batch mode's input panel. Pure TypeScript (the browser page reuses it).
import { resizePlanes, resizeU8 } from './resample.ts';
import { roundMantissa, toByte } from './postprocess.ts';
import { MODEL_SIZE } from './pipeline-types.ts';

/** Interleaved RGB bytes with their size. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * inference.py: PIL resize to 768×768 with LANCZOS on the 8-bit image, ToTensor (x/255 in
 * float32), then (x − 0.5)·2. Returns [3, 768, 768].
 */
export function inferInput(img: RgbImage, size = MODEL_SIZE): Float32Array {
  const small = resizeU8(img.data, img.width, img.height, 3, size, size, 'lanczos');
  const hw = size * size;
  const out = new Float32Array(3 * hw);
  for (let i = 0; i < hw; i++) {
    for (let c = 0; c < 3; c++) out[c * hw + i] = Math.fround(Math.fround(small[i * 3 + c] / 255) - 0.5) * 2;
  }
  return out;
}

/**
 * batch_inference.py's collator: x/255 in float32, torchvision Resize([768,768], BILINEAR) on
 * the float tensor (antialiased), clamp to [0,1], Normalize(0.5, 0.5). Returns [3, 768, 768].
 */
export function batchInput(img: RgbImage, size = MODEL_SIZE): Float32Array {
  const { width, height } = img;
  const planes = new Float32Array(3 * width * height);
  for (let i = 0; i < width * height; i++) for (let c = 0; c < 3; c++) planes[c * width * height + i] = img.data[i * 3 + c] / 255;
  const out = resizePlanes(planes, 3, height, width, size, size, 'bilinear', true);
  for (let i = 0; i < out.length; i++) out[i] = (Math.min(1, Math.max(0, out[i])) - 0.5) / 0.5;
  return out;
}

/**
 * The collator marks each sampled point on the visualisation copy of the input: a disk of
 * radius 5 (skimage.draw.disk: distance² < 25) set to (1, 0, 0) in the [-1,1] space, which
 * shows as (255, 127, 127) once mapped back to [0,1].
 */
export function markPoints(input: Float32Array, pixels: ReadonlyArray<readonly [number, number]>, size = MODEL_SIZE): Float32Array {
  const out = input.slice();
  const hw = size * size;
  for (const [row, col] of pixels) {
    for (let r = Math.max(0, row - 4); r <= Math.min(size - 1, row + 4); r++) {
      for (let c = Math.max(0, col - 4); c <= Math.min(size - 1, col + 4); c++) {
        if ((r - row) ** 2 + (c - col) ** 2 >= 25) continue;
        out[r * size + c] = 1;
        out[hw + r * size + c] = 0;
        out[2 * hw + r * size + c] = 0;
      }
    }
  }
  return out;
}

const BF16 = 7; // mantissa bits: the reference's fp32_to_bf16 rounds every input tensor

/**
 * The batch mode's left panel at model size: the (bf16) visualisation tensor ·0.5 + 0.5 in
 * bf16, then ToPILImage of its float16 copy. Interleaved RGB bytes, size×size.
 */
export function inputPanel(viz: Float32Array, size = MODEL_SIZE): Uint8Array {
  const hw = size * size;
  const out = new Uint8Array(hw * 3);
  for (let i = 0; i < hw; i++) {
    for (let c = 0; c < 3; c++) out[i * 3 + c] = toByte(roundMantissa(roundMantissa(viz[c * hw + i], BF16) * 0.5 + 0.5, BF16), 'f16');
  }
  return out;
}
