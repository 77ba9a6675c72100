// DICEPTION's transformer: SD3's MMDiT (diffusers 0.30.3 SD3Transformer2DModel) with the
// condition latent's tokens appended to the noisy ones and 5 point embeddings appended to the
// context. Sizes come from transformer/config.json; weight names are upstream's.
import type { Gpu } from '../runtime/device.ts';
import { Tensor } from '../runtime/tensor.ts';
import type { WeightReader } from '../runtime/weights.ts';
import { activation } from '../kernels/activation.ts';
import { attention } from '../kernels/attention.ts';
import { timestepEmbedding, timestepSinusoid } from '../kernels/embedding.ts';
import { concatTokens, sliceTokens, unpatchify } from '../kernels/layout.ts';
import { layerNorm } from '../kernels/norms.ts';
import type { Chunk } from '../kernels/types.ts';
import { applyLinear, LinearLoader, type Linear, type Q8Summary } from './linear-weights.ts';
import { isQ8TensorName, type WeightFormat } from './q8-weights.ts';
import { checkParams } from '../runtime/model-folder.ts';
import { transformerParams, type TransformerConfig } from './param-lists.ts';
import { parseMMDiTConfig, type MMDiTConfig } from './mmdit-config.ts';
import { PatchEmbed } from './patch-embed.ts';
import { dtypesFor, type Dtypes, type Precision } from './precision.ts';

/** LayerNorm epsilon of every norm in the blocks and norm_out. */
const EPS = 1e-6;

interface JointBlock {
  /** adaLN-Zero: linear(silu(temb)) -> shift, scale, gate (attention), shift, scale, gate (MLP). */
  norm1: Linear;
  /** adaLN-Zero like norm1, or in the last block AdaLayerNormContinuous (scale, shift). */
  norm1Context: Linear;
  toQ: Linear;
  toK: Linear;
  toV: Linear;
  addQ: Linear;
  addK: Linear;
  addV: Linear;
  toOut: Linear;
  ff1: Linear;
  ff2: Linear;
  /** Absent in the last block (context_pre_only): it only updates the image stream. */
  context?: { toAddOut: Linear; ff1: Linear; ff2: Linear };
}

/** Called with intermediates (temb, block<i>_hidden, block<i>_context); the tensor is freed after. */
export type Inspect = (name: string, t: Tensor) => Promise<void> | void;

export class MMDiT {
  private constructor(
    readonly gpu: Gpu,
    readonly config: MMDiTConfig,
    readonly precision: Precision,
    private readonly dtypes: Dtypes,
    private readonly loader: LinearLoader,
    private readonly patchEmbed: PatchEmbed,
    private readonly timeEmbed: { dim: number; l1: Linear; l2: Linear },
    private readonly textEmbed: { l1: Linear; l2: Linear },
    private readonly contextEmbedder: Linear,
    private readonly blocks: JointBlock[],
    private readonly normOut: Linear,
    private readonly projOut: Linear,
  ) {}

  /**
   * Uploads the weights (`weights` is the transformer's state dict: the SD3 folder overlaid with
   * the .pth's `transformer.*`). `config` is transformer/config.json as parsed JSON.
   * `format` 'q8' quantises the block linears at load (a pre-quantised file's are used as they are).
   */
  static async load(gpu: Gpu, weights: WeightReader, config: Record<string, unknown>, precision: Precision, format: WeightFormat = 'f16'): Promise<MMDiT> {
    const cfg = parseMMDiTConfig(config);
    // One error listing every missing, unexpected or mis-shaped tensor before any upload
    // (a pre-quantised file's int8 tensors are checked as their linear loads).
    checkParams(weights, transformerParams(config as unknown as TransformerConfig), { ignore: isQ8TensorName });
    const dtypes = dtypesFor(gpu, precision);
    const l = new LinearLoader(gpu, weights, dtypes.weight, format);
    try {
      const C = cfg.hidden;
      const patchEmbed = await PatchEmbed.load(l, cfg);
      // The sinusoid width is whatever linear_1 takes (256 in SD3).
      const tdim = weights.entry('time_text_embed.timestep_embedder.linear_1.weight').shape[1];
      const timeEmbed = {
        dim: tdim,
        l1: await l.linear('time_text_embed.timestep_embedder.linear_1', C, tdim),
        l2: await l.linear('time_text_embed.timestep_embedder.linear_2', C, C),
      };
      const textEmbed = {
        l1: await l.linear('time_text_embed.text_embedder.linear_1', C, cfg.pooledProjectionDim),
        l2: await l.linear('time_text_embed.text_embedder.linear_2', C, C),
      };
      const contextEmbedder = await l.linear('context_embedder', C, cfg.jointAttentionDim);
      const blocks: JointBlock[] = [];
      for (let i = 0; i < cfg.layers; i++) blocks.push(await loadBlock(l, `transformer_blocks.${i}`, C, i === cfg.layers - 1));
      const normOut = await l.linear('norm_out.linear', 2 * C, C);
      const projOut = await l.linear('proj_out', cfg.patchSize * cfg.patchSize * cfg.outChannels, C);
      return new MMDiT(gpu, cfg, precision, dtypes, l, patchEmbed, timeEmbed, textEmbed, contextEmbedder, blocks, normOut, projOut);
    } catch (e) {
      l.dispose();
      throw e;
    }
  }

  /**
   * One velocity prediction. hidden, cond [B, Cin, H, W]; pointEmbeds [B, P, C] (f32);
   * timestep σ·1000 per sample (or its features, see writeTimestep); promptEmbeds [B, T, joint_attention_dim]; pooled
   * [B, pooled_projection_dim]. Returns [B, Cout, H, W] f32. Inputs are not consumed.
   */
  async forward(
    hidden: Tensor,
    cond: Tensor,
    pointEmbeds: Tensor,
    timestep: ArrayLike<number> | Tensor,
    promptEmbeds: Tensor,
    pooled: Tensor,
    inspect?: Inspect,
  ): Promise<Tensor> {
    const gpu = this.gpu;
    const { patchSize: p } = this.config;
    const [, , H, W] = hidden.shape;
    this.checkInputs(hidden, cond, pointEmbeds, timestep, promptEmbeds, pooled);
    const imageTokens = (H / p) * (W / p);

    const temb = await this.conditioning(gpu, timestep, pooled);
    await inspect?.('temb', temb);
    // Every adaLN linear takes silu(temb).
    const cond0 = await activation(gpu, temb, 'silu');
    temb.dispose();

    let x = await this.patchEmbed.embed(gpu, [hidden, cond]);
    const prompt = await applyLinear(gpu, promptEmbeds, this.contextEmbedder, { outDtype: 'f32' });
    let c: Tensor | undefined = await concatTokens(gpu, [prompt, pointEmbeds]);
    prompt.dispose();

    for (let i = 0; i < this.blocks.length; i++) {
      [x, c] = await this.block(gpu, this.blocks[i], x, c!, cond0);
      if (inspect) {
        await inspect(`block${i}_hidden`, x);
        if (c) await inspect(`block${i}_context`, c);
      }
    }
    c?.dispose();

    // Only the noisy latent's tokens are predicted; norm_out and proj_out are per token.
    const noisy = await sliceTokens(gpu, x, 0, imageTokens);
    x.dispose();
    const mod = await applyLinear(gpu, cond0, this.normOut, { outDtype: 'f32' });
    cond0.dispose();
    // AdaLayerNormContinuous: (scale, shift) in that order.
    const n = await layerNorm(gpu, noisy, { eps: EPS, scale: chunk(mod, 0, 2), shift: chunk(mod, 1, 2), outDtype: this.dtypes.act });
    noisy.dispose();
    mod.dispose();
    const out = await applyLinear(gpu, n, this.projOut, { outDtype: 'f32' });
    n.dispose();
    const img = await unpatchify(gpu, out, H / p, W / p, p, this.config.outChannels);
    out.dispose();
    return img;
  }

  /** Width of the timestep features: forward() takes them as a [B, timestepDim] f32 tensor too. */
  get timestepDim(): number {
    return this.timeEmbed.dim;
  }

  /**
   * Writes the timestep features of σ·1000 per sample into `into` ([B, timestepDim] f32): a
   * denoising loop rewrites one tensor per step, so that the step it recorded reads the new
   * timestep when replayed (replay.ts).
   */
  writeTimestep(into: Tensor, timestep: ArrayLike<number>): void {
    const { dim } = this.timeEmbed;
    if (into.dtype !== 'f32' || into.shape.join() !== `${timestep.length},${dim}`) {
      throw new Error(`MMDiT.writeTimestep: tensor [${into.shape}] ${into.dtype} given for ${timestep.length} timesteps, expected [${timestep.length}, ${dim}] f32`);
    }
    const values = timestepSinusoid(Float32Array.from(timestep), dim);
    this.gpu.recorder.write(into.buffer, into.offset, new Uint8Array(values.buffer));
  }

  /** temb = TimestepEmbedding(sinusoid(t)) + TextProjection(pooled), [B, C] f32. */
  private async conditioning(gpu: Gpu, timestep: ArrayLike<number> | Tensor, pooled: Tensor): Promise<Tensor> {
    const { dim, l1, l2 } = this.timeEmbed;
    const sinusoid = timestep instanceof Tensor ? timestep : await timestepEmbedding(gpu, Float32Array.from(timestep), dim);
    const t1 = await applyLinear(gpu, sinusoid, l1, { act: 'silu', outDtype: 'f32' });
    if (sinusoid !== timestep) sinusoid.dispose();
    const t2 = await applyLinear(gpu, t1, l2, { outDtype: 'f32' });
    t1.dispose();
    const p1 = await applyLinear(gpu, pooled, this.textEmbed.l1, { act: 'silu', outDtype: 'f32' });
    const temb = await applyLinear(gpu, p1, this.textEmbed.l2, { residual: t2, outDtype: 'f32' });
    p1.dispose();
    t2.dispose();
    return temb;
  }

  /** One JointTransformerBlock. Consumes x and c; returns the new streams (c undefined after the last block). */
  private async block(gpu: Gpu, b: JointBlock, x: Tensor, c: Tensor, cond0: Tensor): Promise<[Tensor, Tensor | undefined]> {
    const act = this.dtypes.act;
    const modX = await applyLinear(gpu, cond0, b.norm1, { outDtype: 'f32' });
    const modC = await applyLinear(gpu, cond0, b.norm1Context, { outDtype: 'f32' });
    const nx = await layerNorm(gpu, x, { eps: EPS, shift: chunk(modX, 0, 6), scale: chunk(modX, 1, 6), outDtype: act });
    const nc = b.context
      ? await layerNorm(gpu, c, { eps: EPS, shift: chunk(modC, 0, 6), scale: chunk(modC, 1, 6), outDtype: act })
      : await layerNorm(gpu, c, { eps: EPS, scale: chunk(modC, 0, 2), shift: chunk(modC, 1, 2), outDtype: act });

    // Joint attention over [image tokens, context tokens], separate projections per stream.
    const joint = async (img: Linear, ctx: Linear) => {
      const a = await applyLinear(gpu, nx, img);
      const e = await applyLinear(gpu, nc, ctx);
      const t = await concatTokens(gpu, [a, e]);
      a.dispose();
      e.dispose();
      return t;
    };
    const q = await joint(b.toQ, b.addQ);
    const k = await joint(b.toK, b.addK);
    const v = await joint(b.toV, b.addV);
    nx.dispose();
    nc.dispose();
    const attn = await attention(gpu, q, k, v, { heads: this.config.heads });
    q.dispose();
    k.dispose();
    v.dispose();
    const tx = x.shape[1];
    const ax = await sliceTokens(gpu, attn, 0, tx);
    const ac = b.context ? await sliceTokens(gpu, attn, tx, c.shape[1]) : undefined;
    attn.dispose();

    const x1 = await this.gatedMlpResidual(gpu, x, ax, b.toOut, b.ff1, b.ff2, modX);
    let c1: Tensor | undefined;
    if (b.context) c1 = await this.gatedMlpResidual(gpu, c, ac!, b.context.toAddOut, b.context.ff1, b.context.ff2, modC);
    c.dispose();
    modX.dispose();
    modC.dispose();
    return [x1, c1];
  }

  /**
   * The rest of a stream's block after attention: s += gate_msa·out(a);
   * s += gate_mlp·ff(LN(s)·(1+scale_mlp)+shift_mlp). Consumes s and a.
   */
  private async gatedMlpResidual(gpu: Gpu, s: Tensor, a: Tensor, out: Linear, ff1: Linear, ff2: Linear, mod: Tensor): Promise<Tensor> {
    const s1 = await applyLinear(gpu, a, out, { residual: s, gate: chunk(mod, 2, 6), outDtype: 'f32' });
    a.dispose();
    s.dispose();
    const n = await layerNorm(gpu, s1, { eps: EPS, shift: chunk(mod, 3, 6), scale: chunk(mod, 4, 6), outDtype: this.dtypes.act });
    const h = await applyLinear(gpu, n, ff1, { act: 'gelu_tanh' });
    n.dispose();
    const s2 = await applyLinear(gpu, h, ff2, { residual: s1, gate: chunk(mod, 5, 6), outDtype: 'f32' });
    h.dispose();
    s1.dispose();
    return s2;
  }

  private checkInputs(hidden: Tensor, cond: Tensor, pe: Tensor, timestep: ArrayLike<number> | Tensor, prompt: Tensor, pooled: Tensor): void {
    const { patchSize: p, inChannels, posEmbedMaxSize: S, hidden: C, jointAttentionDim, pooledProjectionDim } = this.config;
    const fail = (what: string) => {
      throw new Error(`MMDiT.forward: ${what}`);
    };
    if (hidden.shape.length !== 4 || hidden.shape[1] !== inChannels) fail(`hidden must be [B, ${inChannels}, H, W], got [${hidden.shape}]`);
    const [B, , H, W] = hidden.shape;
    if (H % p || W % p) fail(`latent size ${H}x${W} is not a multiple of the patch size ${p}`);
    if (H / p > S || W / p > S) fail(`latent size ${H}x${W} exceeds pos_embed_max_size ${S} patches of ${p}`);
    if (cond.shape.join() !== hidden.shape.join()) fail(`cond [${cond.shape}] must match hidden [${hidden.shape}]`);
    if (pe.shape.length !== 3 || pe.shape[0] !== B || pe.shape[2] !== C) fail(`pointEmbeds must be [${B}, P, ${C}], got [${pe.shape}]`);
    if (pe.dtype !== 'f32') fail(`pointEmbeds must be f32, got ${pe.dtype}`);
    if (timestep instanceof Tensor) {
      if (timestep.shape.join() !== `${B},${this.timeEmbed.dim}` || timestep.dtype !== 'f32') fail(`timestep features must be [${B}, ${this.timeEmbed.dim}] f32, got [${timestep.shape}] ${timestep.dtype}`);
    } else if (timestep.length !== B) fail(`${timestep.length} timesteps for a batch of ${B}`);
    if (prompt.shape.length !== 3 || prompt.shape[0] !== B || prompt.shape[2] !== jointAttentionDim) {
      fail(`promptEmbeds must be [${B}, T, ${jointAttentionDim}], got [${prompt.shape}]`);
    }
    if (pooled.shape.length !== 2 || pooled.shape[0] !== B || pooled.shape[1] !== pooledProjectionDim) {
      fail(`pooled must be [${B}, ${pooledProjectionDim}], got [${pooled.shape}]`);
    }
  }

  /** What this load holds in 8 bits (undefined: nothing). */
  get q8(): Q8Summary | undefined {
    return this.loader.q8;
  }

  dispose(): void {
    this.patchEmbed.dispose();
    this.loader.dispose();
  }
}

function chunk(tensor: Tensor, i: number, chunks: number): Chunk {
  return { tensor, chunk: i, chunks };
}

async function loadBlock(l: LinearLoader, name: string, C: number, contextPreOnly: boolean): Promise<JointBlock> {
  const lin = (n: string, out = C, inp = C) => l.linear(`${name}.${n}`, out, inp);
  const ffHidden = l.weights.entry(`${name}.ff.net.0.proj.weight`).shape[0];
  return {
    norm1: await lin('norm1.linear', 6 * C),
    norm1Context: await lin('norm1_context.linear', (contextPreOnly ? 2 : 6) * C),
    toQ: await lin('attn.to_q'),
    toK: await lin('attn.to_k'),
    toV: await lin('attn.to_v'),
    addQ: await lin('attn.add_q_proj'),
    addK: await lin('attn.add_k_proj'),
    addV: await lin('attn.add_v_proj'),
    toOut: await lin('attn.to_out.0'),
    ff1: await lin('ff.net.0.proj', ffHidden),
    ff2: await lin('ff.net.2', C, ffHidden),
    context: contextPreOnly
      ? undefined
      : {
          toAddOut: await lin('attn.to_add_out'),
          ff1: await lin('ff_context.net.0.proj', ffHidden),
          ff2: await lin('ff_context.net.2', C, ffHidden),
        },
  };
}
