// The tiny VAE against the upstream golden (both precisions), and banding: under a binding
// limit smaller than its activations every kernel runs in bands and must give the same result.
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { Precision } from '../../src/model/pipeline-types.ts';
import { setNormFusion, Vae } from '../../src/model/vae.ts';
import type { Gpu } from '../../src/runtime/device.ts';
import { fromArray } from '../../src/runtime/tensor.ts';
import { readF32, readJson, type WeightReader } from '../../src/runtime/weights.ts';
import { describeFixtures, device, expectClose, relL2, TINY } from '../helpers.ts';
import { openForTest } from '../fixture-weights.ts';

const OUTPUTS = ['mean', 'logvar', 'latent_scaled', 'decode_out', 'image01'] as const;
type Outputs = Record<(typeof OUTPUTS)[number], Float32Array>;

async function runVae(gpu: Gpu, golden: WeightReader, precision: Precision): Promise<Outputs> {
  const vae = await Vae.load(gpu, join(TINY, 'vae'), precision);
  const input = async (name: string) => {
    const e = golden.entry(name);
    return fromArray(gpu, await readF32(e), e.shape);
  };
  const { mean, logvar } = await vae.encode(await input('image'));
  const latent = await vae.latentFromMoments(mean, logvar, await input('eps'));
  const z = await input('decode_in');
  const raw = await vae.decode(z, { scaled: false, output: 'raw' });
  const image01 = await vae.decode(z, { scaled: false });
  const out = {
    mean: await mean.read(),
    logvar: await logvar.read(),
    latent_scaled: await latent.read(),
    decode_out: await raw.read(),
    image01: await image01.read(),
  };
  vae.dispose();
  return out;
}

describeFixtures('Vae (tiny fixture)', () => {
  const goldenPath = join(TINY, 'golden', 'vae.safetensors');
  let unbanded: Outputs | undefined;

  it.each([
    ['f32', 1e-4],
    ['f16', 1e-2],
  ] as const)('matches the upstream golden in %s (rel_l2 <= %s)', async (precision, tol) => {
    const golden = await openForTest(goldenPath);
    const ours = await runVae(await device(), golden, precision);
    if (precision === 'f32') unbanded = ours;
    for (const name of OUTPUTS) {
      const rel = relL2(ours[name], await readF32(golden.entry(name)));
      expect(rel, `${name} rel_l2`).toBeLessThanOrEqual(tol);
    }
  });

  it('gives the unbanded result under a 160 KiB binding limit (every full-resolution map banded)', async () => {
    const limit = 160 * 1024;
    const config = await readJson<{ block_out_channels: number[] }>(join(TINY, 'vae', 'config.json'));
    const golden = await openForTest(goldenPath);
    const [, , H, W] = golden.entry('image').shape;
    // The first stage's activations must exceed the limit, or nothing is banded.
    expect(H * W * config.block_out_channels[0] * 4).toBeGreaterThan(limit);
    // The banded runs also take the other resnet paths: GroupNorm+SiLU fused into conv1's read
    // everywhere (true), or nowhere (false: the narrowing resnets then keep their old order,
    // the shortcut beside x), where the default run fuses only where this adapter does and in
    // the narrowing resnets (their shortcut written over x). All must agree.
    const bandedGpu = await device({ maxStorageBinding: limit });
    unbanded ??= await runVae(await device(), golden, 'f32');
    for (const fused of [true, false]) {
      setNormFusion(bandedGpu, fused);
      const banded = await runVae(bandedGpu, golden, 'f32');
      setNormFusion(bandedGpu, undefined);
      for (const name of OUTPUTS) expectClose(banded[name], unbanded[name], { atol: 1e-5, rtol: 1e-5, label: `${name} (fusion ${fused})` });
    }
  });
});
