// Golden `tokens`: CLIP ids of every prompt in tokens.json, exact, for both SD3 tokenizers.
import { join } from 'node:path';
import { ClipTokenizer } from '../../src/model/tokenizer-clip.ts';
import type { Output, Runner } from './types.ts';

interface TokensGolden {
  prompts: { text: string; tokenizer: number[]; tokenizer_2: number[] }[];
}

export const run: Runner = async (ctx) => {
  const golden = ctx.json as TokensGolden;
  const out: Output[] = [];
  for (const folder of ['tokenizer', 'tokenizer_2'] as const) {
    const tok = await ClipTokenizer.load(join(ctx.dir, folder));
    for (const p of golden.prompts) {
      out.push({ tensor: `${folder}:${JSON.stringify(p.text).slice(0, 40)}`, ours: tok.encode(p.text), expected: p[folder], exact: true });
    }
  }
  return out;
};
