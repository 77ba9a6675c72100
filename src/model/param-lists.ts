// The tensors (upstream names and shapes) that diffusers' SD3 transformer and AutoencoderKL
// hold for a given config.json. Used to check a checkpoint before loading it (one error listing
// every missing or mis-shaped tensor) and to generate random-weight models for demos and benches.

export interface ParamSpec {
  name: string;
  shape: number[];
}

export interface TransformerConfig {
  patch_size: number;
  in_channels: number;
  out_channels?: number;
  num_layers: number;
  attention_head_dim: number;
  num_attention_heads: number;
  joint_attention_dim: number;
  caption_projection_dim: number;
  pooled_projection_dim: number;
  pos_embed_max_size: number;
  sample_size?: number;
}

/** The fields of vae/config.json (AutoencoderKL) this project reads. */
export interface VaeConfig {
  in_channels?: number;
  out_channels?: number;
  block_out_channels: number[];
  layers_per_block: number;
  latent_channels: number;
  norm_num_groups: number;
  scaling_factor: number;
  shift_factor: number;
  act_fn?: string;
  mid_block_add_attention?: boolean;
  use_quant_conv?: boolean;
  use_post_quant_conv?: boolean;
  /** SD3's is true: diffusers runs the VAE in f32 (see precision.ts vaeActivations). */
  force_upcast?: boolean;
}

function linear(out: ParamSpec[], name: string, outF: number, inF: number, bias = true): void {
  out.push({ name: `${name}.weight`, shape: [outF, inF] });
  if (bias) out.push({ name: `${name}.bias`, shape: [outF] });
}

function conv(out: ParamSpec[], name: string, outC: number, inC: number, k: number): void {
  out.push({ name: `${name}.weight`, shape: [outC, inC, k, k] }, { name: `${name}.bias`, shape: [outC] });
}

function norm(out: ParamSpec[], name: string, c: number): void {
  out.push({ name: `${name}.weight`, shape: [c] }, { name: `${name}.bias`, shape: [c] });
}

export function transformerParams(cfg: TransformerConfig): ParamSpec[] {
  const c = cfg.num_attention_heads * cfg.attention_head_dim;
  const p = cfg.patch_size;
  const out: ParamSpec[] = [];
  conv(out, 'pos_embed.proj', c, cfg.in_channels, p);
  out.push({ name: 'pos_embed.pos_embed', shape: [1, cfg.pos_embed_max_size ** 2, c] });
  linear(out, 'time_text_embed.timestep_embedder.linear_1', c, 256);
  linear(out, 'time_text_embed.timestep_embedder.linear_2', c, c);
  linear(out, 'time_text_embed.text_embedder.linear_1', c, cfg.pooled_projection_dim);
  linear(out, 'time_text_embed.text_embedder.linear_2', c, c);
  linear(out, 'context_embedder', cfg.caption_projection_dim, cfg.joint_attention_dim);
  for (let i = 0; i < cfg.num_layers; i++) {
    const b = `transformer_blocks.${i}`;
    const last = i === cfg.num_layers - 1; // context_pre_only: no context output
    linear(out, `${b}.norm1.linear`, 6 * c, c);
    linear(out, `${b}.norm1_context.linear`, (last ? 2 : 6) * c, c);
    for (const n of ['to_q', 'to_k', 'to_v', 'add_q_proj', 'add_k_proj', 'add_v_proj', 'to_out.0']) linear(out, `${b}.attn.${n}`, c, c);
    if (!last) linear(out, `${b}.attn.to_add_out`, c, c);
    for (const ff of last ? ['ff'] : ['ff', 'ff_context']) {
      linear(out, `${b}.${ff}.net.0.proj`, 4 * c, c);
      linear(out, `${b}.${ff}.net.2`, c, 4 * c);
    }
  }
  linear(out, 'norm_out.linear', 2 * c, c);
  linear(out, 'proj_out', p * p * (cfg.out_channels ?? cfg.in_channels), c);
  return out;
}

function resnet(out: ParamSpec[], name: string, inC: number, outC: number): void {
  norm(out, `${name}.norm1`, inC);
  conv(out, `${name}.conv1`, outC, inC, 3);
  norm(out, `${name}.norm2`, outC);
  conv(out, `${name}.conv2`, outC, outC, 3);
  if (inC !== outC) conv(out, `${name}.conv_shortcut`, outC, inC, 1);
}

function midBlock(out: ParamSpec[], name: string, c: number, attention: boolean): void {
  resnet(out, `${name}.resnets.0`, c, c);
  if (attention) {
    norm(out, `${name}.attentions.0.group_norm`, c);
    for (const n of ['to_q', 'to_k', 'to_v', 'to_out.0']) linear(out, `${name}.attentions.0.${n}`, c, c);
  }
  resnet(out, `${name}.resnets.1`, c, c);
}

export function vaeParams(cfg: VaeConfig): ParamSpec[] {
  const ch = cfg.block_out_channels;
  const n = ch.length;
  const top = ch[n - 1];
  const attention = cfg.mid_block_add_attention ?? true;
  const out: ParamSpec[] = [];
  conv(out, 'encoder.conv_in', ch[0], cfg.in_channels ?? 3, 3);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < cfg.layers_per_block; j++) resnet(out, `encoder.down_blocks.${i}.resnets.${j}`, j === 0 ? ch[Math.max(0, i - 1)] : ch[i], ch[i]);
    if (i < n - 1) conv(out, `encoder.down_blocks.${i}.downsamplers.0.conv`, ch[i], ch[i], 3);
  }
  midBlock(out, 'encoder.mid_block', top, attention);
  norm(out, 'encoder.conv_norm_out', top);
  conv(out, 'encoder.conv_out', 2 * cfg.latent_channels, top, 3);
  if (cfg.use_quant_conv) conv(out, 'quant_conv', 2 * cfg.latent_channels, 2 * cfg.latent_channels, 1);
  if (cfg.use_post_quant_conv) conv(out, 'post_quant_conv', cfg.latent_channels, cfg.latent_channels, 1);
  conv(out, 'decoder.conv_in', top, cfg.latent_channels, 3);
  midBlock(out, 'decoder.mid_block', top, attention);
  const rev = [...ch].reverse();
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= cfg.layers_per_block; j++) resnet(out, `decoder.up_blocks.${i}.resnets.${j}`, j === 0 ? rev[Math.max(0, i - 1)] : rev[i], rev[i]);
    if (i < n - 1) conv(out, `decoder.up_blocks.${i}.upsamplers.0.conv`, rev[i], rev[i], 3);
  }
  norm(out, 'decoder.conv_norm_out', ch[0]);
  conv(out, 'decoder.conv_out', cfg.out_channels ?? 3, ch[0], 3);
  return out;
}
