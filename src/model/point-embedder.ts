// DICEPTION's point prompt encoder: SAM-style random Fourier features of the (x, y) points,
// an MLP (Linear -> exact GELU -> Linear) and a learned embedding per label (seg / not seg).
// Names are the .pth's top-level keys.
import type { Gpu } from '../runtime/device.ts';
import { empty, fromArray, type Tensor } from '../runtime/tensor.ts';
import { readF32, type WeightReader } from '../runtime/weights.ts';
import { applyLinear, LinearLoader, type Linear } from './linear-weights.ts';
import { dtypesFor, type Precision } from './precision.ts';

/** Point slots the transformer's context always gets (unused slots carry label 0). */
export const POINT_SLOTS = 5;

const f32 = Math.fround;
const TWO_PI = f32(2 * Math.PI);

export class PointEmbedder {
  private constructor(
    readonly gpu: Gpu,
    private readonly loader: LinearLoader,
    /** positional_encoding_gaussian_matrix [2, F], row-major. */
    private readonly gaussian: Float32Array,
    private readonly features: number,
    private readonly l0: Linear,
    private readonly l2: Linear,
    /** [not_seg, seg] embeddings, indexed by label. */
    private readonly labels: [Float32Array, Float32Array],
    /** Output width (the transformer's hidden size). */
    readonly dim: number,
  ) {}

  /** `weights` is the DICEPTION .pth's top-level dict. */
  static async load(gpu: Gpu, weights: WeightReader, precision: Precision): Promise<PointEmbedder> {
    const g = weights.entry('positional_encoding_gaussian_matrix');
    if (g.shape.length !== 2 || g.shape[0] !== 2) throw new Error(`${g.source.name}: tensor '${g.name}' has shape [${g.shape}], expected [2, F]`);
    const F = g.shape[1];
    const hid = weights.entry('point_embedder.0.weight').shape[0];
    const dim = weights.entry('point_embedder.2.weight').shape[0];
    const label = async (name: string) => {
      const e = weights.entry(name);
      if (e.shape.join() !== `1,${dim}`) throw new Error(`${e.source.name}: tensor '${name}' has shape [${e.shape}], expected [1, ${dim}]`);
      return readF32(e);
    };
    const l = new LinearLoader(gpu, weights, dtypesFor(gpu, precision).weight);
    try {
      const l0 = await l.linear('point_embedder.0', hid, 2 * F);
      const l2 = await l.linear('point_embedder.2', dim, hid);
      const labels: [Float32Array, Float32Array] = [await label('not_seg_embeddings.weight'), await label('seg_embeddings.weight')];
      return new PointEmbedder(gpu, l, await readF32(g), F, l0, l2, labels, dim);
    } catch (e) {
      l.dispose();
      throw e;
    }
  }

  /**
   * coords [B·P·2] as (x, y) in [0, 1]; labels [B·P] of 0/1. Returns [B, P, dim] f32.
   */
  async embed(coords: ArrayLike<number>, labels: ArrayLike<number>, batch: number): Promise<Tensor> {
    const n = labels.length;
    if (n % batch !== 0 || coords.length !== 2 * n) {
      throw new Error(`PointEmbedder.embed: ${coords.length / 2} points and ${n} labels do not form a batch of ${batch}`);
    }
    const features = this.fourier(coords);
    const residual = new Float32Array(n * this.dim);
    for (let i = 0; i < n; i++) {
      const lab = labels[i];
      if (lab !== 0 && lab !== 1) throw new Error(`PointEmbedder.embed: label ${lab} of point ${i} must be 0 or 1`);
      residual.set(this.labels[lab], i * this.dim);
    }
    const gpu = this.gpu;
    const x = fromArray(gpu, features, [batch, n / batch, 2 * this.features]);
    const r = fromArray(gpu, residual, [batch, n / batch, this.dim]);
    const h = await applyLinear(gpu, x, this.l0, { act: 'gelu' });
    x.dispose();
    const out = await applyLinear(gpu, h, this.l2, { residual: r, outDtype: 'f32' });
    h.dispose();
    r.dispose();
    return out;
  }

  /** [sin f, cos f] with f = 2π·((2p − 1)·G), in float32 as upstream computes it. */
  private fourier(coords: ArrayLike<number>): Float32Array {
    const F = this.features;
    const G = this.gaussian;
    const n = coords.length / 2;
    const out = new Float32Array(n * 2 * F);
    for (let i = 0; i < n; i++) {
      const x = f32(2 * coords[2 * i] - 1);
      const y = f32(2 * coords[2 * i + 1] - 1);
      for (let j = 0; j < F; j++) {
        const f = f32(TWO_PI * f32(f32(x * G[j]) + f32(y * G[F + j])));
        out[i * 2 * F + j] = Math.sin(f);
        out[i * 2 * F + F + j] = Math.cos(f);
      }
    }
    return out;
  }

  dispose(): void {
    this.loader.dispose();
  }
}

/**
 * The CFG batch's point embeddings [2B, P, C]: zeros for the unconditional half, then `cond`
 * (f32). Does not consume `cond`.
 */
export function withUnconditional(gpu: Gpu, cond: Tensor): Tensor {
  if (cond.dtype !== 'f32' || cond.shape.length !== 3) throw new Error(`withUnconditional: cond must be f32 [B, P, C], got ${cond.dtype} [${cond.shape}]`);
  const [B, P, C] = cond.shape;
  const out = empty(gpu, [2 * B, P, C], 'f32');
  // Samples are outermost: the halves are two contiguous byte ranges.
  gpu.recorder.write(out.buffer, out.offset, new Uint8Array(cond.byteLength));
  gpu.recorder.copy(cond.buffer, cond.offset, out.buffer, out.offset + cond.byteLength, cond.byteLength);
  return out;
}
