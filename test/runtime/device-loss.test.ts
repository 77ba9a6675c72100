// A lost GPU device (simulated with device.destroy() mid-request) ends the request with one
// clear error; batch keeps what it saved and a rerun, on a fresh device, does the rest.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Diception } from '../../src/model/pipeline.ts';
import type { PipelineFactory } from '../../src/model/pipeline-types.ts';
import { emptyPoints } from '../../src/model/tasks.ts';
import { DEMO_SPEC, writeTinyModel } from '../../tools/tiny-model.ts';
import { scale } from '../../src/kernels/elementwise.ts';
import { getDevice } from '../../src/runtime/device.ts';
import { fromArray } from '../../src/runtime/tensor.ts';
import { fakePipeline, runCli } from '../cli/fake-pipeline.ts';
import { removeTempDirs, tempDir, writeImage } from '../cli/files.ts';

afterAll(removeTempDirs);

describe('device loss', () => {
  it('a kernel and readback on a device destroyed mid-request fail with one line naming the loss; the next getDevice is fresh', async () => {
    const gpu = await getDevice();
    const x = fromArray(gpu, Float32Array.of(1, 2, 3), [3]);
    const pending = scale(gpu, x, 2, 0).then((y) => y.read());
    gpu.device.destroy();
    const err = await pending.then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/^readback: GPU device lost \(destroyed[:)]/);
    expect(err!.message).not.toContain('\n');
    const fresh = await getDevice();
    expect(fresh).not.toBe(gpu);
    expect(Array.from(await fromArray(fresh, Float32Array.of(5), [1]).read())).toEqual([5]);
  });

  it('the tiny model losing its device mid-denoise fails with the loss, not a stray error', { timeout: 120_000 }, async () => {
    const m = join(tempDir('lost-model'), 'model');
    await writeTinyModel(m, { ...DEMO_SPEC, prompts: ['[[image2depth]]'] });
    const gpu = await getDevice();
    const pipe = await Diception.load(gpu, { pretrainedModelPath: m, diceptionPath: join(m, 'diception.safetensors'), precision: 'f32', promptCache: join(m, 'prompts.safetensors') });
    const { embeds, pooled } = await pipe.encodePrompts(['[[image2depth]]']);
    const none = emptyPoints();
    const points = await pipe.points.embed(none.coords, none.labels, 1);
    const latent = () => fromArray(gpu, new Float32Array(16 * 8 * 8).fill(0.1), [1, 16, 8, 8]);
    // The device goes away at the 3rd submit, inside the first step.
    const flush = gpu.recorder.flush.bind(gpu.recorder);
    let submits = 0;
    gpu.recorder.flush = () => (++submits === 3 && gpu.device.destroy(), flush());
    const err = await pipe
      .denoise({ noise: latent(), cond: latent(), points, embeds, pooled, steps: 3, guidance: 1 })
      .then((x) => x.read())
      .then(() => undefined, (e: Error) => e);
    expect(submits).toBeGreaterThan(3);
    expect(err?.message).toMatch(/GPU device lost \(destroyed[:)]/);
    expect(err!.message).not.toContain('\n');
    await pipe.dispose();
  });

  it('batch stops at the lost device with what it saved, and a rerun resumes', { timeout: 120_000 }, async () => {
    const dir = tempDir('lost');
    const root = join(dir, 'data');
    mkdirSync(root);
    for (const n of ['a', 'b', 'c']) await writeImage(join(root, `${n}.png`), 24, 16);
    const list = join(dir, 'list.json');
    writeFileSync(list, JSON.stringify(['a', 'b', 'c'].map((n) => ({ input: `${n}.png`, caption: '[[image2depth]]' }))));
    writeFileSync(join(dir, 'x.pth'), '');
    const { factory: fake, state } = fakePipeline({ gpu: true });
    let runs = 0;
    // The second request loses the device before its kernel runs.
    const losing: PipelineFactory = async (o) => {
      const p = await fake(o);
      return { run: async (r) => (++runs === 2 && (await getDevice()).device.destroy(), p.run(r)), dispose: () => p.dispose() };
    };
    const save = join(dir, 'out');
    const args = ['batch', '--input_path', list, '--data_root_path', root, '--save_path', save, '--batch_size', '1', '--sd3', dir, '--diception_path', join(dir, 'x.pth'), '--quiet'];
    const err = await runCli(args, losing).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/^readback: GPU device lost \(destroyed[:)].*; 1 of 3 samples were saved: rerun the same command to continue with the rest$/);
    expect(err!.message).not.toContain('\n');
    expect(state.disposed).toBe(1);
    const png = (n: string) => existsSync(join(save, 'images', `${n}_[[image2depth]].png`));
    expect(['a', 'b', 'c'].map(png)).toEqual([true, false, false]);
    await runCli(args, losing);
    expect(['a', 'b', 'c'].map(png)).toEqual([true, true, true]);
    // The rerun ran only b and c.
    expect(state.requests.length).toBe(4);
  });
});
