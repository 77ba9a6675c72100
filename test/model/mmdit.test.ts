import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MMDiT } from '../../src/model/mmdit.ts';
import { parseMMDiTConfig } from '../../src/model/mmdit-config.ts';
import { empty, fromArray, type Tensor } from '../../src/runtime/tensor.ts';
import { overlay, prefixed, readJson } from '../../src/runtime/weights.ts';
import { describeFixtures, device, rand, relL2, TINY } from '../helpers.ts';
import { RefWeights, refMMDiT } from './mmdit.ref.ts';
import { setAutotune } from '../../src/kernels/registry.ts';
import { expectGoldenPasses, MODEL_PRECISIONS } from './conformance.ts';
import { openForTest } from '../fixture-weights.ts';

// Model results must not depend on the kernel variant; timing every variant of every matmul
// shape on each capability level would cost minutes on a CPU adapter (autotuning has its own tests).
beforeAll(() => setAutotune(false));

const SD3_MEDIUM = {
  _class_name: 'SD3Transformer2DModel',
  attention_head_dim: 64,
  caption_projection_dim: 1536,
  in_channels: 16,
  joint_attention_dim: 4096,
  num_attention_heads: 24,
  num_layers: 24,
  out_channels: 16,
  patch_size: 2,
  pooled_projection_dim: 2048,
  pos_embed_max_size: 192,
  sample_size: 128,
};

describe('MMDiT config', () => {
  it('parses SD3-medium sizes', () => {
    const c = parseMMDiTConfig(SD3_MEDIUM);
    expect(c.hidden).toBe(1536);
    expect(c.layers).toBe(24);
    expect(c.posEmbedMaxSize).toBe(192);
  });
  it('names the bad key', () => {
    expect(() => parseMMDiTConfig({ ...SD3_MEDIUM, num_layers: 0 })).toThrow(/"num_layers" must be a positive integer, got 0/);
    expect(() => parseMMDiTConfig({ ...SD3_MEDIUM, caption_projection_dim: 1024 })).toThrow(/caption_projection_dim 1024 must equal/);
    expect(() => parseMMDiTConfig({ ...SD3_MEDIUM, qk_norm: 'rms_norm' })).toThrow(/qk_norm/);
  });
});

describeFixtures('MMDiT (tiny fixture)', () => {
  for (const p of MODEL_PRECISIONS) {
    it(`transformer golden ${p.name}: output, temb, block0_hidden, block0_context`, async () => {
      await expectGoldenPasses('transformer', p, ['output', 'temb', 'block0_hidden', 'block0_context']);
    });
  }

  for (const p of MODEL_PRECISIONS.slice(0, 2)) {
    it(`batch 3, non-square 12x20 latent (odd crop offsets), ${p.name}: matches the CPU reference`, async () => {
      const gpu = await device(p.device);
      const weights = overlay(
        await openForTest(join(TINY, 'transformer', 'diffusion_pytorch_model.safetensors')),
        prefixed(await openForTest(join(TINY, 'diception.pth')), 'transformer.'),
      );
      const config = await readJson(join(TINY, 'transformer', 'config.json'));
      const live0 = gpu.pool.liveBytes;
      const model = await MMDiT.load(gpu, weights, config, p.precision);
      const [B, H, W, T] = [3, 12, 20, 7];
      const data = { x: rand(B * 16 * H * W, 1), y: rand(B * 16 * H * W, 2), pe: rand(B * 5 * 32, 3), prompt: rand(B * T * 64, 4), pooled: rand(B * 48, 5) };
      const ts = [1000, 431.5, 8.93];
      const inputs = [
        fromArray(gpu, data.x, [B, 16, H, W]),
        fromArray(gpu, data.y, [B, 16, H, W]),
        fromArray(gpu, data.pe, [B, 5, 32]),
        fromArray(gpu, data.prompt, [B, T, 64]),
        fromArray(gpu, data.pooled, [B, 48]),
      ];
      const out = await model.forward(inputs[0], inputs[1], inputs[2], ts, inputs[3], inputs[4]);
      expect(out.shape).toEqual([B, 16, H, W]);
      const ours = await out.read();
      const ref = new RefWeights(weights);
      const n = 16 * H * W;
      for (let b = 0; b < B; b++) {
        const sl = (a: Float32Array, k: number) => a.subarray(b * k, (b + 1) * k);
        const want = await refMMDiT(ref, { patch: 2, heads: 2, layers: 2, posMax: 16, outChannels: 16 }, sl(data.x, n), sl(data.y, n), [16, H, W], sl(data.pe, 5 * 32), ts[b], sl(data.prompt, T * 64), sl(data.pooled, 48));
        const err = relL2(ours.subarray(b * n, (b + 1) * n), want);
        expect(err, `sample ${b} rel_l2`).toBeLessThan(p.precision === 'f32' ? 1e-4 : 1e-2);
      }
      // Every intermediate is freed: a second forward holds no more memory than the first, and
      // disposing the model and inputs returns to where loading started.
      out.dispose();
      const live1 = gpu.pool.liveBytes;
      (await model.forward(inputs[0], inputs[1], inputs[2], ts, inputs[3], inputs[4])).dispose();
      expect(gpu.pool.liveBytes, 'bytes held after a second forward').toBe(live1);
      for (const t of inputs) t.dispose();
      model.dispose();
      expect(gpu.pool.liveBytes, 'bytes held after dispose').toBe(live0);
    });
  }

  it('refuses a checkpoint for another config and bad inputs, naming what is wrong', async () => {
    const gpu = await device();
    const weights = await openForTest(join(TINY, 'transformer', 'diffusion_pytorch_model.safetensors'));
    const config = await readJson(join(TINY, 'transformer', 'config.json'));
    await expect(MMDiT.load(gpu, weights, { ...config, joint_attention_dim: 128 }, 'f32')).rejects.toThrow(
      /does not match the model: 1 with the wrong shape: context_embedder.weight: \[32,64\], expected \[32,128\]/,
    );
    const model = await MMDiT.load(gpu, weights, config, 'f32');
    const made: Tensor[] = [];
    const t = (shape: number[]) => {
      made.push(empty(gpu, shape, 'f32'));
      return made[made.length - 1];
    };
    const ok = { x: t([1, 16, 8, 8]), pe: t([1, 5, 32]), prompt: t([1, 12, 64]), pooled: t([1, 48]) };
    await expect(model.forward(t([1, 16, 8, 7]), ok.x, ok.pe, [1000], ok.prompt, ok.pooled)).rejects.toThrow(/not a multiple of the patch size 2/);
    await expect(model.forward(t([1, 16, 34, 34]), t([1, 16, 34, 34]), ok.pe, [1000], ok.prompt, ok.pooled)).rejects.toThrow(
      /exceeds pos_embed_max_size 16/,
    );
    await expect(model.forward(ok.x, ok.x, ok.pe, [1000, 1], ok.prompt, ok.pooled)).rejects.toThrow(/2 timesteps for a batch of 1/);
    await expect(model.forward(ok.x, ok.x, ok.pe, [1000], t([1, 12, 48]), ok.pooled)).rejects.toThrow(/promptEmbeds must be \[1, T, 64\]/);
    await expect(model.forward(ok.x, ok.x, t([1, 5, 16]), [1000], ok.prompt, ok.pooled)).rejects.toThrow(/pointEmbeds must be \[1, P, 32\]/);
    for (const x of made) x.dispose();
    model.dispose();
  });
});
