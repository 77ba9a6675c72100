// Preflight: a request whose activations cannot fit one GPU buffer, would pass 2³² elements, or
// whose estimated peak is over the memory budget is refused before any work, naming the largest
// batch that fits. (The estimate against a replayed run: pipeline-memory.test.ts.)
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { parseMMDiTConfig } from '../../src/model/mmdit-config.ts';
import { Diception } from '../../src/model/pipeline.ts';
import { MODEL_SIZE } from '../../src/model/pipeline-types.ts';
import { estimateActivations, estimatePeak, memoryBudget, MemoryRefusal, preflight } from '../../src/model/preflight.ts';
import type { Gpu } from '../../src/runtime/device.ts';
import { nodePlatform } from '../../src/runtime/node.ts';
import { SD3_TRANSFORMER, SD3_VAE } from '../../bench/sd3.ts';
import { DEMO_SPEC, writeTinyModel } from '../../tools/tiny-model.ts';
import { removeTempDirs, tempDir } from '../cli/files.ts';
import { device } from '../helpers.ts';

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const sd3 = { vae: SD3_VAE, mmdit: parseMMDiTConfig(SD3_TRANSFORMER as unknown as Record<string, unknown>), vaeAct: 4, mmditAct: 4 };
const refusal = (f: () => void): MemoryRefusal => {
  try {
    f();
  } catch (e) {
    if (e instanceof MemoryRefusal) return e;
    throw e;
  }
  throw new Error('not refused');
};

afterAll(removeTempDirs);

it('sizes the widest VAE map and the MMDiT MLP state from the configs', () => {
  const [v, m] = estimateActivations({ ...sd3, vaeAct: 2 }, { batch: 3, side: 768, guidance: true }).largest;
  // SD3's VAE [128, 256, 512, 512]: the upsampled 256-channel map enters the 768² level.
  expect(v.shape).toEqual([3, 256, 768, 768]);
  expect(v.bytes).toBe(3 * 256 * 768 * 768 * 2);
  // Guidance doubles the rows; tokens: 2 × 48² patches + 333 prompt + 5 points.
  expect(m.shape).toEqual([6, 2 * 48 * 48 + 338, 4 * 1536]);
  expect(m.bytes).toBe(6 * 4946 * 6144 * 4);
});

it('the SD3 decoder peaks at its 768² level: the upsampled 256-channel map (then holding its 128-channel shortcut), conv1 output and the shortcut\'s eighth-size scratch', () => {
  const { stages } = estimateActivations({ ...sd3, vaeAct: 2 }, { batch: 1, side: 768, guidance: true });
  const maps = (256 + 128 + 16) * 768 * 768 * 2;
  expect(stages.decode).toBeGreaterThan(maps);
  expect(stages.decode).toBeLessThan(1.02 * maps + 2 * MiB);
});

it('refuses with the largest batch that fits one buffer, and passes that batch', () => {
  const caps = { adapterName: 'gpu', maxBufferSize: 4 * GiB - 1 };
  const e = refusal(() => preflight(caps, undefined, sd3, { batch: 64, side: 768, guidance: true }, 0));
  // 256·768²·4 bytes per image: 7 images fit 4 GiB.
  expect(e.message).toBe(`batch of 64 at 768²: the VAE feature map [64,256,768,768] needs 36864 MiB (over 2³² elements, past the kernels' u32 indices), but this adapter's (gpu) largest GPU buffer is 4096 MiB; the largest batch that fits is 7 (--batch_size 7)`);
  expect(e.fits).toBe(7);
  preflight(caps, undefined, sd3, { batch: 7, side: 768, guidance: true }, 0);
  expect(refusal(() => preflight({ adapterName: 'tiny', maxBufferSize: MiB }, undefined, sd3, { batch: 1, side: 768, guidance: false }, 0)).message).toMatch(/not even one image fits$/);
});

it('refuses past 2³² elements even where a buffer could hold the bytes (u32 indices would wrap)', () => {
  const caps = { adapterName: 'huge', maxBufferSize: 2 ** 40 };
  const e = refusal(() => preflight(caps, undefined, { ...sd3, vaeAct: 2, mmditAct: 2 }, { batch: 64, side: 768, guidance: true }, 0));
  expect(e.message).toMatch(/the VAE feature map \[64,256,768,768\] needs 18432 MiB \(over 2³² elements/);
  // 2³²−1 elements / (256·768²) per image = 28.4.
  expect(e.fits).toBe(28);
});

it('refuses a peak over the memory budget, counting the weights, with the largest batch under it', () => {
  const caps = { adapterName: 'gpu', maxBufferSize: 2 ** 40 };
  const budget = { bytes: 16 * GiB, source: 'test' };
  const weights = 4 * GiB;
  const r = { batch: 16, side: 768, guidance: true };
  const e = refusal(() => preflight(caps, budget, sd3, r, weights));
  expect(e.message).toMatch(/^batch of 16 at 768²: the estimated peak is \d+ MiB \(4096 MiB of weights, the rest in decode\), over the 16384 MiB budget \(test\); the largest batch that fits is \d+ \(--batch_size \d+\)$/);
  // f32 decode: (256 + 128 + 16)·768²·4 bytes, 900 MiB per image, each map one buffer rounded up
  // to its pool size class (1/8 steps between powers of two): 14 images take 8192 + 4096 + 512
  // MiB, over the 12 GiB left; 13 take 7680 + 3840 + 480.
  expect(e.fits).toBe(13);
  expect(estimatePeak(sd3, { ...r, batch: e.fits }, weights).bytes).toBeLessThanOrEqual(budget.bytes);
  expect(estimatePeak(sd3, { ...r, batch: e.fits + 1 }, weights).bytes).toBeGreaterThan(budget.bytes);
  // Weights alone over the budget: not one image.
  expect(refusal(() => preflight(caps, budget, sd3, { ...r, batch: 1 }, 17 * GiB)).fits).toBe(0);
});

it('the budget: the flag when given, a share of RAM on a CPU adapter, none on a GPU', () => {
  const gpu = (adapterName: string) => ({ caps: { adapterName, architecture: '', isFallback: false } }) as unknown as Gpu;
  expect(memoryBudget(gpu('NVIDIA'), 5 * GiB)).toEqual({ bytes: 5 * GiB, source: '--max-gpu-memory' });
  expect(memoryBudget(gpu('NVIDIA'))).toBeUndefined();
  const ram = nodePlatform.memoryBytes!()!;
  expect(ram).toBeGreaterThan(GiB);
  expect(memoryBudget(gpu('llvmpipe (LLVM 15)'))).toMatchObject({ bytes: Math.floor(0.75 * ram), source: expect.stringMatching(/^75% of this machine's \d+ MiB of RAM/) });
});

it('the pipeline refuses an over-budget batch before any stage runs, and runs nothing', { timeout: 60_000 }, async () => {
  const m = join(tempDir('preflight'), 'model');
  await writeTinyModel(m, { ...DEMO_SPEC, prompts: ['[[image2depth]]', ''] });
  const gpu = await device();
  // f32: three 16-channel 768² maps (36 MiB each) and the f32 image (6.75 MiB) per image in the
  // encoder; 200 MiB holds one image, not two.
  const options = { pretrainedModelPath: m, diceptionPath: join(m, 'diception.safetensors'), precision: 'f32' as const, promptCache: join(m, 'prompts.safetensors'), maxGpuMemory: 200 * MiB };
  const pipe = await Diception.load(gpu, options);
  const stages: string[] = [];
  const dispatched = gpu.recorder.dispatched;
  try {
    const B = 2;
    const run = pipe.run({
      images: new Float32Array(B * 3 * MODEL_SIZE * MODEL_SIZE), batch: B, prompts: ['[[image2depth]]', '[[image2depth]]'],
      points: new Float32Array(B * 10), pointLabels: new Float32Array(B * 5), steps: 1, guidance: 2, seeds: [1, 2], onProgress: (s) => stages.push(s),
    });
    await expect(run).rejects.toThrow(/^batch of 2 at 768²: the estimated peak is \d+ MiB .* over the 200 MiB budget \(--max-gpu-memory\); the largest batch that fits is 1 \(--batch_size 1\)$/);
    expect(stages).toEqual([]);
    expect(gpu.recorder.dispatched).toBe(dispatched);
    expect(() => pipe.preflight({ batch: 1, side: MODEL_SIZE, guidance: true })).not.toThrow();
  } finally {
    await pipe.dispose();
  }
});
