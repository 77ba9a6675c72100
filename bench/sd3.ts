// SD3-medium's own configs (vae/config.json, transformer/config.json; ../shared/docs/MODEL.md):
// the benches build random- or zero-weight models of exactly these sizes.
import type { TransformerConfig, VaeConfig } from '../src/model/param-lists.ts';
import type { TinyModelSpec } from '../tools/tiny-model.ts';

export const SD3_VAE: VaeConfig = {
  in_channels: 3,
  out_channels: 3,
  block_out_channels: [128, 256, 512, 512],
  layers_per_block: 2,
  latent_channels: 16,
  norm_num_groups: 32,
  scaling_factor: 1.5305,
  shift_factor: 0.0609,
  mid_block_add_attention: true,
  use_quant_conv: false,
  use_post_quant_conv: false,
  force_upcast: true,
};

export const SD3_TRANSFORMER: TransformerConfig = {
  sample_size: 128,
  patch_size: 2,
  in_channels: 16,
  out_channels: 16,
  num_layers: 24,
  attention_head_dim: 64,
  num_attention_heads: 24,
  joint_attention_dim: 4096,
  caption_projection_dim: 1536,
  pooled_projection_dim: 2048,
  pos_embed_max_size: 192,
};

/** The whole model at the real size (DICEPTION's point encoder, T5-XXL-wide prompts), zero weights in sparse files. */
export const REAL_SPEC: Omit<TinyModelSpec, 'prompts'> = { transformer: SD3_TRANSFORMER, vae: SD3_VAE, pointFeatures: 1024, textWidth: 4096, zeroWeights: true };
