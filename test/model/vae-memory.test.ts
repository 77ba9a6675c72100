// The VAE decoder's GPU memory by allocation replay (a dry run: nothing executes) of a random
// VAE at a quarter of SD3's widths: the narrowing resnet that sets the decode's peak holds three
// maps of its output width and a scratch of an eighth (its shortcut written over x), where the
// old order (setNormFusion false) holds four; the preflight estimate covers it tightly.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { randomVae } from '../../bench/vae.ts';
import { SD3_TRANSFORMER, SD3_VAE } from '../../bench/sd3.ts';
import { setAutotune } from '../../src/kernels/registry.ts';
import { parseMMDiTConfig } from '../../src/model/mmdit-config.ts';
import { estimateActivations } from '../../src/model/preflight.ts';
import { setNormFusion } from '../../src/model/vae.ts';
import { fromArray } from '../../src/runtime/tensor.ts';
import { device } from '../helpers.ts';

beforeAll(() => setAutotune(false));
afterAll(() => setAutotune(undefined));

it('the narrowing resnet holds 3 maps + an eighth, not 4: the replayed decode peak, under the preflight estimate', async () => {
  const gpu = await device();
  const vae = await randomVae(gpu, { ...SD3_VAE, block_out_channels: [32, 64, 128, 128] }, 'f32');
  const side = 256;
  const latent = fromArray(gpu, new Float32Array(16 * (side / 8) ** 2), [1, 16, side / 8, side / 8]);
  /** Peak bytes above the weights and the latent. */
  const replayed = async (fusion: boolean | undefined) => {
    setNormFusion(gpu, fusion);
    gpu.pool.trim();
    const held = gpu.pool.liveBytes;
    gpu.pool.resetPeak();
    await gpu.recorder.dryRun(async () => (await vae.decode(latent)).dispose());
    setNormFusion(gpu, undefined);
    return gpu.pool.peakBytes - held;
  };
  const now = await replayed(undefined);
  const old = await replayed(false);
  // One 32-channel 256² f32 map: the last level's resnets (entered with 64 channels) hold them.
  const map = 32 * side * side * 4;
  expect(old).toBeGreaterThanOrEqual(4 * map);
  expect(now).toBeGreaterThanOrEqual(3 * map + map / 8);
  expect(now).toBeLessThan(3 * map + map / 8 + 2 ** 20);
  const shapes = { vae: vae.config, mmdit: parseMMDiTConfig(SD3_TRANSFORMER as unknown as Record<string, unknown>), vaeAct: 4, mmditAct: 4 };
  const estimate = estimateActivations(shapes, { batch: 1, side, guidance: false }).stages.decode;
  expect(estimate).toBeGreaterThanOrEqual(now);
  expect(estimate).toBeLessThan(1.05 * now);
  latent.dispose();
  vae.dispose();
});
