// transformer/config.json of an SD3Transformer2DModel, validated. Every size the MMDiT uses
// comes from here (the tiny fixtures and SD3-medium run the same code).

export interface MMDiTConfig {
  patchSize: number;
  inChannels: number;
  outChannels: number;
  layers: number;
  heads: number;
  headDim: number;
  /** heads·headDim: the width of both streams. */
  hidden: number;
  jointAttentionDim: number;
  pooledProjectionDim: number;
  /** Side of the stored square sin-cos position table, in patches. */
  posEmbedMaxSize: number;
}

function int(raw: Record<string, unknown>, key: string, where: string, fallback?: number): number {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`${where}: "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

export function parseMMDiTConfig(raw: Record<string, unknown>, where = 'transformer/config.json'): MMDiTConfig {
  if (raw._class_name !== undefined && raw._class_name !== 'SD3Transformer2DModel') {
    throw new Error(`${where}: _class_name is '${String(raw._class_name)}', expected 'SD3Transformer2DModel'`);
  }
  // SD3.5's extras change the block; refuse them rather than compute something else.
  if (raw.qk_norm) throw new Error(`${where}: qk_norm '${String(raw.qk_norm)}' is not supported (SD3-medium has none)`);
  if (Array.isArray(raw.dual_attention_layers) && raw.dual_attention_layers.length) {
    throw new Error(`${where}: dual_attention_layers are not supported (SD3-medium has none)`);
  }
  const heads = int(raw, 'num_attention_heads', where);
  const headDim = int(raw, 'attention_head_dim', where);
  const hidden = heads * headDim;
  const caption = int(raw, 'caption_projection_dim', where);
  // The context stream runs through the same joint blocks as the image stream.
  if (caption !== hidden) throw new Error(`${where}: caption_projection_dim ${caption} must equal num_attention_heads·attention_head_dim = ${hidden}`);
  const inChannels = int(raw, 'in_channels', where);
  return {
    patchSize: int(raw, 'patch_size', where),
    inChannels,
    outChannels: int(raw, 'out_channels', where, inChannels),
    layers: int(raw, 'num_layers', where),
    heads,
    headDim,
    hidden,
    jointAttentionDim: int(raw, 'joint_attention_dim', where),
    pooledProjectionDim: int(raw, 'pooled_projection_dim', where),
    posEmbedMaxSize: int(raw, 'pos_embed_max_size', where),
  };
}
