// Finite activations on the tiny model with weights that overflow f16: a NaN/Inf stops the
// request naming the stage and step, f32 runs finite; and the VAE honours force_upcast.
import { openSync, readFileSync, closeSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setAutotune } from '../../src/kernels/registry.ts';
import { ActivationChecks, NonFiniteActivationsError } from '../../src/model/finite-check.ts';
import { parseMMDiTConfig } from '../../src/model/mmdit-config.ts';
import { vaeActivations } from '../../src/model/precision.ts';
import { Diception } from '../../src/model/pipeline.ts';
import type { PipelineOptions, PipelineRequest } from '../../src/model/pipeline-types.ts';
import { parseTask, pointSlots } from '../../src/model/tasks.ts';
import type { Gpu } from '../../src/runtime/device.ts';
import { f32ToF16Bits } from '../../src/runtime/f16.ts';
import { fromArray } from '../../src/runtime/tensor.ts';
import { DEMO_SPEC, writeTinyModel } from '../../tools/tiny-model.ts';
import { removeTempDirs, tempDir } from '../cli/files.ts';
import { device } from '../helpers.ts';

setAutotune(false);

const SIDE = 64; // an 8×8 latent: every stage runs, in seconds
const PROMPT = parseTask('depth').prompt;

/** Sets elements `at` of an F32 or F16 tensor in a safetensors file to `value`, in place. */
function setWeight(file: string, tensor: string, at: number[], value: number): void {
  const bytes = readFileSync(file);
  const n = Number(bytes.readBigUInt64LE(0));
  const entry = JSON.parse(bytes.subarray(8, 8 + n).toString())[tensor];
  if (!entry) throw new Error(`${file}: no tensor ${tensor}`);
  const fd = openSync(file, 'r+');
  try {
    for (const i of at) {
      const size = entry.dtype === 'F32' ? 4 : 2;
      const b = Buffer.alloc(size);
      if (size === 4) b.writeFloatLE(value);
      else b.writeUInt16LE(f32ToF16Bits(value));
      writeSync(fd, b, 0, size, 8 + n + entry.data_offsets[0] + i * size);
    }
  } finally {
    closeSync(fd);
  }
}

function request(steps: number): PipelineRequest {
  const points = pointSlots([]);
  return { images: new Float32Array(3 * SIDE * SIDE).map((_, i) => Math.sin(i / 50)), batch: 1, prompts: [PROMPT], points: points.coords, pointLabels: points.labels, steps, guidance: 1, seeds: [5] };
}

async function load(dir: string, o: Partial<PipelineOptions>): Promise<Diception> {
  return Diception.load(await device(), { pretrainedModelPath: dir, diceptionPath: join(dir, 'diception.safetensors'), promptCache: join(dir, 'prompts.safetensors'), precision: 'f16', ...o });
}

async function run(dir: string, o: Partial<PipelineOptions>, steps = 2) {
  const pipe = await load(dir, o);
  try {
    return { pipe, result: await pipe.run(request(steps)) };
  } finally {
    await pipe.dispose();
  }
}

afterAll(removeTempDirs);

describe('a transformer weight at 1e6 (attn.to_q): f16 activations overflow', () => {
  let dir: string;
  beforeAll(async () => {
    dir = tempDir('finite-q');
    await writeTinyModel(dir, { ...DEMO_SPEC, prompts: [PROMPT, ''] });
    setWeight(join(dir, 'diception.safetensors'), 'transformer.transformer_blocks.0.attn.to_q.weight', [5], 1e6);
  });

  it('stops the f16 request after denoising step 1 naming the stage, and suggests --precision f32', { timeout: 120_000 }, async () => {
    const gpu = await device();
    expect(gpu.caps.f16, 'f16 activations need shader-f16 (Dawn on lavapipe has it)').toBe(true);
    const live = gpu.pool.liveBytes;
    const pipe = await load(dir, {});
    try {
      const err = await pipe.run(request(2)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NonFiniteActivationsError);
      expect((err as Error).message).toMatch(/^non-finite values \(\d+ NaN, \d+ Inf\) in the latent after denoising step 1 of 2; rerun with --precision f32$/);
      expect(err).toMatchObject({ stage: 'denoise', step: 1 });
      expect((err as NonFiniteActivationsError).nan + (err as NonFiniteActivationsError).inf).toBeGreaterThan(0);
    } finally {
      await pipe.dispose();
    }
    // Everything the request and the model allocated was freed (the stats buffer too).
    expect(gpu.pool.liveBytes).toBe(live);
  });

  it('runs finite with --precision f32', { timeout: 120_000 }, async () => {
    const { result } = await run(dir, { precision: 'f32' });
    expect(result.image01.every(Number.isFinite)).toBe(true);
    const m = result.activationMaxAbs!;
    for (const v of [m.encode, m.denoise, m.decode]) expect(v > 0 && Number.isFinite(v), JSON.stringify(m)).toBe(true);
    expect(result.vaePrecision).toEqual({ act: 'f32', reason: '--precision f32' });
  });
});

describe('a VAE decoder weight that overflows f16 activations, with force_upcast: true', () => {
  let dir: string;
  beforeAll(async () => {
    dir = tempDir('finite-vae');
    await writeTinyModel(dir, { ...DEMO_SPEC, vae: { ...DEMO_SPEC.vae, force_upcast: true }, prompts: [PROMPT, ''] });
    // conv_in's 3×3 taps from latent channel 0 to output channel 0 at 60000 (an f16 value): the
    // map entering the decoder passes f16's 65504 wherever that channel is not tiny.
    setWeight(join(dir, 'vae', 'diffusion_pytorch_model.safetensors'), 'decoder.conv_in.weight', [0, 1, 2, 3, 4, 5, 6, 7, 8], 60000);
  });

  it('runs the VAE in f32 activations under f16 precision (force_upcast), finite, and says so', { timeout: 120_000 }, async () => {
    const { pipe, result } = await run(dir, {}, 1);
    expect(pipe.vae.act).toBe('f32');
    expect(result.vaePrecision).toEqual({ act: 'f32', reason: 'vae/config.json force_upcast: true' });
    expect(result.image01.every(Number.isFinite)).toBe(true);
    expect(result.activationMaxAbs!.decode).toBeGreaterThan(0);
  });

  it('with --vae-precision f16 the decode overflows and the request stops naming the VAE decode', { timeout: 120_000 }, async () => {
    const err = await run(dir, { vaePrecision: 'f16' }, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonFiniteActivationsError);
    // A GPU gives Inf (then NaN); lavapipe saturates f16 conversions, which shows as |x| beyond f16.
    expect((err as Error).message).toMatch(
      /^(non-finite values \(\d+ NaN, \d+ Inf\)|f16 overflow \(max \|x\| [\d.e+]+, beyond f16's 65504\)) in the image after the VAE decode; rerun with --vae-precision f32 \(or --precision f32\)$/,
    );
    expect(err).toMatchObject({ stage: 'decode', step: undefined });
  });
});

describe('vaeActivations: the VAE activation dtype and why', () => {
  const gpu = (f16: boolean, maxBufferSize = 2 ** 32) => ({ caps: { f16, maxBufferSize } }) as unknown as Gpu;
  const mmdit = parseMMDiTConfig({ ...DEMO_SPEC.transformer });
  const sd3 = { ...DEMO_SPEC.vae, block_out_channels: [128, 256, 512, 512], force_upcast: true };
  it.each([
    ['f16', true, sd3, 'auto', undefined, { act: 'f32', reason: 'vae/config.json force_upcast: true' }],
    ['f16', true, sd3, 'auto', 'q8', { act: 'f16', reason: '--weights q8 keeps the VAE in f16 to save memory (--vae-precision f32 honours force_upcast)' }],
    ['f16', true, sd3, 'f32', 'q8', { act: 'f32', reason: '--vae-precision f32' }],
    ['f16', true, sd3, 'f16', undefined, { act: 'f16', reason: '--vae-precision f16' }],
    ['f16', true, { ...sd3, force_upcast: false }, 'auto', undefined, { act: 'f16', reason: 'f16 precision (vae/config.json does not ask for force_upcast)' }],
    ['f32', true, sd3, 'f16', undefined, { act: 'f32', reason: '--precision f32' }],
    ['f16', false, sd3, 'auto', undefined, { act: 'f32', reason: 'this adapter lacks shader-f16' }],
    // 256 channels × 768² × 4 bytes = 576 MiB: above a 512 MiB buffer.
    ['f16', true, sd3, 'auto', 2 ** 29, { act: 'f16', reason: "vae/config.json asks for force_upcast, but one f32 feature map at 768² (576 MiB) is above this adapter's largest buffer" }],
  ] as const)('precision %s, shader-f16 %s, %j, --vae-precision %s, %s', (precision, f16, config, requested, extra, want) => {
    // extra: the --weights format, or the adapter's maxBufferSize
    const [max, weights] = typeof extra === 'string' ? [undefined, extra] : [extra, undefined];
    expect(vaeActivations(gpu(f16, max), precision, config, mmdit, requested, weights)).toEqual(want);
  });
});

describe('ActivationChecks', () => {
  it('replays the step check after the first step, and the GPU counter names the step that went bad', async () => {
    const gpu = await device();
    const x = fromArray(gpu, [1, 2, 3, 4], [4]);
    const checks = new ActivationChecks(gpu, 3, { vae: 'f32', mmdit: 'f16' });
    const replays = gpu.recorder.replays;
    await checks.stepped(x);
    gpu.recorder.write(x.buffer, x.offset, new Uint8Array(Float32Array.of(1, NaN, 3, 4).buffer));
    await checks.stepped(x);
    await checks.stepped(x);
    expect(gpu.recorder.replays - replays).toBe(2);
    await expect(checks.verify()).rejects.toMatchObject({ message: 'non-finite values (1 NaN, 0 Inf) in the latent after denoising step 2 of 3; rerun with --precision f32', step: 2 });
    checks.dispose();
    x.dispose();
  });

  it('names an f16 overflow that came out finite, and not in a stage that computed in f32', async () => {
    const gpu = await device();
    const x = fromArray(gpu, [1, -1e5], [2]);
    for (const [mmdit, message] of [
      ['f16', "f16 overflow (max |x| 1.00e+5, beyond f16's 65504) in the latent after denoising step 1 of 1; rerun with --precision f32"],
      ['f32', undefined],
    ] as const) {
      const checks = new ActivationChecks(gpu, 1, { vae: 'f32', mmdit });
      await checks.stepped(x);
      if (message) await expect(checks.verify()).rejects.toMatchObject({ message });
      else expect(await checks.verify()).toEqual({ encode: 0, denoise: 1e5, decode: 0 });
      checks.dispose();
    }
    x.dispose();
  });
});
