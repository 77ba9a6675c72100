// The precision a model runs in and the storage dtypes it implies on this adapter.
import type { Gpu } from '../runtime/device.ts';
import type { DType } from '../runtime/tensor.ts';
import type { MMDiTConfig } from './mmdit-config.ts';
import { estimateActivations } from './preflight.ts';
import type { VaeConfig } from './param-lists.ts';
import type { WeightFormat } from './q8-weights.ts';
import { MODEL_SIZE, type Precision } from './pipeline-types.ts';

/** f32: everything f32. f16: f16 weights; f16 activations where the adapter has shader-f16. */
export type { Precision };

export interface Dtypes {
  /** Matrices (Linear weights). Small vectors (biases, norms) stay f32. */
  weight: DType;
  /** Activations that feed matmuls and attention. Residual streams and modulation stay f32. */
  act: DType;
}

export function dtypesFor(gpu: Gpu, precision: Precision): Dtypes {
  if (precision !== 'f32' && precision !== 'f16') throw new Error(`precision must be 'f32' or 'f16', got '${String(precision)}'`);
  if (precision === 'f32') return { weight: 'f32', act: 'f32' };
  // Without shader-f16 the weights stay packed halves and shaders compute in f32.
  return { weight: 'f16', act: gpu.caps.f16 ? 'f16' : 'f32' };
}

/** --vae-precision: auto follows vae/config.json's force_upcast; f16 or f32 force the VAE's activations. */
export type VaePrecision = 'auto' | 'f16' | 'f32';

export interface VaeActivations {
  /** Storage dtype of the VAE's activations. */
  act: DType;
  /** Why, in words (for --json and the prediction metadata). */
  reason: string;
}

/**
 * The VAE's activation dtype. SD3's vae/config.json says `force_upcast: true` (diffusers runs
 * that VAE in f32: its activations overflow f16), so under f16 precision it gets f32
 * activations (its weights stay f16) when one 768² feature map of them fits a GPU buffer;
 * `--vae-precision f16` keeps the f16 path. `--weights q8` is the low-memory configuration: f32
 * activations would add ~0.6 GB to the decode's peak at 768², so there the VAE stays f16 (an
 * overflow is still caught by the finite-activation check, whose message names the flag).
 */
export function vaeActivations(gpu: Gpu, precision: Precision, config: VaeConfig, mmdit: MMDiTConfig, requested: VaePrecision = 'auto', weights: WeightFormat = 'f16'): VaeActivations {
  if (!['auto', 'f16', 'f32'].includes(requested)) throw new Error(`--vae-precision: '${String(requested)}' is not auto, f16 or f32`);
  const act = dtypesFor(gpu, precision).act;
  if (act === 'f32') return { act, reason: precision === 'f32' ? '--precision f32' : 'this adapter lacks shader-f16' };
  if (requested !== 'auto') return { act: requested, reason: `--vae-precision ${requested}` };
  if (!config.force_upcast) return { act: 'f16', reason: 'f16 precision (vae/config.json does not ask for force_upcast)' };
  if (weights === 'q8') return { act: 'f16', reason: '--weights q8 keeps the VAE in f16 to save memory (--vae-precision f32 honours force_upcast)' };
  const [map] = estimateActivations({ vae: config, mmdit, vaeAct: 4, mmditAct: 2 }, { batch: 1, side: MODEL_SIZE, guidance: false }).largest;
  if (map.bytes > gpu.caps.maxBufferSize) {
    return { act: 'f16', reason: `vae/config.json asks for force_upcast, but one f32 feature map at ${MODEL_SIZE}² (${(map.bytes / 2 ** 20).toFixed(0)} MiB) is above this adapter's largest buffer` };
  }
  return { act: 'f32', reason: 'vae/config.json force_upcast: true' };
}
