// `diception batch` end to end with the fake pipeline: reference file names and sizes, .npy,
// SA-1B point sampling, semantic targets, batching, seeds, resume, shards and errors.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { batchInput } from '../../src/model/preprocess.ts';
import { pyJoin, sampleId } from '../../tools/batch.ts';
import { parseShard } from '../../tools/shard.ts';
import { parseNpy } from '../model/npy.ts';
import { encodeMask } from '../../src/model/rle.ts';
import { fakePipeline, runCli } from './fake-pipeline.ts';
import { expectSame, modelArgs, readPixels, removeTempDirs, tempDir, writeImage } from './files.ts';

afterAll(removeTempDirs);

/** A data folder with four samples: depth, normal, SA-1B segmentation, semantic with a target. */
async function dataset() {
  const dir = tempDir('batch');
  const root = join(dir, 'data');
  mkdirSync(join(root, 'sub'), { recursive: true });
  const a = await writeImage(join(root, 'a.png'), 120, 80);
  await writeImage(join(root, 'b.jpg'), 50, 70);
  await writeImage(join(root, 'sub', 'c.png'), 64, 48);
  await writeImage(join(root, 'd.png'), 40, 40);
  // c's mask: rows 12..35, columns 16..47 of the 64x48 image, as compressed RLE.
  const data = new Uint8Array(48 * 64);
  for (let y = 12; y < 36; y++) data.fill(1, y * 64 + 16, y * 64 + 48);
  const rle = encodeMask({ height: 48, width: 64, data });
  writeFileSync(join(root, 'sub', 'c.json'), JSON.stringify({ image: { width: 64, height: 48 }, annotations: [{ segmentation: rle }] }));
  writeFileSync(join(root, 'd_sem.json'), JSON.stringify([{ prompt: 'dog', segmentation: [[5, 5, 30, 5, 30, 30]] }]));
  const list = [
    { input: 'a.png', caption: '[[image2depth]]' },
    { input: 'b.jpg', caption: '[[image2normal]]' },
    { input: 'sub/c.png', caption: '[[image2segmentation]]', target: { path: 'sub/c.json' } },
    { input: 'd.png', caption: '[[image2semantic]]', target: { path: 'd_sem.json' } },
  ];
  const json = join(dir, 'list.json');
  writeFileSync(json, JSON.stringify(list));
  const save = join(dir, 'results');
  const args = (extra: string[] = [], savePath = save) =>
    ['batch', '--input_path', json, '--data_root_path', root, '--save_path', savePath, ...modelArgs(dir), '--quiet', ...extra];
  return { dir, root, json, save, images: join(save, 'images'), args, a };
}

describe('batch with the fake pipeline', () => {
  it('writes <id>_<caption>.png at 2W×H and <id>.npy for depth/normal, in batches, seeds = seed + index', async () => {
    const d = await dataset();
    const fake = fakePipeline();
    await runCli(d.args(['--batch_size', '3', '--save_npy', '--seed', '10']), fake.factory);
    expect(fake.state.loads).toBe(1);
    expect(fake.state.disposed).toBe(1);
    expect(fake.state.requests.map((r) => r.batch)).toEqual([3, 1]);
    expect(fake.state.requests.map((r) => r.seeds)).toEqual([[10, 11, 12], [13]]);
    expect(fake.state.requests.flatMap((r) => r.prompts)).toEqual(['[[image2depth]]', '[[image2normal]]', '[[image2segmentation]]', '[[image2semantic]] dog']);
    expect(fake.state.requests.map((r) => [r.steps, r.guidance])).toEqual([[28, 2], [28, 2]]);
    // The first sample's input is the collator's: float bilinear (antialiased) resize.
    expectSame(fake.state.requests[0].images.subarray(0, 3 * 768 * 768), batchInput(d.a), 'sample 0 input');

    expect(readdirSync(d.images).sort()).toEqual([
      'a.npy', 'a_[[image2depth]].png', 'b.npy', 'b_[[image2normal]].png', 'c_[[image2segmentation]].png', 'd_[[image2semantic]] dog.png',
    ]);
    const sizes = await Promise.all(['a_[[image2depth]].png', 'b_[[image2normal]].png', 'c_[[image2segmentation]].png', 'd_[[image2semantic]] dog.png']
      .map(async (f) => { const p = await readPixels(join(d.images, f)); return [p.width, p.height, p.format]; }));
    expect(sizes).toEqual([[240, 80, 'png'], [100, 70, 'png'], [128, 48, 'png'], [80, 40, 'png']]);
    expect(parseNpy(readFileSync(join(d.images, 'a.npy'))).shape).toEqual([80, 120]);
    expect(parseNpy(readFileSync(join(d.images, 'b.npy'))).shape).toEqual([3, 70, 50]);

    // Sample 2 (SA-1B target): 5 points inside its mask, stored as (row/768, col/768); none elsewhere.
    const [req] = fake.state.requests;
    expect([...req.pointLabels]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    expect([...fake.state.requests[1].pointLabels]).toEqual([0, 0, 0, 0, 0]);
    for (let i = 0; i < 5; i++) {
      const [r, c] = [req.points[20 + 2 * i] * 48, req.points[20 + 2 * i + 1] * 64]; // back to c.png's pixels
      expect(r, `point ${i} row`).toBeGreaterThanOrEqual(12);
      expect(r, `point ${i} row`).toBeLessThan(36);
      expect(c, `point ${i} col`).toBeGreaterThanOrEqual(16);
      expect(c, `point ${i} col`).toBeLessThan(48);
    }
  });

  it('resumes: finished samples are skipped, a missing output is redone with the same seed', async () => {
    const d = await dataset();
    const shard = ['--shard', '0/2', '--save_npy']; // samples 0 (depth) and 2 (segmentation)
    await runCli(d.args(shard), fakePipeline().factory);
    const before = statSync(join(d.images, 'c_[[image2segmentation]].png')).mtimeMs;
    const again = fakePipeline();
    const { out } = await runCli(d.args([...shard, '--json']).filter((a) => a !== '--quiet'), again.factory);
    expect(again.state.loads).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ samples: 2, skipped: 2, outputs: [] });
    expect(statSync(join(d.images, 'c_[[image2segmentation]].png')).mtimeMs).toBe(before);

    rmSync(join(d.images, 'a.npy'));
    const third = fakePipeline();
    await runCli(d.args(shard), third.factory);
    expect(third.state.requests.map((r) => [r.prompts, r.seeds])).toEqual([[['[[image2depth]]'], [42]]]);
    expect(existsSync(join(d.images, 'a.npy'))).toBe(true);
  });

  it('--shard k/n takes samples i with i mod n = k', async () => {
    const d = await dataset();
    const fake = fakePipeline();
    await runCli(d.args(['--shard', '1/2', '--batch_size', '8']), fake.factory);
    expect(fake.state.requests.map((r) => r.seeds)).toEqual([[43, 45]]);
    expect(readdirSync(d.images).sort()).toEqual(['b_[[image2normal]].png', 'd_[[image2semantic]] dog.png']);
  });
});

describe('batch naming rules (as batch_inference.py)', () => {
  it('derives the id like path.split("./")[-1].split(".")[0].split("/")[-1]', () => {
    expect(sampleId('/data/coco/val2017/000123.jpg')).toBe('000123');
    expect(sampleId('./images/a.jpg')).toBe('a');
    expect(sampleId('/data/v1.5/img.jpg')).toBe('v1'); // the reference's quirk, kept
    expect(sampleId('/x/../y/pic.png')).toBe('pic');
  });

  it('joins paths like os.path.join', () => {
    expect(pyJoin('/', 'a.png')).toBe('/a.png');
    expect(pyJoin('./', 'a.png')).toBe('./a.png');
    expect(pyJoin('root', 'a.png')).toBe('root/a.png');
    expect(pyJoin('root', '/abs/a.png')).toBe('/abs/a.png');
    expect(pyJoin('', 'a.png')).toBe('a.png');
  });

  it('parses shards', () => {
    expect(parseShard(undefined)).toEqual({ k: 0, n: 1 });
    expect(parseShard('3/4')).toEqual({ k: 3, n: 4 });
    for (const bad of ['4/4', '1/0', 'a/b', '1', '-1/2']) expect(() => parseShard(bad), bad).toThrow(/^--shard: '.*' is not k\/n with 0 <= k < n/);
  });
});

describe('batch errors', () => {
  const write = (d: { json: string }, list: unknown) => writeFileSync(d.json, typeof list === 'string' ? list : JSON.stringify(list));

  it('names the file, the sample and the fix', async () => {
    const d = await dataset();
    const f = fakePipeline();
    write(d, '{"input": ');
    await expect(runCli(d.args(), f.factory)).rejects.toThrow(/^--input_path: .*list\.json is not JSON/);
    write(d, { input: 'a.png' });
    await expect(runCli(d.args(), f.factory)).rejects.toThrow(/^--input_path: .*list\.json must hold a list/);
    write(d, [{ input: 'a.png', caption: '[[image2depth]]' }, { input: 'b.jpg' }]);
    await expect(runCli(d.args(), f.factory)).rejects.toThrow(/^list\.json sample 1: needs string fields "input" and "caption"/);
    write(d, [{ input: 'a.png', caption: '[[image2semantic]] unicorn' }]);
    await expect(runCli(d.args(), f.factory)).rejects.toThrow(/^list\.json sample 0 caption: 'unicorn' is not a COCO class/);
    write(d, [{ input: 'zz.png', caption: '[[image2depth]]' }]);
    await expect(runCli(d.args(), f.factory)).rejects.toThrow(/^list\.json sample 0: input .*zz\.png not found \(check --data_root_path/);
    write(d, [{ input: 'a.png', caption: '[[image2semantic]]', target: { path: 'missing.json' } }]);
    await expect(runCli(d.args(), f.factory)).rejects.toThrow(/^list\.json sample 0: cannot read annotation file .*missing\.json/);
    write(d, [{ input: 'a.png', caption: '[[image2segmentation]]', target: { counts: 'abc', size: [2, 2] } }]);
    await expect(runCli(d.args(), f.factory)).rejects.toThrow(/inline "counts" is not supported/);
    await expect(runCli(['batch', '--input_path', join(d.dir, 'none.json'), ...modelArgs(d.dir)], f.factory)).rejects.toThrow(/^--input_path: .*none\.json not found/);
    await expect(runCli(d.args(['--batch_size', '0']), f.factory)).rejects.toThrow(/^--batch_size: '0' is not a whole number/);
    expect(f.state.loads).toBe(0);
    expect(existsSync(d.images)).toBe(false);
  });

  it('accepts JSON lines like load_dataset("json")', async () => {
    const d = await dataset();
    write(d, '{"input": "a.png", "caption": "[[image2pose]]"}\n{"input": "d.png", "caption": "[[image2entity]]"}\n');
    const fake = fakePipeline();
    await runCli(d.args(['--batch_size', '2']), fake.factory);
    expect(fake.state.requests[0].prompts).toEqual(['[[image2pose]]', '[[image2entity]]']);
    expect(readdirSync(d.images).sort()).toEqual(['a_[[image2pose]].png', 'd_[[image2entity]].png']);
  });
});
