// Mutation fuzzing of both weight formats: every mutated file must either open (and then read
// every tensor) or be refused with an Error. A crash, a hang or a non-Error throw fails.
import { describe, expect, it } from 'vitest';
import { openPth } from '../../src/runtime/pth/index.ts';
import { SafetensorsFile } from '../../src/runtime/safetensors.ts';
import { Rng } from '../../src/runtime/random.ts';
import { readF32, readRaw, safetensorsReader, type WeightReader } from '../../src/runtime/weights.ts';
import { f32Bytes, le, mem, P, pk, pth, safetensors, statePickle, tensorOps, utf8, type PthTensor } from './build.ts';

const CASES_PER_KIND = 400;

class Mutator {
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
}

/** Opens, then reads every tensor, so offsets a parse accepted are exercised too. */
async function outcome(open: () => Promise<WeightReader>): Promise<'ok' | 'refused'> {
  let r: WeightReader;
  try {
    r = await open();
  } catch (e) {
    if (!(e instanceof Error)) throw new Error(`non-Error thrown: ${String(e)}`);
    if (/Maximum call stack|out of memory|Invalid array length/i.test(e.message)) throw new Error(`engine failure, not a clear refusal: ${e.message}`);
    return 'refused';
  }
  for (const n of r.names()) {
    const e = r.entry(n);
    const bytes = await readRaw(e);
    expect(bytes.length).toBe(e.byteLength);
    if (e.dtype === 'F32' || e.dtype === 'F16' || e.dtype === 'BF16') await readF32(e);
  }
  return 'ok';
}

async function fuzz(kinds: Record<string, (m: Mutator) => Uint8Array>, open: (b: Uint8Array) => Promise<WeightReader>) {
  const tally: Record<string, { ok: number; refused: number }> = {};
  let seed = 1;
  for (const [kind, mutate] of Object.entries(kinds)) {
    tally[kind] = { ok: 0, refused: 0 };
    for (let i = 0; i < CASES_PER_KIND; i++) {
      const m = new Mutator(seed++);
      const bytes = mutate(m);
      try {
        tally[kind][await outcome(() => open(bytes))]++;
      } catch (e) {
        throw new Error(`${kind} case ${i} (seed ${seed - 1}): ${(e as Error).message}`);
      }
    }
  }
  return tally;
}

describe('fuzzing safetensors headers', () => {
  const base = safetensors(
    {
      w: { dtype: 'F16', shape: [2, 3], data: new Uint8Array(12).fill(0x3c) },
      b: { dtype: 'F32', shape: [3], data: f32Bytes([1, 2, 3]) },
      ids: { dtype: 'I64', shape: [2], data: new Uint8Array(16) },
    },
    { metadata: { format: 'pt' } },
  );
  const headerLen = Number(new DataView(base.buffer).getBigUint64(0, true));
  const header = new TextDecoder().decode(base.subarray(8, 8 + headerLen));
  const data = base.subarray(8 + headerLen);
  const withHeader = (text: string) => {
    const t = utf8(text);
    return Uint8Array.from([...le(8, t.length), ...t, ...data]);
  };

  it(`${CASES_PER_KIND * 5} mutated files each open or throw an Error`, async () => {
    const tally = await fuzz(
      {
        'header byte flips': (m) => m.flip(base, 8, 8 + headerLen),
        truncations: (m) => m.truncate(base),
        'length field': (m) => Uint8Array.from([...le(8, m.evil(headerLen)), ...base.subarray(8)]),
        'JSON number edits': (m) => {
          let k = 0;
          const target = m.int(20);
          return withHeader(header.replace(/\d+/g, (d) => (k++ === target ? String(m.evil(Number(d))) : d)));
        },
        'JSON text edits': (m) => {
          const at = m.int(header.length);
          const edit = m.pick(['', '{', '}', '[', ']', '"', ',', ':', '-1', 'null', '"F16"', '1e400', '\\u0000']);
          return withHeader(header.slice(0, at) + edit + header.slice(at + m.int(3)));
        },
      },
      (b) => SafetensorsFile.open(mem('fuzz.safetensors', b)).then(safetensorsReader),
    );
    // The mutations must exercise both outcomes, or the fuzzer is not reaching the checks.
    for (const [kind, t] of Object.entries(tally)) expect(t.refused, kind).toBeGreaterThan(0);
    expect(Object.values(tally).reduce((a, t) => a + t.ok, 0)).toBeGreaterThan(10);
  });
});

describe('fuzzing .pth archives and pickles', () => {
  const tensors: PthTensor[] = [
    { name: 'a.weight', storage: 'BFloat16Storage', key: '0', numel: 6, shape: [2, 3] },
    { name: 'a.bias', storage: 'BFloat16Storage', key: '0', numel: 6, offset: 4, shape: [2] },
    { name: 'p', storage: 'FloatStorage', key: '1', numel: 2, shape: [2], parameter: true },
  ];
  const storages = { '0': new Uint8Array(12).fill(0x3f), '1': f32Bytes([1, 2]) };
  const pkl = statePickle(tensors);
  // A protocol-4 style pickle too, so FRAME/SHORT_BINUNICODE/STACK_GLOBAL/MEMOIZE get mutated.
  const pkl4 = pk(P.proto(4), P.frame(0), P.dict, P.memoize, P.mark, P.shortStr('x'), P.memoize, ...tensorOps(tensors[2]), P.memoize, P.shortStr('y'), P.shortStr('collections'), P.shortStr('OrderedDict'), P.stackGlobal, P.tuple0, P.reduce, P.setitems, P.stop);
  const archive = pth(pkl, storages);
  const archive64 = pth(pkl, storages, { zip64: true });
  const eocd = archive.length - 22;
  const cdOffset = new DataView(archive.buffer).getUint32(eocd + 16, true);

  it(`${CASES_PER_KIND * 5} mutated archives each open or throw an Error`, async () => {
    const tally = await fuzz(
      {
        // The CRC is recomputed, so the pickle interpreter itself sees the damage.
        'pickle byte flips': (m) => pth(m.flip(m.pick([pkl, pkl4])), storages),
        'pickle truncations': (m) => pth(m.truncate(m.pick([pkl, pkl4])), storages),
        'zip structure flips': (m) => {
          const b = m.pick([archive, archive64]);
          // Central directory and end records, or a local header.
          return m.int(2) ? m.flip(b, cdOffset, b.length) : m.flip(b, 0, 64);
        },
        'zip truncations': (m) => m.truncate(m.pick([archive, archive64])),
        'zip length fields': (m) => {
          const b = archive.slice();
          const dv = new DataView(b.buffer);
          // EOCD count/size/offset, or a central entry's sizes/offset/name length.
          const at = m.pick([eocd + 10, eocd + 12, eocd + 16, cdOffset + 20, cdOffset + 24, cdOffset + 28, cdOffset + 42]);
          const v = m.evil(dv.getUint32(at, true));
          dv.setUint32(at, Number(BigInt(v) & 0xffffffffn), true);
          return b;
        },
      },
      (b) => openPth(mem('fuzz.pth', b)),
    );
    for (const [kind, t] of Object.entries(tally)) expect(t.refused, kind).toBeGreaterThan(0);
    expect(Object.values(tally).reduce((a, t) => a + t.ok, 0)).toBeGreaterThan(10);
  });
});
