// `diception infer`: one image, one task — inference.py's behaviour and file names.
// Output: <output_dir>/result_<image basename> = [input | prediction] at the original size
// (PIL's save picks the format from the extension; one we cannot write becomes .png).
import { basename, extname, join } from 'node:path';
import type { Command } from 'commander';
import { MODEL_SIZE, type PipelineFactory, type PipelineRequest, type PipelineResult } from '../src/model/pipeline-types.ts';
import { encodeNpyF16, INFER_STYLE, npyPayload, toPrediction } from '../src/model/postprocess.ts';
import { inferInput } from '../src/model/preprocess.ts';
import { getDevice } from '../src/runtime/device.ts';
import { formatProfile, Profiler, type KernelTime } from '../src/runtime/profiler.ts';
import { emptyPoints, parsePoints, parsePrompt, parseTask, type Task } from '../src/model/tasks.ts';
import { canWrite, encodeImage, ensureWritableDir, readRgb, sideBySide, writeAtomic } from './image.ts';
import { addMaskOptions, maskSettings, writeMasks } from './mask-files.ts';
import { makeOutput, processStreams, stageSummary, type Streams } from './progress.ts';
import { addRunOptions, pipelineOptions, runSettings } from './run-options.ts';

export function registerInfer(program: Command, loadPipeline: PipelineFactory, io: Streams = processStreams): void {
  addRunOptions(addMaskOptions(
    program
      .command('infer')
      .description('run one task on one image and save [input | prediction] side by side')
      .requiredOption('--image <file>', 'input image')
      .option('--task <task>', 'depth | normal | pose | segmentation | entity | semantic:<coco class> (default depth)')
      .option('--prompt <prompt>', 'the raw task prompt instead of --task, e.g. "[[image2depth]]"')
      .option('--points <y,x;...>', 'up to 5 normalised points "y1,x1;y2,x2" for segmentation')
      .option('--output_dir <dir>', 'output folder', './outputs')
      .option('--profile', 'time every kernel of the run and print the top ones by GPU time'),
  )).action((o) => infer(o, loadPipeline, io));
}

/** --task or --prompt (not both); depth when neither is given. */
export function taskFromOptions(o: { task?: string; prompt?: string }): Task {
  if (o.task && o.prompt) throw new Error('give either --task or --prompt, not both');
  if (o.prompt) return parsePrompt(o.prompt);
  return parseTask(o.task ?? 'depth');
}

export async function infer(o: Record<string, string | boolean | undefined>, loadPipeline: PipelineFactory, io: Streams): Promise<void> {
  const settings = runSettings(o);
  const masks = maskSettings(o);
  const task = taskFromOptions(o as { task?: string; prompt?: string });
  const points = typeof o.points === 'string' ? parsePoints(o.points) : emptyPoints();
  const out = makeOutput(settings, io);
  if (points.count && task.name !== 'segmentation') out.info(`note: --points only guide segmentation; the ${task.name} task ignores them`);
  const imagePath = String(o.image);
  const outputDir = String(o.output_dir ?? './outputs');
  await ensureWritableDir(outputDir, '--output_dir');
  const image = await readRgb(imagePath, '--image');

  let resultPath = join(outputDir, `result_${basename(imagePath)}`);
  if (!canWrite(resultPath)) resultPath = join(outputDir, `result_${basename(imagePath, extname(imagePath))}.png`);
  const npyPath = join(outputDir, `result_${basename(imagePath, extname(imagePath))}.npy`);

  const pipeline = await loadPipeline(pipelineOptions(settings, out.progress));
  // Only the run is profiled (not loading), so the table shows where inference time goes.
  const profiler = o.profile ? new Profiler(await getDevice()) : undefined;
  let profile: KernelTime[] | undefined;
  let result: PipelineResult;
  try {
    await profiler?.start();
    result = await runChecked(pipeline.run.bind(pipeline), {
      images: inferInput(image),
      batch: 1,
      prompts: [task.prompt],
      points: points.coords,
      pointLabels: points.labels,
      steps: settings.steps,
      guidance: settings.guidance,
      seeds: [settings.seed],
      onProgress: out.progress,
    });
  } finally {
    profile = await profiler?.stop();
    await pipeline.dispose();
  }

  const pred = toPrediction(result.image01, task.name, image.width, image.height, INFER_STYLE);
  await writeAtomic(resultPath, await encodeImage(sideBySide(image, { data: pred.rgb, width: pred.width, height: pred.height }), resultPath));
  const written = [resultPath];
  if (settings.saveNpy) {
    const npy = npyPayload(pred);
    if (npy) {
      await writeAtomic(npyPath, encodeNpyF16(npy.data, npy.shape));
      written.push(npyPath);
    } else out.info(`note: --save_npy applies to depth and normal; nothing to save for ${task.name}`);
  }
  if (masks) {
    const files = await writeMasks(join(outputDir, `result_${basename(imagePath, extname(imagePath))}`), task.name, result.image01, MODEL_SIZE, image.height, image.width, masks);
    if (!files.length) out.info(`note: --masks applies to segmentation, semantic and entity; no masks for ${task.name}`);
    written.push(...files);
  }
  const profileLines = profile ? ['', `Top kernels by GPU time (${profilerMode(profiler!)}):`, formatProfile(profile), finiteCheckLine(profile, settings.steps)] : [];
  out.finish(
    {
      image: imagePath, prompt: task.prompt, steps: settings.steps, guidance: settings.guidance, seed: settings.seed, outputs: written, timings: result.timings,
      // A pre-quantised checkpoint is q8 whatever --weights said.
      weights: result.q8Weights ? 'q8' : settings.weights,
      ...(result.f32Weights && { f32_weights: result.f32Weights }),
      ...activationJson(result),
      ...(result.q8Weights && { q8_weights: q8Json(result.q8Weights) }),
      ...(profile && { profile: { timing: profiler!.mode, kernels: profile } }),
    },
    [...written.map((p) => `Result saved to: ${p}`), ...stageSummary(result.timings), ...f32WeightLines(result.f32Weights), ...q8WeightLines(result.q8Weights), ...profileLines],
  );
}

/** The VAE's activation dtype and why, and the checked stages' largest |value|, for --json. */
export function activationJson(r: Pick<PipelineResult, 'vaePrecision' | 'activationMaxAbs'>): Record<string, unknown> {
  return {
    ...(r.vaePrecision && { vae_precision: r.vaePrecision.act, vae_precision_reason: r.vaePrecision.reason }),
    ...(r.activationMaxAbs && { activation_max_abs: r.activationMaxAbs }),
  };
}

/** Says which weights stayed f32 under --precision f16 (values beyond f16's ±65504). */
export function f32WeightLines(kept: PipelineResult['f32Weights']): string[] {
  return (kept ?? []).map((k) => `note: '${k.tensor}' (${k.file}) kept in f32: max |value| ${k.max_abs.toExponential(3)} is beyond f16's range`);
}

/** The finite-activation check's share of the profile: per denoising step, and all of its dispatches. */
export function finiteCheckLine(profile: KernelTime[], steps: number): string {
  const ms = (f: (label: string) => boolean) => profile.filter((k) => f(k.label)).reduce((a, k) => a + k.ms, 0);
  const total = ms(() => true) || 1;
  // The profile totals dispatches by their label's first word: finite:step, finite:advance, ...
  const perStep = ms((l) => l === 'finite:step' || l === 'finite:advance') / steps;
  const all = ms((l) => l === 'finite' || l.startsWith('finite:'));
  return `finite-activation check: ${perStep.toFixed(3)} ms per denoising step; all its dispatches ${all.toFixed(2)} ms, ${((100 * all) / total).toFixed(2)}% of the GPU time above`;
}

/** The --json form (snake_case, like f32_weights). */
function q8Json({ f16Bytes, ...rest }: NonNullable<PipelineResult['q8Weights']>) {
  return { ...rest, f16_bytes: f16Bytes };
}

/** Says what the transformer held in 8 bits (--weights q8 or a pre-quantised checkpoint). */
export function q8WeightLines(q8: PipelineResult['q8Weights']): string[] {
  if (!q8) return [];
  const how = q8.source === 'file' ? 'read pre-quantised from the checkpoint' : 'quantised at load';
  // KiB for small models (the demo's 25 linears are ~0.1 MiB either way).
  const size = (b: number) => (b < 2 ** 20 ? `${(b / 2 ** 10).toFixed(1)} KiB` : `${(b / 2 ** 20).toFixed(1)} MiB`);
  return [`weights: ${q8.linears} transformer linears in int8 (group ${q8.group}, ${how}): ${size(q8.bytes)} instead of ${size(q8.f16Bytes)} in f16`];
}

function profilerMode(p: Profiler): string {
  return p.mode === 'timestamps' ? 'GPU timestamp queries' : 'CPU-side timing of one dispatch per submit (no usable timestamps on this adapter)';
}

/** Runs the pipeline and checks it returned one [3,768,768] image per sample. */
export async function runChecked(run: (r: PipelineRequest) => Promise<PipelineResult>, request: PipelineRequest): Promise<PipelineResult> {
  const result = await run(request);
  const expected = request.batch * 3 * MODEL_SIZE * MODEL_SIZE;
  if (!(result?.image01 instanceof Float32Array) || result.image01.length !== expected) {
    throw new Error(`pipeline: expected image01 of [${request.batch}, 3, ${MODEL_SIZE}, ${MODEL_SIZE}] floats, got ${result?.image01?.length ?? 'nothing'}`);
  }
  return result;
}
