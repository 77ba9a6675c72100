// A 1×1 convolution that narrows the channels (a resnet's shortcut, cout ≤ cin) written over its
// own NHWC input, so no map of the output's size is allocated beside the input: the VAE
// decoder's narrowing resnets then hold 3 maps of the output width at once instead of 4.
import type { Gpu } from '../runtime/device.ts';
import { BYTES, type Tensor } from '../runtime/tensor.ts';
import { writable } from './bands.ts';
import { conv2d, type Conv2dWeight } from './conv2d.ts';

/** Scratch is about 1/OVER_INPUT_CHUNKS of the output (the preflight estimate counts it). */
export const OVER_INPUT_CHUNKS = 8;

const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
/** The least n ≥ 1 with n·bytes a multiple of `align`. */
const unitFor = (bytes: number, align: number) => align / gcd(align, bytes);

/** Why `conv1x1OverInput(gpu, x, c)` cannot run (undefined when it can). */
export function overInputProblem(gpu: Gpu, x: Tensor, c: Conv2dWeight): string | undefined {
  if (x.shape.length !== 4 || x.shape[3] !== c.cin) return `expected an NHWC input with ${c.cin} channels`;
  if (c.kh !== 1 || c.kw !== 1 || c.cout > c.cin) return 'only a 1×1 conv with cout ≤ cin fits over its input';
  if (!x.owner) return 'the input is a view; only a tensor owning its buffer can be written over';
  if (writable(gpu, x.dtype) !== x.dtype) return `this adapter cannot write ${x.dtype} (no shader-f16)`;
  return undefined;
}

/**
 * conv(x) for a 1×1, stride-1 conv `c` with c.cout ≤ c.cin, returned over x's buffer: x
 * [B, H, W, cin] (NHWC, owning its buffer, a dtype kernels write) is consumed. x is read in
 * chunks of whole rows (B·H rows of W·cin elements), in order; each chunk's output goes to a
 * scratch map, then is copied to its final place in x's buffer.
 */
export async function conv1x1OverInput(gpu: Gpu, x: Tensor, c: Conv2dWeight): Promise<Tensor> {
  const problem = overInputProblem(gpu, x, c);
  if (problem) throw new Error(`conv1x1OverInput: input [${x.shape}] ${x.dtype}, weight ${c.cin}->${c.cout} ${c.kh}×${c.kw}: ${problem}`);
  const [B, H, W, cin] = x.shape;
  const cout = c.cout;
  const rows = B * H;
  const bytes = BYTES[x.dtype];
  const inRow = W * cin * bytes;
  const outRow = W * cout * bytes;
  // Chunk starts must be bindable input views (storage offset alignment) and copy destinations
  // (4 bytes); one chunk (a scratch of the whole output) where no smaller chunking is aligned.
  const align = gpu.caps.minStorageOffsetAlignment;
  const a = unitFor(inRow, align);
  const b = unitFor(outRow, 4);
  const unit = (a * b) / gcd(a, b);
  const per = Math.ceil(Math.ceil(rows / OVER_INPUT_CHUNKS) / unit) * unit;
  const byRow = x.reshape([rows, W, cin]);
  for (let r0 = 0; r0 < rows; r0 += per) {
    const n = Math.min(per, rows - r0);
    const out = await conv2d(gpu, byRow.rows(r0, n).reshape([1, n, W, cin]), c);
    // Chunk k writes bytes [r0·outRow, r1·outRow) ⊆ x rows < r1 (outRow ≤ inRow), which chunks
    // ≤ k have already read; later chunks read from r1·inRow on. Commands run in order. Only
    // the last chunk's size may need rounding up to 4 bytes: past the output, in x's buffer.
    gpu.recorder.copy(out.buffer, out.offset, x.buffer, x.offset + r0 * outRow, Math.ceil(out.byteLength / 4) * 4);
    // Released for the next chunk's conv to take again (it is recorded after this copy).
    out.dispose();
  }
  return x.reuseAs([B, H, W, cout]);
}
