// Generates a miniature DICEPTION model with random weights in the real on-disk layout: an
// SD3-style diffusers folder (transformer, vae, scheduler), DICEPTION weights as converted
// safetensors, and a prompt-embedding cache for every task prompt (so no text encoder is
// needed). The demo runs on it; benches use the same code at the real widths (and, with
// zeroWeights, at the real size: bench/memory.ts).
import { mkdir, rename, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { transformerParams, vaeParams, type ParamSpec, type TransformerConfig, type VaeConfig } from '../src/model/param-lists.ts';
import { writePromptCache, type PromptEmbedding } from '../src/model/prompt-cache.ts';
import { f32ArrayToF16 } from '../src/runtime/f16.ts';
import { Rng } from '../src/runtime/random.ts';
import { safetensorsHeader, serializeSafetensors, type TensorData } from '../src/runtime/safetensors-write.ts';
import { ST_BYTES, type StDType } from '../src/runtime/safetensors.ts';
import { numel } from '../src/runtime/tensor.ts';

export interface TinyModelSpec {
  transformer: TransformerConfig;
  vae: VaeConfig;
  /** Width of the Fourier features of the point encoder (1024 in DICEPTION). */
  pointFeatures: number;
  /** T5 d_model (the prompt embedding width, = joint_attention_dim). */
  textWidth: number;
  prompts: string[];
  /**
   * Weight files of zeros, written as sparse files (no disk, no memory, whatever the size): for
   * allocation replays of the full-size model, where the values are never used.
   */
  zeroWeights?: boolean;
}

/** Small enough to run the whole 768² pipeline on a CPU adapter in seconds. */
export const DEMO_SPEC: Omit<TinyModelSpec, 'prompts'> = {
  transformer: {
    sample_size: 96,
    patch_size: 2,
    in_channels: 16,
    out_channels: 16,
    num_layers: 2,
    attention_head_dim: 16,
    num_attention_heads: 2,
    joint_attention_dim: 64,
    caption_projection_dim: 32,
    pooled_projection_dim: 48,
    pos_embed_max_size: 96,
  },
  vae: {
    in_channels: 3,
    out_channels: 3,
    block_out_channels: [16, 16, 32, 32],
    layers_per_block: 1,
    latent_channels: 16,
    norm_num_groups: 8,
    scaling_factor: 1.5305,
    shift_factor: 0.0609,
    mid_block_add_attention: true,
    use_quant_conv: false,
    use_post_quant_conv: false,
  },
  pointFeatures: 8,
  textWidth: 64,
};

/** Random values scaled like a trained network's: unit-gain norms, N(0, 1/fan-in) matrices. */
function randomTensor(rng: Rng, p: ParamSpec, dtype: StDType): TensorData {
  const n = p.shape.reduce((a, b) => a * b, 1);
  let v: Float32Array;
  if (p.shape.length === 1) {
    // Every 1-D weight in these models is a norm's gain; biases start near zero.
    v = p.name.endsWith('weight') ? new Float32Array(n).fill(1) : rng.normal(n).map((x) => 0.02 * x);
  } else {
    const s = 1 / Math.sqrt(n / p.shape[0]);
    v = rng.normal(n).map((x) => x * s);
  }
  const data = dtype === 'F32' ? new Uint8Array(v.buffer) : new Uint8Array(f32ArrayToF16(v).buffer);
  return { name: p.name, dtype, shape: p.shape, data };
}

/** Writes `parts` to `path` via a temp file; `size` extends it with zeros (a hole: no disk used). */
async function writeAtomic(path: string, parts: Uint8Array | Uint8Array[], size?: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, Array.isArray(parts) ? Buffer.concat(parts) : parts);
  if (size !== undefined) await truncate(tmp, size);
  await rename(tmp, path);
}

/** A safetensors file of `params` in `dtype`: random values, or sparse zeros. */
async function writeWeights(path: string, params: ParamSpec[], dtype: StDType, rng: Rng, zeros = false): Promise<void> {
  if (!zeros) return writeAtomic(path, serializeSafetensors(params.map((p) => randomTensor(rng, p, dtype))));
  const header = safetensorsHeader(params.map((p) => ({ ...p, dtype })));
  const data = params.reduce((a, p) => a + numel(p.shape) * ST_BYTES[dtype], 0);
  await writeAtomic(path, header, header.length + data);
}

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v, null, 2) + '\n');

export async function writeTinyModel(dir: string, spec: TinyModelSpec, seed = 1): Promise<void> {
  const rng = new Rng(seed);
  const t = spec.transformer;
  const hidden = t.num_attention_heads * t.attention_head_dim;
  for (const sub of ['transformer', 'vae', 'scheduler']) await mkdir(join(dir, sub), { recursive: true });
  await writeAtomic(join(dir, 'model_index.json'), json({
    _class_name: 'StableDiffusion3Pipeline',
    _diffusers_version: '0.30.3',
    transformer: ['diffusers', 'SD3Transformer2DModel'],
    vae: ['diffusers', 'AutoencoderKL'],
    scheduler: ['diffusers', 'FlowMatchEulerDiscreteScheduler'],
  }));
  await writeAtomic(join(dir, 'transformer', 'config.json'), json({ ...t, _class_name: 'SD3Transformer2DModel', _diffusers_version: '0.30.3' }));
  await writeAtomic(join(dir, 'vae', 'config.json'), json({
    ...spec.vae,
    down_block_types: spec.vae.block_out_channels.map(() => 'DownEncoderBlock2D'),
    up_block_types: spec.vae.block_out_channels.map(() => 'UpDecoderBlock2D'),
    act_fn: 'silu',
    _class_name: 'AutoencoderKL',
    _diffusers_version: '0.30.3',
  }));
  await writeAtomic(join(dir, 'scheduler', 'scheduler_config.json'), json({ _class_name: 'FlowMatchEulerDiscreteScheduler', num_train_timesteps: 1000, shift: 3.0 }));
  const tParams = transformerParams(t);
  await writeWeights(join(dir, 'transformer', 'diffusion_pytorch_model.safetensors'), tParams, 'F16', rng, spec.zeroWeights);
  await writeWeights(join(dir, 'vae', 'diffusion_pytorch_model.safetensors'), vaeParams(spec.vae), 'F16', rng, spec.zeroWeights);

  // DICEPTION's checkpoint: a full transformer state dict that overrides the folder's, and the point encoder.
  const F = spec.pointFeatures;
  const dice: ParamSpec[] = [
    ...tParams.map((p) => ({ ...p, name: `transformer.${p.name}` })),
    { name: 'point_embedder.0.weight', shape: [2 * F, 2 * F] },
    { name: 'point_embedder.0.bias', shape: [2 * F] },
    { name: 'point_embedder.2.weight', shape: [hidden, 2 * F] },
    { name: 'point_embedder.2.bias', shape: [hidden] },
    { name: 'not_seg_embeddings.weight', shape: [1, hidden] },
    { name: 'seg_embeddings.weight', shape: [1, hidden] },
    { name: 'positional_encoding_gaussian_matrix', shape: [2, F] },
  ];
  await writeWeights(join(dir, 'diception.safetensors'), dice, 'F32', rng, spec.zeroWeights);

  const dims = { seq: 77 + 256, width: spec.textWidth, pooled: t.pooled_projection_dim };
  const entries = new Map<string, PromptEmbedding>();
  for (const prompt of spec.prompts) entries.set(prompt, { embeds: rng.normal(dims.seq * dims.width), pooled: rng.normal(dims.pooled) });
  await writeAtomic(join(dir, 'prompts.safetensors'), writePromptCache(entries, dims, 'f16', { model: 'random tiny demo model' }));
}
