// Preflight: a request whose activations cannot fit one GPU buffer (or would pass 2³² elements)
// is refused before any work, naming the largest batch that fits.
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { batchProblem, largestActivations } from '../../src/model/adapter-fit.ts';
import { parseMMDiTConfig } from '../../src/model/mmdit-config.ts';
import { Diception } from '../../src/model/pipeline.ts';
import { MODEL_SIZE } from '../../src/model/pipeline-types.ts';
import { SD3_TRANSFORMER, SD3_VAE } from '../../bench/sd3.ts';
import { DEMO_SPEC, writeTinyModel } from '../../tools/tiny-model.ts';
import { removeTempDirs, tempDir } from '../cli/files.ts';
import { device } from '../helpers.ts';

const GiB = 2 ** 30;
const sd3 = parseMMDiTConfig(SD3_TRANSFORMER as unknown as Record<string, unknown>);
const f32 = { vae: 4, mmdit: 4 };

afterAll(removeTempDirs);

it('sizes the widest VAE map and the MMDiT MLP state from the configs', () => {
  // SD3's VAE [128, 256, 512, 512]: the upsampled 256-channel map enters the 768² level.
  const [v, m] = largestActivations(SD3_VAE, sd3, 3, 768, true, { vae: 2, mmdit: 4 });
  expect(v.shape).toEqual([3, 256, 768, 768]);
  expect(v.bytes).toBe(3 * 256 * 768 * 768 * 2);
  // Guidance doubles the rows; tokens: 2 × 48² patches + 333 prompt + 5 points.
  expect(m.shape).toEqual([6, 2 * 48 * 48 + 338, 4 * 1536]);
  expect(m.bytes).toBe(6 * 4946 * 6144 * 4);
});

it('refuses with the largest batch that fits, and passes that batch', () => {
  const caps = { adapterName: 'gpu', maxBufferSize: 4 * GiB - 1 };
  const msg = batchProblem(caps, SD3_VAE, sd3, 64, 768, true, f32)!;
  // 256·768²·4 bytes per image: 7 images fit 4 GiB.
  expect(msg).toBe(`batch of 64 at 768²: the VAE feature map [64,256,768,768] needs 36864 MiB (over 2³² elements), but this adapter's (gpu) largest GPU buffer is 4096 MiB; the largest batch that fits is 7 (--batch_size 7)`);
  expect(batchProblem(caps, SD3_VAE, sd3, 7, 768, true, f32)).toBeUndefined();
  expect(batchProblem({ adapterName: 'tiny', maxBufferSize: 2 ** 20 }, SD3_VAE, sd3, 1, 768, false, f32)).toMatch(/not even one image fits$/);
});

it('refuses past 2³² elements even where a buffer could hold the bytes (u32 indices would wrap)', () => {
  const caps = { adapterName: 'huge', maxBufferSize: 2 ** 40 };
  const msg = batchProblem(caps, SD3_VAE, sd3, 64, 768, true, { vae: 2, mmdit: 2 })!;
  expect(msg).toMatch(/the VAE feature map \[64,256,768,768\] needs 18432 MiB \(over 2³² elements\)/);
  // 2³²−1 elements / (256·768²) per image = 28.4.
  expect(msg).toMatch(/the largest batch that fits is 28 /);
});

it('the pipeline refuses an oversized batch before any stage runs', { timeout: 60_000 }, async () => {
  const m = join(tempDir('preflight'), 'model');
  await writeTinyModel(m, { ...DEMO_SPEC, prompts: ['[[image2depth]]', ''] });
  const gpu = await device();
  const pipe = await Diception.load(gpu, { pretrainedModelPath: m, diceptionPath: join(m, 'diception.safetensors'), precision: 'f32', promptCache: join(m, 'prompts.safetensors') });
  // The demo VAE's widest map is 16 channels at 768²: 36 MiB per image; allow one image.
  const caps = gpu.caps as { maxBufferSize: number };
  const saved = caps.maxBufferSize;
  caps.maxBufferSize = 50 * 2 ** 20;
  const stages: string[] = [];
  try {
    const B = 2;
    const run = pipe.run({
      images: new Float32Array(B * 3 * MODEL_SIZE * MODEL_SIZE), batch: B, prompts: ['[[image2depth]]', '[[image2depth]]'],
      points: new Float32Array(B * 10), pointLabels: new Float32Array(B * 5), steps: 1, guidance: 2, seeds: [1, 2], onProgress: (s) => stages.push(s),
    });
    await expect(run).rejects.toThrow(/^batch of 2 at 768²: the VAE feature map \[2,16,768,768\] needs 72 MiB.*the largest batch that fits is 1 \(--batch_size 1\)$/);
    expect(stages).toEqual([]);
  } finally {
    caps.maxBufferSize = saved;
    await pipe.dispose();
  }
});
