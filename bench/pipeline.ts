// `npm run bench -- pipeline [--quick]`: the whole DICEPTION pipeline at 768² on a generated
// random-weight model in the real layout (tools/tiny-model.ts): per-stage ms and peak GPU
// memory for a 1-step request and a 2-step request with classifier-free guidance, submits per
// denoising step, and the top kernels of a profiled 1-step run. --quick: the demo model;
// default: the real transformer width (24 heads × 64 = 1536, 4096-wide prompts) with 2 blocks
// and the demo's small VAE, so the transformer's per-token work is the real one. Then the CPU
// time to record a denoising step (benchEncode; `bench -- encode` runs only that).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setAutotune } from '../src/kernels/registry.ts';
import { Diception } from '../src/model/pipeline.ts';
import type { PipelineRequest } from '../src/model/pipeline-types.ts';
import { allPrompts } from '../src/model/tasks.ts';
import type { Gpu } from '../src/runtime/device.ts';
import { Profiler } from '../src/runtime/profiler.ts';
import { Rng } from '../src/runtime/random.ts';
import { empty } from '../src/runtime/tensor.ts';
import { DEMO_SPEC, writeTinyModel, type TinyModelSpec } from '../tools/tiny-model.ts';
import { median, round, type BenchResult } from './harness.ts';
import type { BenchOptions } from './run.ts';
import { REAL_SPEC } from './sd3.ts';

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
  return [...(await benchRun(gpu, o)), ...(await benchEncode(gpu, o))];
}

async function benchRun(gpu: Gpu, o: BenchOptions): Promise<BenchResult[]> {
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

/**
 * Timed steps per request in the encode measurement: the first, and the median of the rest (with
 * CFG the pool's buffer order, and so the bind groups, settle after 6-8 steps).
 */
const ENCODE_STEPS = 10;
/** Requests per configuration; first_step and steady_state are medians over all of them. */
const ENCODE_ROUNDS = 3;

/** The configurations timed: steps replayed (model/replay.ts), bind groups reused (bind-groups.ts). */
const ENCODE_MODES = [
  { variant: 'denoising step', plans: true, groups: true },
  { variant: 'denoising step, not replayed', plans: false, groups: true },
  { variant: 'denoising step, not replayed, bind groups not reused', plans: false, groups: false },
];

/**
 * CPU cost of recording a denoising step (`encode_ms_per_step`): a whole step (the timestep
 * upload, the model code or the replay of step 1's recorded commands, the Euler update, finishing
 * the command buffers) as a dry run, so nothing executes and the real size is cheap: by default
 * SD3-medium's 24 blocks × 1536 at the 768² request's 4946 joint tokens (zero weights in sparse
 * files), --quick the demo model. Process CPU time (all threads), so a loaded machine inflates it
 * less than wall time; a request with CFG runs its batch of 2 through the same dispatches. The
 * first step runs the model code with no bind group cached; the other rows turn replay off, and
 * bind group reuse too (every group created afresh, as before bind-groups.ts).
 */
export async function benchEncode(gpu: Gpu, o: BenchOptions): Promise<BenchResult[]> {
  const prompt = allPrompts()[0];
  const s: TinyModelSpec = { ...(o.quick ? DEMO_SPEC : REAL_SPEC), prompts: [prompt, ''] };
  const t = s.transformer;
  const tokens = 2 * (SIDE / 16) ** 2 + 77 + 256 + 5;
  const model = `${o.quick ? 'demo model' : 'real size'}: MMDiT ${t.num_layers}×${t.num_attention_heads * t.attention_head_dim}, ${tokens} joint tokens; dry run (nothing executed)`;
  const dir = await mkdtemp(join(tmpdir(), 'diception-encode-'));
  const rows: BenchResult[] = [];
  // A dry run times nothing, so autotune would pick at random: take each family's default.
  setAutotune(false);
  try {
    await writeTinyModel(dir, s);
    const pipe = await Diception.load(gpu, { pretrainedModelPath: dir, diceptionPath: join(dir, 'diception.safetensors'), promptCache: join(dir, 'prompts.safetensors'), precision: 'f16' });
    try {
      await gpu.recorder.dryRun(async () => {
        const pos = await pipe.encodePrompts([prompt]);
        const neg = await pipe.encodePrompts(['']);
        const points = await pipe.points.embed(new Float32Array(10), new Float32Array(5), 1);
        const latent = empty(gpu, [1, s.vae.latent_channels, SIDE / 8, SIDE / 8]);
        const inputs = { noise: latent, cond: latent, points, embeds: pos.embeds, pooled: pos.pooled, negEmbeds: neg.embeds, negPooled: neg.pooled };
        const steps = async (n: number, guidance: number) => {
          const cpu: number[] = [];
          const dispatched = gpu.recorder.dispatched;
          let last = process.cpuUsage();
          const x = await pipe.denoise({
            ...inputs,
            steps: n,
            guidance,
            onStep: () => {
              const d = process.cpuUsage(last);
              cpu.push((d.user + d.system) / 1000);
              last = process.cpuUsage();
            },
          });
          x.dispose();
          dispatches = (gpu.recorder.dispatched - dispatched) / n;
          return cpu;
        };
        let dispatches = 0;
        // Loads the transformer and compiles every kernel of both batch sizes.
        for (const g of [1, 2]) await steps(1, g);
        const rec = gpu.recorder;
        for (const g of [1, 2]) {
          // Rounds alternate the modes, so a change in the machine's load hits all alike.
          const first = ENCODE_MODES.map((): number[] => []);
          const steady = ENCODE_MODES.map((): number[] => []);
          for (let r = 0; r < ENCODE_ROUNDS; r++) {
            for (const [m, mode] of ENCODE_MODES.entries()) {
              rec.plans = mode.plans;
              rec.bindGroups.enabled = mode.groups;
              rec.bindGroups.clear(); // the first step creates every bind group, as in a session's first request
              const cpu = await steps(ENCODE_STEPS, g);
              first[m].push(cpu[0]);
              steady[m].push(...cpu.slice(1));
            }
          }
          for (const [m, mode] of ENCODE_MODES.entries()) {
            const st = round(median(steady[m]), 3);
            rows.push({
              op: 'pipeline encode',
              variant: mode.variant,
              shape: `${SIDE}², ${g > 1 ? `CFG ${g}` : 'no CFG'}`,
              dtype: 'f16',
              ms_median: st,
              runs: steady[m].length,
              encode_ms_per_step: { first_step: round(median(first[m]), 3), steady_state: st },
              note: `${model}, ${Math.round(dispatches)} dispatches per step`,
              adapter: gpu.caps.adapterName,
            });
          }
        }
        rec.plans = true;
        rec.bindGroups.enabled = true;
        for (const e of [pos, neg]) [e.embeds, e.pooled].forEach((x) => x.dispose());
        points.dispose();
        latent.dispose();
      });
    } finally {
      await pipe.dispose();
    }
  } finally {
    setAutotune(undefined);
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}
