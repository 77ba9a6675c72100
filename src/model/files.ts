// The files of a model folder (tokenizer vocabularies, configs, weights), through the platform
// so the same code reads a Node path or a browser URL.
import { platform } from '../runtime/platform.ts';
import type { TensorEntry } from '../runtime/safetensors.ts';
import { componentWeights } from '../runtime/model-folder.ts';
import { openWeights, readF32, type WeightReader } from '../runtime/weights.ts';

export async function readText(path: string): Promise<string> {
  const src = await platform().open(path);
  try {
    return new TextDecoder().decode(await src.read(0, src.size));
  } finally {
    await src.close?.();
  }
}

/** Like readJson, but undefined when the file is absent (optional tokenizer configs). */
export async function readJsonIfExists<T>(path: string): Promise<T | undefined> {
  if (!(await platform().exists(path))) return undefined;
  const text = await readText(path);
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/**
 * The weights of a transformers model folder: `model.safetensors`, a sharded
 * `model.safetensors.index.json`, or the `model.fp16.safetensors` some downloads carry instead.
 */
export async function openModelWeights(dir: string): Promise<WeightReader> {
  return openWeights(await componentWeights(dir));
}

/**
 * Rows `ids` of an embedding table [V, C], read straight from the file as f32: a prompt uses a
 * few dozen of the table's rows, so the table (263 MB for T5-XXL) never goes to the GPU.
 */
export async function gatherRows(e: TensorEntry, ids: ArrayLike<number>): Promise<Float32Array> {
  if (e.shape.length !== 2) throw new Error(`${e.source.name}: embedding '${e.name}' has shape [${e.shape}], expected [vocab, width]`);
  const [vocab, width] = e.shape;
  const rowBytes = e.byteLength / vocab;
  const unique = [...new Set(Array.from(ids))];
  const rows = new Map<number, Float32Array>();
  await Promise.all(
    unique.map(async (id) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new Error(`${e.source.name}: token id ${id} is outside the embedding '${e.name}' (vocab ${vocab})`);
      rows.set(id, await readF32({ ...e, shape: [width], offset: e.offset + id * rowBytes, byteLength: rowBytes }));
    }),
  );
  const out = new Float32Array(ids.length * width);
  for (let i = 0; i < ids.length; i++) out.set(rows.get(ids[i])!, i * width);
  return out;
}
