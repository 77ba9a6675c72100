// The library API (src/node.ts) on a small random model: results at the input's size, the
// error classes and codes, a checkpoint given as a Blob, and an abort after the first
// denoising step that frees every buffer the run took.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortError, DiceptionError, GpuError, InvalidArgumentError, loadDiception, ModelFilesError, type DiceptionModel } from '../../src/node.ts';
import { platform } from '../../src/runtime/platform.ts';
import { writeSmallModel } from './small-model.ts';

const image = { width: 40, height: 24, data: new Uint8Array(40 * 24 * 3).map((_, i) => (i * 37) % 251) };

describe('library API (Node)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'diception-api-'));
  let model: DiceptionModel;
  beforeAll(async () => {
    await writeSmallModel(dir);
    model = await loadDiception({
      sd3: dir,
      checkpoint: new Blob([readFileSync(join(dir, 'diception.safetensors'))]),
      promptCache: join(dir, 'prompts.safetensors'),
      precision: 'f32',
    });
  });
  afterAll(async () => {
    await model?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('depth at the input size: rgb, values in [0,1], the channel-mean depth map, per-stage timings', async () => {
    const steps: number[] = [];
    const r = await model.predict(image, { task: 'depth', steps: 1, guidance: 1, onProgress: (s, d) => s === 'denoise' && steps.push(d) });
    expect([r.width, r.height]).toEqual([40, 24]);
    expect(r.rgb.length).toBe(40 * 24 * 3);
    expect(r.values.length).toBe(3 * 40 * 24);
    expect(r.values.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(r.depth!.length).toBe(40 * 24);
    expect(r.normal).toBeUndefined();
    expect(r.timings.map((t) => t.stage)).toEqual(['text', 'encode', 'denoise', 'decode']);
    expect(r.vaePrecision).toEqual({ act: 'f32', reason: '--precision f32' });
    expect(steps).toEqual([1]);
  });

  it('an AbortSignal aborted after the first of 3 steps rejects with AbortError and frees the run\'s GPU memory', async () => {
    const before = model.memory().liveBytes;
    const ctl = new AbortController();
    const seen: number[] = [];
    const run = model.predict(image, {
      task: 'segmentation', points: [[0.3, 0.6], [0.7, 0.2]], steps: 3, guidance: 2, signal: ctl.signal,
      onProgress: (stage, done) => {
        if (stage !== 'denoise') return;
        seen.push(done);
        if (done === 1) ctl.abort();
      },
    });
    const err = await run.catch((e) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect(err.code).toBe('ABORTED');
    expect(seen).toEqual([1]);
    expect(model.memory().liveBytes).toBe(before);
  });

  it('bad options and files are DiceptionErrors with a code and the CLI\'s message', async () => {
    const task = await model.predict(image, { task: 'dpeth' as 'depth' }).catch((e) => e);
    expect(task).toBeInstanceOf(InvalidArgumentError);
    expect(task).toBeInstanceOf(DiceptionError);
    expect(task.code).toBe('INVALID_ARGUMENT');
    expect(task.message).toMatch(/^task: unknown task 'dpeth'; use one of depth, normal/);
    const pts = await model.predict(image, { task: 'segmentation', points: [[1.5, 0.2]] }).catch((e) => e);
    expect(pts.message).toMatch(/^points: point 1 '1.5,0.2' is outside \[0,1\]/);
    const img = await model.predict(join(dir, 'nope.png'), { task: 'depth' }).catch((e) => e);
    expect([img.code, img.message]).toEqual(['IMAGE', expect.stringMatching(/^image: cannot read .*nope.png/)]);
    const files = await loadDiception({ sd3: tmpdir(), checkpoint: join(dir, 'diception.safetensors') }).catch((e) => e);
    expect(files).toBeInstanceOf(ModelFilesError);
    expect(files.message).toMatch(/not a diffusers model folder \(no model_index.json\)/);
    const weights = await loadDiception({ sd3: dir, checkpoint: join(dir, 'diception.safetensors'), weights: 'int4' as 'q8' }).catch((e) => e);
    expect([weights.code, weights.message]).toEqual(['INVALID_ARGUMENT', "weights: 'int4' is not f16 or q8"]);
  });

  it('a prediction over maxGpuMemory is a GpuError before any stage runs', async () => {
    const small = await loadDiception({ sd3: dir, checkpoint: join(dir, 'diception.safetensors'), promptCache: join(dir, 'prompts.safetensors'), precision: 'f32', maxGpuMemory: 2 ** 20 });
    try {
      const stages: string[] = [];
      const err = await small.predict(image, { task: 'depth', steps: 1, guidance: 1, onProgress: (s) => stages.push(s) }).catch((e) => e);
      expect(err).toBeInstanceOf(GpuError);
      expect(err.code).toBe('GPU');
      expect(err.message).toMatch(/^batch of 1 at 768²: the estimated peak is \d+ MiB .* over the 1 MiB budget \(--max-gpu-memory\); not even one image fits$/);
      expect(stages).toEqual([]);
    } finally {
      await small.dispose();
    }
    const bad = await loadDiception({ sd3: dir, checkpoint: join(dir, 'diception.safetensors'), maxGpuMemory: -1 }).catch((e) => e);
    expect([bad.code, bad.message]).toEqual(['INVALID_ARGUMENT', "maxGpuMemory: '-1' is not a positive number of bytes"]);
  });

  it('runs on a GPUDevice the caller made, and leaves it usable after dispose', async () => {
    const adapter = await platform().gpu().requestAdapter();
    const device = await adapter!.requestDevice();
    const own = await loadDiception({ sd3: dir, checkpoint: join(dir, 'diception.safetensors'), promptCache: join(dir, 'prompts.safetensors'), device, precision: 'f32' });
    expect(own.capabilities.maxStorageBinding).toBe(device.limits.maxStorageBufferBindingSize);
    expect(own.memory().liveBytes).toBeGreaterThan(0); // the VAE and point encoder, on this device
    await own.dispose();
    const b = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
    await device.queue.onSubmittedWorkDone();
    b.destroy();
    device.destroy();
  });
});
