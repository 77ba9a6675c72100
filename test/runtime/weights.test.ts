import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bf16BitsToF32, f16BitsToF32, f32ToF16Bits } from '../../src/runtime/f16.ts';
import { SafetensorsFile } from '../../src/runtime/safetensors.ts';
import { MemorySource } from '../../src/runtime/source.ts';
import { READ_CHUNK, readF32, safetensorsReader, uploadWeight } from '../../src/runtime/weights.ts';
import { describeFixtures, device, TINY } from '../helpers.ts';
import { safetensors } from '../../tools/fuzz/build.ts';
import { openForTest } from '../fixture-weights.ts';

describeFixtures('weights from the tiny fixture folder', () => {
  it('reads every tensor of the transformer safetensors', async () => {
    const r = await openForTest(resolve(TINY, 'transformer/diffusion_pytorch_model.safetensors'));
    const names = r.names();
    expect(names).toContain('pos_embed.pos_embed');
    expect(names).toContain('transformer_blocks.1.norm1_context.linear.weight');
    for (const n of names) {
      const e = r.entry(n);
      expect(e.dtype).toBe('F16');
      const v = await readF32(e);
      expect(v.length).toBe(e.shape.reduce((a, b) => a * b, 1));
      expect(v.every(Number.isFinite)).toBe(true);
    }
    expect(r.entry('pos_embed.proj.weight').shape).toEqual([32, 16, 2, 2]);
  });

  it('reads the sharded T5 encoder through its index', async () => {
    const r = await openForTest(resolve(TINY, 'text_encoder_3/model.safetensors.index.json'));
    expect(r.has('shared.weight')).toBe(true);
    expect(r.entry('shared.weight').shape[1]).toBe(64);
    expect(r.names().length).toBeGreaterThan(10);
  });

  it('uploads with shape checks', async () => {
    const gpu = await device();
    const r = await openForTest(resolve(TINY, 'transformer/diffusion_pytorch_model.safetensors'));
    const e = r.entry('proj_out.bias');
    const t = await uploadWeight(gpu, r, 'proj_out.bias', 'f16', e.shape);
    expect(Array.from(await t.read())).toEqual(Array.from(await readF32(e)));
    await expect(uploadWeight(gpu, r, 'proj_out.bias', 'f32', [3])).rejects.toThrow(/proj_out.bias' has shape \[64\], expected \[3\]/);
    expect(() => r.entry('nope')).toThrow(/tensor 'nope' not found/);
  });
});

describe('tensors larger than one read chunk', () => {
  // Chunks of 4 KiB (lowered from 16 MiB so the test is small): 3,073 halves span two F16/BF16
  // chunks and an odd tail; the F32 upload converts in four chunks.
  const chunk = 4096;
  const n = 3 * 1024 + 1;
  const bits = new Uint16Array(n);
  for (let i = 0; i < n; i++) bits[i] = (Math.imul(i, 2654435761) >>> 16) & 0x7bff; // finite halves
  const f32 = new Float32Array(n);
  for (let i = 0; i < n; i++) f32[i] = (i % 1000) / 7 - 50;
  const bytes = (a: Uint16Array | Float32Array) => new Uint8Array(a.buffer);
  const file = safetensors({
    u: { dtype: 'U8', shape: [3], data: Uint8Array.from([1, 2, 3]) }, // puts what follows at odd offsets
    h: { dtype: 'F16', shape: [n], data: bytes(bits) },
    b: { dtype: 'BF16', shape: [n], data: bytes(bits) },
    f: { dtype: 'F32', shape: [1, n], data: bytes(f32) },
  });
  const open = async () => safetensorsReader(await SafetensorsFile.open(new MemorySource('big.safetensors', file)));
  const chunked = async (fn: () => Promise<void>) => {
    const saved = READ_CHUNK.bytes;
    READ_CHUNK.bytes = chunk;
    try {
      await fn();
    } finally {
      READ_CHUNK.bytes = saved;
    }
  };
  const h = Array.from(bits, f16BitsToF32);
  const b = Array.from(bits, bf16BitsToF32);

  it('readF32 converts every element across chunk boundaries', () =>
    chunked(async () => {
      const r = await open();
      expect(Array.from(await readF32(r.entry('h')))).toEqual(h);
      expect(Array.from(await readF32(r.entry('b')))).toEqual(b);
      expect(Array.from(await readF32(r.entry('f')))).toEqual(Array.from(f32));
    }));

  it('uploadWeight writes every chunk at its offset (f16 as is, converted to f32, f32 to f16)', () =>
    chunked(async () => {
      const gpu = await device();
      const r = await open();
      for (const [name, dtype, want] of [
        ['h', 'f16', h],
        ['b', 'f32', b],
        ['f', 'f16', Array.from(f32, (v) => f16BitsToF32(f32ToF16Bits(v)))],
      ] as const) {
        const t = await uploadWeight(gpu, r, name, dtype);
        expect(Array.from(await t.read()), `${name} as ${dtype}`).toEqual(want);
        t.dispose();
      }
    }));
});
