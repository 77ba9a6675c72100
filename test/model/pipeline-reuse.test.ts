// Denoising steps reuse the bind groups of the steps before them (runtime/bind-groups.ts): on
// the tiny model, a steady step creates none, and the result is bit for bit the one of a run
// that creates every bind group afresh. Steps run their model code here (no replay of a recorded
// step, see step-replay.test.ts), so each step goes through the cache.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setAutotune } from '../../src/kernels/registry.ts';
import { Diception } from '../../src/model/pipeline.ts';
import type { PipelineRequest } from '../../src/model/pipeline-types.ts';
import { parseTask, pointSlots } from '../../src/model/tasks.ts';
import type { Gpu } from '../../src/runtime/device.ts';
import { DEMO_SPEC, writeTinyModel } from '../../tools/tiny-model.ts';
import { device } from '../helpers.ts';

// Autotuning would time variants on new shapes: slow on a CPU adapter, and not what is tested.
setAutotune(false);

const SIDE = 128;
// The pool hands buffers back in an order that settles after a few steps (later with CFG, whose
// batch concatenations shuffle more buffers): from then on a step reuses every bind group.
const STEPS = 8;
const PROMPT = parseTask('segmentation').prompt;

describe('bind groups across denoising steps (tiny model)', () => {
  let dir: string;
  let gpu: Gpu;
  let pipe: Diception;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'diception-reuse-test-'));
    await writeTinyModel(dir, { ...DEMO_SPEC, prompts: [PROMPT, ''] });
    gpu = await device();
    gpu.recorder.plans = false;
    pipe = await Diception.load(gpu, { pretrainedModelPath: dir, diceptionPath: join(dir, 'diception.safetensors'), promptCache: join(dir, 'prompts.safetensors'), precision: 'f16' });
  });

  afterAll(async () => {
    gpu.recorder.bindGroups.enabled = true;
    gpu.recorder.plans = true;
    await pipe?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs the request; returns the image and the bind groups each denoising step created. */
  async function run(guidance: number) {
    const points = pointSlots([[0.25, 0.75]]);
    const created: number[] = [];
    let misses = gpu.recorder.bindGroups.misses;
    const request: PipelineRequest = {
      images: new Float32Array(3 * SIDE * SIDE).fill(0.1),
      batch: 1,
      prompts: [PROMPT],
      points: points.coords,
      pointLabels: points.labels,
      steps: STEPS,
      guidance,
      seeds: [3],
      onProgress: (stage, done) => {
        if (stage === 'encode' && done === 1) misses = gpu.recorder.bindGroups.misses;
        if (stage !== 'denoise') return;
        created.push(gpu.recorder.bindGroups.misses - misses);
        misses = gpu.recorder.bindGroups.misses;
      },
    };
    const { image01 } = await pipe.run(request);
    return { image01, created };
  }

  it.each([1, 2])('guidance %i: steady steps create no bind group, and the result equals a run without reuse', async (guidance) => {
    const hits = gpu.recorder.bindGroups.hits;
    const cached = await run(guidance);
    expect(cached.created).toHaveLength(STEPS);
    expect(cached.created[0]).toBeGreaterThan(0);
    expect(cached.created.at(-1), `bind groups created per step: ${cached.created}`).toBe(0);
    expect(gpu.recorder.bindGroups.hits).toBeGreaterThan(hits);

    gpu.recorder.bindGroups.enabled = false;
    try {
      const fresh = await run(guidance);
      expect(fresh.created).toEqual(new Array(STEPS).fill(0)); // nothing went through the cache
      expect(fresh.image01).toEqual(cached.image01);
    } finally {
      gpu.recorder.bindGroups.enabled = true;
    }
  });
});
