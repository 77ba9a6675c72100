// The `vae` golden: encoder moments, the sampled scaled latent with the golden's eps, and the
// decoder (raw output and image01) from the golden's unscaled latent.
import { join } from 'node:path';
import { Vae } from '../../src/model/vae.ts';
import { fromArray } from '../../src/runtime/tensor.ts';
import { readF32 } from '../../src/runtime/weights.ts';
import type { Runner } from './types.ts';

export const run: Runner = async ({ dir, gpu, precision, golden }) => {
  const vae = await Vae.load(gpu, join(dir, 'vae'), precision);
  const input = async (name: string) => {
    const e = golden!.entry(name);
    return fromArray(gpu, await readF32(e), e.shape);
  };
  try {
    const image = await input('image');
    const { mean, logvar } = await vae.encode(image);
    const eps = await input('eps');
    const latent = await vae.latentFromMoments(mean, logvar, eps);
    const z = await input('decode_in');
    const raw = await vae.decode(z, { scaled: false, output: 'raw' });
    const image01 = await vae.decode(z, { scaled: false });
    const outs = { mean, logvar, latent_scaled: latent, decode_out: raw, image01 };
    const result = [];
    for (const [tensor, t] of Object.entries(outs)) result.push({ tensor, ours: await t.read() });
    for (const t of [image, eps, z, ...Object.values(outs)]) t.dispose();
    return result;
  } finally {
    vae.dispose();
  }
};
