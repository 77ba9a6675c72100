// What the finite-activation check (src/model/finite-check.ts) costs: its dispatches per
// denoising step (the check of the step's latent and the counter advance) and on the decoded
// image, each timed alone (submit and wait included, so an upper bound on its share inside a
// step's submits), against the stages of a real request on the demo model at 768².
// `npm run bench -- finite [--json] [--out file]`.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { advanceFiniteCounter, checkFinite, finiteStatsBuffer } from '../src/kernels/finite.ts';
import { Diception } from '../src/model/pipeline.ts';
import { MODEL_SIZE, type PipelineRequest } from '../src/model/pipeline-types.ts';
import { allPrompts } from '../src/model/tasks.ts';
import type { Gpu } from '../src/runtime/device.ts';
import { Rng } from '../src/runtime/random.ts';
import { fromArray } from '../src/runtime/tensor.ts';
import { DEMO_SPEC, writeTinyModel } from '../tools/tiny-model.ts';
import { round, timeRuns, type BenchResult } from './harness.ts';

const STEPS = 2;
const GUIDANCE = 2;

export async function benchFinite(gpu: Gpu): Promise<BenchResult[]> {
  const prompt = allPrompts()[0];
  const dir = await mkdtemp(join(tmpdir(), 'diception-bench-finite-'));
  try {
    await writeTinyModel(dir, { ...DEMO_SPEC, prompts: [prompt, ''] });
    const precision = gpu.caps.f16 ? 'f16' : 'f32';
    const pipe = await Diception.load(gpu, { pretrainedModelPath: dir, diceptionPath: join(dir, 'diception.safetensors'), promptCache: join(dir, 'prompts.safetensors'), precision });
    const rng = new Rng(4);
    const request = (steps: number): PipelineRequest => ({
      images: rng.uniformArray(3 * MODEL_SIZE * MODEL_SIZE, -1, 1), batch: 1, prompts: [prompt], points: new Float32Array(10), pointLabels: new Float32Array(5), steps, guidance: GUIDANCE, seeds: [1],
    });
    await pipe.run(request(1)); // compiles pipelines, uploads the transformer
    const { timings } = await pipe.run(request(STEPS));
    await pipe.dispose();
    const stageMs = (s: string) => timings.find((t) => t.stage === s)!.ms;
    const stepMs = stageMs('denoise') / STEPS;

    const latentSide = MODEL_SIZE / 2 ** (DEMO_SPEC.vae.block_out_channels.length - 1);
    const latent = fromArray(gpu, rng.normal(16 * latentSide ** 2), [1, 16, latentSide, latentSide]);
    const image = fromArray(gpu, rng.normal(3 * MODEL_SIZE ** 2), [1, 3, MODEL_SIZE, MODEL_SIZE]);
    // Enough slots for every timed call of the counted check (warm-up + runs).
    const stats = finiteStatsBuffer(gpu, 64);
    const perStep = await timeRuns(gpu, async () => {
      await checkFinite(gpu, latent, stats, { slot: 1, counted: true });
      await advanceFiniteCounter(gpu, stats);
    });
    const decode = await timeRuns(gpu, () => checkFinite(gpu, image, stats, { slot: 0 }));
    [latent, image, stats].forEach((t) => t.dispose());
    const row = (variant: string, shape: string, ms: number, runs: number, of: string, total: number): BenchResult => ({
      op: 'finite check',
      variant,
      shape,
      dtype: 'f32',
      ms_median: round(ms, 3),
      runs,
      note: `${round((100 * ms) / total, 2)}% of ${of} (${round(total, 4)} ms, demo model, ${precision}, CFG ${GUIDANCE})`,
      adapter: gpu.caps.adapterName,
    });
    return [
      row('per denoising step', `[1,16,${latentSide},${latentSide}]`, perStep.median, perStep.runs, 'a denoising step', stepMs),
      row('decoded image', `[1,3,${MODEL_SIZE},${MODEL_SIZE}]`, decode.median, decode.runs, 'the decode stage', stageMs('decode')),
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
