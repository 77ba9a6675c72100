/// <reference types="@webgpu/types" />
// The task-level API shared by the Node and browser entries: loadDiception() opens and checks
// the model files and loads the models; predict() runs one image through the same pipeline and
// post-processing as the CLI (inference.py's rendering). Entries supply the image decoder.
import { checkAdapterFits } from '../model/adapter-fit.ts';
import { Diception } from '../model/pipeline.ts';
import { DEFAULT_GUIDANCE, DEFAULT_STEPS, type Precision, type ProgressFn, type StageTiming } from '../model/pipeline-types.ts';
import { taskMasks, type TaskMasks } from '../model/masks.ts';
import { INFER_STYLE, toPrediction, type Prediction } from '../model/postprocess.ts';
import { inferInput, type RgbImage } from '../model/preprocess.ts';
import { parseWeightFormat, type WeightFormat } from '../model/q8-weights.ts';
import { parseTask, yxPoints } from '../model/tasks.ts';
import { getDevice, wrapDevice, type Capabilities, type Gpu } from '../runtime/device.ts';
import { AbortError, asDiceptionError, DisposedError, ImageDecodeError, InvalidArgumentError, ModelFilesError } from './errors.ts';
import { Sources, type ModelSource } from './sources.ts';

export type { ModelSource, Precision, ProgressFn, StageTiming, RgbImage, WeightFormat };

/** depth | normal | pose | segmentation | entity | semantic:<COCO class> (e.g. 'semantic:dining table'). */
export type TaskSpec = 'depth' | 'normal' | 'pose' | 'segmentation' | 'entity' | `semantic:${string}`;

export interface LoadOptions {
  /** The stable-diffusion-3-medium-diffusers folder. */
  sd3: ModelSource;
  /** DICEPTION_v1.pth, or its `diception convert` safetensors. */
  checkpoint: ModelSource;
  /** Prompt embeddings from `diception embed-prompts`: prompts it holds skip the text encoders. */
  promptCache?: ModelSource;
  /** Run on this device (it stays yours: dispose() does not destroy it). Default: a shared device of the best adapter. */
  device?: GPUDevice;
  /** 'f16' (default; f32 activations where the adapter lacks shader-f16) or 'f32'. */
  precision?: Precision;
  /** 'f16' (default: as published) or 'q8': the transformer's block linears in int8, about half its GPU memory. A `diception convert --weights q8` checkpoint is q8 either way. */
  weights?: WeightFormat;
  /**
   * GPU memory a prediction may use, in bytes: one estimated above it is refused before any work
   * (GpuError). Default: 75% of RAM on a CPU adapter; none on a GPU, whose total WebGPU does not report.
   */
  maxGpuMemory?: number;
  /** Loading progress: stage 'load', done of total. */
  onProgress?: ProgressFn;
}

export interface PredictOptions {
  task: TaskSpec;
  /** Up to 5 normalised (y, x) points, y = row/height and x = column/width (segmentation). */
  points?: ReadonlyArray<readonly [number, number]>;
  /** Denoising steps (default 28; 1 with guidance 1 is the fast setting). */
  steps?: number;
  /** Classifier-free guidance, 1 = off (default 2). */
  guidance?: number;
  /** Seed of the initial noise (default 42). */
  seed?: number;
  /** Stops the run after the current denoising step (rejecting with AbortError) and frees its GPU memory. */
  signal?: AbortSignal;
  /** Per-stage progress: 'text', 'encode', 'denoise' (per step), 'decode'. */
  onProgress?: ProgressFn;
}

export interface PredictResult extends Prediction {
  /** Time and peak GPU memory per stage. */
  timings: StageTiming[];
  /** segmentation and semantic: the binary mask (and its COCO RLE); entity: the instances (the CLI's --masks rules, default settings). */
  masks?: TaskMasks;
  /** The VAE's activation dtype and why (f32 where vae/config.json says force_upcast and it fits). */
  vaePrecision?: { act: 'f16' | 'f32'; reason: string };
}

export interface DiceptionModel {
  /** The adapter's name, features and limits as the engine sees them. */
  readonly capabilities: Capabilities;
  /** Runs `task` on `image`; calls on one model run one after another. */
  predict(image: ImageInput, options: PredictOptions): Promise<PredictResult>;
  /** GPU memory held by this model's device pool: in live tensors and cached for reuse. */
  memory(): { liveBytes: number; cachedBytes: number };
  /** Frees the model's GPU memory and file handles. */
  dispose(): Promise<void>;
}

/**
 * An image to predict on. Node: a file path, a file: or http(s) URL, encoded bytes (Buffer,
 * Uint8Array, ArrayBuffer, Blob). Browsers and Workers: a URL, a Blob/File, encoded bytes,
 * ImageBitmap, ImageData, HTMLImageElement, OffscreenCanvas. Both: `{ data, width, height }` RGB bytes.
 */
export type ImageInput = string | URL | Uint8Array | ArrayBuffer | Blob | ImageBitmap | ImageData | HTMLImageElement | OffscreenCanvas | RgbImage;

/** An RGB image to encode: a predict() result (its `rgb`) or any interleaved RGB bytes. */
export type RgbPixels = Pick<Prediction, 'width' | 'height' | 'rgb'>;

/** What an entry supplies: its image inputs → RGB bytes (throwing a one-line message). */
export type ImageDecoder = (image: ImageInput) => Promise<RgbImage>;

/** `{ data, width, height }` RGB bytes, accepted by both entries as they are. */
export function isRgbImage(x: unknown): x is RgbImage {
  const r = x as RgbImage;
  return typeof r === 'object' && r !== null && r.data instanceof Uint8Array && Number.isInteger(r.width) && Number.isInteger(r.height) && r.data.length === r.width * r.height * 3;
}

/** An image URL's bytes, with a one-line error naming it. */
export async function fetchImage(url: string): Promise<Blob> {
  const res = await fetch(url).catch((e: Error) => {
    throw new Error(`image: cannot fetch ${url}: ${e.message}`);
  });
  if (!res.ok) throw new Error(`image: cannot fetch ${url}: HTTP ${res.status}`);
  return res.blob();
}

function wholeNumber(v: number | undefined, name: string, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  if (!Number.isInteger(v) || v < min || v > max) throw new InvalidArgumentError(`${name}: '${v}' is not a whole number in [${min}, ${max}]`);
  return v;
}

class Model implements DiceptionModel {
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  constructor(
    private readonly gpu: Gpu,
    private readonly pipeline: Diception,
    private readonly sources: Sources,
    private readonly decode: ImageDecoder,
  ) {}

  get capabilities(): Capabilities {
    return this.gpu.caps;
  }

  memory() {
    return { liveBytes: this.gpu.pool.liveBytes, cachedBytes: this.gpu.pool.cachedBytes };
  }

  predict(image: ImageInput, o: PredictOptions): Promise<PredictResult> {
    const run = this.queue.then(() => this.run(image, o));
    this.queue = run.catch(() => {});
    return run;
  }

  private async run(image: ImageInput, o: PredictOptions): Promise<PredictResult> {
    if (this.disposed) throw new DisposedError();
    const aborted = (e: unknown) => new AbortError('predict was aborted', { cause: o.signal?.reason ?? e });
    if (o.signal?.aborted) throw aborted(undefined);
    let request;
    try {
      const task = parseTask(String(o?.task ?? ''), 'task');
      const points = yxPoints(o.points ?? [], 'points');
      const guidance = o.guidance ?? DEFAULT_GUIDANCE;
      if (typeof guidance !== 'number' || !(guidance >= 0 && guidance <= 100)) throw new Error(`guidance: '${guidance}' is not a number in [0, 100]`);
      request = {
        task,
        steps: wholeNumber(o.steps, 'steps', DEFAULT_STEPS, 1, 1000),
        seed: wholeNumber(o.seed, 'seed', 42, 0, 2 ** 32 - 1),
        guidance,
        points,
      };
    } catch (e) {
      throw asDiceptionError(e, InvalidArgumentError);
    }
    let rgb: RgbImage;
    try {
      rgb = await this.decode(image);
    } catch (e) {
      throw asDiceptionError(e, ImageDecodeError);
    }
    try {
      const result = await this.pipeline.run({
        images: inferInput(rgb),
        batch: 1,
        prompts: [request.task.prompt],
        points: request.points.coords,
        pointLabels: request.points.labels,
        steps: request.steps,
        guidance: request.guidance,
        seeds: [request.seed],
        signal: o.signal,
        onProgress: o.onProgress ?? (() => {}),
      });
      const size = Math.round(Math.sqrt(result.image01.length / 3));
      const masks = taskMasks(request.task.name, result.image01, size, rgb.height, rgb.width);
      return { ...toPrediction(result.image01, request.task.name, rgb.width, rgb.height, INFER_STYLE), timings: result.timings, vaePrecision: result.vaePrecision, ...(masks && { masks }) };
    } catch (e) {
      if (o.signal?.aborted) throw aborted(e);
      throw asDiceptionError(e, ModelFilesError);
    }
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.queue;
    try {
      await this.pipeline.dispose();
    } finally {
      this.sources.release();
    }
  }
}

/** Opens and checks the model files, and loads the models onto the GPU. */
export async function loadModel(o: LoadOptions, decode: ImageDecoder): Promise<DiceptionModel> {
  if (!o || o.sd3 === undefined || o.checkpoint === undefined) throw new InvalidArgumentError('loadDiception: give at least { sd3, checkpoint }');
  const precision = o.precision ?? 'f16';
  if (precision !== 'f16' && precision !== 'f32') throw new InvalidArgumentError(`precision: '${precision}' is not f16 or f32`);
  let weights: WeightFormat;
  try {
    weights = parseWeightFormat(o.weights, 'weights');
  } catch (e) {
    throw asDiceptionError(e, InvalidArgumentError);
  }
  if (o.maxGpuMemory !== undefined && !(o.maxGpuMemory > 0)) throw new InvalidArgumentError(`maxGpuMemory: '${o.maxGpuMemory}' is not a positive number of bytes`);
  let gpu: Gpu;
  try {
    gpu = o.device ? wrapDevice(o.device) : await getDevice();
  } catch (e) {
    throw asDiceptionError(e, ModelFilesError);
  }
  const sources = new Sources();
  try {
    const options = {
      pretrainedModelPath: await sources.folder(o.sd3, 'sd3'),
      diceptionPath: await sources.file(o.checkpoint, 'checkpoint'),
      promptCache: o.promptCache === undefined ? undefined : await sources.file(o.promptCache, 'promptCache'),
      precision,
      weights,
      maxGpuMemory: o.maxGpuMemory,
    };
    await checkAdapterFits(gpu.caps, options);
    const pipeline = await Diception.load(gpu, { ...options, onProgress: o.onProgress });
    return new Model(gpu, pipeline, sources, decode);
  } catch (e) {
    sources.release();
    throw asDiceptionError(e, ModelFilesError);
  }
}
