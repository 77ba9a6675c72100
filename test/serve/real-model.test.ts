// `serve` with the real pipeline on the generated tiny model gives exactly what `infer` gives
// for the same image, task and seed: the PNG prediction panel and the .npy depth.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { allPrompts } from '../../src/model/tasks.ts';
import { getDevice } from '../../src/runtime/device.ts';
import { loadPipeline } from '../../tools/pipeline-loader.ts';
import { DEMO_SPEC, writeTinyModel } from '../../tools/tiny-model.ts';
import { runCli } from '../cli/fake-pipeline.ts';
import { expectSame, readPixels, removeTempDirs, tempDir } from '../cli/files.ts';
import { pixels, post, pngBytes, startServer } from './server.ts';

afterAll(removeTempDirs);

describe('serve with the tiny real model', () => {
  it('a depth request equals infer --fast --seed 7 (PNG panel and npy bytes)', async () => {
    const dir = tempDir('serve-real');
    const model = join(dir, 'model');
    await writeTinyModel(model, { ...DEMO_SPEC, prompts: allPrompts() });
    const image = join(dir, 'photo.png');
    const bytes = await pngBytes(20, 14, 3);
    writeFileSync(image, bytes);
    const flags = ['--sd3', model, '--diception_path', join(model, 'diception.safetensors'), '--prompt-cache', join(model, 'prompts.safetensors')];
    await runCli(['infer', '--image', image, '--task', 'depth', '--fast', '--seed', '7', '--save_npy', '--output_dir', join(dir, 'out'), '--quiet', ...flags], loadPipeline);
    const sideBySide = await readPixels(join(dir, 'out', 'result_photo.png'));
    const panel = new Uint8Array(20 * 14 * 3);
    for (let y = 0; y < 14; y++) panel.set(sideBySide.data.subarray((y * 40 + 20) * 3, (y * 40 + 40) * 3), y * 20 * 3);

    const s = await startServer(
      () => loadPipeline({ pretrainedModelPath: model, diceptionPath: join(model, 'diception.safetensors'), promptCache: join(model, 'prompts.safetensors'), precision: 'f16' }),
      { gpu: await getDevice(), defaults: { steps: 1, guidance: 1, seed: 42 } },
    );
    try {
      const r = await post(s.url, bytes, 'task=depth&seed=7&format=json');
      expect(r.status).toBe(200);
      const json = await r.json();
      expect([json.width, json.height, json.timings.batch]).toEqual([20, 14, 1]);
      expectSame(await pixels(Buffer.from(json.png_base64, 'base64')), panel, 'prediction panel');
      expect(Buffer.from(json.npy_base64, 'base64').equals(readFileSync(join(dir, 'out', 'result_photo.npy')))).toBe(true);
    } finally {
      await s.close();
    }
  });
});
