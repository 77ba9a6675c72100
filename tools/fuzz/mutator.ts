// Seeded mutations for the fuzzer: byte flips, truncations, boundary integers, JSON tree edits
// and text edits. Every choice comes from one seed, so a failing case replays exactly.
import { Rng } from '../../src/runtime/random.ts';

/** Integers parsers get wrong: boundaries, off-by-ones, sign and width limits. */
const EVIL_NUMBERS = [0, 1, -1, 0xff, 0xffff, 0x7fffffff, 0xffffffff, 2 ** 32, 2 ** 53, 1e308, -1e308, 0.5, NaN];
/** JSON values to put where a parser expects something else. */
const EVIL_VALUES: unknown[] = [null, true, '', 'x', -1, 0, 1e308, 2 ** 53 + 2, 1.5, [], {}, [[]], { length: 1e9 }, '__proto__', 'constructor'];
const TEXT_EDITS = ['', '{', '}', '[', ']', '"', ',', ':', '-1', 'null', '1e400', '\\u0000', '\u0000', '\n', ';', ' ', '\ud800', '9'.repeat(30)];

export class Mutator {
  private readonly rng: Rng;
  constructor(seed: number) {
    this.rng = new Rng(seed);
  }
  int(n: number): number {
    return Math.min(n - 1, Math.floor(this.rng.uniform() * n));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  /** 1-4 random bytes of [lo, hi) replaced by random values. */
  flip(b: Uint8Array, lo = 0, hi = b.length): Uint8Array {
    const out = b.slice();
    if (hi <= lo) return out;
    for (let k = 1 + this.int(4); k > 0; k--) out[lo + this.int(hi - lo)] = this.int(256);
    return out;
  }
  truncate(b: Uint8Array): Uint8Array {
    return b.subarray(0, this.int(b.length));
  }
  /** A plausible-but-wrong integer: boundaries, off-by-ones and huge values. */
  evil(orig: number): number | bigint {
    return this.pick<number | bigint>([0, 1, orig - 1, orig + 1, orig * 2, 0xffff, 0xffffffff, 2 ** 31, 2n ** 63n, 2n ** 64n - 1n, this.int(1 << 20)]);
  }
  /** One of several byte-level damages, anywhere in `b` (or in [lo, hi)). */
  bytes(b: Uint8Array, lo = 0, hi = b.length): Uint8Array {
    switch (this.int(5)) {
      case 0:
        return this.flip(b, lo, hi);
      case 1:
        return this.truncate(b);
      case 2: {
        // A 4-byte little-endian boundary integer over a length/offset-sized field.
        const out = b.slice();
        const at = lo + this.int(Math.max(1, hi - lo - 3));
        const v = this.pick(EVIL_NUMBERS);
        new DataView(out.buffer).setUint32(Math.min(at, Math.max(0, out.length - 4)), Number.isFinite(v) ? v >>> 0 : 0, true);
        return out.length >= 4 ? out : b.slice();
      }
      case 3: {
        // A slice repeated (duplicated records, overlapping structures).
        const at = this.int(b.length + 1);
        const len = this.int(64);
        return Uint8Array.from([...b.subarray(0, at), ...b.subarray(at, at + len), ...b.subarray(at)]);
      }
      default: {
        // Random bytes inserted.
        const at = this.int(b.length + 1);
        const junk = Array.from({ length: 1 + this.int(16) }, () => this.int(256));
        return Uint8Array.from([...b.subarray(0, at), ...junk, ...b.subarray(at)]);
      }
    }
  }
  /** A text edit: a token inserted, characters deleted or replaced. */
  text(s: string): string {
    const at = this.int(s.length + 1);
    return s.slice(0, at) + this.pick(TEXT_EDITS) + s.slice(at + this.int(3));
  }
  /** A JSON document with one node replaced, removed or given an evil number; or a text edit. */
  json(v: unknown): string {
    if (this.int(4) === 0) return this.text(JSON.stringify(v));
    const copy = structuredClone(v);
    const nodes: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
    const walk = (x: unknown) => {
      if (Array.isArray(x)) x.forEach((c, i) => (nodes.push({ parent: x, key: i }), walk(c)));
      else if (x && typeof x === 'object') for (const [k, c] of Object.entries(x)) (nodes.push({ parent: x as Record<string, unknown>, key: k }), walk(c));
    };
    walk(copy);
    if (!nodes.length) return JSON.stringify(this.pick(EVIL_VALUES));
    const { parent, key } = this.pick(nodes);
    const old = (parent as Record<string | number, unknown>)[key];
    const r = this.int(3);
    if (r === 0 && !Array.isArray(parent)) delete (parent as Record<string, unknown>)[key as string];
    else if (r === 1 && typeof old === 'number') (parent as Record<string | number, unknown>)[key] = this.pick(EVIL_NUMBERS);
    else (parent as Record<string | number, unknown>)[key] = this.pick(EVIL_VALUES);
    return JSON.stringify(copy);
  }
}
