// The T5 path on a small Unigram tokenizer.json laid out like SD3's tokenizer_3 (no real T5
// vocabulary is available): Viterbi segmentation, unknown pieces, `</s>`, padding, truncation.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { T5Tokenizer } from '../../src/model/tokenizer-t5.ts';
import { T5_TOKENIZER_CONFIG as CONFIG, tinyT5TokenizerJson } from '../../tools/fuzz/t5-tokenizer-fixture.ts';

describe('T5Tokenizer (Unigram tokenizer.json built by the test)', () => {
  const tok = new T5Tokenizer(tinyT5TokenizerJson(), CONFIG);

  it('segments by the highest-scoring path and fuses unknown characters into one <unk>', () => {
    expect(tok.encodeText('[[image2depth]]')).toEqual([6, 16, 8, 17, 7]);
    // '▁ph'+'oto' (-1-1) outscores '▁photo' (-4); 'A' and 'CAT' are out of vocabulary.
    expect(tok.encodeText('A  photo of the CAT')).toEqual([3, 2, 18, 19, 13, 14, 3, 2]);
  });

  it('appends </s> and pads with <pad> to 256', () => {
    const ids = tok.encode('[[image2depth]]');
    expect(ids.length).toBe(256);
    expect(Array.from(ids.slice(0, 7))).toEqual([6, 16, 8, 17, 7, 1, 0]);
    expect(ids.slice(6).every((v) => v === 0)).toBe(true);
    expect(Array.from(tok.encode('').slice(0, 2))).toEqual([1, 0]);
  });

  it('truncates over-long text to 255 pieces and keeps </s> last', () => {
    const ids = tok.encode('a '.repeat(300));
    expect(ids.length).toBe(256);
    expect(ids.slice(0, 255).every((v) => v === 11)).toBe(true);
    expect(ids[255]).toBe(1);
  });

  it('load() reads tokenizer.json and tokenizer_config.json from a folder, and names a missing tokenizer.json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 't5tok-'));
    await expect(T5Tokenizer.load(dir)).rejects.toThrow(/tokenizer\.json not found/);
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tinyT5TokenizerJson()));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(CONFIG));
    const loaded = await T5Tokenizer.load(dir, 8);
    expect(Array.from(loaded.encode('the cat'))).toEqual([14, 15, 1, 0, 0, 0, 0, 0]);
  });
});
