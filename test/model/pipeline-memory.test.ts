// GPU memory of the whole pipeline on the tiny demo model: a request must leave nothing
// allocated behind (or a long batch grows without bound), and the allocation replay that
// `bench memory` uses at the real model size must see what an executed run allocates.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setAutotune } from '../../src/kernels/registry.ts';
import { Diception } from '../../src/model/pipeline.ts';
import type { PipelineRequest } from '../../src/model/pipeline-types.ts';
import { replayRun } from '../../src/model/replay.ts';
import { parseTask, pointSlots } from '../../src/model/tasks.ts';
import type { Gpu } from '../../src/runtime/device.ts';
import type { Kernel } from '../../src/runtime/shader.ts';
import { empty } from '../../src/runtime/tensor.ts';
import { DEMO_SPEC, writeTinyModel } from '../../tools/tiny-model.ts';
import { device } from '../helpers.ts';

// Autotuning would time variants on new shapes: slow on a CPU adapter, and not what is tested.
setAutotune(false);

const SIDE = 256;
const PROMPT = parseTask('segmentation').prompt;

function request(steps: number, guidance: number, batch = 1): PipelineRequest {
  const points = pointSlots([[0.25, 0.75]]);
  const each = <T,>(a: ArrayLike<T>) => Array.from({ length: batch }, () => Array.from(a)).flat();
  return {
    images: new Float32Array(batch * 3 * SIDE * SIDE).fill(0.1), batch, prompts: each([PROMPT]), points: Float32Array.from(each(points.coords)),
    pointLabels: Float32Array.from(each(points.labels)), steps, guidance, seeds: each([3]),
  };
}

describe('pipeline GPU memory (tiny model)', () => {
  let dir: string;
  let gpu: Gpu;
  let pipe: Diception;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'diception-memory-test-'));
    await writeTinyModel(dir, { ...DEMO_SPEC, prompts: [PROMPT, ''] });
    gpu = await device();
    pipe = await Diception.load(gpu, { pretrainedModelPath: dir, diceptionPath: join(dir, 'diception.safetensors'), promptCache: join(dir, 'prompts.safetensors'), precision: 'f16' });
    await pipe.run(request(2, 2)); // uploads the transformer
  });

  afterAll(async () => {
    await pipe?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('a request with guidance leaves no tensor behind', async () => {
    const live = gpu.pool.liveBytes;
    await pipe.run(request(2, 2));
    expect(gpu.pool.liveBytes).toBe(live);
  });

  it.each([
    [1, 1],
    [2, 2],
  ])('a replayed request (%i steps, guidance %i) peaks where the executed one does, stage by stage', async (steps, guidance) => {
    // Both start from the same pool: the weights live, nothing cached.
    gpu.pool.trim();
    const executed = await pipe.run(request(steps, guidance));
    gpu.pool.trim();
    const replayed = await replayRun(gpu, pipe, request(steps, guidance));
    expect(replayed.stages.map((s) => [s.stage, s.peakBytes])).toEqual(executed.timings.map((t) => [t.stage, t.peakBytes]));
    // Prompts come from the cache (no kernel); every other stage dispatches.
    expect(replayed.stages.map((s) => s.dispatches > 0)).toEqual(executed.timings.map((t) => t.stage !== 'text'));
  });

  it.each([1, 2])('the preflight estimate of %i image(s) with guidance covers the replayed peak, by under a fifth', async (batch) => {
    gpu.pool.trim();
    const estimate = pipe.estimatePeak({ batch, side: SIDE, guidance: true });
    const replayed = await replayRun(gpu, pipe, request(1, 2, batch));
    const peak = Math.max(...replayed.stages.map((s) => s.peakBytes!));
    expect(estimate.bytes).toBeGreaterThanOrEqual(peak);
    expect(estimate.bytes).toBeLessThan(1.2 * peak);
  });

  it('a dry run refuses a binding above the limit, and ends', async () => {
    const t = empty(gpu, [4]);
    const kernel = { label: 'oversized kernel', spec: { bindings: [{ name: 'x', dtype: 'f32' }] } } as unknown as Kernel;
    const oversized = () => gpu.recorder.dispatch(kernel, [{ buffer: t.buffer, size: gpu.caps.maxStorageBinding + 4 }], undefined, [1]);
    await expect(gpu.recorder.dryRun(async () => oversized())).rejects.toThrow(/oversized kernel: binding 'x' is \d+ bytes, above the \d+-byte binding limit/);
    expect(gpu.recorder.isDryRun).toBe(false);
    t.dispose();
  });
});
