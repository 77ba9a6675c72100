// CLIP's byte-level BPE tokenizer, as HF's slow `CLIPTokenizer` runs it for SD3 without ftfy
// (DICEPTION does not install it): BasicTokenizer clean-up (control characters dropped,
// whitespace unified, CJK characters split off, NFC, lower-case, accents kept), CLIP's
// pre-tokenizer regex, bytes mapped to printable characters, BPE with `</w>` word ends,
// `<|startoftext|> … <|endoftext|>`, truncation and padding to `model_max_length` (77).
// Added tokens (from tokenizer_config.json) are split out before BPE: in SD3's `tokenizer_2`
// `!` is one, so every `!` becomes id 0 rather than part of a BPE word.
import { readJson } from '../runtime/weights.ts';
import { platform } from '../runtime/platform.ts';
import { readText } from './files.ts';

interface AddedTokenConfig {
  content: string;
}

export interface ClipTokenizerConfig {
  bos_token?: string | AddedTokenConfig;
  eos_token?: string | AddedTokenConfig;
  pad_token?: string | AddedTokenConfig;
  unk_token?: string | AddedTokenConfig;
  model_max_length?: number;
  added_tokens_decoder?: Record<string, AddedTokenConfig>;
}

/** A token given as text or as {content}; `what` names it when it is neither. */
function tokenText(t: string | AddedTokenConfig | undefined, fallback: string, what: string): string {
  if (t === undefined) return fallback;
  const text = typeof t === 'string' ? t : (t as AddedTokenConfig | null)?.content;
  if (typeof text !== 'string') throw new Error(`${what} is ${JSON.stringify(t)}, not a token (a string or {"content": string})`);
  return text;
}

const isObject = (v: unknown): v is object => typeof v === 'object' && v !== null && !Array.isArray(v);

// HF's CLIPTokenizer reads merges.txt lines [1, 49152 - 256 - 2 + 1): the header line is
// skipped and merges past the 48894th are ignored.
const MAX_MERGES = 49152 - 256 - 2;

// CLIP's pre-tokenizer (HF compiles it case-insensitively with the `regex` module).
const WORD_RE = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/giu;

/** GPT-2's byte -> printable character table, so BPE never sees spaces or control bytes. */
function byteEncoder(): string[] {
  const table: string[] = new Array(256);
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let extra = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(printable(b) ? b : 256 + extra++);
  return table;
}

function isCjk(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

const CONTROL = /^\p{C}$/u;
const SPACE_SEPARATOR = /^\p{Zs}$/u;

/** HF BasicTokenizer(strip_accents=False, do_split_on_punc=False).tokenize, joined by spaces. */
export function basicClean(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || SPACE_SEPARATOR.test(ch)) out += ' ';
    else if (cp === 0 || cp === 0xfffd || CONTROL.test(ch)) continue;
    else if (isCjk(cp)) out += ` ${ch} `;
    else out += ch;
  }
  return out
    .normalize('NFC')
    .split(/\s+/u)
    .filter((w) => w.length > 0)
    .map((w) => w.toLowerCase())
    .join(' ');
}

export class ClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly unkId: number;
  readonly maxLength: number;
  // A Map, not the JSON object: a BPE part such as 'constructor' must not find Object.prototype.
  private readonly vocab: Map<string, number>;
  private readonly ranks = new Map<string, number>();
  private readonly added = new Map<string, number>();
  private readonly addedRe: RegExp | undefined;
  private readonly bytes = byteEncoder();
  private readonly cache = new Map<string, number[]>();

  constructor(
    vocab: Record<string, number>,
    merges: string,
    config: ClipTokenizerConfig,
    readonly name = 'CLIP tokenizer',
  ) {
    if (!isObject(vocab)) throw new Error(`${name}: vocab.json is not an object of token -> id`);
    if (!isObject(config)) throw new Error(`${name}: tokenizer_config.json is not an object`);
    this.vocab = new Map(Object.entries(vocab));
    const lines = merges.split('\n');
    if (!lines[0]?.startsWith('#version')) throw new Error(`${name}: merges.txt does not start with a '#version' header`);
    lines.slice(1, 1 + MAX_MERGES).forEach((line, rank) => {
      const pair = line.trim();
      if (pair) this.ranks.set(pair, rank);
    });
    const id = (role: string, tok: string) => {
      const v = this.vocab.get(tok);
      if (v === undefined) throw new Error(`${name}: ${role} token '${tok}' is not in vocab.json`);
      return v;
    };
    const bos = tokenText(config.bos_token, '<|startoftext|>', `${name}: tokenizer_config.json bos_token`);
    const eos = tokenText(config.eos_token, '<|endoftext|>', `${name}: tokenizer_config.json eos_token`);
    this.bosId = id('bos', bos);
    this.eosId = id('eos', eos);
    this.unkId = id('unk', tokenText(config.unk_token, '<|endoftext|>', `${name}: tokenizer_config.json unk_token`));
    this.padId = id('pad', tokenText(config.pad_token, '<|endoftext|>', `${name}: tokenizer_config.json pad_token`));
    this.maxLength = config.model_max_length ?? 77;
    if (!Number.isSafeInteger(this.maxLength) || this.maxLength < 2 || this.maxLength > 1 << 16) {
      throw new Error(`${name}: tokenizer_config.json model_max_length ${JSON.stringify(config.model_max_length)} is not a length of 2..65536 tokens (SD3's is 77)`);
    }
    for (const [idStr, t] of Object.entries(config.added_tokens_decoder ?? {})) {
      this.added.set(tokenText(t, '', `${name}: tokenizer_config.json added_tokens_decoder["${idStr}"]`), Number(idStr));
    }
    this.added.set(bos, this.bosId).set(eos, this.eosId);
    // Longest first, as HF's trie prefers the longest added token at a position.
    const alts = [...this.added.keys()].sort((a, b) => b.length - a.length).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    this.addedRe = alts.length ? new RegExp(alts.join('|'), 'g') : undefined;
  }

  /** Reads `vocab.json`, `merges.txt` and `tokenizer_config.json` from a tokenizer folder. */
  static async load(dir: string): Promise<ClipTokenizer> {
    const p = platform();
    const [vocab, merges, config] = await Promise.all([
      readJson<Record<string, number>>(p.join(dir, 'vocab.json')),
      readText(p.join(dir, 'merges.txt')),
      readJson<ClipTokenizerConfig>(p.join(dir, 'tokenizer_config.json')),
    ]);
    return new ClipTokenizer(vocab, merges, config, dir);
  }

  /** BPE ids of `text` without start/end tokens or truncation. */
  encodeText(text: string): number[] {
    const ids: number[] = [];
    let last = 0;
    const chunk = (s: string) => {
      for (const word of basicClean(s).match(WORD_RE) ?? []) ids.push(...this.bpe(word));
    };
    for (const m of this.addedRe ? text.matchAll(this.addedRe) : []) {
      chunk(text.slice(last, m.index));
      ids.push(this.added.get(m[0])!);
      last = m.index + m[0].length;
    }
    chunk(text.slice(last));
    return ids;
  }

  /** What SD3 feeds CLIP: `[bos, …, eos]` truncated to maxLength and padded with the pad id. */
  encode(text: string): Int32Array {
    const ids = this.encodeText(text).slice(0, this.maxLength - 2);
    const out = new Int32Array(this.maxLength).fill(this.padId);
    out[0] = this.bosId;
    out.set(ids, 1);
    out[ids.length + 1] = this.eosId;
    return out;
  }

  private bpe(word: string): number[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    const encoded = Array.from(new TextEncoder().encode(word), (b) => this.bytes[b]);
    let parts = [...encoded.slice(0, -1), encoded[encoded.length - 1] + '</w>'];
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < parts.length; i++) {
        const r = this.ranks.get(parts[i] + ' ' + parts[i + 1]);
        if (r !== undefined && r < bestRank) [best, bestRank] = [i, r];
      }
      if (best < 0) break;
      const [a, b] = [parts[best], parts[best + 1]];
      const merged: string[] = [];
      for (let i = 0; i < parts.length; i++) {
        if (i + 1 < parts.length && parts[i] === a && parts[i + 1] === b) {
          merged.push(a + b);
          i++;
        } else merged.push(parts[i]);
      }
      parts = merged;
    }
    const ids = parts.map((p) => this.vocab.get(p) ?? this.unkId);
    this.cache.set(word, ids);
    return ids;
  }
}
