// CLIP token ids must equal HF's CLIPTokenizer's (fixtures' golden/tokens.json) exactly.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ClipTokenizer } from '../../src/model/tokenizer-clip.ts';
import { describeFixtures, TINY } from '../helpers.ts';

interface GoldenPrompt {
  text: string;
  tokenizer: number[];
  tokenizer_2: number[];
  tokenizer_untruncated: number[];
}

describeFixtures('CLIP tokenizers vs HF CLIPTokenizer (tiny/golden/tokens.json)', () => {
  const golden = () => JSON.parse(readFileSync(join(TINY, 'golden/tokens.json'), 'utf8')) as { prompts: GoldenPrompt[] };

  for (const [folder, key] of [['tokenizer', 'tokenizer'], ['tokenizer_2', 'tokenizer_2']] as const) {
    it(`${folder}: every golden prompt gives the reference's 77 ids`, async () => {
      const tok = await ClipTokenizer.load(join(TINY, folder));
      const prompts = golden().prompts;
      expect(prompts.length).toBeGreaterThan(10);
      for (const p of prompts) expect(Array.from(tok.encode(p.text)), JSON.stringify(p.text)).toEqual(p[key]);
    });
  }

  it('tokenizer: untruncated ids of the over-long prompt (no 75-token cut inside encodeText)', async () => {
    const tok = await ClipTokenizer.load(join(TINY, 'tokenizer'));
    const long = golden().prompts.find((p) => p.tokenizer_untruncated.length > 77)!;
    expect([tok.bosId, ...tok.encodeText(long.text), tok.eosId]).toEqual(long.tokenizer_untruncated);
  });

  it('pads with the pad token each config names: 49407 for tokenizer, 0 ("!") for tokenizer_2', async () => {
    const [a, b] = await Promise.all([ClipTokenizer.load(join(TINY, 'tokenizer')), ClipTokenizer.load(join(TINY, 'tokenizer_2'))]);
    expect([a.padId, b.padId]).toEqual([49407, 0]);
    expect(Array.from(b.encode('wow!')).slice(0, 5)).toEqual([49406, a.encodeText('wow')[0], 0, 49407, 0]);
  });
});
