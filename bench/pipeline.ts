// `npm run bench -- pipeline [--quick]`: the whole DICEPTION pipeline at 768² on a generated
// random-weight model in the real layout (tools/tiny-model.ts): per-stage ms and peak GPU
// memory for a 1-step request and a 2-step request with classifier-free guidance, submits per
// denoising step, and the top kernels of a profiled 1-step run. --quick: the demo model;
// default: the real transformer width (24 heads × 64 = 1536, 4096-wide prompts) with 2 blocks
// and the demo's small VAE, so the transformer's per-token work is the real one.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Diception } from '../src/model/pipeline.ts';
import type { PipelineRequest } from '../src/model/pipeline-types.ts';
import { allPrompts } from '../src/model/tasks.ts';
import type { Gpu } from '../src/runtime/device.ts';
import { Profiler } from '../src/runtime/profiler.ts';
import { Rng } from '../src/runtime/random.ts';
import { DEMO_SPEC, writeTinyModel, type TinyModelSpec } from '../tools/tiny-model.ts';
import { round, type BenchResult } from './harness.ts';
import type { BenchOptions } from './run.ts';

const SIDE = 768;
const TOP_KERNELS = 8;

function spec(quick: boolean, prompts: string[]): TinyModelSpec {
  if (quick) return { ...DEMO_SPEC, prompts };
  return {
    ...DEMO_SPEC,
    transformer: { ...DEMO_SPEC.transformer, num_layers: 2, attention_head_dim: 64, num_attention_heads: 24, caption_projection_dim: 1536, joint_attention_dim: 4096, pooled_projection_dim: 2048 },
    pointFeatures: 1024,
    textWidth: 4096,
    prompts,
  };
}

export async function benchPipeline(gpu: Gpu, o: BenchOptions): Promise<BenchResult[]> {
  const prompt = allPrompts()[0];
  const s = spec(Boolean(o.quick), [prompt, '']);
  const dir = await mkdtemp(join(tmpdir(), 'diception-bench-'));
  const rows: BenchResult[] = [];
  try {
    await writeTinyModel(dir, s);
    const precision = gpu.caps.f16 ? 'f16' : 'f32';
    let submitsAtDenoise = 0;
    let denoiseSubmits = 0;
    const pipe = await Diception.load(gpu, {
      pretrainedModelPath: dir,
      diceptionPath: join(dir, 'diception.safetensors'),
      promptCache: join(dir, 'prompts.safetensors'),
      precision,
      // encode done = denoising starts; the last step done = it ends.
      onProgress: (stage, done, total) => {
        if (stage === 'encode' && done === total) submitsAtDenoise = gpu.recorder.submits;
        if (stage === 'denoise' && done === total) denoiseSubmits = gpu.recorder.submits - submitsAtDenoise;
      },
    });
    const t = s.transformer;
    const model = `width ${t.num_attention_heads * t.attention_head_dim}, ${t.num_layers} blocks, VAE ${s.vae.block_out_channels.join('/')}`;
    const request = (steps: number, guidance: number): PipelineRequest => ({
      images: new Rng(9).uniformArray(3 * SIDE * SIDE, -1, 1),
      batch: 1,
      prompts: [prompt],
      points: new Float32Array(10),
      pointLabels: new Float32Array(5),
      steps,
      guidance,
      seeds: [1],
    });
    await pipe.run(request(1, 1)); // compiles pipelines, uploads the transformer
    for (const [steps, guidance] of [
      [1, 1],
      [2, 2],
    ]) {
      const r = await pipe.run(request(steps, guidance));
      const shape = `${SIDE}², ${steps} step${steps > 1 ? 's' : ''}${guidance > 1 ? ` CFG ${guidance}` : ''}`;
      for (const st of r.timings) {
        rows.push({
          op: 'pipeline',
          variant: st.stage,
          shape,
          dtype: precision,
          ms_median: round(st.ms, 4),
          runs: 1,
          peak_bytes: st.peakBytes,
          submits_per_step: st.stage === 'denoise' ? round(denoiseSubmits / steps) : undefined,
          note: model,
          adapter: gpu.caps.adapterName,
        });
      }
    }
    // Per-kernel GPU time of one more 1-step run (serialised when the adapter lacks timestamps).
    const profiler = new Profiler(gpu);
    await profiler.start();
    await pipe.run(request(1, 1));
    const kernels = await profiler.stop();
    for (const k of kernels.slice(0, TOP_KERNELS)) {
      rows.push({ op: 'kernel', variant: k.label, shape: `${SIDE}², 1 step`, dtype: precision, ms_median: round(k.ms, 4), runs: k.calls, note: `${k.calls} calls, ${profiler.mode} timing`, adapter: gpu.caps.adapterName });
    }
    await pipe.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}
