// The T5 path on a small Unigram tokenizer.json laid out like SD3's tokenizer_3 (no real T5
// vocabulary is available): Viterbi segmentation, unknown pieces, `</s>`, padding, truncation.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { T5Tokenizer } from '../../src/model/tokenizer-t5.ts';

const PIECES: [string, number][] = [
  ['<pad>', 0], ['</s>', 0], ['<unk>', 0], ['▁', -2], ['▁image', -3], ['▁depth', -4], ['▁[[', -5], [']]', -5],
  ['2', -4], ['[', -6], [']', -6], ['▁a', -3], ['▁photo', -4], ['▁of', -3], ['▁the', -2], ['▁cat', -5],
  ['image', -5], ['depth', -5], ['▁ph', -1], ['oto', -1],
];
const special = (id: number, c: string) => ({ id, content: c, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

/** The structure of T5's tokenizer.json (t5-v1_1 / SD3 tokenizer_3) with a tiny vocabulary. */
function tinyT5TokenizerJson(): object {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<pad>'), special(1, '</s>'), special(2, '<unk>')],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Precompiled', precompiled_charsmap: '' },
        { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' },
      ],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true }],
    },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } },
    },
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: 2, vocab: PIECES, byte_fallback: false },
  };
}

const CONFIG = { eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>', model_max_length: 512 };

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
