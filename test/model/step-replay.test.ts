// Denoising steps after the first replay its recorded commands (model/replay.ts, the recorder's
// capture and replay). On the tiny fixture model: a loop that replays ends on the latent, bit for
// bit, of one that runs the model code every step, with and without CFG; a step whose inputs
// change (shape: image size, batch) is recorded anew, never replayed; one whose inputs keep
// their shape and buffers but change values replays and reads the new values.
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { setAutotune } from '../../src/kernels/registry.ts';
import { MMDiT } from '../../src/model/mmdit.ts';
import { Diception } from '../../src/model/pipeline.ts';
import { StepReplay } from '../../src/model/replay.ts';
import type { Gpu } from '../../src/runtime/device.ts';
import { empty, fromArray, type Tensor } from '../../src/runtime/tensor.ts';
import { overlay, prefixed, readJson } from '../../src/runtime/weights.ts';
import { openForTest } from '../fixture-weights.ts';
import { describeFixtures, device, rand, TINY } from '../helpers.ts';

const STEPS = 4;
/** Prompt tokens (any count works; the real 77 + 256 only costs time here). */
const T = 12;

describeFixtures('denoising step replay (tiny fixture)', () => {
  let gpu: Gpu;
  let pipe: Diception;

  beforeAll(async () => {
    // Autotuning waits on the GPU, so a tuning step would not be recorded; and variants must not change between runs.
    setAutotune(false);
    gpu = await device();
    pipe = await Diception.load(gpu, { pretrainedModelPath: TINY, diceptionPath: join(TINY, 'diception.pth'), precision: 'f16' });
  });

  afterAll(async () => {
    gpu.recorder.plans = true;
    await pipe?.dispose();
    setAutotune(undefined);
  });

  const tensor = (shape: number[], seed: number) => fromArray(gpu, rand(shape.reduce((a, b) => a * b, 1), seed), shape);

  it.each([1, 2])('guidance %i: replayed steps give the latent of steps that run the model code, bit for bit', async (guidance) => {
    const side = 8;
    const ins = {
      noise: tensor([1, 16, side, side], 1),
      cond: tensor([1, 16, side, side], 2),
      points: tensor([1, 5, 32], 3),
      embeds: tensor([1, T, 64], 4),
      pooled: tensor([1, 48], 5),
      negEmbeds: tensor([1, T, 64], 6),
      negPooled: tensor([1, 48], 7),
    };
    const run = async (plans: boolean) => {
      gpu.recorder.plans = plans;
      const replays = gpu.recorder.replays;
      const x = await pipe.denoise({ ...ins, steps: STEPS, guidance });
      const latent = await x.read();
      x.dispose();
      return { latent, replays: gpu.recorder.replays - replays };
    };
    try {
      const modelCode = await run(false); // also uploads the transformer and the position table's crop
      const live = gpu.pool.liveBytes;
      const replayed = await run(true);
      expect(modelCode.replays).toBe(0);
      expect(replayed.replays).toBe(STEPS - 1);
      expect(replayed.latent).toEqual(modelCode.latent);
      expect(gpu.pool.liveBytes, 'bytes held after the loop').toBe(live);
    } finally {
      gpu.recorder.plans = true;
      Object.values(ins).forEach((t) => t.dispose());
    }
  });

  it('a step whose inputs change shape (image size, batch) is recorded anew; same tensors with new values replay', async () => {
    const weights = overlay(
      await openForTest(join(TINY, 'transformer', 'diffusion_pytorch_model.safetensors')),
      prefixed(await openForTest(join(TINY, 'diception.pth')), 'transformer.'),
    );
    const model = await MMDiT.load(gpu, weights, await readJson(join(TINY, 'transformer', 'config.json')), 'f16');
    const inputs = (B: number, side: number, seed: number) => {
      const t = empty(gpu, [B, model.timestepDim]);
      model.writeTimestep(t, Array.from({ length: B }, (_, b) => 700 - 300 * b));
      return [tensor([B, 16, side, side], seed), tensor([B, 16, side, side], seed + 1), tensor([B, 5, 32], seed + 2), t, tensor([B, T, 64], seed + 3), tensor([B, 48], seed + 4)];
    };
    const forward = (x: Tensor[]) => () => model.forward(x[0], x[1], x[2], x[3], x[4], x[5]);
    const direct = async (x: Tensor[]) => {
      const out = await forward(x)();
      const values = await out.read();
      out.dispose();
      return values;
    };
    const step = new StepReplay(gpu);
    /** The step's output and whether it was a replay. */
    const viaReplay = async (x: Tensor[]) => {
      const replays = gpu.recorder.replays;
      const out = await step.run(x, forward(x));
      return { values: await out.read(), replayed: gpu.recorder.replays > replays };
    };
    const a = inputs(1, 8, 10);
    const b = inputs(1, 12, 20); // another image size
    const c = inputs(2, 8, 30); // another batch
    try {
      // Run once each first: a shape's first forward uploads its position crop (a step that writes is not recorded).
      const want = { a: await direct(a), b: await direct(b), c: await direct(c) };
      expect(await viaReplay(a)).toEqual({ values: want.a, replayed: false });
      expect(await viaReplay(a)).toEqual({ values: want.a, replayed: true });
      expect(await viaReplay(b)).toEqual({ values: want.b, replayed: false });
      expect(await viaReplay(c)).toEqual({ values: want.c, replayed: false });
      expect(await viaReplay(c)).toEqual({ values: want.c, replayed: true });
      // New values in the same tensors (a denoising loop's latent and timestep): replayed, and read.
      gpu.recorder.write(c[0].buffer, c[0].offset, new Uint8Array(rand(c[0].numel, 99).buffer));
      model.writeTimestep(c[3], [20, 980]);
      const changed = await direct(c);
      expect(changed).not.toEqual(want.c);
      expect(await viaReplay(c)).toEqual({ values: changed, replayed: true });
      expect(await viaReplay(a)).toEqual({ values: want.a, replayed: false });
      // Timestep features of the wrong batch, named.
      const dim = model.timestepDim;
      expect(() => model.writeTimestep(a[3], [1, 2])).toThrow(`MMDiT.writeTimestep: tensor [1,${dim}] f32 given for 2 timesteps, expected [2, ${dim}] f32`);
      await expect(model.forward(a[0], a[1], a[2], c[3], a[4], a[5])).rejects.toThrow(`timestep features must be [1, ${dim}] f32, got [2,${dim}] f32`);
    } finally {
      step.dispose();
      [...a, ...b, ...c].forEach((t) => t.dispose());
      model.dispose();
    }
  });
});
