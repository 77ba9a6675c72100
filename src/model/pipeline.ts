// The DICEPTION pipeline: prompts → embeddings (cache or text encoders), image → VAE latent,
// MMDiT flow-matching denoising with classifier-free guidance, VAE decode. Browser-safe: every
// file is read through the platform, weights are streamed to the GPU tensor by tensor.
import { getDevice, type Gpu } from '../runtime/device.ts';
import { openModelFolder, SD3_NEEDS, type ModelFolder } from '../runtime/model-folder.ts';
import { platform } from '../runtime/platform.ts';
import { Rng } from '../runtime/random.ts';
import { BYTES, empty, fromArray, numel, type Tensor } from '../runtime/tensor.ts';
import { closeOnError, openWeights, overlay, prefixed, readJson, tensorsKeptF32, type WeightReader } from '../runtime/weights.ts';
import { ActivationChecks } from './finite-check.ts';
import { MMDiT } from './mmdit.ts';
import { parseMMDiTConfig } from './mmdit-config.ts';
import type { Pipeline, PipelineFactory, PipelineOptions, PipelineRequest, PipelineResult, Precision, ProgressFn, StageTiming } from './pipeline-types.ts';
import { PointEmbedder, withUnconditional } from './point-embedder.ts';
import { estimatePeak, memoryBudget, preflight, type ModelShapes, type RequestShape } from './preflight.ts';
import { dtypesFor, vaeActivations, type VaeActivations } from './precision.ts';
import { q8Bytes, type Q8Summary } from './q8-weights.ts';
import { encodePrompts } from './prompt.ts';
import { PromptCache } from './prompt-cache.ts';
import { StepReplay } from './replay.ts';
import { FlowMatchEuler, guide, parseSchedulerConfig, type FlowMatchConfig } from './scheduler.ts';
import { Vae, type VaeConfig } from './vae.ts';

/** What the denoising loop takes; every tensor stays owned by the caller. */
export interface DenoiseInputs {
  /** Initial latent x_T [B, C, h, w]. */
  noise: Tensor;
  /** The image's scaled VAE latent [B, C, h, w]. */
  cond: Tensor;
  /** Point embeddings of the conditional half [B, 5, hidden] (f32). */
  points: Tensor;
  /** [B, T, joint_attention_dim] and [B, pooled_projection_dim]. */
  embeds: Tensor;
  pooled: Tensor;
  /** The negative prompt's, needed when guidance > 1. */
  negEmbeds?: Tensor;
  negPooled?: Tensor;
  steps: number;
  guidance: number;
  onStep?: (done: number, total: number) => void;
  /** Checked after every step: an aborted run stops there, having freed its own tensors. */
  signal?: AbortSignal;
  /** The request's finite-activation checks: each step's latent is checked on the GPU. */
  checks?: ActivationChecks;
}

/**
 * [a; b] along the batch axis (the first), as one new tensor that owns its buffer (a reshaped
 * view would never return it to the pool). Samples are outermost: two byte-range copies.
 */
function catBatch(gpu: Gpu, a: Tensor, b: Tensor): Tensor {
  if (a.dtype !== b.dtype || a.shape.slice(1).join() !== b.shape.slice(1).join() || a.byteLength % 4) {
    throw new Error(`catBatch: [${a.shape}] ${a.dtype} and [${b.shape}] ${b.dtype} must differ only in the batch size (and hold whole 4-byte words)`);
  }
  const out = empty(gpu, [a.shape[0] + b.shape[0], ...a.shape.slice(1)], a.dtype);
  gpu.recorder.copy(a.buffer, a.offset, out.buffer, out.offset, a.byteLength);
  gpu.recorder.copy(b.buffer, b.offset, out.buffer, out.offset + a.byteLength, b.byteLength);
  return out;
}

export class Diception implements Pipeline {
  private mmdit: MMDiT | undefined;

  private constructor(
    readonly gpu: Gpu,
    readonly options: PipelineOptions,
    readonly folder: ModelFolder,
    readonly vae: Vae,
    /** The VAE's activation dtype and why (vae/config.json force_upcast, flags, adapter). */
    readonly vaePrecision: VaeActivations,
    readonly points: PointEmbedder,
    readonly scheduler: FlowMatchConfig,
    private readonly transformerWeights: WeightReader,
    private readonly transformerConfig: Record<string, unknown>,
    private readonly cache: PromptCache | undefined,
  ) {}

  /**
   * Opens and checks every file, and loads the VAE and the point encoder. The transformer is
   * uploaded on the first run, after any text encoder has run and been freed.
   */
  static async load(gpu: Gpu, o: PipelineOptions): Promise<Diception> {
    const progress = o.onProgress ?? (() => {});
    // Text encoders are only needed for prompts missing from a cache: checked when used.
    const folder = await openModelFolder(o.pretrainedModelPath, { weights: ['transformer', 'vae'], config: ['scheduler'], folder: [] });
    const c = folder.components;
    progress('load', 0, 3);
    const dice = await openWeights(o.diceptionPath);
    const transformerWeights = await closeOnError(dice, async () => {
      if (!dice.names().some((n) => n.startsWith('transformer.')) || !dice.has('positional_encoding_gaussian_matrix')) {
        throw new Error(`${o.diceptionPath}: not a DICEPTION checkpoint (expected 'transformer.*', 'point_embedder.*' and 'positional_encoding_gaussian_matrix')`);
      }
      return overlay(await openWeights(c.transformer.weights!), prefixed(dice, 'transformer.'));
    });
    // The overlay closes both files (the .pth through its prefixed view) if the rest fails.
    let cache: PromptCache | undefined;
    const opened = { close: async () => void (await Promise.all([transformerWeights.close?.(), cache?.close()])) };
    return closeOnError(opened, async () => {
      const transformerConfig = await readJson(c.transformer.config!);
      const scheduler = parseSchedulerConfig(await readJson(c.scheduler.config!), c.scheduler.config);
      cache = o.promptCache ? await PromptCache.open(o.promptCache) : undefined;
      const vaeConfig = await readJson<VaeConfig>(platform().join(c.vae.dir, 'config.json'));
      const vaePrecision = vaeActivations(gpu, o.precision, vaeConfig, parseMMDiTConfig(transformerConfig), o.vaePrecision, o.weights);
      const vae = await Vae.load(gpu, c.vae.dir, o.precision, vaePrecision.act);
      progress('load', 1, 3);
      const points = await PointEmbedder.load(gpu, dice, o.precision);
      progress('load', 2, 3);
      return new Diception(gpu, o, folder, vae, vaePrecision, points, scheduler, transformerWeights, transformerConfig, cache);
    });
  }

  /** What the transformer holds in 8 bits, once loaded (undefined: nothing, or not loaded yet). */
  get q8Weights(): Q8Summary | undefined {
    return this.mmdit?.q8;
  }

  private async transformer(): Promise<MMDiT> {
    // The reader stays open: the MMDiT reads the rows of pos_embed that each latent size crops.
    this.mmdit ??= await MMDiT.load(this.gpu, this.transformerWeights, this.transformerConfig, this.options.precision, this.options.weights);
    this.options.onProgress?.('load', 3, 3);
    return this.mmdit;
  }

  /** Prompt embeddings for `prompts` (cache first, text encoders for the rest). */
  async encodePrompts(prompts: string[]): Promise<{ embeds: Tensor; pooled: Tensor }> {
    const missing = prompts.filter((p) => !this.cache?.has(p));
    if (missing.length) {
      // The text encoders must be there for prompts the cache lacks.
      await openModelFolder(this.options.pretrainedModelPath, SD3_NEEDS).catch((e: Error) => {
        throw new Error(
          `prompt ${JSON.stringify(missing[0])} is ${this.cache ? `not in the prompt cache ${this.cache.name}` : 'not cached (no --prompt-cache given)'}, and the text encoders cannot run: ${e.message}`,
        );
      });
    }
    const dtype = this.options.precision === 'f16' && this.gpu.caps.f16 ? 'f16' : 'f32';
    const { promptEmbeds, pooled } = await encodePrompts(this.gpu, this.options.pretrainedModelPath, prompts, dtype, this.cache);
    return { embeds: promptEmbeds, pooled };
  }

  /** The image's scaled latent: VAE mean + e^{logvar/2}·eps, then (z − shift)·scale. */
  async encodeImage(images: Tensor, eps: Tensor): Promise<Tensor> {
    const { mean, logvar } = await this.vae.encode(images);
    const z = await this.vae.latentFromMoments(mean, logvar, eps);
    mean.dispose();
    logvar.dispose();
    return z;
  }

  /** The flow-matching loop; returns the final latent [B, C, h, w] (f32). */
  async denoise(i: DenoiseInputs): Promise<Tensor> {
    const gpu = this.gpu;
    const mmdit = await this.transformer();
    const sched = new FlowMatchEuler(this.scheduler, i.steps);
    const cfg = i.guidance > 1;
    if (cfg && (!i.negEmbeds || !i.negPooled)) throw new Error('denoise: guidance > 1 needs the negative prompt embeddings');
    if (i.noise.dtype !== 'f32') throw new Error(`denoise: the initial latent must be f32, got ${i.noise.dtype}`);
    const B = i.noise.shape[0];
    // With CFG the batch is [uncond, cond]: negative prompt and zero point embeddings first.
    const embeds = cfg ? catBatch(gpu, i.negEmbeds!, i.embeds) : i.embeds;
    const pooled = cfg ? catBatch(gpu, i.negPooled!, i.pooled) : i.pooled;
    const points = cfg ? withUnconditional(gpu, i.points) : i.points;
    const cond = cfg ? catBatch(gpu, i.cond, i.cond) : i.cond;
    // Steps after the first replay its recorded dispatches (replay.ts): the latent stays in one
    // buffer (x, updated by copy) and the timestep reaches the model through one tensor.
    const x = empty(gpu, i.noise.shape, 'f32');
    gpu.recorder.copy(i.noise.buffer, i.noise.offset, x.buffer, x.offset, x.byteLength);
    const n = cfg ? 2 * B : B;
    const tFeatures = empty(gpu, [n, mmdit.timestepDim], 'f32');
    const velocity = new StepReplay(gpu);
    try {
      for (let s = 0; s < i.steps; s++) {
        if (s > 0) i.signal?.throwIfAborted();
        mmdit.writeTimestep(tFeatures, new Float32Array(n).fill(sched.timesteps[s]));
        const v = await velocity.run([x, cond, points, tFeatures, embeds, pooled, i.guidance], async () => {
          const input = cfg ? catBatch(gpu, x, x) : x;
          const out = await mmdit.forward(input, cond, points, tFeatures, embeds, pooled);
          if (input !== x) input.dispose();
          if (!cfg) return out;
          const g = await guide(gpu, out, i.guidance);
          out.dispose();
          return g;
        });
        const next = await sched.step(gpu, x, v, s);
        gpu.recorder.copy(next.buffer, next.offset, x.buffer, x.offset, x.byteLength);
        next.dispose();
        await i.checks?.stepped(x);
        // One sync per step: progress is real, and no more than a step of work is queued.
        await gpu.sync(`denoising step ${s + 1}`);
        i.onStep?.(s + 1, i.steps);
      }
    } catch (e) {
      x.dispose();
      throw e;
    } finally {
      velocity.dispose();
      tFeatures.dispose();
      if (cfg) [embeds, pooled, points, cond].forEach((t) => t.dispose());
    }
    return x;
  }

  async decode(latents: Tensor): Promise<Tensor> {
    return this.vae.decode(latents);
  }

  async run(r: PipelineRequest): Promise<PipelineResult> {
    const gpu = this.gpu;
    const progress: ProgressFn = r.onProgress ?? this.options.onProgress ?? (() => {});
    const B = r.batch;
    if (r.prompts.length !== B || r.seeds.length !== B) throw new Error(`run: ${B} samples but ${r.prompts.length} prompts and ${r.seeds.length} seeds`);
    const side = Math.round(Math.sqrt(r.images.length / (3 * B)));
    if (3 * B * side * side !== r.images.length) throw new Error(`run: images hold ${r.images.length} values, not ${B} square RGB images`);
    const checkAbort = () => r.signal?.throwIfAborted();
    checkAbort();
    const timings: StageTiming[] = [];
    // Every tensor this run makes, so an error or an abort anywhere frees them all.
    const owned = new Set<Tensor>();
    const own = <T extends Tensor>(t: T): T => (owned.add(t), t);
    const free = (...ts: (Tensor | undefined)[]) => ts.forEach((t) => t && owned.delete(t) && t.dispose());
    const stage = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
      checkAbort();
      if (name !== 'denoise') progress(name, 0, 1);
      const t0 = performance.now();
      gpu.pool.resetPeak();
      const out = await f();
      await gpu.sync(name);
      timings.push({ stage: name, ms: performance.now() - t0, peakBytes: gpu.pool.peakBytes });
      if (name !== 'denoise') progress(name, 1, 1);
      return out;
    };

    const cfg = r.guidance > 1;
    this.preflight({ batch: B, side, guidance: cfg });
    const checks = new ActivationChecks(gpu, r.steps, { vae: this.vae.act, mmdit: dtypesFor(gpu, this.options.precision).act });
    try {
      const text = await stage('text', async () => {
        const pos = await this.encodePrompts(r.prompts);
        [pos.embeds, pos.pooled].forEach(own);
        const neg = cfg ? await this.encodePrompts(r.prompts.map(() => '')) : undefined;
        if (neg) [neg.embeds, neg.pooled].forEach(own);
        return { pos, neg };
      });

      // Per-sample noise: sample b's generator draws its initial latent, then its VAE sample noise.
      const latentC = this.vae.config.latent_channels;
      const h = side / 2 ** (this.vae.config.block_out_channels.length - 1);
      const per = latentC * h * h;
      const noise = new Float32Array(B * per);
      const eps = new Float32Array(B * per);
      r.seeds.forEach((seed, b) => {
        const rng = new Rng(seed);
        noise.set(rng.normal(per), b * per);
        eps.set(rng.normal(per), b * per);
      });
      const shape = [B, latentC, h, h];

      const cond = await stage('encode', async () => {
        const img = own(fromArray(gpu, r.images, [B, 3, side, side]));
        const epsT = own(fromArray(gpu, eps, shape));
        const z = own(await this.encodeImage(img, epsT));
        free(img, epsT);
        await checks.encoded(z);
        return z;
      });
      await checks.verify();

      const latents = await stage('denoise', async () => {
        const pts = own(await this.points.embed(r.points, r.pointLabels, B));
        const x0 = own(fromArray(gpu, noise, shape));
        const out = own(
          await this.denoise({
            noise: x0,
            cond,
            points: pts,
            embeds: text.pos.embeds,
            pooled: text.pos.pooled,
            negEmbeds: text.neg?.embeds,
            negPooled: text.neg?.pooled,
            steps: r.steps,
            guidance: r.guidance,
            signal: r.signal,
            onStep: (d, n) => progress('denoise', d, n),
            checks,
          }),
        );
        free(pts, x0);
        return out;
      });
      await checks.verify();
      free(cond, text.pos.embeds, text.pos.pooled, text.neg?.embeds, text.neg?.pooled);

      const image01 = await stage('decode', async () => {
        // Checked before the [0, 1] clamp, which would turn an Inf into a white pixel.
        const img = own(await this.vae.decode(latents, { output: 'raw' }));
        free(latents);
        await checks.decoded(img);
        const data = await img.read();
        free(img);
        // (x/2 + 0.5).clamp(0, 1), as the decode's own epilogue would (x/2 is exact, so the same floats).
        for (let k = 0; k < data.length; k++) data[k] = Math.min(1, Math.max(0, data[k] * 0.5 + 0.5));
        return data;
      });
      const activationMaxAbs = await checks.verify();
      const f32Weights = tensorsKeptF32(gpu);
      const q8Weights = this.q8Weights;
      return { image01, timings, vaePrecision: this.vaePrecision, activationMaxAbs, ...(f32Weights.length && { f32Weights: [...f32Weights] }), ...(q8Weights && { q8Weights: { ...q8Weights } }) };
    } finally {
      checks.dispose();
      if (owned.size) {
        // An error or abort: submit and finish any half-recorded work on these buffers, then free them.
        gpu.recorder.flush();
        await gpu.settle(gpu.device.queue.onSubmittedWorkDone());
        free(...owned);
      }
    }
  }

  private memoryShapes(): ModelShapes {
    const act = BYTES[dtypesFor(this.gpu, this.options.precision).act];
    return { vae: this.vae.config, mmdit: parseMMDiTConfig(this.transformerConfig), vaeAct: BYTES[this.vae.act], mmditAct: act };
  }

  /** Bytes that stay on the GPU through a request: what is there now, and the transformer until it is uploaded. */
  private residentBytes(): number {
    const r = this.transformerWeights;
    const bytes = BYTES[dtypesFor(this.gpu, this.options.precision).weight];
    const weights = this.options.weights ?? 'f16';
    const tensorBytes = (name: string) => {
      const shape = r.entry(name).shape;
      return q8Bytes(name, shape, weights) ?? numel(shape) * bytes;
    };
    return this.gpu.pool.liveBytes + (this.mmdit ? 0 : r.names().reduce((n, name) => n + tensorBytes(name), 0));
  }

  /** The estimated peak GPU memory of a request of this shape and the stage it is in (preflight.ts). */
  estimatePeak(r: RequestShape): { bytes: number; stage: string } {
    return estimatePeak(this.memoryShapes(), r, this.residentBytes());
  }

  /**
   * Throws a MemoryRefusal, before any work, when a request of this shape cannot fit the adapter
   * (preflight.ts). Cached pool buffers count too: a request that would not fit beside them
   * gets them freed first.
   */
  preflight(r: RequestShape): void {
    const { gpu } = this;
    const budget = memoryBudget(gpu, this.options.maxGpuMemory);
    const check = () => preflight(gpu.caps, budget && { ...budget, bytes: budget.bytes - gpu.pool.cachedBytes }, this.memoryShapes(), r, this.residentBytes());
    try {
      check();
    } catch (e) {
      if (!gpu.pool.cachedBytes) throw e;
      gpu.pool.trim();
      check();
    }
  }

  async dispose(): Promise<void> {
    this.mmdit?.dispose();
    await this.transformerWeights.close?.();
    this.vae.dispose();
    this.points.dispose();
    await this.cache?.close();
    this.gpu.pool.trim();
  }
}

export const loadPipeline: PipelineFactory = async (o) => Diception.load(await getDevice(), o);
