// SD3's PatchEmbed: a p×p stride-p conv (= linear over patchified pixels) plus the centre crop
// of the stored sin-cos table `pos_embed.pos_embed` [1, S·S, C]. DICEPTION embeds the noisy and
// the condition latent with the same module and puts their tokens side by side.
import type { Gpu } from '../runtime/device.ts';
import { empty, fromArray, type Tensor } from '../runtime/tensor.ts';
import { readF32, type WeightReader } from '../runtime/weights.ts';
import type { TensorEntry } from '../runtime/safetensors.ts';
import { concatTokens, patchify } from '../kernels/layout.ts';
import { applyLinear, type Linear, type LinearLoader } from './linear-weights.ts';
import type { MMDiTConfig } from './mmdit-config.ts';

const ELEMENT_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };

export class PatchEmbed {
  /** The table's centre crop [h·w, C] (f32) per patch grid, read on first use. */
  private readonly crops = new Map<string, Tensor>();

  private constructor(
    private readonly cfg: MMDiTConfig,
    private readonly proj: Linear,
    private readonly pos: TensorEntry,
  ) {}

  static async load(l: LinearLoader, cfg: MMDiTConfig): Promise<PatchEmbed> {
    const { hidden: C, inChannels: Cin, patchSize: p, posEmbedMaxSize: S } = cfg;
    // The conv weight [C, Cin, p, p] flattens to [C, Cin·p·p] in patchify's (c, py, px) order.
    const weight = (await l.tensor('pos_embed.proj.weight', l.weightDtype, [C, Cin, p, p])).reshape([C, Cin * p * p]);
    const bias = await l.tensor('pos_embed.proj.bias', 'f32', [C]);
    const pos = posEntry(l.weights, S, C);
    return new PatchEmbed(cfg, { weight, bias }, pos);
  }

  /** Tokens of each latent [B, Cin, H, W], concatenated in order: [B, parts·(H/p)·(W/p), C] f32. */
  async embed(gpu: Gpu, latents: Tensor[]): Promise<Tensor> {
    const { patchSize: p } = this.cfg;
    const [B, , H, W] = latents[0].shape;
    const patches = await Promise.all(latents.map((x) => patchify(gpu, x, p)));
    const x = patches.length === 1 ? patches[0] : await concatTokens(gpu, patches);
    if (x !== patches[0]) for (const t of patches) t.dispose();
    const residual = await this.residual(gpu, B, latents.length, H / p, W / p);
    const out = await applyLinear(gpu, x, this.proj, { residual, outDtype: 'f32' });
    x.dispose();
    residual.dispose();
    return out;
  }

  /**
   * The crop repeated for every part and sample, [B, parts·h·w, C]: built per call by copies,
   * so only one crop per grid stays allocated (not one f32 copy per batch size and part).
   */
  private async residual(gpu: Gpu, B: number, parts: number, h: number, w: number): Promise<Tensor> {
    const crop = await this.crop(gpu, h, w);
    const out = empty(gpu, [B, parts * h * w, crop.shape[1]], 'f32', 'position residual');
    for (let r = 0; r < B * parts; r++) gpu.recorder.copy(crop.buffer, crop.offset, out.buffer, out.offset + r * crop.byteLength, crop.byteLength);
    return out;
  }

  /** The centre crop of the table for an h×w patch grid, [h·w, C]. */
  private async crop(gpu: Gpu, h: number, w: number): Promise<Tensor> {
    const key = `${h}x${w}`;
    const cached = this.crops.get(key);
    if (cached) return cached;
    const { posEmbedMaxSize: S, hidden: C } = this.cfg;
    const top = Math.floor((S - h) / 2);
    const left = Math.floor((S - w) / 2);
    const crop = new Float32Array(h * w * C);
    const rowBytes = ELEMENT_BYTES[this.pos.dtype] * C;
    // Read only the crop's rows of the (large) table: row i is table rows (top+i)·S + left ...
    for (let i = 0; i < h; i++) {
      const first = (top + i) * S + left;
      const part = { ...this.pos, offset: this.pos.offset + first * rowBytes, byteLength: w * rowBytes, shape: [w, C] };
      crop.set(await readF32(part), i * w * C);
    }
    const t = fromArray(gpu, crop, [h * w, C]);
    this.crops.set(key, t);
    return t;
  }

  dispose(): void {
    for (const t of this.crops.values()) t.dispose();
    this.crops.clear();
  }
}

function posEntry(r: WeightReader, S: number, C: number): TensorEntry {
  const name = 'pos_embed.pos_embed';
  const e = r.entry(name);
  const n = e.shape.reduce((a, b) => a * b, 1);
  if (n !== S * S * C || e.shape[e.shape.length - 1] !== C || !(e.dtype in ELEMENT_BYTES)) {
    throw new Error(`${e.source.name}: tensor '${name}' is ${e.dtype} [${e.shape}], expected a float [1, ${S * S}, ${C}] (pos_embed_max_size ${S})`);
  }
  return e;
}
