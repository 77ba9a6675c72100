// Runs the fixture's `pipeline` golden (the upstream eval loop with given noise, embeddings and
// points) through the real pipeline pieces. Browser-safe, so the CLI's conformance command and
// the web page's test run the very same code. A test harness: it lives here, not in src/, so
// the package's library bundles never carry it.
import type { Gpu } from '../../src/runtime/device.ts';
import { platform } from '../../src/runtime/platform.ts';
import { fromArray, type Tensor } from '../../src/runtime/tensor.ts';
import { closeOnError, openWeights, readF32 } from '../../src/runtime/weights.ts';
import { Diception } from '../../src/model/pipeline.ts';
import type { Precision } from '../../src/model/pipeline-types.ts';
import type { WeightFormat } from '../../src/model/q8-weights.ts';

export interface GoldenOutput {
  tensor: string;
  ours: Float32Array;
  expected: Float32Array;
}

/** The two runs of golden/pipeline.safetensors: A (guidance 2, 2 steps) and B (guidance 1, 1 step). */
export async function runPipelineGolden(gpu: Gpu, fixtureDir: string, precision: Precision, weights: WeightFormat = 'f16'): Promise<GoldenOutput[]> {
  const p = platform();
  const golden = await openWeights(p.join(fixtureDir, 'golden', 'pipeline.safetensors'));
  const values = (name: string) => readF32(golden.entry(name));
  const tensor = async (name: string): Promise<Tensor> => fromArray(gpu, await values(name), golden.entry(name).shape);
  const pth = (await p.exists(p.join(fixtureDir, 'diception.pth'))) ? 'diception.pth' : 'diception.safetensors';
  const pipe = await closeOnError(golden, () => Diception.load(gpu, { pretrainedModelPath: fixtureDir, diceptionPath: p.join(fixtureDir, pth), precision, weights }));
  const out: GoldenOutput[] = [];
  const owned: Tensor[] = [];
  const t = async (name: string) => {
    const x = await tensor(name);
    owned.push(x);
    return x;
  };
  try {
    const image = await t('image');
    const cond = await pipe.encodeImage(image, await t('vae_eps'));
    owned.push(cond);
    const labels = await values('point_labels');
    const points = await pipe.points.embed(await values('coor_point'), labels, labels.length / 5);
    owned.push(points);
    const common = { noise: await t('noise'), cond, points, embeds: await t('prompt_embeds'), pooled: await t('pooled') };
    const negEmbeds = await t('negative_prompt_embeds');
    const negPooled = await t('negative_pooled');
    for (const [run, guidance, steps] of [['A', 2, 2], ['B', 1, 1]] as const) {
      const latents = await pipe.denoise({ ...common, negEmbeds, negPooled, guidance, steps });
      const image01 = await pipe.decode(latents);
      out.push({ tensor: `latents_${run}`, ours: await latents.read(), expected: await values(`latents_${run}`) });
      out.push({ tensor: `image_${run}`, ours: await image01.read(), expected: await values(`image_${run}`) });
      latents.dispose();
      image01.dispose();
    }
  } finally {
    owned.forEach((x) => x.dispose());
    await pipe.dispose();
    await golden.close?.();
  }
  return out;
}
