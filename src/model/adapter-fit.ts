// Does the model fit the adapter? Checked from the weight files' headers alone (a few small
// reads), so a user with a too-small adapter hears it before gigabytes are streamed. Kernels band
// operands over binding windows, so the storage-binding limit never refuses a model; one GPU
// buffer must still hold each whole weight tensor, so maxBufferSize does. Each request's
// activations and total memory are checked by preflight.ts.
import type { Capabilities } from '../runtime/device.ts';
import { openModelFolder } from '../runtime/model-folder.ts';
import { numel } from '../runtime/tensor.ts';
import { openWeights, type WeightReader } from '../runtime/weights.ts';
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
