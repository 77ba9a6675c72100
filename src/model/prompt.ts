// SD3's prompt embeddings (diffusers 0.30.3 StableDiffusion3Pipeline.encode_prompt, which
// DICEPTION's Renderer.encode_prompt equals): CLIP-L and CLIP-G penultimate hidden states
// concatenated on features and zero-padded to T5's width, then T5's 256 tokens appended on the
// sequence -> [77 + 256, 4096]; pooled = CLIP-L pooled ⊕ CLIP-G pooled -> [2048].
// Each text encoder is loaded, run over every prompt and freed before the next one, so at most
// one of them is on the GPU; prompts held by a PromptCache skip the encoders entirely.
import type { Gpu } from '../runtime/device.ts';
import { platform } from '../runtime/platform.ts';
import { fromArray, type DType, type Tensor } from '../runtime/tensor.ts';
import { readJson } from '../runtime/weights.ts';
import { ClipTextModel } from './clip.ts';
import type { PromptCache, PromptDims, PromptEmbedding } from './prompt-cache.ts';
import { T5Encoder } from './t5.ts';
import { ClipTokenizer } from './tokenizer-clip.ts';
import { T5Tokenizer } from './tokenizer-t5.ts';

/** Anything that turns a prompt into a fixed-length id sequence. */
export interface PromptTokenizer {
  encode(text: string): Int32Array;
}

export interface PromptOptions {
  /** Replace a tokenizer of the SD3 folder (tests; a folder without tokenizer_3). */
  tokenizers?: { clipL?: PromptTokenizer; clipG?: PromptTokenizer; t5?: PromptTokenizer };
  /** T5 tokens per prompt (SD3's max_sequence_length, 256). */
  t5Length?: number;
  /** Prompts per encoder call (bounds activation memory). */
  batch?: number;
  /** Progress lines ("loading text_encoder_3", ...). */
  log?: (line: string) => void;
}

export interface PromptEmbeds {
  /** [B, 77 + t5Length, t5 width] in the requested precision. */
  promptEmbeds: Tensor;
  /** [B, CLIP-L proj + CLIP-G proj], same dtype. */
  pooled: Tensor;
}

const CLIP_TOKENS = 77;

/** Embeddings of each prompt (one entry per distinct text), computed by the text encoders. */
export async function embedPrompts(gpu: Gpu, sd3Dir: string, prompts: readonly string[], precision: DType, o: PromptOptions = {}): Promise<Map<string, PromptEmbedding>> {
  const p = platform();
  const dir = (name: string) => p.join(sd3Dir, name);
  const log = o.log ?? (() => {});
  const texts = [...new Set(prompts)];
  const chunk = o.batch ?? 8;
  const t5Length = o.t5Length ?? 256;

  const runClip = async (encoder: string, tokenizer: string, given?: PromptTokenizer) => {
    const tok = given ?? (await ClipTokenizer.load(dir(tokenizer)));
    log(`loading ${encoder}`);
    const model = await ClipTextModel.load(gpu, dir(encoder), precision);
    const hidden: Float32Array[] = [];
    const pooled: Float32Array[] = [];
    try {
      for (let i = 0; i < texts.length; i += chunk) {
        const part = texts.slice(i, i + chunk);
        const ids = concatIds(part.map((t) => tok.encode(t)), CLIP_TOKENS, `${tokenizer}`);
        const out = await model.encode(ids, part.length);
        const [h, pl] = await Promise.all([out.penultimate.read(), out.pooled.read()]);
        out.penultimate.dispose();
        out.pooled.dispose();
        const D = model.config.hidden_size;
        const P = model.config.projection_dim;
        part.forEach((_, b) => (hidden.push(h.slice(b * CLIP_TOKENS * D, (b + 1) * CLIP_TOKENS * D)), pooled.push(pl.slice(b * P, (b + 1) * P))));
      }
    } finally {
      model.dispose();
      gpu.pool.trim();
    }
    return { hidden, pooled, width: model.config.hidden_size, proj: model.config.projection_dim };
  };

  const l = await runClip('text_encoder', 'tokenizer', o.tokenizers?.clipL);
  const g = await runClip('text_encoder_2', 'tokenizer_2', o.tokenizers?.clipG);

  // diffusers: without text_encoder_3 the T5 part is zeros of the transformer's joint_attention_dim.
  let t5: Float32Array[] | undefined;
  let width: number;
  if (await p.exists(p.join(dir('text_encoder_3'), 'config.json'))) {
    const tok = o.tokenizers?.t5 ?? (await T5Tokenizer.load(dir('tokenizer_3'), t5Length));
    log('loading text_encoder_3');
    const model = await T5Encoder.load(gpu, dir('text_encoder_3'), precision);
    width = model.config.d_model;
    t5 = [];
    try {
      for (let i = 0; i < texts.length; i += chunk) {
        const part = texts.slice(i, i + chunk);
        const out = await model.encode(concatIds(part.map((t) => tok.encode(t)), t5Length, 'tokenizer_3'), part.length);
        const h = await out.read();
        out.dispose();
        part.forEach((_, b) => t5!.push(h.slice(b * t5Length * width, (b + 1) * t5Length * width)));
      }
    } finally {
      model.dispose();
      gpu.pool.trim();
    }
  } else {
    log('no text_encoder_3: T5 embeddings are zeros (as diffusers does without it)');
    width = (await readJson<{ joint_attention_dim: number }>(p.join(dir('transformer'), 'config.json'))).joint_attention_dim;
  }

  if (l.width + g.width > width) throw new Error(`${sd3Dir}: CLIP widths ${l.width} + ${g.width} exceed T5's ${width}`);
  const dims: PromptDims = { seq: CLIP_TOKENS + t5Length, width, pooled: l.proj + g.proj };
  const result = new Map<string, PromptEmbedding>();
  texts.forEach((text, i) => {
    const embeds = new Float32Array(dims.seq * width);
    for (let t = 0; t < CLIP_TOKENS; t++) {
      embeds.set(l.hidden[i].subarray(t * l.width, (t + 1) * l.width), t * width);
      embeds.set(g.hidden[i].subarray(t * g.width, (t + 1) * g.width), t * width + l.width);
    }
    if (t5) embeds.set(t5[i], CLIP_TOKENS * width);
    const pooled = new Float32Array(dims.pooled);
    pooled.set(l.pooled[i]);
    pooled.set(g.pooled[i], l.proj);
    result.set(text, { embeds, pooled });
  });
  return result;
}

/**
 * The batch [B, 333, 4096] / [B, 2048] for `prompts` (repeats allowed, e.g. ["", "", p, p]).
 * Prompts found in `cache` are read from it; text encoders load only for the others.
 */
export async function encodePrompts(
  gpu: Gpu,
  sd3Dir: string,
  prompts: readonly string[],
  precision: DType,
  cache?: PromptCache,
  o: PromptOptions = {},
): Promise<PromptEmbeds> {
  if (prompts.length === 0) throw new Error('encodePrompts: no prompts');
  const found = new Map<string, PromptEmbedding>();
  if (cache) {
    for (const text of new Set(prompts)) {
      const e = await cache.get(text);
      if (e) found.set(text, e);
    }
  }
  const missing = [...new Set(prompts)].filter((t) => !found.has(t));
  if (missing.length) {
    if (cache) o.log?.(`${missing.length} prompt(s) not in ${cache.name}: running the text encoders`);
    for (const [t, e] of await embedPrompts(gpu, sd3Dir, missing, precision, o)) found.set(t, e);
  }
  const first = found.get(prompts[0])!;
  const seqWidth = first.embeds.length;
  const pooledWidth = first.pooled.length;
  const embeds = new Float32Array(prompts.length * seqWidth);
  const pooled = new Float32Array(prompts.length * pooledWidth);
  prompts.forEach((text, b) => {
    const e = found.get(text)!;
    if (e.embeds.length !== seqWidth || e.pooled.length !== pooledWidth) {
      throw new Error(`encodePrompts: cached embeddings of ${JSON.stringify(text)} have another size than the encoders' (${e.embeds.length} vs ${seqWidth}); the cache belongs to another model`);
    }
    embeds.set(e.embeds, b * seqWidth);
    pooled.set(e.pooled, b * pooledWidth);
  });
  const seq = missing.length || !cache ? CLIP_TOKENS + (o.t5Length ?? 256) : cache.dims.seq;
  if (seqWidth % seq) throw new Error(`encodePrompts: ${seqWidth} values per prompt is not ${seq} tokens × width`);
  return {
    promptEmbeds: fromArray(gpu, embeds, [prompts.length, seq, seqWidth / seq], precision),
    pooled: fromArray(gpu, pooled, [prompts.length, pooledWidth], precision),
  };
}

function concatIds(rows: Int32Array[], length: number, tokenizer: string): Int32Array {
  const out = new Int32Array(rows.length * length);
  rows.forEach((r, i) => {
    if (r.length !== length) throw new Error(`${tokenizer}: ${r.length} ids for a prompt, expected ${length}`);
    out.set(r, i * length);
  });
  return out;
}
