// `diception evaluate`: the paper's metrics on folders of predictions and ground truth, matched by
// file stem (a `result_` prefix and a `_mask` suffix, as infer/--masks name files, are ignored).
// Also the engine of `batch --evaluate`. Metrics live in src/model/metrics.ts; this file reads files.
import { existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { Command } from 'commander';
import { loadSharp } from './sharp.ts';
import { depthMetrics, maskIou, meanOf, normalMetrics, type DepthOptions } from '../src/model/metrics.ts';
import { readNpy } from '../src/model/npy.ts';
import { decodeSegmentation, type Mask, type Segmentation } from '../src/model/sa1b.ts';
import { pyJoin, readEntries, sampleId } from './batch.ts';
import { makeOutput, processStreams, type Streams } from './progress.ts';
import { number } from './run-options.ts';

export const EVAL_TASKS = ['depth', 'normal', 'segmentation'] as const;
export type EvalTask = (typeof EVAL_TASKS)[number];

export interface Pair {
  stem: string;
  pred: string;
  gt: string;
}

export type Row = { stem: string } & Record<string, number | string>;

export interface Report {
  task: EvalTask;
  rows: Row[];
  mean: Record<string, number>;
}

export function registerEvaluate(program: Command, io: Streams = processStreams): void {
  program
    .command('evaluate')
    .description('depth (AbsRel, δ1), normal (angular error) or segmentation (IoU) metrics of predictions against ground truth, matched by file stem')
    .requiredOption('--task <task>', 'depth | normal | segmentation')
    .requiredOption('--pred <dir>', 'predictions: .npy (as --save_npy writes) or PNG; masks as PNG or RLE .json (as --masks writes)')
    .requiredOption('--gt <dir|json>', 'ground truth: a folder of .npy, 16-bit PNG depth, RGB normal PNG, mask PNG or annotation .json (SA-1B / COCO), or a batch JSON whose entries have targets')
    .option('--data_root_path <dir>', 'with a batch JSON as --gt: the folder its paths are relative to', '/')
    .option('--min_depth <m>', 'depth: ground truth below this is invalid')
    .option('--max_depth <m>', 'depth: ground truth above this is invalid')
    .option('--depth_space <s>', 'depth: fit scale and shift in disparity (DICEPTION predicts inverse depth) or depth', 'disparity')
    .option('--json', 'print one JSON object with the per-image rows and the means')
    .action((o) => evaluateCommand(o, io));
}

async function evaluateCommand(o: Record<string, string | boolean | undefined>, io: Streams): Promise<void> {
  const out = makeOutput({ json: Boolean(o.json) }, io);
  const task = String(o.task) as EvalTask;
  if (!(EVAL_TASKS as readonly string[]).includes(task)) throw new Error(`--task: '${o.task}' is not one of ${EVAL_TASKS.join(', ')}`);
  const predDir = folder(String(o.pred), '--pred');
  const gt = String(o.gt);
  const { pairs, unmatched } = gt.toLowerCase().endsWith('.json') && existsSync(gt) && statSync(gt).isFile()
    ? await matchBatchTargets(task, predDir, gt, String(o.data_root_path ?? '/'))
    : await matchStems(task, predDir, folder(gt, '--gt'));
  if (unmatched.length) out.info(`note: ${unmatched.length} not paired (a prediction without ground truth, or a target without prediction): ${unmatched.slice(0, 5).join(', ')}${unmatched.length > 5 ? ', …' : ''}`);
  const report = await evaluatePairs(task, pairs, depthOptions(o));
  out.finish({ ...report, unmatched }, formatReport(report));
}

function folder(path: string, flag: string): string {
  if (!existsSync(path) || !statSync(path).isDirectory()) throw new Error(`${flag}: ${path} is not a folder`);
  return path;
}

export function depthOptions(o: Record<string, string | boolean | undefined>): DepthOptions {
  const space = String(o.depth_space ?? 'disparity');
  if (space !== 'disparity' && space !== 'depth') throw new Error(`--depth_space: '${space}' must be disparity or depth`);
  return {
    space,
    minDepth: o.min_depth === undefined ? undefined : number(o.min_depth, '--min_depth', 0, Infinity),
    maxDepth: o.max_depth === undefined ? undefined : number(o.max_depth, '--max_depth', 0, Infinity),
  };
}

/** Which files each task reads, in order of preference when a stem has several. */
const EXTENSIONS: Record<EvalTask, string[]> = {
  depth: ['.npy', '.png'],
  normal: ['.npy', '.png'],
  segmentation: ['.json', '.png'],
};

/** A file's stem for matching: no extension, no `result_` prefix, no `_mask` suffix. */
export function matchStem(file: string): string {
  return basename(file, extname(file)).replace(/^result_/, '').replace(/_mask$/, '');
}

async function byStem(dir: string, task: EvalTask, strip: boolean): Promise<Map<string, string>> {
  const exts = EXTENSIONS[task];
  const files = (await readdir(dir)).filter((f) => exts.includes(extname(f).toLowerCase())).sort();
  const map = new Map<string, string>();
  for (const f of files) {
    const stem = strip ? matchStem(f) : basename(f, extname(f));
    const prev = map.get(stem);
    if (!prev || exts.indexOf(extname(f).toLowerCase()) < exts.indexOf(extname(prev).toLowerCase())) map.set(stem, join(dir, f));
  }
  return map;
}

export async function matchStems(task: EvalTask, predDir: string, gtDir: string): Promise<{ pairs: Pair[]; unmatched: string[] }> {
  const preds = await byStem(predDir, task, true);
  const gts = await byStem(gtDir, task, false);
  const pairs: Pair[] = [];
  const unmatched: string[] = [];
  for (const [stem, pred] of preds) {
    const gt = gts.get(stem);
    if (gt) pairs.push({ stem, pred, gt });
    else unmatched.push(basename(pred));
  }
  if (!pairs.length) {
    throw new Error(`no prediction in ${predDir} (${EXTENSIONS[task].join(', ')}) has a ground truth of the same stem in ${gtDir}` +
      ` (prediction stems: ${[...preds.keys()].slice(0, 5).join(', ') || 'none'}; ground-truth stems: ${[...gts.keys()].slice(0, 5).join(', ') || 'none'})`);
  }
  return { pairs, unmatched };
}

/** The captions each task scores in a batch JSON. */
const CAPTIONS: Record<EvalTask, string[]> = {
  depth: ['[[image2depth]]'],
  normal: ['[[image2normal]]'],
  segmentation: ['[[image2segmentation]]', '[[image2semantic]]'],
};

/** Pairs from a batch JSON: each entry of the task with a target, by the id batch names its files with. */
async function matchBatchTargets(task: EvalTask, predDir: string, json: string, root: string): Promise<{ pairs: Pair[]; unmatched: string[] }> {
  const preds = await byStem(predDir, task, true);
  const pairs: Pair[] = [];
  const unmatched: string[] = [];
  for (const e of await readEntries(json)) {
    if (!e.target?.path || !CAPTIONS[task].some((c) => e.caption.includes(c))) continue;
    const stem = sampleId(pyJoin(root, e.input));
    const pred = preds.get(stem);
    if (pred) pairs.push({ stem, pred, gt: pyJoin(root, e.target.path) });
    else unmatched.push(stem);
  }
  if (!pairs.length) throw new Error(`--gt: no ${task} entry of ${json} with a target has a prediction of its id in ${predDir} (ids without one: ${unmatched.slice(0, 5).join(', ') || 'none'})`);
  return { pairs, unmatched };
}

export async function evaluatePairs(task: EvalTask, pairs: readonly Pair[], depth: DepthOptions = {}): Promise<Report> {
  const rows: Row[] = [];
  for (const p of pairs) rows.push({ stem: p.stem, ...(await evaluatePair(task, p, depth)) });
  return { task, rows, mean: meanOf(rows.map(({ stem: _, ...m }) => m)) as Record<string, number> };
}

async function evaluatePair(task: EvalTask, p: Pair, depth: DepthOptions): Promise<Record<string, number>> {
  const where = `${p.stem} (${basename(p.pred)} vs ${basename(p.gt)})`;
  if (task === 'segmentation') {
    const pred = await readMask(p.pred);
    const gt = await readMask(p.gt, pred);
    return { iou: maskIou(pred.mask, gt.mask, where) };
  }
  const channels = task === 'depth' ? 1 : 3;
  const pred = await readPlanes(p.pred, channels, task === 'normal');
  const gt = await readPlanes(p.gt, channels, task === 'normal');
  if (pred.height !== gt.height || pred.width !== gt.width) {
    throw new Error(`${where}: prediction is ${pred.width}x${pred.height}, ground truth ${gt.width}x${gt.height}; they must be the same size`);
  }
  if (task === 'depth') {
    const { absRel, delta1, valid } = depthMetrics(pred.data, gt.data, depth, where);
    return { absRel, delta1, valid };
  }
  return { ...normalMetrics(pred.data, gt.data, where) };
}

interface Planes {
  height: number;
  width: number;
  /** planar [channels, H·W]; normals already as vectors in [-1, 1] */
  data: Float32Array;
}

/**
 * A depth map (1 channel) or a normal map (3 channels) from .npy ([H,W], [1,H,W], [3,H,W] or
 * [H,W,3]) or an image (8/16-bit). Normals: an image or an all-non-negative .npy holds the colour
 * encoding (n+1)/2 (as the model draws and --save_npy writes them) and is mapped back by 2v−1;
 * a black image pixel is "no normal" (a zero vector, skipped); an .npy with negative values holds
 * the vectors themselves.
 */
async function readPlanes(path: string, channels: 1 | 3, normal: boolean): Promise<Planes> {
  let height: number;
  let width: number;
  let data: Float32Array;
  let encoded = true;
  if (extname(path).toLowerCase() === '.npy') {
    const npy = readNpy(await readFile(path), path);
    const s = npy.shape;
    const planar = s.length === 3 && s[0] === channels;
    const last = s.length === 3 && s[2] === channels && !planar;
    if (!(planar || last || (channels === 1 && s.length === 2))) {
      throw new Error(`${path}: shape (${s.join(', ')}) is not ${channels === 1 ? '[H, W] or [1, H, W]' : '[3, H, W] or [H, W, 3]'}`);
    }
    [height, width] = planar ? [s[1], s[2]] : [s[0], s[1]];
    data = last && channels === 3 ? interleavedToPlanar(npy.data, height * width, 3) : npy.data;
    encoded = !data.some((v) => v < 0);
  } else {
    const img = await readImage(path);
    if (channels === 1 && img.channels !== 1) throw new Error(`${path}: a depth image must be single-channel (8- or 16-bit greyscale), this one has ${img.channels} channels`);
    if (channels === 3 && img.channels < 3) throw new Error(`${path}: a normal image must be RGB, this one has ${img.channels} channel(s)`);
    ({ height, width } = img);
    const planar = interleavedToPlanar(img.data, height * width, img.channels);
    data = normal ? planar.subarray(0, 3 * height * width).map((v) => v / img.max) : planar;
    if (normal) {
      const hw = height * width;
      for (let i = 0; i < hw; i++) if (!data[i] && !data[hw + i] && !data[2 * hw + i]) data[i] = data[hw + i] = data[2 * hw + i] = 0.5;
    }
  }
  if (normal && encoded) data = data.map((v) => 2 * v - 1);
  return { height, width, data };
}

function interleavedToPlanar(src: ArrayLike<number>, hw: number, channels: number): Float32Array {
  const out = new Float32Array(hw * channels);
  for (let i = 0; i < hw; i++) for (let c = 0; c < channels; c++) out[c * hw + i] = src[i * channels + c];
  return out;
}

/** Pixels of any image sharp reads, in their own bit depth and channel count. */
async function readImage(path: string): Promise<{ height: number; width: number; channels: number; max: number; data: ArrayLike<number> }> {
  try {
    const sharp = await loadSharp();
    const meta = await sharp(path).metadata();
    const wide = meta.depth === 'ushort';
    const grey = (meta.channels ?? 3) < 3;
    const { data, info } = await sharp(path)
      .toColourspace(grey ? (wide ? 'grey16' : 'b-w') : wide ? 'rgb16' : 'srgb')
      .raw({ depth: wide ? 'ushort' : 'uchar' })
      .toBuffer({ resolveWithObject: true });
    const pixels = wide ? new Uint16Array(data.buffer, data.byteOffset, data.length / 2) : new Uint8Array(data.buffer, data.byteOffset, data.length);
    return { height: info.height, width: info.width, channels: info.channels, max: wide ? 65535 : 255, data: pixels };
  } catch (e) {
    throw new Error(`${path}: not a readable image (${(e as Error).message.split('\n')[0]})`);
  }
}

/** What a mask JSON written by --masks records about the ground truth it was prompted from. */
interface MaskTarget {
  annotation?: number;
}

/**
 * A binary mask from a PNG (nonzero = inside), an RLE .json ({size, counts}, as --masks writes),
 * or an annotation file: SA-1B's {annotations: [...]} or a COCO list. From an annotation file
 * the prediction's recorded annotation is taken (batch --masks records it), or the only one.
 */
export async function readMask(path: string, pred?: { mask: Mask; target?: MaskTarget }): Promise<{ mask: Mask; target?: MaskTarget }> {
  if (extname(path).toLowerCase() !== '.json') {
    const img = await readImage(path);
    const hw = img.height * img.width;
    const data = new Uint8Array(hw);
    for (let i = 0; i < hw; i++) data[i] = img.data[i * img.channels] ? 1 : 0;
    return { mask: { height: img.height, width: img.width, data } };
  }
  let doc: any;
  try {
    doc = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: not JSON (${(e as Error).message.split('\n')[0]})`);
  }
  const annotations: { segmentation?: Segmentation }[] | undefined = Array.isArray(doc) ? doc : doc?.annotations;
  let seg: Segmentation = doc;
  if (annotations) {
    const k = pred?.target?.annotation ?? (annotations.length === 1 ? 0 : undefined);
    if (k === undefined || !annotations[k]) {
      throw new Error(`${path}: holds ${annotations.length} annotations and the prediction does not name which one it segments` +
        ' (batch --masks records it as target.annotation); give one mask per image instead');
    }
    seg = annotations[k].segmentation as Segmentation;
  }
  try {
    return { mask: decodeSegmentation(seg, pred?.mask.height, pred?.mask.width), target: doc?.target };
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}

const fmt = (v: number | string) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : v);

export function formatReport(r: Report): string[] {
  const cols = Object.keys(r.rows[0] ?? {});
  const table = [cols, ...r.rows.map((row) => cols.map((c) => fmt(row[c]))), ['mean', ...cols.slice(1).map((c) => fmt(r.mean[c]))]];
  const widths = cols.map((_, i) => Math.max(...table.map((row) => String(row[i]).length)));
  return [`${r.task}: ${r.rows.length} image(s)`, ...table.map((row) => row.map((v, i) => String(v).padEnd(widths[i])).join('  ').trimEnd())];
}
