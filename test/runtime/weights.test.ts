import { resolve } from 'node:path';
import { expect, it } from 'vitest';
import { openWeights, readF32, uploadWeight } from '../../src/runtime/weights.ts';
import { describeFixtures, device, TINY } from '../helpers.ts';

describeFixtures('weights from the tiny fixture folder', () => {
  it('reads every tensor of the transformer safetensors', async () => {
    const r = await openWeights(resolve(TINY, 'transformer/diffusion_pytorch_model.safetensors'));
    const names = r.names();
    expect(names).toContain('pos_embed.pos_embed');
    expect(names).toContain('transformer_blocks.1.norm1_context.linear.weight');
    for (const n of names) {
      const e = r.entry(n);
      expect(e.dtype).toBe('F16');
      const v = await readF32(e);
      expect(v.length).toBe(e.shape.reduce((a, b) => a * b, 1));
      expect(v.every(Number.isFinite)).toBe(true);
    }
    expect(r.entry('pos_embed.proj.weight').shape).toEqual([32, 16, 2, 2]);
  });

  it('reads the sharded T5 encoder through its index', async () => {
    const r = await openWeights(resolve(TINY, 'text_encoder_3/model.safetensors.index.json'));
    expect(r.has('shared.weight')).toBe(true);
    expect(r.entry('shared.weight').shape[1]).toBe(64);
    expect(r.names().length).toBeGreaterThan(10);
  });

  it('uploads with shape checks', async () => {
    const gpu = await device();
    const r = await openWeights(resolve(TINY, 'transformer/diffusion_pytorch_model.safetensors'));
    const e = r.entry('proj_out.bias');
    const t = await uploadWeight(gpu, r, 'proj_out.bias', 'f16', e.shape);
    expect(Array.from(await t.read())).toEqual(Array.from(await readF32(e)));
    await expect(uploadWeight(gpu, r, 'proj_out.bias', 'f32', [3])).rejects.toThrow(/proj_out.bias' has shape \[64\], expected \[3\]/);
    expect(() => r.entry('nope')).toThrow(/tensor 'nope' not found/);
  });
});
