// T5's SentencePiece Unigram tokenizer from SD3's `tokenizer_3/tokenizer.json`, run by
// @huggingface/tokenizers (pure JS, Node and browsers). What this file adds is SD3's call:
// `tokenizer_3(text, padding="max_length", max_length=256, truncation=True)` — the text is cut
// to 255 pieces so that `</s>` (T5's post-processor template `$A </s>`) always ends it, then
// `<pad>` fills to 256.
import { Tokenizer } from '@huggingface/tokenizers';
import { platform } from '../runtime/platform.ts';
import { readJson } from '../runtime/weights.ts';
import { readJsonIfExists } from './files.ts';

interface T5TokenizerConfig {
  eos_token?: string | { content: string };
  pad_token?: string | { content: string };
}

const content = (t: string | { content: string } | undefined, fallback: string) =>
  t === undefined ? fallback : typeof t === 'string' ? t : t.content;

/**
 * The parts of tokenizer.json the tokenizers library trusts without checking: a token whose
 * content is not a string (say {"length": 1e9}) makes it loop over a billion "characters".
 */
function checkTokenizerJson(json: unknown, name: string): void {
  const j = json as { added_tokens?: unknown; model?: { vocab?: unknown } } | null;
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new Error(`${name}: tokenizer.json is not a JSON object`);
  const added = j.added_tokens ?? [];
  if (!Array.isArray(added)) throw new Error(`${name}: tokenizer.json "added_tokens" is not a list`);
  for (const t of added) {
    if (typeof t?.content !== 'string' || !Number.isSafeInteger(t.id)) throw new Error(`${name}: tokenizer.json added token ${JSON.stringify(t).slice(0, 60)} needs a string "content" and an integer "id"`);
  }
  const vocab = j.model?.vocab;
  if (Array.isArray(vocab) && !vocab.every((v) => Array.isArray(v) && typeof v[0] === 'string' && typeof v[1] === 'number')) {
    throw new Error(`${name}: tokenizer.json model.vocab must list [piece, score] pairs`);
  }
}

export class T5Tokenizer {
  readonly eosId: number;
  readonly padId: number;
  private readonly tok: Tokenizer;

  constructor(
    tokenizerJson: object,
    config: T5TokenizerConfig = {},
    readonly maxLength = 256,
    readonly name = 'T5 tokenizer',
  ) {
    const eos = content(config.eos_token, '</s>');
    const pad = content(config.pad_token, '<pad>');
    checkTokenizerJson(tokenizerJson, name);
    try {
      this.tok = new Tokenizer(tokenizerJson, { ...config, eos_token: eos, pad_token: pad });
    } catch (e) {
      // The library checks little and fails deep inside (a TypeError): say which file is wrong.
      throw new Error(`${name}: tokenizer.json is not a tokenizer this reader can build (${(e as Error).message})`);
    }
    const id = (role: string, t: string) => {
      const v = this.tok.token_to_id(t);
      if (v === undefined) throw new Error(`${name}: ${role} token '${t}' is not in tokenizer.json`);
      return v;
    };
    this.eosId = id('eos', eos);
    this.padId = id('pad', pad);
  }

  /** Reads `tokenizer.json` (required) and `tokenizer_config.json` (optional) from a folder. */
  static async load(dir: string, maxLength = 256): Promise<T5Tokenizer> {
    const p = platform();
    const path = p.join(dir, 'tokenizer.json');
    if (!(await p.exists(path))) {
      throw new Error(`${path} not found: the T5 tokenizer needs tokenizer.json (SD3's tokenizer_3 folder has it; spiece.model alone is not read)`);
    }
    const [json, config] = await Promise.all([readJson(path), readJsonIfExists<T5TokenizerConfig>(p.join(dir, 'tokenizer_config.json'))]);
    return new T5Tokenizer(json, config, maxLength, dir);
  }

  /** Piece ids of `text`, without `</s>` or truncation. */
  encodeText(text: string): number[] {
    try {
      return this.tok.encode(text, { add_special_tokens: false }).ids;
    } catch (e) {
      throw new Error(`${this.name}: tokenizer.json cannot encode ${JSON.stringify(text.slice(0, 40))} (${(e as Error).message})`);
    }
  }

  /** `[…pieces (≤ maxLength−1), </s>, <pad>…]`, maxLength long. */
  encode(text: string): Int32Array {
    const ids = this.encodeText(text).slice(0, this.maxLength - 1);
    const out = new Int32Array(this.maxLength).fill(this.padId);
    out.set(ids);
    out[ids.length] = this.eosId;
    return out;
  }
}
