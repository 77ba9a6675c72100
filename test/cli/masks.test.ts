// --masks (infer), `diception evaluate` on files of every kind it reads, and `batch --evaluate`
// on the reference's SA-1B examples, with the fake pipeline.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { depthMetrics, normalMetrics } from '../../src/model/metrics.ts';
import { encodeNpyF16 } from '../../src/model/postprocess.ts';
import { encodeMask } from '../../src/model/rle.ts';
import { decodeSegmentation } from '../../src/model/sa1b.ts';
import { roundF16 } from '../../src/runtime/f16.ts';
import { encodeMaskPng } from '../../tools/mask-files.ts';
import { fakePipeline, runCli } from './fake-pipeline.ts';
import { modelArgs, removeTempDirs, tempDir, writeImage } from './files.ts';
import { npyBytes } from '../model/npy.ts';

afterAll(removeTempDirs);

const pngBitDepth = (bytes: Uint8Array) => bytes[24];

describe('infer --masks', () => {
  async function run(task: string, constant: number, extra: string[] = []) {
    const dir = tempDir('masks');
    await writeImage(join(dir, 'in.png'), 30, 20);
    const out = join(dir, 'out');
    await runCli(['infer', '--image', join(dir, 'in.png'), '--output_dir', out, ...modelArgs(dir), '--quiet', '--task', task, '--masks', ...extra], fakePipeline({ constant }).factory);
    return out;
  }

  it('segmentation: a 1-bit PNG and COCO RLE at the original size, inside where the channel mean >= threshold', async () => {
    const out = await run('segmentation', 1);
    const png = readFileSync(join(out, 'result_in_mask.png'));
    expect(pngBitDepth(png)).toBe(1);
    const { data, info } = await sharp(png).greyscale().raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, Math.min(...data)]).toEqual([30, 20, 255]);
    const rle = JSON.parse(readFileSync(join(out, 'result_in_mask.json'), 'utf8'));
    expect(rle).toMatchObject({ size: [20, 30], area: 600, bbox: [0, 0, 30, 20], threshold: 0.5 });
    expect(decodeSegmentation(rle).data.every((v) => v === 1)).toBe(true);

    const grey = await run('semantic:person', 0.4, ['--mask_bits', '8']);
    expect(pngBitDepth(readFileSync(join(grey, 'result_in_mask.png')))).toBe(8);
    expect(JSON.parse(readFileSync(join(grey, 'result_in_mask.json'), 'utf8'))).toMatchObject({ area: 0, counts: 'hb0' }); // 600 = 24 + 18·32: 'h' (24|more), 'b' (18 has the sign bit: more), '0'
    const low = await run('segmentation', 0.4, ['--mask_threshold', '0.3']);
    expect(JSON.parse(readFileSync(join(low, 'result_in_mask.json'), 'utf8')).area).toBe(600);
  });

  it('entity: COCO-style instances; bad flags are one clear line', async () => {
    const out = await run('entity', 0.9);
    const instances = JSON.parse(readFileSync(join(out, 'result_in_entities.json'), 'utf8'));
    expect(instances).toEqual([{ id: 1, segmentation: encodeMask({ height: 20, width: 30, data: new Uint8Array(600).fill(1) }), area: 600, bbox: [0, 0, 30, 20], color: [229, 229, 229] }]); // 0.9 in float32 · 255 = 229.4999
    await expect(run('segmentation', 1, ['--mask_bits', '4'])).rejects.toThrow(/^--mask_bits: '4' must be 1 or 8/);
    await expect(run('segmentation', 1, ['--mask_threshold', '2'])).rejects.toThrow(/^--mask_threshold: '2' is not a number in \[0, 1\]/);
  });
});

/** A 16-bit greyscale PNG. */
async function png16(path: string, values: Uint16Array, width: number, height: number) {
  await sharp(values, { raw: { width, height, channels: 1 } }).toColourspace('grey16').png().toFile(path); // a Uint16Array is read as 16-bit
}

describe('diception evaluate', () => {
  const [w, h] = [9, 7];
  const hw = w * h;

  async function folders() {
    const dir = tempDir('eval');
    const pred = join(dir, 'pred');
    const gt = join(dir, 'gt');
    mkdirSync(pred);
    mkdirSync(gt);
    return { pred, gt };
  }
  const evaluate = async (task: string, d: { pred: string; gt: string }, extra: string[] = []) =>
    JSON.parse((await runCli(['evaluate', '--task', task, '--pred', d.pred, '--gt', d.gt, '--json', ...extra], fakePipeline().factory)).out);

  it('depth: float16 .npy predictions against 16-bit PNG ground truth (0 = invalid), matched by stem', async () => {
    const d = await folders();
    const gt = Uint16Array.from({ length: hw }, (_, i) => (i % 10 === 0 ? 0 : 1000 + 37 * i));
    const pred = Float32Array.from(gt, (g, i) => (g ? 500 / g : 0.3) + 0.01 * Math.sin(i));
    writeFileSync(join(d.pred, 'result_a.npy'), encodeNpyF16(pred, [h, w]));
    await png16(join(d.gt, 'a.png'), gt, w, h);
    writeFileSync(join(d.pred, 'orphan.npy'), encodeNpyF16(pred, [h, w]));
    const r = await evaluate('depth', d, ['--max_depth', '3000']);
    const want = depthMetrics(roundF16(pred), gt, { maxDepth: 3000 });
    expect(r.rows).toEqual([{ stem: 'a', absRel: want.absRel, delta1: want.delta1, valid: want.valid }]);
    expect(r.mean.absRel).toBe(want.absRel);
    expect(r.unmatched).toEqual(['orphan.npy']);
  });

  it('normal: [3,H,W] .npy in colour encoding against an RGB PNG whose black pixels are skipped', async () => {
    const d = await folders();
    const rgb = new Uint8Array(hw * 3).map((_, i) => (i < 3 ? 0 : (i * 53) % 256));
    await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toFile(join(d.gt, 'n.png'));
    const pred = Float32Array.from({ length: 3 * hw }, (_, i) => ((i * 31) % 100) / 100);
    writeFileSync(join(d.pred, 'n.npy'), encodeNpyF16(pred, [3, h, w]));
    const gtVec = new Float32Array(3 * hw);
    for (let i = 1; i < hw; i++) for (let c = 0; c < 3; c++) gtVec[c * hw + i] = (2 * rgb[i * 3 + c]) / 255 - 1;
    const want = normalMetrics(roundF16(pred).map((v) => 2 * v - 1), gtVec);
    // A second image: float32 [H, W, 3] unit vectors (negative values: not colour-encoded), the truth itself.
    await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toFile(join(d.gt, 'v.png'));
    writeFileSync(join(d.pred, 'v.npy'), npyBytes('<f4', [h, w, 3], Array.from({ length: 3 * hw }, (_, i) => gtVec[(i % 3) * hw + Math.floor(i / 3)])));
    const [row, same] = (await evaluate('normal', d)).rows;
    expect(row.skipped).toBe(1);
    // The PNG decodes in float32 there, in float64 here.
    for (const k of ['mean', 'median', 'within11_25', 'within22_5', 'within30'] as const) expect(Math.abs(row[k] - want[k]), k).toBeLessThan(1e-6 * Math.abs(want[k]) + 1e-9);
    expect(same).toMatchObject({ stem: 'v', within11_25: 100, skipped: 1 });
    expect(same.mean).toBeLessThan(1e-3);
  });

  it('segmentation: mask PNGs and RLE .json against mask PNGs and single-annotation files; clear errors', async () => {
    const d = await folders();
    const a = { height: h, width: w, data: Uint8Array.from({ length: hw }, (_, i) => (i % 3 ? 1 : 0)) };
    const b = { height: h, width: w, data: Uint8Array.from({ length: hw }, (_, i) => (i % 2 ? 1 : 0)) };
    writeFileSync(join(d.pred, 'x_mask.png'), await encodeMaskPng(a, 1));
    writeFileSync(join(d.gt, 'x.png'), await encodeMaskPng(b, 8));
    writeFileSync(join(d.pred, 'y_mask.json'), JSON.stringify(encodeMask(a)));
    writeFileSync(join(d.gt, 'y.json'), JSON.stringify({ annotations: [{ segmentation: encodeMask(a) }] }));
    let inter = 0;
    let union = 0;
    for (let i = 0; i < hw; i++) {
      inter += a.data[i] & b.data[i];
      union += a.data[i] | b.data[i];
    }
    const r = await evaluate('segmentation', d);
    expect(r.rows).toEqual([{ stem: 'x', iou: inter / union }, { stem: 'y', iou: 1 }]);
    expect(r.mean.iou).toBeCloseTo((inter / union + 1) / 2, 12);
    const table = (await runCli(['evaluate', '--task', 'segmentation', '--pred', d.pred, '--gt', d.gt], fakePipeline().factory)).out;
    expect(table).toMatch(/^segmentation: 2 image\(s\)\nstem +iou\nx +0\.\d{4}\ny +1\nmean +0\.\d{4}\n$/);

    writeFileSync(join(d.gt, 'y.json'), JSON.stringify({ annotations: [{ segmentation: encodeMask(a) }, { segmentation: encodeMask(b) }] }));
    await expect(evaluate('segmentation', d)).rejects.toThrow(/y\.json: holds 2 annotations and the prediction does not name which one/);
    await expect(evaluate('segmentation', { pred: d.pred, gt: d.pred })).rejects.toThrow(/^no prediction in .*pred \(\.json, \.png\) has a ground truth of the same stem .*ground-truth stems: x_mask, y_mask/);
    await expect(evaluate('pose', d)).rejects.toThrow(/^--task: 'pose' is not one of depth, normal, segmentation/);
    writeFileSync(join(d.gt, 'x.png'), await encodeMaskPng({ height: 2, width: 2, data: new Uint8Array(4) }, 8));
    await expect(evaluate('segmentation', d)).rejects.toThrow(/^x \(x_mask\.png vs x\.png\): prediction is 9x7, ground truth 2x2/);
  });
});

describe('batch --evaluate on the reference SA-1B examples', () => {
  it('writes masks recording the prompted annotation and metrics.json with one IoU per sample', async () => {
    const dir = tempDir('batch-eval');
    const root = '../shared/data/diception-examples';
    const save = join(dir, 'results');
    // An all-white prediction: the mask is the whole image, so IoU = annotation area / image area.
    await runCli(['batch', '--input_path', join(root, 'example_batch_seg.json'), '--data_root_path', root, '--save_path', save,
      ...modelArgs(dir), '--quiet', '--evaluate', '--fast'], fakePipeline({ constant: 1 }).factory);
    const metrics = JSON.parse(readFileSync(join(save, 'images', 'metrics.json'), 'utf8'));
    expect(metrics.segmentation.rows.map((r: { stem: string }) => r.stem)).toEqual(['sa_525837', 'sa_525841']);
    for (const row of metrics.segmentation.rows) {
      const mask = JSON.parse(readFileSync(join(save, 'images', `${row.stem}_mask.json`), 'utf8'));
      expect(mask.target.path).toBe(`${root}/val/${row.stem}.json`);
      const gt = JSON.parse(readFileSync(mask.target.path, 'utf8'));
      const anno = gt.annotations[mask.target.annotation];
      expect(row.iou, row.stem).toBeCloseTo(anno.area / (gt.image.width * gt.image.height), 12);
    }
    expect(metrics.notScored).toEqual([]);
    // The same scores from `evaluate` with the batch JSON as ground truth.
    const again = await runCli(['evaluate', '--task', 'segmentation', '--pred', join(save, 'images'), '--gt', join(root, 'example_batch_seg.json'),
      '--data_root_path', root, '--json'], fakePipeline().factory);
    expect(JSON.parse(again.out).rows).toEqual(metrics.segmentation.rows);
  });

  it('scores semantic (polygon targets), segmentation and depth samples, and lists the rest as not scored', async () => {
    const dir = tempDir('batch-eval-mixed');
    for (const n of ['s', 'p', 'z', 'q']) await writeImage(join(dir, `${n}.png`), 40, 30);
    const inside = { height: 30, width: 40, data: Uint8Array.from({ length: 1200 }, (_, i) => (i < 600 ? 1 : 0)) };
    writeFileSync(join(dir, 's.json'), JSON.stringify({ annotations: [{ segmentation: encodeMask(inside) }] }));
    writeFileSync(join(dir, 'p.json'), JSON.stringify([{ prompt: 'cat', segmentation: [[0, 0, 40, 0, 40, 15, 0, 15]] }]));
    await png16(join(dir, 'z_gt.png'), Uint16Array.from({ length: 1200 }, (_, i) => 500 + i), 40, 30);
    writeFileSync(join(dir, 'list.json'), JSON.stringify([
      { input: 's.png', caption: '[[image2segmentation]]', target: { path: 's.json' } },
      { input: 'p.png', caption: '[[image2semantic]]', target: { path: 'p.json' } },
      { input: 'z.png', caption: '[[image2depth]]', target: { path: 'z_gt.png' } },
      { input: 'q.png', caption: '[[image2pose]]' },
    ]));
    const save = join(dir, 'out');
    const { out } = await runCli(['batch', '--input_path', join(dir, 'list.json'), '--data_root_path', dir, '--save_path', save, ...modelArgs(dir), '--evaluate', '--json'],
      fakePipeline({ constant: 1 }).factory);
    const metrics = JSON.parse(readFileSync(join(save, 'images', 'metrics.json'), 'utf8'));
    // All-white masks: IoU = the target's share of the image (rows 0..14 of 30 for the polygon).
    expect(metrics.segmentation.rows).toEqual([{ stem: 's', iou: 0.5 }, { stem: 'p', iou: 0.5 }]);
    expect(metrics.depth.rows).toEqual([expect.objectContaining({ stem: 'z', valid: 1200 })]);
    expect(metrics.notScored).toEqual(['q']);
    expect(JSON.parse(out).metrics.segmentation.iou).toBe(0.5);
  });
});
