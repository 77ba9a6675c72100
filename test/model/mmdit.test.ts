import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MMDiT } from '../../src/model/mmdit.ts';
import { parseMMDiTConfig } from '../../src/model/mmdit-config.ts';
import { empty } from '../../src/runtime/tensor.ts';
import { openWeights, readJson } from '../../src/runtime/weights.ts';
import { describeFixtures, device, TINY } from '../helpers.ts';
import { expectGoldenPasses, MODEL_PRECISIONS } from './conformance.ts';

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

  it('refuses a checkpoint for another config and bad inputs, naming what is wrong', async () => {
    const gpu = await device();
    const weights = await openWeights(join(TINY, 'transformer', 'diffusion_pytorch_model.safetensors'));
    const config = await readJson(join(TINY, 'transformer', 'config.json'));
    await expect(MMDiT.load(gpu, weights, { ...config, joint_attention_dim: 128 }, 'f32')).rejects.toThrow(
      /does not match the model: 1 with the wrong shape: context_embedder.weight: \[32,64\], expected \[32,128\]/,
    );
    const model = await MMDiT.load(gpu, weights, config, 'f32');
    const t = (shape: number[]) => empty(gpu, shape, 'f32');
    const ok = { x: t([1, 16, 8, 8]), pe: t([1, 5, 32]), prompt: t([1, 12, 64]), pooled: t([1, 48]) };
    await expect(model.forward(t([1, 16, 8, 7]), ok.x, ok.pe, [1000], ok.prompt, ok.pooled)).rejects.toThrow(/not a multiple of the patch size 2/);
    await expect(model.forward(t([1, 16, 34, 34]), t([1, 16, 34, 34]), ok.pe, [1000], ok.prompt, ok.pooled)).rejects.toThrow(
      /exceeds pos_embed_max_size 16/,
    );
    await expect(model.forward(ok.x, ok.x, ok.pe, [1000, 1], ok.prompt, ok.pooled)).rejects.toThrow(/2 timesteps for a batch of 1/);
    await expect(model.forward(ok.x, ok.x, ok.pe, [1000], t([1, 12, 48]), ok.pooled)).rejects.toThrow(/promptEmbeds must be \[1, T, 64\]/);
    model.dispose();
  });
});
