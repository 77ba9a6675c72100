// The prompt-embedding cache file: our safetensors writer round-trips through our reader.
import { describe, expect, it } from 'vitest';
import { PromptCache, writePromptCache, type PromptEmbedding } from '../../src/model/prompt-cache.ts';
import { roundF16 } from '../../src/runtime/f16.ts';
import { f32Bytes, serializeSafetensors } from '../../src/runtime/safetensors-write.ts';
import { MemorySource } from '../../src/runtime/source.ts';
import { rand } from '../helpers.ts';

const DIMS = { seq: 5, width: 3, pooled: 4 };
const concat = (chunks: Uint8Array[]) => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let o = 0;
  for (const c of chunks) (out.set(c, o), (o += c.byteLength));
  return out;
};
const entries = new Map<string, PromptEmbedding>([
  ['[[image2depth]]', { embeds: rand(15, 1), pooled: rand(4, 2) }],
  ['', { embeds: rand(15, 3), pooled: rand(4, 4) }],
  ['[[image2semantic]] dining table', { embeds: rand(15, 5), pooled: rand(4, 6) }],
]);

describe('prompt cache', () => {
  for (const dtype of ['f32', 'f16'] as const) {
    it(`round-trips 3 prompts (incl. the empty one) stored as ${dtype}`, async () => {
      const bytes = concat(writePromptCache(entries, DIMS, dtype, { sd3: 'test' }));
      expect(new DataView(bytes.buffer).getUint32(0, true) % 8).toBe(0); // tensor data starts 8-aligned
      const cache = await PromptCache.fromSource(new MemorySource('cache', bytes));
      expect(cache.dims).toEqual(DIMS);
      expect(cache.dtype).toBe(dtype);
      expect(cache.prompts().sort()).toEqual([...entries.keys()].sort());
      for (const [p, e] of entries) {
        const got = (await cache.get(p))!;
        const want = dtype === 'f32' ? e : { embeds: roundF16(e.embeds), pooled: roundF16(e.pooled) };
        expect(Array.from(got.embeds)).toEqual(Array.from(want.embeds));
        expect(Array.from(got.pooled)).toEqual(Array.from(want.pooled));
      }
      expect(cache.has('[[image2normal]]')).toBe(false);
      expect(await cache.get('[[image2normal]]')).toBeUndefined();
    });
  }

  it('refuses a safetensors file that is not a prompt cache, and entries of the wrong shape', async () => {
    const other = serializeSafetensors([{ name: 'w', dtype: 'F32', shape: [2], data: f32Bytes(new Float32Array(2)) }]);
    await expect(PromptCache.fromSource(new MemorySource('weights.safetensors', other))).rejects.toThrow(/not a prompt cache/);
    expect(() => writePromptCache(new Map([['x', { embeds: new Float32Array(14), pooled: new Float32Array(4) }]]), DIMS, 'f32')).toThrow(/expected 5×3\+4/);
    const meta = { format: 'diception-prompt-cache/1', seq: '5', width: '3', pooled: '4', dtype: 'f32' };
    const bad = serializeSafetensors([{ name: 'embeds:x', dtype: 'F32', shape: [2], data: f32Bytes(new Float32Array(2)) }], meta);
    await expect(PromptCache.fromSource(new MemorySource('bad', bad))).rejects.toThrow(/'embeds:x' has shape \[2\]/);
  });
});
