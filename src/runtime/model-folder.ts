// A diffusers model folder (what `huggingface-cli download stabilityai/stable-diffusion-3-medium-
// diffusers` produces): model_index.json names the components, each in its own sub-folder with a
// config and weights (single or sharded safetensors). Everything wrong with a folder is reported
// in one message, so a user pointing at the wrong download sees the whole picture at once.
import { platform } from './platform.ts';
import { readJson, type WeightReader } from './weights.ts';

export interface ComponentFiles {
  name: string;
  dir: string;
  /** From model_index.json, e.g. ['diffusers', 'SD3Transformer2DModel']. */
  library: string;
  className: string;
  /** config.json (models) or scheduler_config.json (schedulers), if present. */
  config?: string;
  /** A .safetensors file or a .safetensors.index.json of shards, if present. */
  weights?: string;
}

export interface ModelFolder {
  dir: string;
  /** model_index.json's `_class_name`, e.g. 'StableDiffusion3Pipeline'. */
  pipeline: string;
  components: Record<string, ComponentFiles>;
}

export interface FolderNeeds {
  /** Components whose weights (and config) must be present. */
  weights: string[];
  /** Components that need only a config. */
  config: string[];
  /** Components that need only their folder (tokenizers). */
  folder: string[];
}

/** What the DICEPTION pipeline reads from an SD3-medium diffusers folder. */
export const SD3_NEEDS: FolderNeeds = {
  weights: ['transformer', 'vae', 'text_encoder', 'text_encoder_2', 'text_encoder_3'],
  config: ['scheduler'],
  folder: ['tokenizer', 'tokenizer_2'],
};

/** Weight file names diffusers/transformers write, preferred first. */
const WEIGHT_FILES = [
  'diffusion_pytorch_model.safetensors',
  'model.safetensors',
  'diffusion_pytorch_model.safetensors.index.json',
  'model.safetensors.index.json',
  'diffusion_pytorch_model.fp16.safetensors',
  'model.fp16.safetensors',
  'diffusion_pytorch_model.fp16.safetensors.index.json',
  'model.fp16.safetensors.index.json',
];
const CONFIG_FILES = ['config.json', 'scheduler_config.json'];

/** Folders of other pipelines, to say what the user pointed at. */
const OTHER_LAYOUTS: Record<string, string> = { unet: 'a UNet pipeline (Stable Diffusion 1.x/2.x/XL), not SD3' };

/** The weights file of a component folder (single or sharded safetensors); throws naming the candidates. */
export async function componentWeights(dir: string): Promise<string> {
  const found = await firstExisting(dir, WEIGHT_FILES);
  if (!found) throw new Error(`${dir}: no weights (${WEIGHT_FILES.slice(0, 4).join(', ')})`);
  return found;
}

async function firstExisting(dir: string, names: string[]): Promise<string | undefined> {
  const p = platform();
  for (const n of names) if (await p.exists(p.join(dir, n))) return p.join(dir, n);
  return undefined;
}

export async function openModelFolder(dir: string, needs: FolderNeeds = SD3_NEEDS): Promise<ModelFolder> {
  const p = platform();
  const indexPath = p.join(dir, 'model_index.json');
  if (!(await p.exists(indexPath))) {
    throw new Error(`${dir}: not a diffusers model folder (no model_index.json); point at the folder that holds model_index.json, transformer/, vae/, text_encoder*/ ...`);
  }
  const index = await readJson(indexPath);
  const components: Record<string, ComponentFiles> = {};
  for (const [name, v] of Object.entries(index)) {
    if (name.startsWith('_')) continue;
    // [library, class]; [null, null] marks a component deliberately left out.
    if (!Array.isArray(v) || v.length !== 2 || v[0] === null) continue;
    const cdir = p.join(dir, name);
    components[name] = {
      name,
      dir: cdir,
      library: String(v[0]),
      className: String(v[1]),
      config: await firstExisting(cdir, CONFIG_FILES),
      weights: await firstExisting(cdir, WEIGHT_FILES),
    };
  }

  const problems: string[] = [];
  const other = Object.keys(OTHER_LAYOUTS).filter((n) => n in components);
  for (const n of other) problems.push(`it has ${n}/, so it is ${OTHER_LAYOUTS[n]}`);
  for (const n of [...needs.weights, ...needs.config, ...needs.folder]) {
    const c = components[n];
    if (!c) problems.push(`model_index.json has no '${n}' component`);
    else if (!(await p.exists(c.dir))) problems.push(`${n}/ is missing`);
    else if (needs.weights.includes(n) && !c.weights) problems.push(`${n}/ has no weights (${WEIGHT_FILES.slice(0, 4).join(', ')})`);
    else if (!needs.folder.includes(n) && !c.config) problems.push(`${n}/ has no ${n === 'scheduler' ? 'scheduler_config.json' : 'config.json'}`);
  }
  const pipeline = String(index._class_name ?? 'unknown');
  if (problems.length) {
    throw new Error(`${dir}: not a usable ${needs === SD3_NEEDS ? 'SD3 ' : ''}model folder (model_index.json: ${pipeline}): ${problems.join('; ')}`);
  }
  return { dir, pipeline, components };
}

export interface ExpectedParam {
  name: string;
  shape: readonly number[];
}

/**
 * Checks a checkpoint against the parameters a model will load, and reports every missing,
 * unexpected and wrongly-shaped tensor in ONE error (so a wrong config or checkpoint is obvious).
 * `ignore` names tensors that may be present without being loaded (e.g. tied embeddings).
 */
export function checkParams(r: WeightReader, expected: readonly ExpectedParam[], o: { ignore?: (name: string) => boolean } = {}): void {
  const want = new Map(expected.map((e) => [e.name, e.shape]));
  const missing: string[] = [];
  const shapes: string[] = [];
  for (const [name, shape] of want) {
    if (!r.has(name)) missing.push(`${name} [${shape}]`);
    else {
      const got = r.entry(name).shape;
      if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) shapes.push(`${name}: [${got}], expected [${shape}]`);
    }
  }
  const unexpected = r.names().filter((n) => !want.has(n) && !o.ignore?.(n));
  if (!missing.length && !shapes.length && !unexpected.length) return;
  const list = (title: string, xs: string[]) => {
    const shown = xs.slice(0, 20).join(', ');
    return `${xs.length} ${title}: ${shown}${xs.length > 20 ? `, ... (${xs.length - 20} more)` : ''}`;
  };
  const parts = [];
  if (missing.length) parts.push(list('missing', missing));
  if (shapes.length) parts.push(list('with the wrong shape', shapes));
  if (unexpected.length) parts.push(list('unexpected', unexpected));
  throw new Error(`${r.name}: checkpoint does not match the model: ${parts.join('; ')}`);
}
