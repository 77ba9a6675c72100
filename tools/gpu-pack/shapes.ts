// The work the GPU report times, full size (DICEPTION at the 768² request) or --quick (small
// enough for lavapipe in CI). Our sections and the PyTorch script (torch_ref.py, given these
// as JSON) time the same items, matched by `key`.
import { MODEL_SHAPES } from '../../bench/matmul.ts';
import { FULL_SHAPES, type Shape as AttentionShape } from '../../bench/attention.ts';
import { SD3_TRANSFORMER, SD3_VAE } from '../../bench/sd3.ts';
import type { TransformerConfig, VaeConfig } from '../../src/model/param-lists.ts';

export interface LinearItem {
  key: string;
  M: number;
  N: number;
  K: number;
}

export interface AttentionItem extends AttentionShape {
  key: string;
}

export interface MMDiTWork {
  config: TransformerConfig;
  /** Latent side (image side / 8). */
  latent: number;
  promptTokens: number;
}

export interface Work {
  linears: LinearItem[];
  attention: AttentionItem[];
  mmdit: MMDiTWork;
  /** Conv strip FLOPs (bench/vae.ts benchConvs): Infinity times whole feature maps. */
  convFlops: number;
  vae: VaeConfig;
  vaeSize: number;
  /** Goldens of the tiny fixtures to check (undefined: all). */
  goldens?: string[];
}

const linear = ([M, N, K]: readonly number[]): LinearItem => ({ key: `linear ${M}x${N}x${K}`, M, N, K });
const attention = (s: AttentionShape): AttentionItem => ({ ...s, key: `attention B${s.batch} T${s.tokens} H${s.heads}x${s.headDim}` });

export function mmditKey(batch: number): string {
  return batch === 2 ? 'mmdit step with CFG (batch 2)' : 'mmdit step without CFG (batch 1)';
}

const FULL: Work = {
  linears: MODEL_SHAPES.map(linear),
  attention: FULL_SHAPES.map(attention),
  mmdit: { config: SD3_TRANSFORMER, latent: 96, promptTokens: 333 },
  convFlops: Infinity,
  vae: SD3_VAE,
  vaeSize: 768,
};

// Same code paths, awkward small sizes: a 2-block, 2-head MMDiT (the last block
// context_pre_only) and a 32-channel VAE.
const QUICK: Work = {
  linears: [[77, 96, 80]].map(linear),
  attention: [{ label: 'small', batch: 2, tokens: 45, heads: 2, headDim: 64 }].map(attention),
  mmdit: {
    config: { ...SD3_TRANSFORMER, num_layers: 2, num_attention_heads: 2, caption_projection_dim: 128, joint_attention_dim: 64, pooled_projection_dim: 32 },
    latent: 8,
    promptTokens: 7,
  },
  convFlops: 1,
  vae: { ...SD3_VAE, block_out_channels: [32, 32, 32, 32] },
  vaeSize: 32,
  goldens: ['transformer', 'point_embed', 'scheduler'],
};

export function work(quick: boolean): Work {
  return quick ? QUICK : FULL;
}

/**
 * FLOPs of one MMDiT forward over the blocks (linears and attention; the embedders and the
 * final layer are < 1%): per token 2·12·H² for q/k/v, output and the 4H MLP of each stream,
 * except the last block's context stream (q/k/v only), plus 4·T²·H for joint attention.
 */
export function mmditFlops(w: MMDiTWork, batch: number): number {
  const H = w.config.caption_projection_dim;
  const image = 2 * (w.latent / 2) ** 2;
  const context = w.promptTokens + 5;
  const T = image + context;
  const block = (last: boolean) => 2 * H * H * (12 * image + (last ? 3 : 12) * context) + 4 * T * T * H;
  const layers = w.config.num_layers;
  return batch * ((layers - 1) * block(false) + block(true));
}
