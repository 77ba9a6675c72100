// `npm run bench -- memory [--quick]`: peak GPU memory of the DICEPTION pipeline at the REAL
// model size (SD3-medium MMDiT: 24 blocks × 1536, the SD3 VAE, DICEPTION's point embedder) on
// 768² images in f16, per stage, by allocation replay (src/model/replay.ts: a dry run, nothing
// executes, so this takes a minute on a CPU adapter instead of hours). The weights are zeros in
// sparse files (tools/tiny-model.ts zeroWeights): no disk used; they are read and converted as in
// a real load and their buffers allocated, but a dry run writes nothing into them. Prompts
// come from a prompt cache, so no text encoder is loaded. The first request uploads the
// transformer inside its denoise stage, as in a real session. Tasks do not change shapes (333
// prompt tokens and 5 point slots always); guidance does (batch 2). --quick: the demo model.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Diception } from '../src/model/pipeline.ts';
import type { PipelineRequest } from '../src/model/pipeline-types.ts';
import { MODEL_SIZE } from '../src/model/pipeline-types.ts';
import { replayRun } from '../src/model/replay.ts';
import { emptyPoints, parseTask, pointSlots, type PointPrompt } from '../src/model/tasks.ts';
import type { Gpu } from '../src/runtime/device.ts';
import { parseWeightFormat } from '../src/model/q8-weights.ts';
import { DEMO_SPEC, writeTinyModel, type TinyModelSpec } from '../tools/tiny-model.ts';
import type { BenchResult } from './harness.ts';
import type { BenchOptions } from './run.ts';
import { REAL_SPEC } from './sd3.ts';

const MiB = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

export async function benchMemory(gpu: Gpu, o: BenchOptions): Promise<BenchResult[]> {
  const weights = parseWeightFormat(o.weights, '--weights');
  const dtype = weights === 'q8' ? 'f16, q8 weights' : 'f16';
  const depth = parseTask('depth').prompt;
  const seg = parseTask('segmentation').prompt;
  const spec: TinyModelSpec = { ...(o.quick ? DEMO_SPEC : REAL_SPEC), prompts: [depth, seg, ''] };
  const dir = await mkdtemp(join(tmpdir(), 'diception-memory-'));
  const rows: BenchResult[] = [];
  const t = spec.transformer;
  const model = o.quick ? 'demo model' : `real size: MMDiT ${t.num_layers}×${t.num_attention_heads * t.attention_head_dim}, VAE ${spec.vae.block_out_channels.join('/')}`;
  try {
    await writeTinyModel(dir, spec);
    gpu.pool.trim();
    const before = gpu.pool.liveBytes;
    const pipe = await Diception.load(gpu, {
      pretrainedModelPath: dir,
      diceptionPath: join(dir, 'diception.safetensors'),
      promptCache: join(dir, 'prompts.safetensors'),
      precision: 'f16',
      weights,
    });
    try {
      const vaeAndPoints = gpu.pool.liveBytes - before;
      const side = MODEL_SIZE;
      const none = emptyPoints();
      const two = pointSlots([
        [0.25, 0.5],
        [0.75, 0.5],
      ]);
      const requests: [string, PipelineRequest][] = [
        ['depth, 1 step (first request: uploads the transformer)', request(side, depth, none, 1, 1)],
        ['depth, 1 step', request(side, depth, none, 1, 1)],
        // The recommended setting; every step after the first reuses the first one's buffers.
        ['depth, 28 steps CFG 2', request(side, depth, none, 28, 2)],
        ['segmentation + 2 points, 1 step', request(side, seg, two, 1, 1)],
      ];
      let transformer: number | undefined;
      for (const [what, r] of requests) {
        // What the preflight (src/model/preflight.ts) expects this request to peak at, beside the replay.
        const estimate = pipe.estimatePeak({ batch: r.batch, side, guidance: r.guidance > 1 });
        const run = await replayRun(gpu, pipe, r);
        // What stays allocated between requests: the weights (and anything a request leaked).
        const held = `held after the request ${MiB(run.liveBytes - before)} (VAE + points ${MiB(vaeAndPoints)}); preflight estimate of the peak ${MiB(estimate.bytes)} (in ${estimate.stage})`;
        for (const s of run.stages) {
          const note = `${s.dispatches} dispatches; ${held}; ${model}; not executed`;
          rows.push({ op: 'pipeline memory', variant: s.stage, shape: `${side}², ${what}`, dtype, ms_median: 0, runs: 0, peak_bytes: s.peakBytes, note, adapter: gpu.caps.adapterName });
        }
        transformer ??= run.liveBytes - before - vaeAndPoints;
      }
      // Uploaded by the first request and held from then on.
      const q8 = pipe.q8Weights;
      const note = `${q8 ? `${q8.linears} block linears in int8 (group ${q8.group}), the rest f16` : 'all f16'}; ${model}; not executed`;
      rows.push({ op: 'pipeline memory', variant: 'transformer weights', shape: 'resident', dtype, ms_median: 0, runs: 0, peak_bytes: transformer, note, adapter: gpu.caps.adapterName });
    } finally {
      await pipe.dispose();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}

function request(side: number, prompt: string, points: PointPrompt, steps: number, guidance: number): PipelineRequest {
  return { images: new Float32Array(3 * side * side), batch: 1, prompts: [prompt], points: points.coords, pointLabels: points.labels, steps, guidance, seeds: [1] };
}
