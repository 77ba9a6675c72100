// `infer` and `batch` with the real pipeline on a generated random-weight model in the real
// on-disk layout (SD3 folder, DICEPTION weights as safetensors, prompt cache): every stage runs.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineFactory, PipelineRequest } from '../../src/model/pipeline-types.ts';
import { allPrompts } from '../../src/model/tasks.ts';
import { loadPipeline } from '../../tools/pipeline-loader.ts';
import { DEMO_SPEC, writeTinyModel } from '../../tools/tiny-model.ts';
import { writeSmallModel } from '../api/small-model.ts';
import { relL2 } from '../helpers.ts';
import { parseNpy } from '../model/npy.ts';
import { runCli } from './fake-pipeline.ts';
import { readPixels, removeTempDirs, tempDir, writeImage } from './files.ts';

/** rel_l2 of the q8 depth map against f16's on the random small model (7.9e-4 measured 2026-12-01; the test prints it). */
const Q8_DEMO_BOUND = 1e-2;

let dir: string;
let model: string[];
afterAll(removeTempDirs);
beforeAll(async () => {
  dir = tempDir('real');
  await writeTinyModel(join(dir, 'model'), { ...DEMO_SPEC, prompts: allPrompts() });
  const m = join(dir, 'model');
  model = ['--sd3', m, '--diception_path', join(m, 'diception.safetensors'), '--prompt-cache', join(m, 'prompts.safetensors'), '--quiet'];
});

describe('the real pipeline on a tiny random model', () => {
  it('infer: depth with CFG (2 steps), PNG and npy at the original size', async () => {
    const image = join(dir, 'photo.png');
    await writeImage(image, 200, 120);
    const out = join(dir, 'infer');
    await runCli(['infer', '--image', image, '--task', 'depth', '--num_inference_steps', '2', '--save_npy', '--output_dir', out, ...model], loadPipeline);
    expect(readdirSync(out).sort()).toEqual(['result_photo.npy', 'result_photo.png']);
    const png = await readPixels(join(out, 'result_photo.png'));
    expect([png.width, png.height]).toEqual([400, 120]);
    const npy = parseNpy(readFileSync(join(out, 'result_photo.npy')));
    expect(npy.shape).toEqual([120, 200]);
    expect(npy.values.every((v: number) => Number.isFinite(v) && v >= 0 && v <= 1)).toBe(true);
  });

  it('infer --weights q8 (the demo pipeline, small model): says which linears were int8; depth finite and close to f16', async () => {
    // The demo model with a narrow VAE (test/api/small-model.ts): the transformer is the same.
    const small = join(dir, 'small');
    await writeSmallModel(small);
    const image = join(dir, 'q8.png');
    await writeImage(image, 64, 48);
    const run = async (weights: string) => {
      const out = join(dir, `q8-${weights}`);
      const files = ['--sd3', small, '--diception_path', join(small, 'diception.safetensors'), '--prompt-cache', join(small, 'prompts.safetensors')];
      const { out: stdout } = await runCli(['infer', '--image', image, '--fast', '--save_npy', '--output_dir', out, '--weights', weights, '--json', ...files], loadPipeline);
      return { summary: JSON.parse(stdout), depth: parseNpy(readFileSync(join(out, 'result_q8.npy'))).values as Float32Array };
    };
    const f16 = await run('f16');
    const q8 = await run('q8');
    expect(f16.summary).toMatchObject({ weights: 'f16' });
    expect(f16.summary.q8_weights).toBeUndefined();
    // 2 blocks: 14 linears, and 11 in the last (context_pre_only) one.
    expect(q8.summary).toMatchObject({ weights: 'q8', q8_weights: { linears: 25, group: 64, source: 'load' } });
    expect(q8.summary.q8_weights.bytes).toBeLessThan(0.6 * q8.summary.q8_weights.f16_bytes);
    expect(q8.depth.every(Number.isFinite)).toBe(true);
    const err = relL2(q8.depth, f16.depth);
    console.log(`depth map, q8 against f16 weights (random small model, 1 step): rel_l2 ${err.toExponential(2)}`);
    expect(err).toBeLessThan(Q8_DEMO_BOUND);
  });

  it('batch: two tasks in one GPU batch, resumable', async () => {
    const root = join(dir, 'data');
    mkdirSync(root, { recursive: true });
    await writeImage(join(root, 'a.png'), 96, 64);
    await writeImage(join(root, 'b.jpg'), 64, 96);
    const list = join(dir, 'list.json');
    writeFileSync(list, JSON.stringify([
      { input: 'a.png', caption: '[[image2normal]]' },
      { input: 'b.jpg', caption: '[[image2semantic]] person' },
    ]));
    const save = join(dir, 'batch');
    const args = ['batch', '--input_path', list, '--data_root_path', root, '--save_path', save, '--batch_size', '2', '--fast', '--save_npy', ...model];
    await runCli(args, loadPipeline);
    const files = readdirSync(join(save, 'images')).sort();
    expect(files).toEqual(['a.npy', 'a_[[image2normal]].png', 'b_[[image2semantic]] person.png']);
    expect(parseNpy(readFileSync(join(save, 'images', 'a.npy'))).shape).toEqual([3, 64, 96]);
    const b = await readPixels(join(save, 'images', 'b_[[image2semantic]] person.png'));
    expect([b.width, b.height]).toEqual([128, 96]);
    // A second run finds every output and loads nothing.
    const again = await runCli(args.filter((a) => a !== '--quiet').concat('--json'), async () => {
      throw new Error('the pipeline should not load when every output exists');
    });
    expect(again.out).toMatch(/skipped/);
  });

  it('a batch over --max-gpu-memory is refused after loading, before any image is read or any stage runs; infer likewise', async () => {
    const stages: string[] = [];
    const watched: PipelineFactory = async (o) => {
      const p = await loadPipeline(o);
      const run = p.run.bind(p);
      return Object.assign(p, { run: (r: PipelineRequest) => run({ ...r, onProgress: (s: string, d: number, n: number) => (stages.push(s), r.onProgress?.(s, d, n)) }) });
    };
    const image = join(dir, 'big.png');
    await writeImage(image, 32, 32);
    const list = join(dir, 'sixty-four.json');
    writeFileSync(list, JSON.stringify(Array.from({ length: 64 }, () => ({ input: 'big.png', caption: '[[image2depth]]' }))));
    const save = join(dir, 'refused');
    const args = ['batch', '--input_path', list, '--data_root_path', dir, '--save_path', save, '--batch_size', '64', '--max-gpu-memory', '1', ...model];
    // The demo model at 768²: its encoder's 16-channel maps take tens of MiB per image.
    await expect(runCli(args, watched)).rejects.toThrow(/^batch of 64 at 768²: the estimated peak is \d+ MiB \(\d+ MiB of weights, the rest in encode\), over the 1024 MiB budget \(--max-gpu-memory\); the largest batch that fits is \d+ \(--batch_size \d+\)$/);
    expect(stages).toEqual([]);
    expect(readdirSync(join(save, 'images'))).toEqual([]);
    const infer = ['infer', '--image', image, '--task', 'depth', '--max-gpu-memory', '0.01', '--output_dir', join(dir, 'refused-infer'), ...model];
    await expect(runCli(infer, watched)).rejects.toThrow(/^batch of 1 at 768²: the estimated peak .* over the 10 MiB budget \(--max-gpu-memory\); not even one image fits$/);
    expect(stages).toEqual([]);
  });
});
