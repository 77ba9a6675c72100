// `diception infer` end to end with the fake pipeline: what the pipeline is asked, the files
// written (names, sizes, formats, .npy), and every user error (one clear line, no files left).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SPECTRAL_LUT } from '../../src/model/postprocess.ts';
import { inferInput } from '../../src/model/preprocess.ts';
import { parseNpy } from '../model/npy.ts';
import { fakePipeline, runCli } from './fake-pipeline.ts';
import { expectSame, modelArgs, readPixels, removeTempDirs, tempDir, writeImage } from './files.ts';

afterAll(removeTempDirs);

async function setup(name = 'in.png', width = 300, height = 200) {
  const dir = tempDir('infer');
  const image = join(dir, name);
  const pixels = await writeImage(image, width, height);
  const out = join(dir, 'out');
  const base = ['infer', '--image', image, '--output_dir', out, ...modelArgs(dir), '--quiet'];
  return { dir, image, pixels, out, base };
}

describe('infer with the fake pipeline', () => {
  it('depth: asks for the reference defaults and writes result_<name> = [input | Spectral] at 2W×H', async () => {
    const { pixels, out, base } = await setup();
    const fake = fakePipeline({ constant: 0.5 });
    await runCli(base, fake.factory);
    const [req] = fake.state.requests;
    expect(fake.state.requests.length).toBe(1);
    expect({ batch: req.batch, prompts: req.prompts, steps: req.steps, guidance: req.guidance, seeds: req.seeds })
      .toEqual({ batch: 1, prompts: ['[[image2depth]]'], steps: 28, guidance: 2, seeds: [42] });
    expect([...req.pointLabels]).toEqual([0, 0, 0, 0, 0]);
    expectSame(req.images, inferInput(pixels), 'pipeline input');
    expect(fake.state.options[0]).toMatchObject({ precision: 'f16', weights: 'f16', pretrainedModelPath: expect.stringContaining('sd3') });
    expect(fake.state.disposed).toBe(1);

    expect(readdirSync(out)).toEqual(['result_in.png']);
    const res = await readPixels(join(out, 'result_in.png'));
    expect([res.width, res.height, res.format]).toEqual([600, 200, 'png']);
    // Left: the original pixels untouched. Right: depth 0.5 → LUT entry 128 everywhere.
    const lut = [0, 1, 2].map((c) => Math.trunc(SPECTRAL_LUT[128 * 3 + c] * 255));
    for (let y = 0; y < 200; y += 7) {
      for (let x = 0; x < 300; x += 7) {
        for (let c = 0; c < 3; c++) {
          expect(res.data[(y * 600 + x) * 3 + c], `left (${y},${x}) ch ${c}`).toBe(pixels.data[(y * 300 + x) * 3 + c]);
          expect(Math.abs(res.data[(y * 600 + 300 + x) * 3 + c] - lut[c]), `right (${y},${x}) ch ${c}`).toBeLessThanOrEqual(1);
        }
      }
    }
  });

  it('segmentation with --points, --fast, --seed, --precision f32, --weights q8 and --json', async () => {
    const { out, base } = await setup();
    const fake = fakePipeline();
    const args = base.filter((a) => a !== '--quiet');
    const { out: stdout } = await runCli([...args, '--task', 'segmentation', '--points', '0.25,0.75;1,0', '--fast', '--seed', '7', '--precision', 'f32', '--weights', 'q8', '--json'], fake.factory);
    const [req] = fake.state.requests;
    expect({ prompts: req.prompts, steps: req.steps, guidance: req.guidance, seeds: req.seeds }).toEqual({ prompts: ['[[image2segmentation]]'], steps: 1, guidance: 1, seeds: [7] });
    expect([...req.points]).toEqual([0.75, 0.25, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect([...req.pointLabels]).toEqual([1, 1, 0, 0, 0]);
    expect(fake.state.options[0]).toMatchObject({ precision: 'f32', weights: 'q8' });
    const summary = JSON.parse(stdout);
    expect(summary).toMatchObject({ weights: 'q8', prompt: '[[image2segmentation]]', steps: 1, guidance: 1, seed: 7, outputs: [join(out, 'result_in.png')], timings: [{ stage: 'denoise', ms: 1 }] });
  });

  it('normal: the prediction panel is the prediction; --save_npy writes [3,H,W] float16', async () => {
    const { out, base, pixels } = await setup('pic.png', 90, 120);
    await runCli([...base, '--prompt', '[[image2normal]]', '--save_npy', '--num_inference_steps', '3', '--guidance_scale', '1.5'], fakePipeline().factory);
    expect(readdirSync(out).sort()).toEqual(['result_pic.npy', 'result_pic.png']);
    const npy = parseNpy(readFileSync(join(out, 'result_pic.npy')));
    expect(npy.shape).toEqual([3, 120, 90]);
    // Identity fake: the map is the input resized down and back up, so it stays close to it.
    let worst = 0;
    for (let i = 0; i < 90 * 120; i++) worst = Math.max(worst, Math.abs(npy.values[i] - pixels.data[i * 3] / 255));
    expect(worst).toBeLessThan(0.05);
    const res = await readPixels(join(out, 'result_pic.png'));
    let diff = 0;
    for (let y = 0; y < 120; y++) for (let x = 0; x < 90; x++) diff = Math.max(diff, Math.abs(res.data[(y * 180 + 90 + x) * 3 + 1] - pixels.data[(y * 90 + x) * 3 + 1]));
    expect(diff).toBeLessThanOrEqual(12);
  });

  it('depth --save_npy writes the [H,W] channel mean; a .jpg input gives a JPEG result', async () => {
    const { out, base } = await setup('photo.jpg', 64, 48);
    await runCli([...base, '--task', 'depth', '--save_npy'], fakePipeline({ constant: 0.25 }).factory);
    const npy = parseNpy(readFileSync(join(out, 'result_photo.npy')));
    expect(npy.shape).toEqual([48, 64]);
    expect(npy.values.every((v) => v === 0.25)).toBe(true);
    const res = await readPixels(join(out, 'result_photo.jpg'));
    expect([res.width, res.height, res.format]).toEqual([128, 48, 'jpeg']);
  });
});

describe('infer errors: one line naming the flag, nothing loaded, no files left', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['unknown task', ['--task', 'height'], /^--task: unknown task 'height'; use one of depth, normal/],
    ['unknown COCO class', ['--task', 'semantic:persn'], /^--task: 'persn' is not a COCO class; did you mean 'person'\?/],
    ['--task and --prompt', ['--task', 'depth', '--prompt', '[[image2depth]]'], /^give either --task or --prompt/],
    ['point out of range', ['--task', 'segmentation', '--points', '0.5,1.5'], /^--points: point 1 '0.5,1.5' is outside \[0,1\]/],
    ['too many points', ['--points', '0,0;0,0;0,0;0,0;0,0;0,0'], /^--points: 6 points given, the model takes at most 5/],
    ['malformed point', ['--points', '0.5;0.2,0.1'], /^--points: point 1 '0.5' is malformed/],
    ['--fast with --num_inference_steps', ['--fast', '--num_inference_steps', '4'], /^--fast sets --num_inference_steps and --guidance_scale/],
    ['zero steps', ['--num_inference_steps', '0'], /^--num_inference_steps: '0' is not a whole number in \[1, 1000\]/],
    ['bad guidance', ['--guidance_scale', 'lots'], /^--guidance_scale: 'lots' is not a number/],
    ['bad seed', ['--seed', '-3'], /^--seed: '-3' is not a whole number/],
    ['bad precision', ['--precision', 'bf16'], /^--precision: 'bf16' is not f16 or f32/],
    ['bad weights', ['--weights', 'int4'], /^--weights: 'int4' is not f16 or q8/],
  ];
  for (const [name, extra, message] of cases) {
    it(name, async () => {
      const { out, base } = await setup();
      const fake = fakePipeline();
      await expect(runCli([...base, ...extra], fake.factory)).rejects.toThrow(message);
      expect(fake.state.loads).toBe(0);
      expect(() => readdirSync(out)).toThrow(); // not even created
    });
  }

  it('undecodable and missing images', async () => {
    const { dir, base, out } = await setup();
    const bad = join(dir, 'bad.png');
    writeFileSync(bad, 'this is not a PNG');
    const withImage = (p: string) => base.map((a, i) => (base[i - 1] === '--image' ? p : a));
    await expect(runCli(withImage(bad), fakePipeline().factory)).rejects.toThrow(/^--image: cannot read .*bad\.png: not a readable image \(.*\); give a PNG, JPEG/);
    await expect(runCli(withImage(join(dir, 'nope.png')), fakePipeline().factory)).rejects.toThrow(/^--image: cannot read .*nope\.png: file not found/);
    expect(readdirSync(out)).toEqual([]); // the writability probe leaves nothing
  });

  it('an output folder that cannot be created', async () => {
    const { dir, base } = await setup();
    writeFileSync(join(dir, 'afile'), '');
    const args = base.map((a, i) => (base[i - 1] === '--output_dir' ? join(dir, 'afile', 'sub') : a));
    await expect(runCli(args, fakePipeline().factory)).rejects.toThrow(/^--output_dir: cannot write to .*afile\/sub \(.*\); choose a writable folder/);
  });

  it('missing or wrong model paths', async () => {
    const { dir, image } = await setup();
    const f = fakePipeline().factory;
    await expect(runCli(['infer', '--image', image, '--diception_path', image], f)).rejects.toThrow(/^--pretrained_model_path \(or --sd3\) is required/);
    await expect(runCli(['infer', '--image', image, '--sd3', join(dir, 'none'), '--diception_path', image], f)).rejects.toThrow(/^--pretrained_model_path: .*none does not exist/);
    await expect(runCli(['infer', '--image', image, '--sd3', image, '--diception_path', image], f)).rejects.toThrow(/is a file, expected a folder/);
    await expect(runCli(['infer', '--image', image, '--sd3', dir], f)).rejects.toThrow(/^--diception_path is required/);
  });

  it('a failing pipeline leaves no output file and is still disposed', async () => {
    const { out, base } = await setup();
    const fake = fakePipeline({ failRun: new Error('GPU lost') });
    await expect(runCli(base, fake.factory)).rejects.toThrow('GPU lost');
    expect(fake.state.disposed).toBe(1);
    expect(readdirSync(out)).toEqual([]);
  });

  it('a pipeline returning the wrong shape is reported, not saved', async () => {
    const { out, base } = await setup();
    const factory = async () => ({ run: async () => ({ image01: new Float32Array(10), timings: [] }), dispose() {} });
    await expect(runCli(base, factory)).rejects.toThrow(/^pipeline: expected image01 of \[1, 3, 768, 768\] floats, got 10/);
    expect(readdirSync(out)).toEqual([]);
  });
});
