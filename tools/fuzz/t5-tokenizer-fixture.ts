// A T5-style Unigram tokenizer.json with a tiny vocabulary (no real T5 vocabulary is available).

const PIECES: [string, number][] = [
  ['<pad>', 0], ['</s>', 0], ['<unk>', 0], ['▁', -2], ['▁image', -3], ['▁depth', -4], ['▁[[', -5], [']]', -5],
  ['2', -4], ['[', -6], [']', -6], ['▁a', -3], ['▁photo', -4], ['▁of', -3], ['▁the', -2], ['▁cat', -5],
  ['image', -5], ['depth', -5], ['▁ph', -1], ['oto', -1],
];
const special = (id: number, c: string) => ({ id, content: c, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

/** The structure of T5's tokenizer.json (t5-v1_1 / SD3 tokenizer_3) with a tiny vocabulary. */
export function tinyT5TokenizerJson(): object {
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

export const T5_TOKENIZER_CONFIG = { eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>', model_max_length: 512 };
