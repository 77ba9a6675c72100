// The demo model shrunk for tests that run the whole 768² pipeline: an 8-channel VAE without
// mid-block attention and a one-head transformer (the cost that scales is per-pixel width).
import { DEMO_SPEC, writeTinyModel } from '../../tools/tiny-model.ts';

export const SMALL_SPEC = {
  ...DEMO_SPEC,
  transformer: { ...DEMO_SPEC.transformer, num_attention_heads: 1, caption_projection_dim: 16 },
  vae: { ...DEMO_SPEC.vae, block_out_channels: [8, 8, 8, 8], mid_block_add_attention: false },
};

/** Writes the small model with the prompts of depth and segmentation (and the negative ""). */
export function writeSmallModel(dir: string): Promise<void> {
  return writeTinyModel(dir, { ...SMALL_SPEC, prompts: ['[[image2depth]]', '[[image2segmentation]]', ''] });
}
