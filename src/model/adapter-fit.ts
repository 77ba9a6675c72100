// Does the model fit the adapter? Checked from the weight files' headers alone (a few small
// reads), so a user with a too-small adapter hears it before gigabytes are streamed. Kernels band
// operands over binding windows, so the storage-binding limit never refuses a model; one GPU
// buffer must still hold each whole weight tensor, so maxBufferSize does.
import type { Capabilities } from '../runtime/device.ts';
import { openModelFolder } from '../runtime/model-folder.ts';
import { numel } from '../runtime/tensor.ts';
import { openWeights, type WeightReader } from '../runtime/weights.ts';
import type { MMDiTConfig } from './mmdit-config.ts';
import type { VaeConfig } from './param-lists.ts';
import type { PipelineOptions, Precision } from './pipeline-types.ts';

export interface LargestTensor {
  name: string;
  /** The file it is read from. */
  file: string;
  /** Its size on the GPU at the chosen precision. */
  bytes: number;
}

/** Weights live on the GPU as f16 at f16 precision (bf16/f32 are converted) and f32 otherwise. */
export function largestTensor(readers: readonly WeightReader[], precision: Precision): LargestTensor | undefined {
  let best: LargestTensor | undefined;
  for (const r of readers) {
    for (const name of r.names()) {
      const e = r.entry(name);
      const bytes = numel(e.shape) * (precision === 'f32' ? 4 : 2);
      if (!best || bytes > best.bytes) best = { name, file: e.source.name, bytes };
    }
  }
  return best;
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

/** A message for the user when the tensor cannot be held by this adapter; undefined when it can. */
export function fitProblem(caps: Pick<Capabilities, 'adapterName' | 'maxBufferSize'>, t: LargestTensor, precision: Precision): string | undefined {
  if (t.bytes <= caps.maxBufferSize) return undefined;
  const hint = precision === 'f32' && t.bytes / 2 <= caps.maxBufferSize ? 'choose f16 precision, or use' : 'use';
  return (
    `This adapter (${caps.adapterName}) is too small for the model: its largest GPU buffer is ${mib(caps.maxBufferSize)}, ` +
    `but the tensor '${t.name}' (${t.file}) needs ${mib(t.bytes)} at ${precision}; ${hint} a GPU/browser that allows larger buffers.`
  );
}

/**
 * Opens the headers of every weight file the pipeline will load (text encoders only without a
 * prompt cache) and throws fitProblem's message if the largest tensor does not fit.
 */
export async function checkAdapterFits(caps: Pick<Capabilities, 'adapterName' | 'maxBufferSize'>, o: Omit<PipelineOptions, 'onProgress'>): Promise<void> {
  const models = ['transformer', 'vae', ...(o.promptCache ? [] : ['text_encoder', 'text_encoder_2', 'text_encoder_3'])];
  const folder = await openModelFolder(o.pretrainedModelPath, { weights: models, config: [], folder: [] });
  const readers: WeightReader[] = [];
  try {
    for (const path of [o.diceptionPath, ...models.map((m) => folder.components[m].weights!)]) readers.push(await openWeights(path));
    const largest = largestTensor(readers, o.precision);
    const problem = largest && fitProblem(caps, largest, o.precision);
    if (problem) throw new Error(problem);
  } finally {
    // The pipeline opens the files again for itself; these handles were for the headers only.
    await Promise.all(readers.map((r) => r.close?.()));
  }
}

/** One activation tensor of a request: what it is, its shape and its size on the GPU. */
export interface Activation {
  what: string;
  shape: number[];
  bytes: number;
}

/** Bytes per activation element in each model (2 where shaders store f16, else 4). */
export interface ActBytes {
  vae: number;
  mmdit: number;
}

/** Prompt tokens (CLIP 77 + T5 256) and point slots, fixed in every DICEPTION request. */
const PROMPT_TOKENS = 77 + 256 + 5;
/** Kernels index elements in u32: a tensor must stay below 2³² elements. */
const MAX_ELEMENTS = 2 ** 32 - 1;

/**
 * The largest activation tensors of a request of `batch` images at `side`², per stage: the VAE's
 * widest feature map at each resolution (the decoder's 2× upsampling is fused into its conv, so
 * the map entering a level has the previous level's channels there) and the MMDiT's MLP hidden
 * state [batch (×2 with guidance), tokens, 4·hidden]. Every one is linear in the batch.
 */
export function largestActivations(vae: VaeConfig, mmdit: MMDiTConfig, batch: number, side: number, guidance: boolean, actBytes: ActBytes): Activation[] {
  const ch = vae.block_out_channels;
  const n = ch.length;
  let vaeWidest = { c: 0, res: 0 };
  for (let i = 0; i < n; i++) {
    // Encoder level i (res side/2^i): channels ch[i-1] -> ch[i]; decoder level n-1-i the same.
    const res = side / 2 ** i;
    const c = Math.max(ch[i], ch[Math.max(0, i - 1)], i < n - 1 ? ch[i + 1] : 0);
    if (c * res * res > vaeWidest.c * vaeWidest.res ** 2) vaeWidest = { c, res };
  }
  const grid = side / 2 ** (n - 1) / mmdit.patchSize;
  const tokens = 2 * grid * grid + PROMPT_TOKENS;
  const rows = guidance ? 2 * batch : batch;
  const shapes: [string, number[], number][] = [
    ['the VAE feature map', [batch, vaeWidest.c, vaeWidest.res, vaeWidest.res], actBytes.vae],
    ['the MMDiT MLP hidden state', [rows, tokens, 4 * mmdit.hidden], actBytes.mmdit],
  ];
  return shapes.map(([what, shape, bytes]) => ({ what, shape, bytes: numel(shape) * bytes }));
}

/**
 * Before any work: a message when one activation of this request would not fit one GPU buffer
 * (or pass 2³² elements, which kernels' u32 indices would wrap), naming the largest batch that
 * fits; undefined when the request fits. WebGPU reports no total memory, so the per-buffer limit
 * is what can be checked up front.
 */
export function batchProblem(caps: Pick<Capabilities, 'adapterName' | 'maxBufferSize'>, vae: VaeConfig, mmdit: MMDiTConfig, batch: number, side: number, guidance: boolean, actBytes: ActBytes): string | undefined {
  const acts = largestActivations(vae, mmdit, batch, side, guidance, actBytes);
  const over = acts.find((a) => a.bytes > caps.maxBufferSize || numel(a.shape) > MAX_ELEMENTS);
  if (!over) return undefined;
  // Each activation is linear in the batch: the largest batch is set by the tightest one.
  const fits = Math.min(...acts.map((a) => Math.floor(Math.min(caps.maxBufferSize / (a.bytes / batch), MAX_ELEMENTS / (numel(a.shape) / batch)))));
  return (
    `batch of ${batch} at ${side}²: ${over.what} [${over.shape}] needs ${mib(over.bytes)}${numel(over.shape) > MAX_ELEMENTS ? ' (over 2³² elements)' : ''}, ` +
    `but this adapter's (${caps.adapterName}) largest GPU buffer is ${mib(caps.maxBufferSize)}; ` +
    (fits >= 1 ? `the largest batch that fits is ${fits} (--batch_size ${fits})` : 'not even one image fits')
  );
}
