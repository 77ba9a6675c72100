// Range-safe f16 weights: a BF16/F32 tensor whose values f16 cannot hold (the reference runs in
// bf16, whose range is f32's) stays f32 instead of turning into ±Inf, and the run says which.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConv2d } from '../../src/kernels/conv2d.ts';
import { Diception } from '../../src/model/pipeline.ts';
import { MODEL_SIZE, type PipelineFactory } from '../../src/model/pipeline-types.ts';
import { emptyPoints } from '../../src/model/tasks.ts';
import { Rng } from '../../src/runtime/random.ts';
import { fromArray } from '../../src/runtime/tensor.ts';
import { SafetensorsFile } from '../../src/runtime/safetensors.ts';
import { serializeSafetensors } from '../../src/runtime/safetensors-write.ts';
import { MemorySource } from '../../src/runtime/source.ts';
import { READ_CHUNK, readF32, safetensorsReader, tensorsKeptF32, uploadWeight } from '../../src/runtime/weights.ts';
import { DEMO_SPEC, writeTinyModel } from '../../tools/tiny-model.ts';
import { runCli } from '../cli/fake-pipeline.ts';
import { removeTempDirs, tempDir, writeImage } from '../cli/files.ts';
import { device } from '../helpers.ts';

/** f32 values as BF16 bytes (truncated, as a bf16 cast of these exactly representable values). */
function bf16(values: number[] | Float32Array): Uint8Array {
  const u32 = new Uint32Array(Float32Array.from(values).buffer);
  return new Uint8Array(Uint16Array.from(u32, (x) => x >>> 16).buffer);
}

const reader = (tensors: Parameters<typeof serializeSafetensors>[0]) =>
  SafetensorsFile.open(new MemorySource('range.safetensors', serializeSafetensors(tensors))).then(safetensorsReader);

describe('f16 conversion checks each tensor range', () => {
  it('keeps a tensor with a value beyond f16 in f32, found in a later chunk, and records it', async () => {
    const gpu = await device();
    const values = Float32Array.from({ length: 40 }, (_, i) => (i - 20) / 8);
    values[33] = -1048576; // 2^20: exact in bf16, ±Inf in f16
    const r = await reader([
      { name: 'big', dtype: 'BF16', shape: [5, 8], data: bf16(values) },
      { name: 'small', dtype: 'BF16', shape: [5, 8], data: bf16(values.map((v) => Math.max(v, -65504))) },
    ]);
    const saved = READ_CHUNK.bytes;
    READ_CHUNK.bytes = 16; // 8 bf16 values per chunk: the overflow is in chunk 5 of 5
    try {
      const big = await uploadWeight(gpu, r, 'big', 'f16', [5, 8]);
      expect(big.dtype).toBe('f32');
      expect(Array.from(await big.read())).toEqual(Array.from(values));
      const small = await uploadWeight(gpu, r, 'small', 'f16');
      expect(small.dtype).toBe('f16');
      expect((await small.read()).every(Number.isFinite)).toBe(true);
      big.dispose();
      small.dispose();
    } finally {
      READ_CHUNK.bytes = saved;
    }
    expect(tensorsKeptF32(gpu)).toContainEqual({ tensor: 'big', file: 'range.safetensors', max_abs: 1048576 });
    expect(tensorsKeptF32(gpu).map((k) => k.tensor)).not.toContain('small');
  });

  it('keeps a conv weight beyond f16 in f32 (weight and bias together)', async () => {
    const gpu = await device();
    const w = Float32Array.from({ length: 2 * 3 * 3 * 3 }, (_, i) => i / 54);
    const r = await reader([
      { name: 'c.weight', dtype: 'F32', shape: [2, 3, 3, 3], data: new Uint8Array(w.buffer) },
      { name: 'c.bias', dtype: 'F32', shape: [2], data: new Uint8Array(Float32Array.of(1, 1e5).buffer) },
      { name: 'd.weight', dtype: 'F32', shape: [2, 3, 3, 3], data: new Uint8Array(w.buffer) },
    ]);
    const c = await loadConv2d(gpu, r, 'c', 'f16');
    expect([c.w.dtype, c.bias.dtype]).toEqual(['f32', 'f32']);
    const d = await loadConv2d(gpu, r, 'd', 'f16');
    expect(d.w.dtype).toBe('f16');
    expect(tensorsKeptF32(gpu)).toContainEqual({ tensor: 'c.bias', file: 'range.safetensors', max_abs: 1e5 });
    for (const t of [c.w, c.bias, d.w, d.bias]) t.dispose();
  });
});

describe('a DICEPTION checkpoint with one weight at 1e6 in bf16', () => {
  let dir: string;
  // Its output joins the f32 residual stream, so the run stays finite in f32 activations.
  const tensor = 'transformer.transformer_blocks.0.ff.net.2.weight';
  afterAll(removeTempDirs);
  beforeAll(async () => {
    dir = tempDir('range');
    const m = join(dir, 'model');
    await writeTinyModel(m, { ...DEMO_SPEC, prompts: ['[[image2depth]]', ''] });
    // The generated checkpoint is F32: rewrite it in BF16 with the one huge value.
    const f = safetensorsReader(await SafetensorsFile.open(new MemorySource('dice', readFileSync(join(m, 'diception.safetensors')))));
    const tensors = [];
    for (const name of f.names()) {
      const v = await readF32(f.entry(name));
      if (name === tensor) v[5] = 1e6;
      tensors.push({ name, dtype: 'BF16' as const, shape: f.entry(name).shape, data: bf16(v) });
    }
    writeFileSync(join(m, 'diception.safetensors'), serializeSafetensors(tensors));
  });

  // The whole 768² pipeline costs minutes on lavapipe; the load path and the MMDiT are what the
  // huge weight meets, so they run here at a small latent (infer's plumbing is checked below).
  it('loads with that tensor in f32 under --precision f16, and denoising stays finite', { timeout: 120_000 }, async () => {
    const gpu = await device();
    const m = join(dir, 'model');
    const pipe = await Diception.load(gpu, { pretrainedModelPath: m, diceptionPath: join(m, 'diception.safetensors'), precision: 'f16', promptCache: join(m, 'prompts.safetensors') });
    const rng = new Rng(3);
    const latent = () => fromArray(gpu, rng.normal(16 * 8 * 8), [1, 16, 8, 8]);
    const { embeds, pooled } = await pipe.encodePrompts(['[[image2depth]]']);
    const none = emptyPoints();
    const points = await pipe.points.embed(none.coords, none.labels, 1);
    const [noise, cond] = [latent(), latent()];
    try {
      const x = await pipe.denoise({ noise, cond, points, embeds, pooled, steps: 1, guidance: 1 });
      const v = await x.read();
      x.dispose();
      expect(v.every(Number.isFinite)).toBe(true);
    } finally {
      for (const t of [noise, cond, points, embeds, pooled]) t.dispose();
      await pipe.dispose();
    }
    // bf16 keeps 8 bits of mantissa: 1e6 is stored as 999424.
    expect(tensorsKeptF32(gpu)).toContainEqual({ tensor: tensor.slice('transformer.'.length), file: join(m, 'diception.safetensors'), max_abs: 999424 });
  });
});

describe('infer reports the weights kept in f32', () => {
  const kept = [{ tensor: 'a.weight', file: 'dice.safetensors', max_abs: 999424 }];
  const factory: PipelineFactory = async () => ({
    run: async (r) => ({ image01: new Float32Array(r.batch * 3 * MODEL_SIZE * MODEL_SIZE).fill(0.5), timings: [], f32Weights: kept }),
    dispose() {},
  });
  afterAll(removeTempDirs);

  it('in --json and in the text summary', async () => {
    const dir = tempDir('range-cli');
    const image = join(dir, 'photo.png');
    await writeImage(image, 32, 24);
    writeFileSync(join(dir, 'x.pth'), '');
    const base = ['infer', '--image', image, '--output_dir', join(dir, 'out'), '--sd3', dir, '--diception_path', join(dir, 'x.pth')];
    expect(JSON.parse((await runCli([...base, '--json'], factory)).out).f32_weights).toEqual(kept);
    expect((await runCli(base, factory)).out).toContain("note: 'a.weight' (dice.safetensors) kept in f32: max |value| 9.994e+5 is beyond f16's range");
  });
});
