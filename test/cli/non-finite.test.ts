// A request stopped by the finite-activation check (src/model/finite-check.ts) reads the same
// everywhere: one line from infer and batch, a DiceptionError with code NON_FINITE in the library,
// a 500 JSON answer with code non_finite from serve (which stays up). The check itself runs on
// the tiny model in test/model/finite-activations.test.ts; here a pipeline double throws its error.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { asDiceptionError, DiceptionError, ModelFilesError, NonFiniteError } from '../../src/api/errors.ts';
import { NonFiniteActivationsError } from '../../src/model/finite-check.ts';
import { MODEL_SIZE, type PipelineFactory } from '../../src/model/pipeline-types.ts';
import { finiteCheckLine } from '../../tools/infer.ts';
import { post, pngBytes, startServer } from '../serve/server.ts';
import { fakePipeline, runCli } from './fake-pipeline.ts';
import { modelArgs, removeTempDirs, tempDir, writeImage } from './files.ts';

const MESSAGE = 'non-finite values (3 NaN, 0 Inf) in the latent after denoising step 2 of 28; rerun with --precision f32';
const failing = () => fakePipeline({ failRun: new NonFiniteActivationsError('denoise', 2, 3, 0, 1.5, MESSAGE) });

afterAll(removeTempDirs);

describe('a non-finite stage output', () => {
  it('stops infer and batch with the one line', async () => {
    const dir = tempDir('non-finite');
    await writeImage(join(dir, 'a.png'), 20, 16);
    writeFileSync(join(dir, 'list.json'), JSON.stringify([{ input: 'a.png', caption: '[[image2depth]]' }]));
    const infer = ['infer', '--image', join(dir, 'a.png'), '--output_dir', join(dir, 'out'), ...modelArgs(dir), '--quiet'];
    await expect(runCli(infer, failing().factory)).rejects.toMatchObject({ message: MESSAGE });
    const batch = ['batch', '--input_path', join(dir, 'list.json'), '--data_root_path', dir, '--save_path', join(dir, 'res'), ...modelArgs(dir), '--quiet'];
    await expect(runCli(batch, failing().factory)).rejects.toMatchObject({ message: MESSAGE });
  });

  it('is a NonFiniteError (code NON_FINITE, stage and step) in the library API', () => {
    const e = asDiceptionError(new NonFiniteActivationsError('denoise', 2, 3, 0, 1.5, MESSAGE), ModelFilesError);
    expect(e).toBeInstanceOf(NonFiniteError);
    expect(e).toBeInstanceOf(DiceptionError);
    expect(e).toMatchObject({ code: 'NON_FINITE', message: MESSAGE, stage: 'denoise', step: 2 });
  });

  it('answers 500 with code non_finite from serve, which keeps serving', async () => {
    const s = await startServer(failing().factory);
    try {
      const r = await post(s.url, await pngBytes(12, 9));
      expect(r.status).toBe(500);
      expect(await r.json()).toEqual({ error: MESSAGE, code: 'non_finite' });
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('--vae-precision takes auto, f16 or f32 and reaches the pipeline', async () => {
    const dir = tempDir('vae-precision');
    await writeImage(join(dir, 'a.png'), 20, 16);
    const args = (v: string) => ['infer', '--image', join(dir, 'a.png'), '--output_dir', join(dir, 'out'), ...modelArgs(dir), '--quiet', '--vae-precision', v];
    const f = fakePipeline();
    await runCli(args('f16'), f.factory);
    expect(f.state.options[0].vaePrecision).toBe('f16');
    await expect(runCli(args('bf16'), f.factory)).rejects.toThrow("--vae-precision: 'bf16' is not auto, f16 or f32");
  });
});

describe('infer --json says which VAE precision ran and why', () => {
  it('vae_precision, vae_precision_reason and activation_max_abs', async () => {
    const dir = tempDir('vae-json');
    await writeImage(join(dir, 'a.png'), 20, 16);
    const vaePrecision = { act: 'f32' as const, reason: 'vae/config.json force_upcast: true' };
    const activationMaxAbs = { encode: 2.5, denoise: 3, decode: 1.1 };
    const factory: PipelineFactory = async () => ({
      run: async (r) => ({ image01: new Float32Array(r.batch * 3 * MODEL_SIZE * MODEL_SIZE).fill(0.5), timings: [], vaePrecision, activationMaxAbs }),
      dispose() {},
    });
    const out = JSON.parse((await runCli(['infer', '--image', join(dir, 'a.png'), '--output_dir', join(dir, 'out'), ...modelArgs(dir), '--json'], factory)).out);
    expect(out).toMatchObject({ vae_precision: 'f32', vae_precision_reason: vaePrecision.reason, activation_max_abs: activationMaxAbs });
  });
});

describe('infer --profile reports the check', () => {
  it('per denoising step (step checks + counter advances) and in all', () => {
    const profile = [
      { label: 'matmul tiled-8x4', calls: 40, ms: 990 },
      { label: 'finite:step', calls: 4, ms: 4 },
      { label: 'finite:advance', calls: 4, ms: 2 },
      { label: 'finite:decode', calls: 1, ms: 3 },
      { label: 'eulerStep', calls: 4, ms: 1 },
    ];
    expect(finiteCheckLine(profile, 4)).toBe('finite-activation check: 1.500 ms per denoising step; all its dispatches 9.00 ms, 0.90% of the GPU time above');
  });
});
