// SD3's AutoencoderKL (diffusers 0.30.3 semantics): Encoder/Decoder of ResNet blocks with
// GroupNorm+SiLU, stride-2 downsampling with (0,1,0,1) padding, nearest ×2 upsampling (fused
// into the conv after it) and a mid block with single-head spatial self-attention. Activations
// are channels-last (NHWC) inside, so every full-resolution map can be processed in row bands
// within the binding limit; images and latents at the API are NCHW like upstream's.
import { conv2d, disposeConv2d, loadConv2d, type Conv2dWeight } from '../kernels/conv2d.ts';
import { conv1x1OverInput, overInputProblem } from '../kernels/conv1x1-over-input.ts';
import { groupNorm, groupNormAffine, type GroupNormParams } from '../kernels/groupnorm.ts';
import { linear } from '../kernels/matmul.ts';
import { attention } from '../kernels/attention.ts';
import { vaeParams } from './param-lists.ts';
import { isCpuAdapter, type Gpu } from '../runtime/device.ts';
import { checkParams, componentWeights } from '../runtime/model-folder.ts';
import { platform } from '../runtime/platform.ts';
import { empty, fromArray, type DType, type Tensor } from '../runtime/tensor.ts';
import { openWeights, readJson, uploadWeight, type WeightReader } from '../runtime/weights.ts';
import type { VaeConfig } from './param-lists.ts';

import type { Precision } from './pipeline-types.ts';
export type { VaeConfig };


/** diffusers builds every VAE GroupNorm with eps 1e-6 (resnet_eps, conv_norm_out, attention). */
const NORM_EPS = 1e-6;
const LOGVAR_MIN = -30;
const LOGVAR_MAX = 20;

export function checkConfig(path: string, c: VaeConfig): void {
  const problems: string[] = [];
  if (!Array.isArray(c.block_out_channels) || !c.block_out_channels.length) problems.push('block_out_channels missing');
  for (const k of ['in_channels', 'out_channels', 'layers_per_block', 'latent_channels', 'norm_num_groups', 'scaling_factor'] as const) {
    if (typeof c[k] !== 'number') problems.push(`${k} missing`);
  }
  if (c.act_fn && c.act_fn !== 'silu') problems.push(`act_fn '${c.act_fn}' (only silu is implemented)`);
  if (c.use_quant_conv || c.use_post_quant_conv) problems.push('quant_conv/post_quant_conv (SD3 has none; not implemented)');
  if (problems.length) throw new Error(`${path}: unsupported VAE config: ${problems.join('; ')}`);
}

class Loader {
  constructor(
    readonly gpu: Gpu,
    readonly r: WeightReader,
    readonly dtype: DType,
    readonly groups: number,
  ) {}
  conv(name: string): Promise<Conv2dWeight> {
    return loadConv2d(this.gpu, this.r, name, this.dtype);
  }
  async norm(name: string): Promise<GroupNormParams> {
    // Norm parameters are tiny: f32 keeps them exact in every precision.
    const [gamma, beta] = await Promise.all([uploadWeight(this.gpu, this.r, `${name}.weight`, 'f32'), uploadWeight(this.gpu, this.r, `${name}.bias`, 'f32')]);
    return { gamma, beta, groups: this.groups, eps: NORM_EPS };
  }
  async linear(name: string): Promise<{ w: Tensor; b: Tensor }> {
    return { w: await uploadWeight(this.gpu, this.r, `${name}.weight`, this.dtype), b: await uploadWeight(this.gpu, this.r, `${name}.bias`, this.dtype) };
  }
}

/**
 * Destroys the pool's cached buffers: freed maps of another resolution or width rarely fit the
 * next allocations, and at 768² they would add up to gigabytes. Recorded work is submitted
 * first (it may still use the buffers).
 */
function releaseCache(gpu: Gpu): void {
  gpu.recorder.flush();
  gpu.pool.trim();
}

function disposeNorm(n: GroupNormParams): void {
  n.gamma.dispose();
  n.beta.dispose();
}

const fusion = new WeakMap<Gpu, boolean>();

/**
 * Whether resnets apply GroupNorm+SiLU in conv1's read where x is still needed (one map fewer
 * alive) instead of normalising into a map of its own. Default: not on CPU adapters, where the
 * fused conv measured 1.4-1.6× the separate pass + conv (bench/results/2026-12-01-vae-lavapipe.json:
 * it recomputes SiLU per tap and output-channel group), except in resnets that narrow the
 * channels, which fuse on every adapter (see ResnetBlock.forward). `on` false turns fusion off
 * there too; undefined restores the default.
 */
export function setNormFusion(gpu: Gpu, on: boolean | undefined): void {
  if (on === undefined) fusion.delete(gpu);
  else fusion.set(gpu, on);
}

function fusesNorm(gpu: Gpu): boolean {
  return fusion.get(gpu) ?? !isCpuAdapter(gpu.caps);
}

/** conv(silu(groupNorm(x))) with the norm and SiLU applied as the conv reads x (x is kept). */
async function normConv(gpu: Gpu, x: Tensor, norm: GroupNormParams, conv: Conv2dWeight): Promise<Tensor> {
  const aff = await groupNormAffine(gpu, x, norm);
  const y = await conv2d(gpu, x, conv, { inNorm: aff });
  aff.dispose();
  return y;
}

/** ResnetBlock2D: x + conv2(silu(norm2(conv1(silu(norm1(x)))))), a 1×1 conv on x when channels change. */
class ResnetBlock {
  private constructor(
    readonly norm1: GroupNormParams,
    readonly conv1: Conv2dWeight,
    readonly norm2: GroupNormParams,
    readonly conv2: Conv2dWeight,
    readonly shortcut: Conv2dWeight | undefined,
  ) {}

  static async load(l: Loader, p: string): Promise<ResnetBlock> {
    const shortcut = l.r.has(`${p}.conv_shortcut.weight`) ? await l.conv(`${p}.conv_shortcut`) : undefined;
    return new ResnetBlock(await l.norm(`${p}.norm1`), await l.conv(`${p}.conv1`), await l.norm(`${p}.norm2`), await l.conv(`${p}.conv2`), shortcut);
  }

  /**
   * Consumes x. Norms run in place where their input is not needed again; conv2 writes over its
   * residual. A resnet whose channels narrow (cin > cout: the decoder's first resnet of a level,
   * where x is as large as two output maps, 2C) holds 3C: conv1 applies norm1+SiLU as it reads
   * x (x + t), the 1×1 shortcut is written over x itself (conv1x1-over-input.ts), conv2 over the
   * shortcut, and the result is copied into a buffer of its own size (else the 2C buffer would
   * travel on as the next resnet's x). The old order (shortcut beside x, norm1 in place on x,
   * conv1: x, shortcut and t alive, 4C) set the decode's peak. On lavapipe the fused conv1 costs
   * 1.3-1.7× a norm pass + conv (bench/results/2026-12-01-vae-lavapipe.json): one conv per
   * level, for one map fewer at the decode's peak (768² f16: 737 -> 611 MiB). With `setNormFusion(gpu, false)` (or x a
   * view) such a resnet keeps the old order. Other shortcut resnets (the encoder's, widening)
   * run the shortcut first and normalise x in place; resnets without one fuse per `fusesNorm`
   * (x and t alive) or normalise into a map of their own (x, h and t). Dropout is a no-op at
   * inference.
   */
  async forward(gpu: Gpu, x: Tensor): Promise<Tensor> {
    const c = this.shortcut;
    const overInput = c !== undefined && c.cout < c.cin && fusion.get(gpu) !== false && !overInputProblem(gpu, x, c);
    let t: Tensor;
    let skip = x;
    if (c && overInput) {
      t = await normConv(gpu, x, this.norm1, this.conv1);
      skip = await conv1x1OverInput(gpu, x, c);
    } else if (c) {
      // The 1×1 shortcut runs first, so x itself is then free to normalise in place.
      skip = await conv2d(gpu, x, c);
      t = await conv2d(gpu, await groupNorm(gpu, x, this.norm1, { silu: true, inPlace: true }), this.conv1);
      x.dispose();
      // x (another width than every later map) is gone: nothing later can reuse its buffer.
      releaseCache(gpu);
    } else if (fusesNorm(gpu)) {
      t = await normConv(gpu, x, this.norm1, this.conv1);
    } else {
      const h = await groupNorm(gpu, x, this.norm1, { silu: true });
      t = await conv2d(gpu, h, this.conv1);
      h.dispose();
    }
    await groupNorm(gpu, t, this.norm2, { silu: true, inPlace: true });
    const out = await conv2d(gpu, t, this.conv2, { residual: skip, residualInPlace: true });
    t.dispose();
    if (!overInput) return out;
    // The copy takes t's buffer (same size); x's 2C buffer then fits nothing later.
    const own = empty(gpu, out.shape, out.dtype);
    gpu.recorder.copy(out.buffer, out.offset, own.buffer, own.offset, Math.ceil(out.byteLength / 4) * 4);
    out.dispose();
    releaseCache(gpu);
    return own;
  }

  dispose(): void {
    [this.norm1, this.norm2].forEach(disposeNorm);
    [this.conv1, this.conv2, ...(this.shortcut ? [this.shortcut] : [])].forEach(disposeConv2d);
  }
}

/** The VAE's Attention: GroupNorm, single-head self-attention over pixels, output projection + x. */
class SpatialAttention {
  private constructor(
    readonly norm: GroupNormParams,
    readonly q: { w: Tensor; b: Tensor },
    readonly k: { w: Tensor; b: Tensor },
    readonly v: { w: Tensor; b: Tensor },
    readonly out: { w: Tensor; b: Tensor },
  ) {}

  static async load(l: Loader, p: string): Promise<SpatialAttention> {
    return new SpatialAttention(await l.norm(`${p}.group_norm`), await l.linear(`${p}.to_q`), await l.linear(`${p}.to_k`), await l.linear(`${p}.to_v`), await l.linear(`${p}.to_out.0`));
  }

  /** Consumes x [B, H, W, C]: NHWC is already the token layout [B, H·W, C]. */
  async forward(gpu: Gpu, x: Tensor): Promise<Tensor> {
    const [B, H, W, C] = x.shape;
    const n = await groupNorm(gpu, x, this.norm);
    const [q, k, v] = await Promise.all([this.q, this.k, this.v].map((p) => linear(gpu, n, p.w, p.b)));
    n.dispose();
    const tokens = (t: Tensor) => t.reshape([B, H * W, C]);
    const a = await attention(gpu, tokens(q), tokens(k), tokens(v), { heads: 1 });
    [q, k, v].forEach((t) => t.dispose());
    const y = await linear(gpu, a.reshape([B, H, W, C]), this.out.w, this.out.b, { residual: x });
    a.dispose();
    x.dispose();
    return y;
  }

  dispose(): void {
    disposeNorm(this.norm);
    for (const p of [this.q, this.k, this.v, this.out]) [p.w, p.b].forEach((t) => t.dispose());
  }
}

/** UNetMidBlock2D: resnet, attention, resnet. */
class MidBlock {
  private constructor(
    readonly resnets: ResnetBlock[],
    readonly attn: SpatialAttention | undefined,
  ) {}

  static async load(l: Loader, p: string, withAttention: boolean): Promise<MidBlock> {
    const attn = withAttention ? await SpatialAttention.load(l, `${p}.attentions.0`) : undefined;
    return new MidBlock([await ResnetBlock.load(l, `${p}.resnets.0`), await ResnetBlock.load(l, `${p}.resnets.1`)], attn);
  }

  async forward(gpu: Gpu, x: Tensor): Promise<Tensor> {
    let h = await this.resnets[0].forward(gpu, x);
    if (this.attn) h = await this.attn.forward(gpu, h);
    return this.resnets[1].forward(gpu, h);
  }

  dispose(): void {
    this.resnets.forEach((r) => r.dispose());
    this.attn?.dispose();
  }
}

/** A down (encoder) or up (decoder) block: resnets, then an optional resampling conv. */
interface Stage {
  resnets: ResnetBlock[];
  resample?: Conv2dWeight;
}

async function loadStage(l: Loader, p: string, layers: number, resampler: string | undefined): Promise<Stage> {
  const resnets: ResnetBlock[] = [];
  for (let j = 0; j < layers; j++) resnets.push(await ResnetBlock.load(l, `${p}.resnets.${j}`));
  return { resnets, resample: resampler ? await l.conv(`${p}.${resampler}.0.conv`) : undefined };
}

function disposeStage(s: Stage): void {
  s.resnets.forEach((r) => r.dispose());
  if (s.resample) disposeConv2d(s.resample);
}

export interface DecodeOptions {
  /** The latent is scaled ((z − shift)·scale, what the transformer sees); default true. */
  scaled?: boolean;
  /** 'image01': clamp(x/2 + 0.5, 0, 1) (default); 'raw': the decoder's output in about [-1, 1]. */
  output?: 'image01' | 'raw';
}

export class Vae {
  private constructor(
    readonly gpu: Gpu,
    readonly config: VaeConfig,
    /** Storage dtype of activations (f16 only where shaders can write it). */
    readonly act: DType,
    private readonly enc: { convIn: Conv2dWeight; down: Stage[]; mid: MidBlock; normOut: GroupNormParams; convOut: Conv2dWeight },
    private readonly dec: { convIn: Conv2dWeight; mid: MidBlock; up: Stage[]; normOut: GroupNormParams; convOut: Conv2dWeight },
  ) {}

  /**
   * Loads `dir` (the vae/ folder: config.json + diffusion_pytorch_model.safetensors). `act`: the
   * activation dtype when the caller chose one (precision.ts vaeActivations: force_upcast).
   */
  static async load(gpu: Gpu, dir: string, precision: Precision, act?: DType): Promise<Vae> {
    const p = platform();
    const configPath = p.join(dir, 'config.json');
    const config = await readJson<VaeConfig>(configPath);
    checkConfig(configPath, config);
    const weights = await componentWeights(dir);
    const r = await openWeights(weights);
    try {
      return await Vae.fromWeights(gpu, config, r, precision, act);
    } finally {
      await r.close?.();
    }
  }

  static async fromWeights(gpu: Gpu, config: VaeConfig, r: WeightReader, precision: Precision, actDtype?: DType): Promise<Vae> {
    checkConfig(r.name, config);
    // Every missing, unexpected or mis-shaped tensor in one error, before anything is uploaded.
    checkParams(r, vaeParams(config));
    const l = new Loader(gpu, r, precision, config.norm_num_groups);
    const ch = config.block_out_channels;
    const n = ch.length;
    const attn = config.mid_block_add_attention ?? true;
    const down: Stage[] = [];
    for (let i = 0; i < n; i++) down.push(await loadStage(l, `encoder.down_blocks.${i}`, config.layers_per_block, i < n - 1 ? 'downsamplers' : undefined));
    const enc = {
      convIn: await l.conv('encoder.conv_in'),
      down,
      mid: await MidBlock.load(l, 'encoder.mid_block', attn),
      normOut: await l.norm('encoder.conv_norm_out'),
      convOut: await l.conv('encoder.conv_out'),
    };
    const up: Stage[] = [];
    for (let i = 0; i < n; i++) up.push(await loadStage(l, `decoder.up_blocks.${i}`, config.layers_per_block + 1, i < n - 1 ? 'upsamplers' : undefined));
    const dec = {
      convIn: await l.conv('decoder.conv_in'),
      mid: await MidBlock.load(l, 'decoder.mid_block', attn),
      up,
      normOut: await l.norm('decoder.conv_norm_out'),
      convOut: await l.conv('decoder.conv_out'),
    };
    if (actDtype === 'f16' && !gpu.caps.f16) throw new Error('Vae: f16 activations need shader-f16 on this adapter');
    const act: DType = actDtype ?? (precision === 'f16' && gpu.caps.f16 ? 'f16' : 'f32');
    return new Vae(gpu, config, act, enc, dec);
  }

  /** image [B, 3, H, W] in [-1, 1] (H, W multiples of 2^(levels−1)) -> posterior moments [B, L, H/8, W/8], logvar clamped. */
  async encode(image: Tensor): Promise<{ mean: Tensor; logvar: Tensor }> {
    const { gpu, enc, config } = this;
    if (image.shape.length !== 4 || image.shape[1] !== config.in_channels) {
      throw new Error(`Vae.encode: image must be [B, ${config.in_channels}, H, W], got [${image.shape}]`);
    }
    let h = await conv2d(gpu, image, enc.convIn, { inLayout: 'nchw', outDtype: this.act });
    for (const stage of enc.down) {
      for (const r of stage.resnets) {
        h = await r.forward(gpu, h);
        releaseCache(gpu);
      }
      if (stage.resample) {
        const d = await conv2d(gpu, h, stage.resample, { stride: 2, pad: [0, 1, 0, 1] });
        h.dispose();
        h = d;
      }
      releaseCache(gpu);
    }
    h = await enc.mid.forward(gpu, h);
    const n = await groupNorm(gpu, h, enc.normOut, { silu: true, inPlace: true });
    const moments = await conv2d(gpu, n, enc.convOut, { outLayout: 'nchw', outDtype: 'f32' });
    n.dispose();
    // Splitting [B, 2L, h, w] into mean and logvar is a small copy: done on the CPU.
    const [B, , hh, ww] = moments.shape;
    const L = config.latent_channels;
    const m = await moments.read();
    moments.dispose();
    const plane = L * hh * ww;
    const mean = new Float32Array(B * plane);
    const logvar = new Float32Array(B * plane);
    for (let b = 0; b < B; b++) {
      mean.set(m.subarray(2 * b * plane, (2 * b + 1) * plane), b * plane);
      const lv = m.subarray((2 * b + 1) * plane, (2 * b + 2) * plane);
      for (let i = 0; i < plane; i++) logvar[b * plane + i] = Math.min(LOGVAR_MAX, Math.max(LOGVAR_MIN, lv[i]));
    }
    const shape = [B, L, hh, ww];
    return { mean: fromArray(gpu, mean, shape), logvar: fromArray(gpu, logvar, shape) };
  }

  /** The scaled latent (mean + e^{logvar/2}·eps − shift)·scale for given noise eps (same shape). */
  async latentFromMoments(mean: Tensor, logvar: Tensor, eps: Tensor): Promise<Tensor> {
    for (const [n, t] of [['logvar', logvar], ['eps', eps]] as const) {
      if (t.numel !== mean.numel) throw new Error(`Vae.latentFromMoments: ${n} is [${t.shape}], mean is [${mean.shape}]`);
    }
    const [m, lv, e] = await Promise.all([mean.read(), logvar.read(), eps.read()]);
    const { scaling_factor: s, shift_factor: sh = 0 } = this.config;
    const z = m.map((v, i) => (v + Math.exp(lv[i] / 2) * e[i] - sh) * s);
    return fromArray(this.gpu, z, mean.shape);
  }

  /** latent [B, L, h, w] -> image [B, 3, 8h, 8w] (f32, NCHW); see DecodeOptions. */
  async decode(latent: Tensor, o: DecodeOptions = {}): Promise<Tensor> {
    const { gpu, dec, config } = this;
    if (latent.shape.length !== 4 || latent.shape[1] !== config.latent_channels) {
      throw new Error(`Vae.decode: latent must be [B, ${config.latent_channels}, h, w], got [${latent.shape}]`);
    }
    // z = latent/scale + shift, fused into conv_in's input (padding stays zero, as upstream).
    const unscale: [number, number] | undefined = o.scaled === false ? undefined : [1 / config.scaling_factor, config.shift_factor ?? 0];
    let h = await conv2d(gpu, latent, dec.convIn, { inLayout: 'nchw', inAffine: unscale, outDtype: this.act });
    h = await dec.mid.forward(gpu, h);
    for (const stage of dec.up) {
      for (const r of stage.resnets) {
        h = await r.forward(gpu, h);
        releaseCache(gpu);
      }
      if (stage.resample) {
        // Nearest 2× upsampling fused into the conv: the upsampled map is never stored.
        const u = await conv2d(gpu, h, stage.resample, { upsample: 2 });
        h.dispose();
        h = u;
      }
      releaseCache(gpu);
    }
    const n = await groupNorm(gpu, h, dec.normOut, { silu: true, inPlace: true });
    const image01 = (o.output ?? 'image01') === 'image01';
    const out = await conv2d(gpu, n, dec.convOut, {
      outLayout: 'nchw',
      outDtype: 'f32',
      ...(image01 ? { outAffine: [0.5, 0.5] as [number, number], clamp: [0, 1] as [number, number] } : {}),
    });
    n.dispose();
    return out;
  }

  dispose(): void {
    const { enc, dec } = this;
    [enc.convIn, enc.convOut, dec.convIn, dec.convOut].forEach(disposeConv2d);
    [enc.normOut, dec.normOut].forEach(disposeNorm);
    [...enc.down, ...dec.up].forEach(disposeStage);
    enc.mid.dispose();
    dec.mid.dispose();
  }
}
