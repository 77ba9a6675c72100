// CLIPTextModelWithProjection (SD3's text_encoder = CLIP-L, text_encoder_2 = OpenCLIP bigG):
// token + position embeddings, pre-LN blocks with causal self-attention, final LayerNorm, and
// the pooled output (final hidden state at the end-of-text token) through text_projection.
// SD3 uses hidden_states[-2] (the input of the last block, no final norm) and the pooled output.
// The residual stream stays f32 in both precisions; weights and matmul inputs use `precision`.
import { attention } from '../kernels/attention.ts';
import { writable } from '../kernels/bands.ts';
import { linear } from '../kernels/matmul.ts';
import { layerNorm } from '../kernels/norms.ts';
import type { Activation } from '../kernels/types.ts';
import type { Gpu } from '../runtime/device.ts';
import { platform } from '../runtime/platform.ts';
import { fromArray, type DType, type Tensor } from '../runtime/tensor.ts';
import { closeOnError, readF32, readJson, uploadWeight, type WeightReader } from '../runtime/weights.ts';
import { gatherRows, openModelWeights } from './files.ts';

export interface ClipTextConfig {
  hidden_size: number;
  intermediate_size: number;
  num_attention_heads: number;
  num_hidden_layers: number;
  max_position_embeddings: number;
  layer_norm_eps: number;
  hidden_act: string;
  projection_dim: number;
  eos_token_id?: number;
}

interface Linear {
  w: Tensor;
  b?: Tensor;
}
interface Norm {
  weight: Tensor;
  bias: Tensor;
}
interface Layer {
  ln1: Norm;
  q: Linear;
  k: Linear;
  v: Linear;
  out: Linear;
  ln2: Norm;
  fc1: Linear;
  fc2: Linear;
}

export interface ClipOutput {
  /** hidden_states[-2]: [B, T, hidden], f32. */
  penultimate: Tensor;
  /** text_projection(final_layer_norm(h)[eos]): [B, projection_dim], f32. */
  pooled: Tensor;
}

/** Everything transformers returns, for conformance: hidden_states[0..layers], last_hidden_state. */
export interface ClipTrace extends ClipOutput {
  hiddenStates: Tensor[];
  lastHidden: Tensor;
}

const ACTS: Record<string, Activation> = { quick_gelu: 'quick_gelu', gelu: 'gelu', gelu_new: 'gelu_tanh', gelu_pytorch_tanh: 'gelu_tanh' };

export class ClipTextModel {
  private constructor(
    private readonly gpu: Gpu,
    readonly config: ClipTextConfig,
    private readonly weights: WeightReader,
    private readonly position: Float32Array,
    private readonly layers: Layer[],
    private readonly finalNorm: Norm,
    private readonly projection: Tensor,
    private readonly act: Activation,
    readonly name: string,
  ) {}

  static async load(gpu: Gpu, dir: string, precision: DType): Promise<ClipTextModel> {
    const config = await readJson<ClipTextConfig>(platform().join(dir, 'config.json'));
    const act = ACTS[config.hidden_act];
    if (!act) throw new Error(`${dir}/config.json: hidden_act '${config.hidden_act}' is not supported (expected ${Object.keys(ACTS).join(', ')})`);
    const D = config.hidden_size;
    const F = config.intermediate_size;
    if (D % config.num_attention_heads) throw new Error(`${dir}/config.json: hidden_size ${D} is not a multiple of num_attention_heads ${config.num_attention_heads}`);
    const r = await openModelWeights(dir);
    // The reader stays open for the embedding rows each prompt gathers; dispose() closes it.
    return closeOnError(r, async () => {
      const w = (name: string, shape: number[]) => uploadWeight(gpu, r, `text_model.${name}`, precision, shape);
      const lin = async (name: string, n: number, k: number): Promise<Linear> => ({ w: await w(`${name}.weight`, [n, k]), b: await w(`${name}.bias`, [n]) });
      const norm = async (name: string): Promise<Norm> => ({ weight: await w(`${name}.weight`, [D]), bias: await w(`${name}.bias`, [D]) });
      const layers: Layer[] = [];
      for (let i = 0; i < config.num_hidden_layers; i++) {
        const p = `encoder.layers.${i}`;
        layers.push({
          ln1: await norm(`${p}.layer_norm1`),
          q: await lin(`${p}.self_attn.q_proj`, D, D),
          k: await lin(`${p}.self_attn.k_proj`, D, D),
          v: await lin(`${p}.self_attn.v_proj`, D, D),
          out: await lin(`${p}.self_attn.out_proj`, D, D),
          ln2: await norm(`${p}.layer_norm2`),
          fc1: await lin(`${p}.mlp.fc1`, F, D),
          fc2: await lin(`${p}.mlp.fc2`, D, F),
        });
      }
      const posEntry = r.entry('text_model.embeddings.position_embedding.weight');
      if (posEntry.shape[0] !== config.max_position_embeddings || posEntry.shape[1] !== D) {
        throw new Error(`${r.name}: position_embedding has shape [${posEntry.shape}], expected [${config.max_position_embeddings}, ${D}]`);
      }
      const position = await readF32(posEntry);
      const finalNorm = await norm('final_layer_norm');
      const projection = await uploadWeight(gpu, r, 'text_projection.weight', precision, [config.projection_dim, D]);
      return new ClipTextModel(gpu, config, r, position, layers, finalNorm, projection, act, dir);
    });
  }

  /** ids: B×T token ids (T ≤ max_position_embeddings, 77 in SD3). */
  async encode(ids: Int32Array, batch: number): Promise<ClipOutput> {
    const t = await this.forward(ids, batch, false);
    for (const h of t.hiddenStates) if (h !== t.penultimate) h.dispose();
    t.lastHidden.dispose();
    return { penultimate: t.penultimate, pooled: t.pooled };
  }

  /** Like encode, keeping every hidden state (conformance against transformers' outputs). */
  trace(ids: Int32Array, batch: number): Promise<ClipTrace> {
    return this.forward(ids, batch, true);
  }

  private async forward(ids: Int32Array, batch: number, keepAll: boolean): Promise<ClipTrace> {
    const { gpu, config: c } = this;
    const T = ids.length / batch;
    const D = c.hidden_size;
    if (!Number.isInteger(T) || T < 1 || T > c.max_position_embeddings) {
      throw new Error(`${this.name}: ${ids.length} ids for batch ${batch} is not a sequence of 1..${c.max_position_embeddings} tokens per prompt`);
    }
    if (c.num_hidden_layers < 2) throw new Error(`${this.name}: hidden_states[-2] needs at least 2 layers`);
    const x0 = await gatherRows(this.weights.entry('text_model.embeddings.token_embedding.weight'), ids);
    for (let i = 0; i < x0.length; i++) x0[i] += this.position[i % (T * D)];
    // Activations in the weights' precision where the adapter can write it (f32 with packed f16).
    const dt = writable(gpu, this.projection.dtype);
    let h = fromArray(gpu, x0, [batch, T, D], 'f32');
    const hiddenStates = [h];
    for (const l of this.layers) {
      const x = await layerNorm(gpu, h, { eps: c.layer_norm_eps, ...l.ln1, outDtype: dt });
      const [q, k, v] = await Promise.all([l.q, l.k, l.v].map((p) => linear(gpu, x, p.w, p.b)));
      x.dispose();
      const a = await attention(gpu, q, k, v, { heads: c.num_attention_heads, causal: true, outDtype: dt });
      [q, k, v].forEach((t) => t.dispose());
      const h1 = await linear(gpu, a, l.out.w, l.out.b, { residual: h, outDtype: 'f32' });
      a.dispose();
      const y = await layerNorm(gpu, h1, { eps: c.layer_norm_eps, ...l.ln2, outDtype: dt });
      const m = await linear(gpu, y, l.fc1.w, l.fc1.b, { act: this.act });
      y.dispose();
      h = await linear(gpu, m, l.fc2.w, l.fc2.b, { residual: h1, outDtype: 'f32' });
      m.dispose();
      h1.dispose();
      hiddenStates.push(h);
      // Without a trace only hidden_states[-2] and [-1] are needed.
      if (!keepAll && hiddenStates.length > 2) hiddenStates.shift()!.dispose();
    }
    const penultimate = hiddenStates[hiddenStates.length - 2];
    const lastHidden = await layerNorm(gpu, h, { eps: c.layer_norm_eps, ...this.finalNorm, outDtype: 'f32' });
    const pooled = await this.pool(lastHidden, ids, batch, T);
    return { hiddenStates, penultimate, lastHidden, pooled };
  }

  /**
   * transformers 4.45: configs with the legacy eos_token_id 2 pool at argmax(input_ids) (the
   * end-of-text id is the largest); others at the first eos_token_id.
   */
  eosPositions(ids: Int32Array, batch: number): number[] {
    const T = ids.length / batch;
    const eos = this.config.eos_token_id ?? 2;
    return Array.from({ length: batch }, (_, b) => {
      const row = ids.subarray(b * T, (b + 1) * T);
      if (eos === 2) return row.indexOf(Math.max(...row));
      const i = row.indexOf(eos);
      return i < 0 ? 0 : i;
    });
  }

  private async pool(lastHidden: Tensor, ids: Int32Array, batch: number, T: number): Promise<Tensor> {
    const D = this.config.hidden_size;
    const all = await lastHidden.read();
    const rows = new Float32Array(batch * D);
    this.eosPositions(ids, batch).forEach((p, b) => rows.set(all.subarray((b * T + p) * D, (b * T + p + 1) * D), b * D));
    const x = fromArray(this.gpu, rows, [batch, D], 'f32');
    const pooled = await linear(this.gpu, x, this.projection, undefined, { outDtype: 'f32' });
    x.dispose();
    return pooled;
  }

  dispose(): void {
    for (const l of this.layers) {
      for (const t of [l.ln1, l.ln2]) (t.weight.dispose(), t.bias.dispose());
      for (const p of [l.q, l.k, l.v, l.out, l.fc1, l.fc2]) (p.w.dispose(), p.b?.dispose());
    }
    this.finalNorm.weight.dispose();
    this.finalNorm.bias.dispose();
    this.projection.dispose();
    // Closing a read-only file does not fail in practice; dispose() stays synchronous for its callers.
    void this.weights.close?.();
  }
}
