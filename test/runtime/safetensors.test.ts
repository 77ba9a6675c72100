import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/runtime/safetensors.ts';
import { openWeights, readF32, readRaw, safetensorsReader } from '../../src/runtime/weights.ts';
import { describeFixtures, TINY } from '../helpers.ts';
import { openForTest } from '../fixture-weights.ts';
import { concat, f32Bytes, le, mem, safetensors, utf8 } from '../../tools/fuzz/build.ts';

/** An independent decoder: header by hand, IEEE half by its definition (no shared code). */
function decodeByHand(bytes: Uint8Array): Map<string, { dtype: string; shape: number[]; values: number[] }> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const out = new Map();
  for (const [name, t] of Object.entries<{ dtype: string; shape: number[]; data_offsets: [number, number] }>(header)) {
    if (name === '__metadata__') continue;
    expect(t.dtype, name).toBe('F16');
    const values: number[] = [];
    for (let p = 8 + n + t.data_offsets[0]; p < 8 + n + t.data_offsets[1]; p += 2) {
      const h = dv.getUint16(p, true);
      const sign = h & 0x8000 ? -1 : 1;
      const exp = (h >> 10) & 0x1f;
      const mant = h & 0x3ff;
      values.push(exp === 0 ? sign * mant * 2 ** -24 : exp === 31 ? (mant ? NaN : sign * Infinity) : sign * (1 + mant / 1024) * 2 ** (exp - 15));
    }
    out.set(name, { dtype: t.dtype, shape: t.shape, values });
  }
  return out;
}

async function expectMatchesHandDecode(path: string, reader: Awaited<ReturnType<typeof openWeights>>, only?: Set<string>) {
  const ref = decodeByHand(readFileSync(path));
  let count = 0;
  for (const [name, t] of ref) {
    if (only && !only.has(name)) continue;
    const e = reader.entry(name);
    expect(e.dtype, name).toBe(t.dtype);
    expect(e.shape, name).toEqual(t.shape);
    const got = await readF32(e);
    expect(got.length, name).toBe(t.values.length);
    // A plain loop: deep equality on million-element arrays is slow.
    const bad = t.values.findIndex((v, i) => !Object.is(v, got[i]));
    expect(bad < 0 ? 'all equal' : `${name}[${bad}] = ${got[bad]}, expected ${t.values[bad]}`).toBe('all equal');
    count++;
  }
  return count;
}

describeFixtures('safetensors fixtures, against a hand decode', () => {
  it('transformer: every tensor (names, shapes, dtypes, all values)', async () => {
    const path = resolve(TINY, 'transformer/diffusion_pytorch_model.safetensors');
    const r = await openForTest(path);
    const n = await expectMatchesHandDecode(path, r);
    expect(n).toBe(r.names().length);
    expect(n).toBeGreaterThan(50);
    expect(r.entry('pos_embed.proj.weight').shape).toEqual([32, 16, 2, 2]);
  });

  it('text_encoder_3: two shards through the index, each tensor from the shard the index names', async () => {
    const dir = resolve(TINY, 'text_encoder_3');
    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')).weight_map as Record<string, string>;
    const r = await openForTest(join(dir, 'model.safetensors.index.json'));
    expect(r.names().sort()).toEqual(Object.keys(index).sort());
    const shards = [...new Set(Object.values(index))];
    expect(shards.length).toBe(2);
    let total = 0;
    for (const shard of shards) {
      const names = new Set(Object.keys(index).filter((k) => index[k] === shard));
      for (const n of names) expect(r.entry(n).source.name).toBe(join(dir, shard));
      total += await expectMatchesHandDecode(join(dir, shard), r, names);
    }
    expect(total).toBe(Object.keys(index).length);
  });
});

describe('safetensors dtypes', () => {
  const f16 = new Uint8Array(new Uint16Array([0x3c00, 0xc100, 0x7bff, 0x0001]).buffer); // 1, -2.5, 65504, 2^-24
  const bf16 = new Uint8Array(new Uint16Array([0x3fc0, 0xc2f7, 0x0001]).buffer); // 1.5, -123.5, tiny subnormal
  const file = safetensors(
    {
      f32: { dtype: 'F32', shape: [2, 2], data: f32Bytes([1, -2, 3.5, 1e-30]) },
      f16: { dtype: 'F16', shape: [4], data: f16 },
      bf16: { dtype: 'BF16', shape: [3], data: bf16 },
      i64: { dtype: 'I64', shape: [2], data: new Uint8Array(new BigInt64Array([-1n, 1n << 40n]).buffer) },
      i32: { dtype: 'I32', shape: [1, 2], data: new Uint8Array(new Int32Array([-7, 9]).buffer) },
      u8: { dtype: 'U8', shape: [3], data: Uint8Array.from([0, 128, 255]) },
      empty: { dtype: 'F32', shape: [0, 5], data: new Uint8Array(0) },
      scalar: { dtype: 'F32', shape: [], data: f32Bytes([42]) },
    },
    { metadata: { format: 'pt' } },
  );

  it('converts F32/F16/BF16 and gives integer tensors raw', async () => {
    const st = await SafetensorsFile.open(mem('dtypes.safetensors', file));
    const r = safetensorsReader(st);
    expect(st.metadata).toEqual({ format: 'pt' });
    expect(Array.from(await readF32(r.entry('f32')))).toEqual([1, -2, 3.5, Math.fround(1e-30)]);
    expect(Array.from(await readF32(r.entry('f16')))).toEqual([1, -2.5, 65504, 2 ** -24]);
    expect(Array.from(await readF32(r.entry('bf16')))).toEqual([1.5, -123.5, 2 ** -133]);
    const i64 = await readRaw(r.entry('i64'));
    expect(Array.from(new BigInt64Array(i64.buffer, 0, 2))).toEqual([-1n, 1n << 40n]);
    const i32 = await readRaw(r.entry('i32'));
    expect(Array.from(new Int32Array(i32.buffer, 0, 2))).toEqual([-7, 9]);
    expect(Array.from(await readRaw(r.entry('u8')))).toEqual([0, 128, 255]);
    expect((await readF32(r.entry('empty'))).length).toBe(0);
    expect(Array.from(await readF32(r.entry('scalar')))).toEqual([42]);
    await expect(readF32(r.entry('i32'))).rejects.toThrow(/dtypes\.safetensors: tensor 'i32' is I32; expected a floating-point tensor/);
  });

  it('reads F32 tensors at unaligned file offsets', async () => {
    // A 3-byte U8 tensor first puts the F32 data at an odd offset.
    const odd = safetensors({ u8: { dtype: 'U8', shape: [3], data: Uint8Array.from([1, 2, 3]) }, x: { dtype: 'F32', shape: [2], data: f32Bytes([0.25, -8]) } });
    const r = safetensorsReader(await SafetensorsFile.open(mem('odd.safetensors', odd)));
    expect(r.entry('x').offset % 4).not.toBe(0);
    expect(Array.from(await readF32(r.entry('x')))).toEqual([0.25, -8]);
  });
});

describe('corrupt safetensors are rejected naming the file, the tensor and the fault', () => {
  const t = (dtype: string, shape: number[], data_offsets: number[]) => ({ dtype, shape, data_offsets });
  const withHeader = (header: unknown, dataBytes: number) => concat([le(8, utf8(JSON.stringify(header)).length), utf8(JSON.stringify(header)), new Uint8Array(dataBytes)]);
  const cases: [string, Uint8Array, RegExp][] = [
    ['short file', Uint8Array.from([1, 2, 3]), /only 3 bytes \(a header length needs 8\)/],
    ['header length too big', concat([le(8, 2n ** 62n), utf8('{}')]), /header length \d+ is outside 2\.\.104857600 bytes/],
    ['header length 0', concat([le(8, 0), utf8('{}')]), /header length 0 is outside/],
    ['header past EOF', concat([le(8, 100), utf8('{}')]), /header of 100 bytes runs past the end of the file \(10 bytes\): truncated/],
    ['bad JSON', concat([le(8, 5), utf8('{"a":')]), /header is not well-formed JSON/],
    ['invalid UTF-8', concat([le(8, 4), Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d])]), /header is not well-formed JSON/],
    ['array header', withHeader([1, 2], 0), /header is not a JSON object/],
    ['number header', concat([le(8, 2), utf8('42')]), /header is not a JSON object/],
    ['tensor not an object', withHeader({ w: [1] }, 0), /tensor 'w' is not an object/],
    ['unknown dtype', withHeader({ w: t('F8', [1], [0, 1]) }, 1), /tensor 'w' has unknown dtype "F8"/],
    ['prototype dtype', withHeader({ w: t('toString', [1], [0, 1]) }, 1), /tensor 'w' has unknown dtype "toString"/],
    ['negative dim', withHeader({ w: t('F32', [-1], [0, 4]) }, 4), /tensor 'w' has an invalid shape \[-1\]/],
    ['fractional dim', withHeader({ w: t('F32', [1.5], [0, 4]) }, 4), /tensor 'w' has an invalid shape \[1\.5\]/],
    ['shape not a list', withHeader({ w: t('F32', 'big' as never, [0, 4]) }, 4), /tensor 'w' has an invalid shape "big"/],
    ['shape × dtype ≠ span', withHeader({ w: t('F16', [3], [0, 4]) }, 4), /tensor 'w': shape \[3\] × F16 is 6 bytes but data_offsets span 4/],
    ['reversed offsets', withHeader({ w: t('U8', [0], [4, 0]) }, 4), /tensor 'w' has invalid data_offsets \[4,0\]/],
    ['offsets missing', withHeader({ w: { dtype: 'U8', shape: [1] } }, 1), /tensor 'w' has invalid data_offsets undefined/],
    ['data truncated', withHeader({ w: t('F32', [4], [0, 16]) }, 12), /tensor 'w': data ends at byte 16 of the data section, but only 12 bytes follow the header: truncated/],
    ['overlapping', withHeader({ a: t('F32', [2], [0, 8]), b: t('F32', [1], [4, 8]) }, 8), /tensor 'b' overlaps tensor 'a'/],
    ['gap', withHeader({ a: t('F32', [1], [0, 4]), b: t('F32', [1], [8, 12]) }, 12), /gap of 4 bytes between tensor 'a' and tensor 'b'/],
    ['gap at the start', withHeader({ a: t('F32', [1], [4, 8]) }, 8), /gap of 4 bytes between the start of the data and tensor 'a'/],
    ['trailing bytes', withHeader({ a: t('F32', [1], [0, 4]) }, 10), /6 unexplained bytes after the last tensor/],
    ['bad metadata', withHeader({ __metadata__: { n: 1 } }, 0), /__metadata__ is not an object of strings/],
  ];
  for (const [what, bytes, re] of cases) {
    it(what, async () => {
      const err = await SafetensorsFile.open(mem('bad.safetensors', bytes)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/^bad\.safetensors: not a valid safetensors file: /);
      expect((err as Error).message).toMatch(re);
    });
  }
});

describe('sharded index errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'st-shards-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const shard = safetensors({ a: { dtype: 'F32', shape: [1], data: f32Bytes([1]) } });
  writeFileSync(join(dir, 's1.safetensors'), shard);
  writeFileSync(join(dir, 'bad.safetensors'), shard.subarray(0, shard.length - 1));
  const index = (name: string, map: unknown) => {
    writeFileSync(join(dir, name), JSON.stringify({ metadata: {}, weight_map: map }));
    return join(dir, name);
  };

  it('accepts a good index', async () => {
    const r = await openForTest(index('ok.index.json', { a: 's1.safetensors' }));
    expect(Array.from(await readF32(r.entry('a')))).toEqual([1]);
  });
  it('tensor missing from its shard', async () => {
    await expect(openWeights(index('m.index.json', { a: 's1.safetensors', b: 's1.safetensors' }))).rejects.toThrow(/s1\.safetensors: tensor 'b' listed in .*m\.index\.json is not in this shard/);
  });
  it('missing shard file', async () => {
    await expect(openWeights(index('f.index.json', { a: 'nope.safetensors' }))).rejects.toThrow(/f\.index\.json: shard 'nope\.safetensors' \(holding 'a'\): .*nope\.safetensors: file not found/);
  });
  it('corrupt shard', async () => {
    await expect(openWeights(index('c.index.json', { a: 'bad.safetensors' }))).rejects.toThrow(/c\.index\.json: shard 'bad\.safetensors' .*truncated/);
  });
  it('shard outside the folder', async () => {
    await expect(openWeights(index('p.index.json', { a: '../s1.safetensors' }))).rejects.toThrow(/tensor 'a' maps to "\.\.\/s1\.safetensors", not a shard file name/);
  });
  it('no weight_map', async () => {
    await expect(openWeights(index('w.index.json', [1]))).rejects.toThrow(/no "weight_map" object/);
  });
  it('index not JSON', async () => {
    writeFileSync(join(dir, 'j.index.json'), '{oops');
    await expect(openWeights(join(dir, 'j.index.json'))).rejects.toThrow(/j\.index\.json: not valid JSON/);
  });
});
