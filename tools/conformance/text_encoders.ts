// Golden `text_encoders`: CLIP-L and CLIP-G (ids, every hidden state, pooled), the T5 encoder
// on the golden's synthetic ids, and SD3's assembled prompt / negative-prompt embeddings.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClipTextModel } from '../../src/model/clip.ts';
import { encodePrompts, type PromptTokenizer } from '../../src/model/prompt.ts';
import { T5Encoder } from '../../src/model/t5.ts';
import { ClipTokenizer } from '../../src/model/tokenizer-clip.ts';
import type { Gpu } from '../../src/runtime/device.ts';
import type { DType } from '../../src/runtime/tensor.ts';
import { readF32 } from '../../src/runtime/weights.ts';
import type { Output, Runner } from './types.ts';

/**
 * The fixtures have no T5 vocabulary: their T5 ids are synthetic, listed per prompt in
 * golden/tokens.json (`</s>` included). This tokenizer looks them up and pads with 0 to `length`.
 */
export function syntheticT5Tokenizer(fixtureDir: string, length = 256): PromptTokenizer {
  const table = (JSON.parse(readFileSync(join(fixtureDir, 'golden', 'tokens.json'), 'utf8')) as { t5_synthetic_ids: Record<string, number[]> }).t5_synthetic_ids;
  return {
    encode(text) {
      const ids = table[text];
      if (!ids) throw new Error(`no synthetic T5 ids for ${JSON.stringify(text)} in tokens.json`);
      const out = new Int32Array(length);
      out.set(ids.slice(0, length));
      return out;
    },
  };
}

/** Beside the T5 rows: they pass on ids the fixture made up, so they say nothing about T5's real tokenizer. */
export const T5_NOTE = 't5 ids: synthetic (no upstream vocabulary)';

/** Runs one CLIP encoder on the batch and returns every traced tensor under `prefix`. */
async function clipOutputs(gpu: Gpu, dir: string, folder: string, tokFolder: string, prefix: string, batch: string[], precision: DType): Promise<Output[]> {
  const tok = await ClipTokenizer.load(join(dir, tokFolder));
  const ids = new Int32Array(batch.length * tok.maxLength);
  batch.forEach((t, i) => ids.set(tok.encode(t), i * tok.maxLength));
  const model = await ClipTextModel.load(gpu, join(dir, folder), precision);
  try {
    const t = await model.trace(ids, batch.length);
    const out: Output[] = [{ tensor: `${prefix}_input_ids`, ours: Float32Array.from(ids), exact: true }];
    for (const [i, h] of t.hiddenStates.entries()) out.push({ tensor: `${prefix}_hidden_states_${i}`, ours: await h.read() });
    out.push({ tensor: `${prefix}_penultimate`, ours: await t.penultimate.read() });
    out.push({ tensor: `${prefix}_last_hidden`, ours: await t.lastHidden.read() });
    out.push({ tensor: `${prefix}_pooled`, ours: await t.pooled.read() });
    for (const x of [...t.hiddenStates, t.lastHidden, t.pooled]) x.dispose();
    return out;
  } finally {
    model.dispose();
  }
}

export const run: Runner = async (ctx) => {
  const { gpu, dir, precision } = ctx;
  const golden = ctx.golden!;
  const batch = (ctx.manifest as { enc_batch?: string[] }).enc_batch ?? ['[[image2depth]]', '[[image2semantic]] dining table'];
  const negative = (ctx.manifest as { negative_prompt?: string }).negative_prompt ?? '';
  const out: Output[] = [
    ...(await clipOutputs(gpu, dir, 'text_encoder', 'tokenizer', 'clip_l', batch, precision)),
    ...(await clipOutputs(gpu, dir, 'text_encoder_2', 'tokenizer_2', 'clip_g', batch, precision)),
  ];

  const t5Ids = Int32Array.from(await readF32(golden.entry('t5_input_ids')));
  const t5 = await T5Encoder.load(gpu, join(dir, 'text_encoder_3'), precision);
  try {
    const h = await t5.encode(t5Ids, batch.length);
    out.push({ tensor: 't5_last_hidden', ours: await h.read(), note: T5_NOTE });
    h.dispose();
  } finally {
    t5.dispose();
  }

  const t5Tokenizer = syntheticT5Tokenizer(dir, t5Ids.length / batch.length);
  out.push({ tensor: 't5_input_ids', ours: Float32Array.from(batch.flatMap((t) => Array.from(t5Tokenizer.encode(t)))), exact: true, note: T5_NOTE });
  for (const [texts, embeds, pooled] of [
    [batch, 'prompt_embeds', 'pooled_prompt_embeds'],
    [batch.map(() => negative), 'negative_prompt_embeds', 'negative_pooled_prompt_embeds'],
  ] as const) {
    const e = await encodePrompts(gpu, dir, texts, precision, undefined, { tokenizers: { t5: t5Tokenizer } });
    out.push({ tensor: embeds, ours: await e.promptEmbeds.read() }, { tensor: pooled, ours: await e.pooled.read() });
    e.promptEmbeds.dispose();
    e.pooled.dispose();
  }
  return out;
};
