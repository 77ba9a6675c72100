// `diception batch`: batch_inference.py's behaviour and file names, plus sharding and resume.
// Input: a JSON list (or JSON lines) of {input, caption, target?: {path}}; paths are joined to
// --data_root_path as os.path.join does. Output: <save_path>/images/<id>_<caption>.png and, with
// --save_npy, <id>.npy for depth and normal, where <id> is derived from the joined input path
// exactly as the reference does (sampleId). A sample whose outputs exist is skipped (resume).
// Sample i uses seed + i, so results do not depend on batch size, shard or resume. Each shard
// ends by writing its manifest (batch-merge.ts), which `batch-merge` checks and joins.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Option, type Command } from 'commander';
import { MODEL_SIZE, type PipelineFactory, type PipelineResult, type StageTiming } from '../src/model/pipeline-types.ts';
import { BATCH_STYLE, encodeNpyF16, npyPayload, toPrediction } from '../src/model/postprocess.ts';
import { batchInput, inputPanel, markPoints, type RgbImage } from '../src/model/preprocess.ts';
import { resizeU8 } from '../src/model/resample.ts';
import { chooseAnnotation, decodeSegmentation, samplePointsInMask, type Segmentation } from '../src/model/sa1b.ts';
import { emptyPoints, parsePrompt, type PointPrompt, type Task } from '../src/model/tasks.ts';
import { Rng } from '../src/runtime/random.ts';
import { encodeImage, ensureWritableDir, readRgb, sideBySide, writeAtomic } from './image.ts';
import { evaluateBatch } from './batch-evaluate.ts';
import { writeManifest } from './batch-merge.ts';
import { addMaskOptions, maskPaths, maskSettings, writeMasks, type MaskSettings } from './mask-files.ts';
import { activationJson } from './infer.ts';
import { predictBatch } from './predict-batch.ts';
import { makeOutput, processStreams, stageSummary, type Streams } from './progress.ts';
import { addRunOptions, integer, pipelineOptions, runSettings } from './run-options.ts';
import { resolveShard } from './shard.ts';

export function registerBatch(program: Command, loadPipeline: PipelineFactory, io: Streams = processStreams): void {
  addRunOptions(addMaskOptions(
    program
      .command('batch')
      .description('run the tasks listed in a JSON file (batch_inference.py format); resumable')
      .requiredOption('--input_path <json>', 'JSON list of {"input", "caption", "target": {"path"}}')
      .option('--data_root_path <dir>', 'folder the JSON paths are relative to', '/')
      .option('--save_path <dir>', 'output folder (results go to <save_path>/images)', './batch_results')
      .option('--batch_size <n>', 'images per pipeline run', '1')
      .option('--shard <k/n|auto>', 'process only samples i with i mod n = k (k from 0), to split work across machines; auto: k and n from a Slurm array or a Kubernetes Indexed Job')
      .addOption(new Option('--shards <n>', 'with --shard auto on Kubernetes: the shard count (the Job\'s completions)').env('DICEPTION_SHARDS'))
      .option('--evaluate', 'score the samples that have a target (implies --masks and --save_npy) and write metrics.json beside the images'),
  )).action((o) => batch(o, loadPipeline, io));
}

interface Entry {
  input: string;
  caption: string;
  target?: { path?: string; counts?: unknown };
}

export interface Sample {
  index: number;
  inputPath: string;
  caption: string;
  task: Task;
  png: string;
  npy?: string;
  /** the files --masks writes, and the path they start with */
  masks: string[];
  maskBase: string;
  targetPath?: string;
  /** any task's target file (the ground truth --evaluate compares with) */
  gtPath?: string;
  /** the annotation chosen from the target file (semantic: when planning; segmentation: in prepare) */
  annotation?: number;
  seed: number;
  /** the sample's own generator for the collator's random choices */
  rng: Rng;
}

/** Python's os.path.join(root, p) for two parts. */
export function pyJoin(root: string, p: string): string {
  if (p.startsWith('/') || root === '') return p;
  return root.endsWith('/') ? root + p : `${root}/${p}`;
}

/** batch_inference.py's id: path.split('./')[-1].split('.')[0].split('/')[-1]. */
export function sampleId(path: string): string {
  return path.split('./').at(-1)!.split('.')[0].split('/').at(-1)!;
}

export async function batch(o: Record<string, string | boolean | undefined>, loadPipeline: PipelineFactory, io: Streams): Promise<void> {
  const settings = runSettings(o);
  const evaluate = Boolean(o.evaluate);
  if (evaluate) settings.saveNpy = true;
  const masks = maskSettings(o, evaluate);
  const out = makeOutput(settings, io);
  const jsonPath = String(o.input_path);
  const root = String(o.data_root_path ?? '/');
  const batchSize = integer(String(o.batch_size ?? '1'), '--batch_size', 1, 64);
  const shard = resolveShard(o.shard as string | undefined, o.shards as string | undefined);
  const savePath = String(o.save_path ?? './batch_results');
  const imagesDir = join(savePath, 'images');

  const entries = await readEntries(jsonPath);
  const mine = entries.map((e, i) => [e, i] as const).filter(([, i]) => i % shard.n === shard.k);
  const samples = await Promise.all(mine.map(([e, i]) => plan(e, i, jsonPath, root, imagesDir, settings, Boolean(masks))));
  const pending = samples.filter((s) => !outputFiles(s).every((f) => existsSync(f)));
  for (const s of pending) {
    if (!existsSync(s.inputPath)) throw new Error(`${where(jsonPath, s.index)}: input ${s.inputPath} not found (check --data_root_path, now '${root}')`);
  }
  await ensureWritableDir(imagesDir, '--save_path');
  out.info(`${entries.length} samples, ${samples.length} in shard ${shard.k}/${shard.n}, ${samples.length - pending.length} already done`);

  const written: string[] = [];
  const timings: { samples: number[]; timings: StageTiming[] }[] = [];
  let vaePrecision: PipelineResult['vaePrecision'];
  if (pending.length) {
    const pipeline = await loadPipeline(pipelineOptions(settings, out.progress));
    let done = 0;
    try {
      // A batch that cannot fit is refused before any image is read or any stage runs.
      pipeline.preflight?.({ batch: Math.min(batchSize, pending.length), side: MODEL_SIZE, guidance: settings.guidance > 1 });
      for (let start = 0; start < pending.length; start += batchSize) {
        const chunk = pending.slice(start, start + batchSize);
        const prepared = await Promise.all(chunk.map((s) => prepare(s, jsonPath)));
        const b = chunk.length;
        const inputs = chunk.map((s, j) => ({ image: prepared[j].input, prompt: s.task.prompt, points: prepared[j].points, seed: s.seed }));
        const result = await predictBatch(pipeline, inputs, settings.steps, settings.guidance, out.progress);
        timings.push({ samples: chunk.map((s) => s.index), timings: result.timings });
        vaePrecision = result.vaePrecision;
        for (let j = 0; j < b; j++) written.push(...(await save(chunk[j], prepared[j], result.images01[j], masks)));
        out.progress('samples', start + b, pending.length);
        done += b;
      }
    } catch (e) {
      // Every finished batch is on disk: say so, since the rerun skips them.
      if (/GPU device lost/.test((e as Error).message)) {
        throw new Error(`${(e as Error).message}; ${done} of ${pending.length} samples were saved: rerun the same command to continue with the rest`);
      }
      throw e;
    } finally {
      await pipeline.dispose();
    }
  }
  const metrics = evaluate ? await evaluateBatch(samples, imagesDir) : undefined;
  if (metrics) written.push(metrics.path);
  const manifest = await writeManifest(savePath, jsonPath, entries.length, shard, samples.map((s) => ({ ...s, files: outputFiles(s) })));
  out.finish(
    { input: jsonPath, shard: `${shard.k}/${shard.n}`, samples: samples.length, skipped: samples.length - pending.length, weights: settings.weights, outputs: written, manifest, timings, ...activationJson({ vaePrecision }), ...(metrics && { metrics: metrics.means }) },
    [...(metrics?.lines ?? []), `Processed ${pending.length} images (${samples.length - pending.length} already done).`, `Results saved to: ${imagesDir}`, ...stageSummary(timings.flatMap((t) => t.timings))],
  );
}

const outputFiles = (s: Sample) => [s.png, ...(s.npy ? [s.npy] : []), ...s.masks];
const where = (json: string, i: number) => `${basename(json)} sample ${i}`;

export async function readEntries(path: string): Promise<Entry[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new Error(`--input_path: ${path} not found`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    // load_dataset('json') also reads JSON lines.
    try {
      data = text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
    } catch {
      throw new Error(`--input_path: ${path} is not JSON (${(e as Error).message})`);
    }
  }
  if (!Array.isArray(data)) throw new Error(`--input_path: ${path} must hold a list of {"input", "caption"} objects`);
  data.forEach((e, i) => {
    if (!e || typeof e.input !== 'string' || typeof e.caption !== 'string') {
      throw new Error(`${where(path, i)}: needs string fields "input" and "caption"`);
    }
    if (e.target !== undefined && e.target !== null && typeof e.target === 'object' && 'counts' in e.target) {
      throw new Error(`${where(path, i)}: a target with inline "counts" is not supported; point "target": {"path"} at an annotation JSON`);
    }
  });
  return data as Entry[];
}

async function readJson(path: string, what: string): Promise<any> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new Error(`${what}: cannot read annotation file ${path} (${(e as Error).message.split('\n')[0]})`);
  }
}

async function plan(e: Entry, index: number, json: string, root: string, imagesDir: string, s: { seed: number; saveNpy: boolean }, masks: boolean): Promise<Sample> {
  const inputPath = pyJoin(root, e.input);
  const seed = (s.seed + index) >>> 0;
  const rng = new Rng(seed ^ 0x5bd1e995);
  const targetPath = e.target?.path ? pyJoin(root, e.target.path) : undefined;
  let caption = e.caption;
  let annotation: number | undefined;
  // The collator appends the chosen annotation's class name to a semantic prompt.
  if (caption.includes('[[image2semantic]]') && targetPath) {
    const annos = await readJson(targetPath, where(json, index));
    const anno = chooseAnnotation<{ prompt?: string }>(annos, rng, `${where(json, index)} target`);
    annotation = annos.indexOf(anno);
    if (typeof anno?.prompt !== 'string') throw new Error(`${where(json, index)} target ${targetPath}: the chosen annotation has no "prompt" (class name)`);
    caption = `${caption} ${anno.prompt}`;
  }
  const task = parsePrompt(caption, `${where(json, index)} caption`);
  const id = sampleId(inputPath);
  const npy = s.saveNpy && (task.name === 'depth' || task.name === 'normal') ? join(imagesDir, `${id}.npy`) : undefined;
  const maskBase = join(imagesDir, id);
  return {
    index, inputPath, caption, task, seed, rng, npy, maskBase, gtPath: targetPath, annotation,
    masks: masks ? maskPaths(maskBase, task.name) : [],
    png: join(imagesDir, `${id}_${caption}.png`),
    targetPath: task.name === 'segmentation' ? targetPath : undefined,
  };
}

interface Prepared {
  image: RgbImage;
  input: Float32Array;
  viz: Float32Array;
  points: PointPrompt;
}

async function prepare(s: Sample, json: string): Promise<Prepared> {
  const image = await readRgb(s.inputPath, `${where(json, s.index)} input`, true);
  const input = batchInput(image);
  if (!s.targetPath) return { image, input, viz: input, points: emptyPoints() };
  // Points inside one ground-truth mask, as the collator samples them (row/768, col/768).
  const annos = await readJson(s.targetPath, where(json, s.index));
  const anno = chooseAnnotation<{ segmentation?: unknown }>(annos?.annotations, s.rng, `${where(json, s.index)} target ${s.targetPath}`);
  s.annotation = annos.annotations.indexOf(anno);
  let mask;
  try {
    mask = decodeSegmentation(anno.segmentation as Segmentation, image.height, image.width);
  } catch (e) {
    throw new Error(`${where(json, s.index)} target ${s.targetPath}: ${(e as Error).message}`);
  }
  const { points, pixels } = samplePointsInMask(mask, s.rng);
  return { image, input, viz: markPoints(input, pixels), points };
}

async function save(s: Sample, p: Prepared, image01: Float32Array, masks?: MaskSettings): Promise<string[]> {
  const { width, height } = p.image;
  // PIL's default resize filter (BICUBIC) brings both 768×768 panels back to the original size.
  const back = (rgb: Uint8Array): RgbImage => ({ data: resizeU8(rgb, MODEL_SIZE, MODEL_SIZE, 3, width, height, 'bicubic'), width, height });
  const left = back(inputPanel(p.viz));
  const pred = toPrediction(image01, s.task.name, width, height, BATCH_STYLE);
  await writeAtomic(s.png, await encodeImage(sideBySide(left, { data: pred.rgb, width, height }), s.png));
  const files = [s.png];
  const npy = s.npy && npyPayload(pred);
  if (s.npy && npy) {
    await writeAtomic(s.npy, encodeNpyF16(npy.data, npy.shape));
    files.push(s.npy);
  }
  if (masks) {
    const target = s.gtPath && { path: s.gtPath, ...(s.annotation !== undefined && { annotation: s.annotation }) };
    files.push(...(await writeMasks(s.maskBase, s.task.name, image01, MODEL_SIZE, height, width, masks, target || undefined)));
  }
  return files;
}
