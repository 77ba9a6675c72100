// `npm run demo`: the whole pipeline end to end on a tiny random-weight model in the real
// on-disk layout (generated once under out/demo-model) and the bundled sample image. The
// outputs are random-looking (the weights are random); the point is that every stage runs.
// With real weights the same `infer` command runs the real model.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PipelineFactory } from '../src/model/pipeline-types.ts';
import { allPrompts } from '../src/model/tasks.ts';
import { infer } from './infer.ts';
import { processStreams } from './progress.ts';
import { DEMO_SPEC, writeTinyModel } from './tiny-model.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Bump when DEMO_SPEC or the layout changes, so an old generated model is replaced. */
const DEMO_VERSION = '1';

export async function demo(o: { outputDir?: string; weights?: string }, loadPipeline: PipelineFactory): Promise<void> {
  const model = join(ROOT, 'out', 'demo-model');
  const stamp = join(model, 'demo-version');
  if (!existsSync(stamp) || (await readFile(stamp, 'utf8')) !== DEMO_VERSION) {
    console.log(`generating the tiny demo model (random weights, SD3 layout) in ${model}`);
    await writeTinyModel(model, { ...DEMO_SPEC, prompts: allPrompts() });
    const { writeFile } = await import('node:fs/promises');
    await writeFile(stamp, DEMO_VERSION);
  }
  const outputDir = resolve(o.outputDir ?? join(ROOT, 'outputs', 'demo'));
  const common = {
    image: join(ROOT, 'assets', 'sample.png'),
    sd3: model,
    diception_path: join(model, 'diception.safetensors'),
    promptCache: join(model, 'prompts.safetensors'),
    output_dir: outputDir,
    precision: 'f16',
    weights: o.weights ?? 'f16',
  };
  console.log('depth, 2 steps with classifier-free guidance 2:');
  await infer({ ...common, task: 'depth', num_inference_steps: '2', guidance_scale: '2', save_npy: true }, loadPipeline, processStreams);
  console.log('interactive segmentation with two points, 1 step (--fast):');
  await infer({ ...common, task: 'segmentation', points: '0.62,0.30;0.45,0.70', fast: true, output_dir: join(outputDir, 'segmentation') }, loadPipeline, processStreams);
  console.log(`demo done: outputs in ${outputDir} (the model is random, so the predictions are noise-like)`);
}
