// T5EncoderModel (SD3's text_encoder_3, T5-XXL): embedding without scaling, pre-RMSNorm blocks
// of self-attention (no 1/√d scaling; a relative-position bias from block 0, shared by all
// blocks) and a gated tanh-GELU FFN, then a final RMSNorm. T5's activations overflow f16, so
// the residual stream and the FFN's inner activations stay f32 in both precisions (transformers
// keeps `wo` in f32 for the same reason); weights and the other matmul inputs use `precision`.
import { attention } from '../kernels/attention.ts';
import { writable } from '../kernels/bands.ts';
import { geluMul } from '../kernels/elementwise.ts';
import { linear } from '../kernels/matmul.ts';
import { rmsNorm } from '../kernels/norms.ts';
import type { Gpu } from '../runtime/device.ts';
import { platform } from '../runtime/platform.ts';
import { fromArray, type DType, type Tensor } from '../runtime/tensor.ts';
import { closeOnError, readF32, readJson, uploadWeight, type WeightReader } from '../runtime/weights.ts';
import { gatherRows, openModelWeights } from './files.ts';

export interface T5Config {
  d_model: number;
  d_kv: number;
  d_ff: number;
  num_heads: number;
  num_layers: number;
  relative_attention_num_buckets: number;
  relative_attention_max_distance?: number;
  layer_norm_epsilon: number;
  feed_forward_proj?: string;
  dense_act_fn?: string;
  is_gated_act?: boolean;
}

interface Block {
  ln0: Tensor;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  o: Tensor;
  ln1: Tensor;
  wi0: Tensor;
  wi1: Tensor;
  wo: Tensor;
}

/**
 * transformers' T5Attention._relative_position_bucket for an encoder (bidirectional): half the
 * buckets per direction, exact up to max_exact, logarithmic up to max_distance. The log branch
 * is evaluated in f32 like torch so bucket edges match.
 */
export function relativePositionBucket(relative: number, numBuckets: number, maxDistance: number): number {
  const half = numBuckets >> 1;
  const base = relative > 0 ? half : 0;
  const n = Math.abs(relative);
  const maxExact = half >> 1;
  if (n < maxExact) return base + n;
  const f = Math.fround;
  const large = Math.trunc(f(f(f(Math.log(f(n / maxExact))) / f(Math.log(maxDistance / maxExact))) * (half - maxExact)));
  return base + Math.min(maxExact + large, half - 1);
}

/** The additive attention bias [heads, T, T] from the bucket table [numBuckets, heads]. */
export function positionBias(table: Float32Array, heads: number, T: number, numBuckets: number, maxDistance: number): Float32Array {
  const out = new Float32Array(heads * T * T);
  for (let q = 0; q < T; q++) {
    for (let k = 0; k < T; k++) {
      const bucket = relativePositionBucket(k - q, numBuckets, maxDistance);
      for (let h = 0; h < heads; h++) out[(h * T + q) * T + k] = table[bucket * heads + h];
    }
  }
  return out;
}

export class T5Encoder {
  private readonly biasByLength = new Map<number, Tensor>();

  private constructor(
    private readonly gpu: Gpu,
    readonly config: T5Config,
    private readonly weights: WeightReader,
    private readonly embedName: string,
    private readonly biasTable: Float32Array,
    private readonly blocks: Block[],
    private readonly finalNorm: Tensor,
    readonly name: string,
  ) {}

  static async load(gpu: Gpu, dir: string, precision: DType): Promise<T5Encoder> {
    const config = await readJson<T5Config>(platform().join(dir, 'config.json'));
    // transformers: feed_forward_proj 'gated-gelu' means dense_act_fn 'gelu_new' (tanh GELU).
    const ffp = config.feed_forward_proj ?? 'relu';
    const act = config.dense_act_fn ?? (ffp === 'gated-gelu' ? 'gelu_new' : ffp.replace(/^gated-/, ''));
    const gated = config.is_gated_act ?? ffp.startsWith('gated-');
    if (!gated || !(act === 'gelu_new' || act === 'gelu_pytorch_tanh')) {
      throw new Error(`${dir}/config.json: only gated tanh-GELU T5 feed-forwards are supported (SD3's 'gated-gelu'), got feed_forward_proj '${ffp}', dense_act_fn '${act}'`);
    }
    const r = await openModelWeights(dir);
    // The reader stays open for the embedding rows each prompt gathers; dispose() closes it.
    return closeOnError(r, async () => {
      const embedName = ['shared.weight', 'encoder.embed_tokens.weight'].find((n) => r.has(n));
      if (!embedName) throw new Error(`${r.name}: no T5 embedding ('shared.weight' or 'encoder.embed_tokens.weight')`);
      const { d_model: D, d_ff: F } = config;
      const inner = config.num_heads * config.d_kv;
      const w = (name: string, shape: number[], dtype = precision) => uploadWeight(gpu, r, name, dtype, shape);
      const blocks: Block[] = [];
      for (let i = 0; i < config.num_layers; i++) {
        const a = `encoder.block.${i}.layer.0`;
        const f = `encoder.block.${i}.layer.1`;
        blocks.push({
          ln0: await w(`${a}.layer_norm.weight`, [D], 'f32'),
          q: await w(`${a}.SelfAttention.q.weight`, [inner, D]),
          k: await w(`${a}.SelfAttention.k.weight`, [inner, D]),
          v: await w(`${a}.SelfAttention.v.weight`, [inner, D]),
          o: await w(`${a}.SelfAttention.o.weight`, [D, inner]),
          ln1: await w(`${f}.layer_norm.weight`, [D], 'f32'),
          wi0: await w(`${f}.DenseReluDense.wi_0.weight`, [F, D]),
          wi1: await w(`${f}.DenseReluDense.wi_1.weight`, [F, D]),
          wo: await w(`${f}.DenseReluDense.wo.weight`, [D, F]),
        });
      }
      const biasEntry = r.entry('encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight');
      const nb = config.relative_attention_num_buckets;
      if (biasEntry.shape[0] !== nb || biasEntry.shape[1] !== config.num_heads) {
        throw new Error(`${r.name}: relative_attention_bias has shape [${biasEntry.shape}], expected [${nb}, ${config.num_heads}]`);
      }
      const finalNorm = await w('encoder.final_layer_norm.weight', [D], 'f32');
      return new T5Encoder(gpu, config, r, embedName, await readF32(biasEntry), blocks, finalNorm, dir);
    });
  }

  /** ids: B×T token ids -> last_hidden_state [B, T, d_model], f32. No attention mask (as SD3). */
  async encode(ids: Int32Array, batch: number): Promise<Tensor> {
    const { gpu, config: c } = this;
    const T = ids.length / batch;
    if (!Number.isInteger(T) || T < 1) throw new Error(`${this.name}: ${ids.length} ids is not a whole number of sequences for batch ${batch}`);
    // Activations in the weights' precision where the adapter can write it (f32 with packed f16).
    const dt = writable(gpu, this.blocks[0]?.q.dtype ?? 'f32');
    const bias = this.bias(T);
    let h = fromArray(gpu, await gatherRows(this.weights.entry(this.embedName), ids), [batch, T, c.d_model], 'f32');
    for (const b of this.blocks) {
      const x = await rmsNorm(gpu, h, b.ln0, c.layer_norm_epsilon, dt);
      const [q, k, v] = await Promise.all([b.q, b.k, b.v].map((wt) => linear(gpu, x, wt)));
      x.dispose();
      const a = await attention(gpu, q, k, v, { heads: c.num_heads, bias, scale: 1, outDtype: dt });
      [q, k, v].forEach((t) => t.dispose());
      const h1 = await linear(gpu, a, b.o, undefined, { residual: h, outDtype: 'f32' });
      a.dispose();
      h.dispose();
      const y = await rmsNorm(gpu, h1, b.ln1, c.layer_norm_epsilon, dt);
      const [g, u] = await Promise.all([linear(gpu, y, b.wi0, undefined, { outDtype: 'f32' }), linear(gpu, y, b.wi1, undefined, { outDtype: 'f32' })]);
      y.dispose();
      const m = await geluMul(gpu, g, u, 'f32');
      g.dispose();
      u.dispose();
      h = await linear(gpu, m, b.wo, undefined, { residual: h1, outDtype: 'f32' });
      m.dispose();
      h1.dispose();
    }
    const out = await rmsNorm(gpu, h, this.finalNorm, c.layer_norm_epsilon, 'f32');
    h.dispose();
    return out;
  }

  /** Computed once per sequence length and shared by every block and call. */
  private bias(T: number): Tensor {
    let t = this.biasByLength.get(T);
    if (!t) {
      const c = this.config;
      const values = positionBias(this.biasTable, c.num_heads, T, c.relative_attention_num_buckets, c.relative_attention_max_distance ?? 128);
      t = fromArray(this.gpu, values, [c.num_heads, T, T], 'f32');
      this.biasByLength.set(T, t);
    }
    return t;
  }

  dispose(): void {
    for (const b of this.blocks) for (const t of Object.values(b)) t.dispose();
    this.finalNorm.dispose();
    for (const t of this.biasByLength.values()) t.dispose();
    // Closing a read-only file does not fail in practice; dispose() stays synchronous for its callers.
    void this.weights.close?.();
  }
}
