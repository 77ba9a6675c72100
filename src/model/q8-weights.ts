// 8-bit transformer weights (`--weights q8`): which linears are stored in 8 bits, and how a
// pre-quantised safetensors file (`diception convert --weights q8`) holds them, so the loader
// and the converter agree on both.
import { Q8_DEFAULT_GROUP } from '../runtime/q8.ts';
import type { WeightReader } from '../runtime/weights.ts';

/** f16: the published weights as they are; q8: the transformer's block linears in int8. */
export type WeightFormat = 'f16' | 'q8';
export const WEIGHT_FORMATS: readonly WeightFormat[] = ['f16', 'q8'];

/** What a load stored in 8 bits, for `--json` summaries. */
export interface Q8Summary {
  /** Linears held as int8 + scales. */
  linears: number;
  /** Their GPU bytes (data + scales), and what they would take in f16. */
  bytes: number;
  f16Bytes: number;
  group: number;
  /** 'load': quantised from the published f16/bf16 tensors; 'file': read pre-quantised. */
  source: 'load' | 'file';
}

/** Input columns per f16 scale (the finer of the kernels' two; the scales cost 3% on top of the int8). */
export const Q8_GROUP = Q8_DEFAULT_GROUP;

/**
 * The MMDiT linears stored in 8 bits: every block's attention projections (both streams), both
 * MLPs and the adaLN linears (norm1 / norm1_context.linear) that make the modulation. The adaLN
 * linears are a third of the blocks' bytes: kept in f16 the transformer would hold ~2.6 GiB and the
 * 768² request would peak above 3.2 GB, while in int8 they add 0.6e-3 to the transformer
 * golden's rel_l2 (README "8-bit weights"). The modulation itself (their f32 output), embedders,
 * norms, norm_out, proj_out and biases stay as published.
 */
const BLOCK_LINEAR = /^transformer_blocks\.\d+\.(attn\.(to_[qkv]|add_[qkv]_proj|to_out\.0|to_add_out)|ff(_context)?\.net\.(0\.proj|2)|norm1(_context)?\.linear)$/;

/** What `--weights q8` stores in 8 bits, for help texts and doctor. */
export const Q8_WHAT = `the transformer blocks' linears (attention, MLP, adaLN) as symmetric int8 with one f16 scale per ${Q8_GROUP} inputs`;

export function isQ8Linear(name: string): boolean {
  return BLOCK_LINEAR.test(name);
}

/**
 * GPU bytes of checkpoint tensor `name` [shape] once loaded with `weights`, where 8-bit storage
 * decides it (a block linear's weight under q8: int8 rows padded to 4 plus f16 group scales; a
 * pre-quantised file's int8 data and scales); undefined where the tensor loads as a float.
 */
export function q8Bytes(name: string, shape: readonly number[], weights: WeightFormat): number | undefined {
  if (name.endsWith('.weight.q8')) return shape[0] * shape[1];
  if (name.endsWith('.weight.q8_scales')) return shape[0] * shape[1] * 2;
  if (weights !== 'q8' || shape.length !== 2 || !name.endsWith('.weight') || !isQ8Linear(name.slice(0, -'.weight'.length))) return undefined;
  const [N, K] = shape;
  return N * 4 * Math.ceil(K / 4) + N * Math.ceil(K / Q8_GROUP) * 2;
}

/** `<linear>.weight.q8` (I8 [N, 4·⌈K/4⌉]) and `<linear>.weight.q8_scales` (F16 [N, ⌈K/group⌉]). */
export const q8DataName = (weight: string) => `${weight}.q8`;
export const q8ScalesName = (weight: string) => `${weight}.q8_scales`;
export const isQ8TensorName = (n: string) => n.endsWith('.weight.q8') || n.endsWith('.weight.q8_scales');

/** The `__metadata__` a pre-quantised file carries; the loader refuses any other scheme. */
export const Q8_SCHEME = 'symmetric-int8';
export const Q8_LAYOUT = 'int8 [N, K padded to 4] row-major (4 per little-endian u32 along K); f16 scales [N, ceil(K/group)]';

export function q8Metadata(group = Q8_GROUP): Record<string, string> {
  return { 'diception.weights': 'q8', 'diception.q8.scheme': Q8_SCHEME, 'diception.q8.group': String(group), 'diception.q8.layout': Q8_LAYOUT };
}

/** The group size of `r`'s pre-quantised tensors; a clear error for a scheme this build cannot read. */
export function q8FileGroup(r: WeightReader): number {
  const m = r.metadata ?? {};
  const scheme = m['diception.q8.scheme'];
  const group = Number(m['diception.q8.group']);
  if (scheme !== Q8_SCHEME || m['diception.q8.layout'] !== Q8_LAYOUT || !Number.isInteger(group) || group < 4 || group % 4) {
    throw new Error(
      `${r.name}: holds 8-bit weights in an unknown scheme (metadata scheme ${JSON.stringify(scheme ?? null)}, group ${JSON.stringify(m['diception.q8.group'] ?? null)}); ` +
        `this build reads '${Q8_SCHEME}' with the layout written by 'diception convert --weights q8': convert the original checkpoint again`,
    );
  }
  return group;
}

export function parseWeightFormat(v: unknown, flag: string): WeightFormat {
  const f = v ?? 'f16';
  if (!WEIGHT_FORMATS.includes(f as WeightFormat)) throw new Error(`${flag}: '${String(f)}' is not ${WEIGHT_FORMATS.join(' or ')}`);
  return f as WeightFormat;
}
