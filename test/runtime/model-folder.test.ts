import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkParams, openModelFolder } from '../../src/runtime/model-folder.ts';
import { mapReader } from '../../src/runtime/weights.ts';
import { describeFixtures, TINY } from '../helpers.ts';
import { f32Bytes, mem, safetensors } from '../../tools/fuzz/build.ts';
import { SafetensorsFile } from '../../src/runtime/safetensors.ts';
import { openForTest } from '../fixture-weights.ts';

describeFixtures('openModelFolder on the tiny SD3 folder', () => {
  it('finds every component, its config and single or sharded weights', async () => {
    const f = await openModelFolder(TINY);
    expect(f.pipeline).toBe('StableDiffusion3Pipeline');
    expect(f.components.transformer.weights).toBe(resolve(TINY, 'transformer/diffusion_pytorch_model.safetensors'));
    expect(f.components.transformer.config).toBe(resolve(TINY, 'transformer/config.json'));
    expect(f.components.transformer.className).toBe('SD3Transformer2DModel');
    expect(f.components.text_encoder.weights).toBe(resolve(TINY, 'text_encoder/model.safetensors'));
    expect(f.components.text_encoder_3.weights).toBe(resolve(TINY, 'text_encoder_3/model.safetensors.index.json'));
    expect(f.components.scheduler.config).toBe(resolve(TINY, 'scheduler/scheduler_config.json'));
    expect(f.components.scheduler.weights).toBeUndefined();
    // Every weights path opens.
    for (const c of ['transformer', 'vae', 'text_encoder', 'text_encoder_2', 'text_encoder_3']) {
      expect((await openForTest(f.components[c].weights!)).names().length, c).toBeGreaterThan(0);
    }
  });
});

describe('openModelFolder on wrong folders', () => {
  const root = mkdtempSync(join(tmpdir(), 'model-folder-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const folder = (name: string, index: Record<string, unknown>, files: string[]) => {
    const dir = join(root, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'model_index.json'), JSON.stringify(index));
    for (const f of files) {
      mkdirSync(join(dir, f, '..'), { recursive: true });
      writeFileSync(join(dir, f), '{}');
    }
    return dir;
  };

  it('an SD1.5 folder: names the UNet layout and every missing SD3 component in one error', async () => {
    const dir = folder(
      'sd15',
      { _class_name: 'StableDiffusionPipeline', unet: ['diffusers', 'UNet2DConditionModel'], vae: ['diffusers', 'AutoencoderKL'], text_encoder: ['transformers', 'CLIPTextModel'], tokenizer: ['transformers', 'CLIPTokenizer'], scheduler: ['diffusers', 'PNDMScheduler'], safety_checker: [null, null] },
      ['unet/config.json', 'unet/diffusion_pytorch_model.safetensors', 'vae/config.json', 'vae/diffusion_pytorch_model.safetensors', 'text_encoder/config.json', 'text_encoder/model.safetensors', 'tokenizer/vocab.json', 'scheduler/scheduler_config.json'],
    );
    const err = await openModelFolder(dir).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const m = (err as Error).message;
    expect(m).toMatch(/sd15: not a usable SD3 model folder \(model_index\.json: StableDiffusionPipeline\)/);
    expect(m).toMatch(/it has unet\/, so it is a UNet pipeline/);
    for (const n of ['transformer', 'text_encoder_2', 'text_encoder_3', 'tokenizer_2']) expect(m).toContain(`no '${n}' component`);
    expect(m).not.toMatch(/'vae'|'text_encoder'|'tokenizer'/);
  });

  it('missing folders, weights and configs are all listed', async () => {
    const idx = Object.fromEntries(['transformer', 'vae', 'text_encoder', 'text_encoder_2', 'text_encoder_3', 'tokenizer', 'tokenizer_2', 'scheduler'].map((n) => [n, ['x', 'Y']]));
    const dir = folder('partial', { _class_name: 'StableDiffusion3Pipeline', ...idx }, [
      'transformer/config.json',
      'vae/diffusion_pytorch_model.safetensors',
      'text_encoder/config.json',
      'text_encoder/model.safetensors',
      'text_encoder_2/config.json',
      'text_encoder_2/model.fp16.safetensors',
      'tokenizer/vocab.json',
      'tokenizer_2/vocab.json',
      'scheduler/other.json',
    ]);
    const m = await openModelFolder(dir).then(() => '', (e: Error) => e.message);
    expect(m).toContain('transformer/ has no weights');
    expect(m).toContain('vae/ has no config.json');
    expect(m).toContain('text_encoder_3/ is missing');
    expect(m).toContain('scheduler/ has no scheduler_config.json');
    expect(m).not.toContain('text_encoder_2/');
  });

  it('no model_index.json', async () => {
    mkdirSync(join(root, 'empty'));
    await expect(openModelFolder(join(root, 'empty'))).rejects.toThrow(/empty: not a diffusers model folder \(no model_index\.json\)/);
  });
});

describe('checkParams', () => {
  const file = safetensors({
    'a.weight': { dtype: 'F32', shape: [2, 3], data: f32Bytes([1, 2, 3, 4, 5, 6]) },
    'a.bias': { dtype: 'F32', shape: [2], data: f32Bytes([1, 2]) },
    'extra.weight': { dtype: 'F32', shape: [1], data: f32Bytes([1]) },
  });
  const reader = async () => {
    const st = await SafetensorsFile.open(mem('ckpt.safetensors', file));
    return mapReader('ckpt.safetensors', st.entries);
  };

  it('passes when names and shapes match', async () => {
    const r = await reader();
    expect(() => checkParams(r, [{ name: 'a.weight', shape: [2, 3] }, { name: 'a.bias', shape: [2] }], { ignore: (n) => n.startsWith('extra.') })).not.toThrow();
  });

  it('reports missing, wrongly shaped and unexpected tensors in one error', async () => {
    const r = await reader();
    const expected = [
      { name: 'a.weight', shape: [3, 2] },
      { name: 'a.bias', shape: [2] },
      { name: 'b.weight', shape: [4] },
    ];
    expect(() => checkParams(r, expected)).toThrow(
      "ckpt.safetensors: checkpoint does not match the model: 1 missing: b.weight [4]; 1 with the wrong shape: a.weight: [2,3], expected [3,2]; 1 unexpected: extra.weight",
    );
  });

  it('truncates long lists', async () => {
    const r = await reader();
    const many = Array.from({ length: 25 }, (_, i) => ({ name: `m${i}`, shape: [1] }));
    expect(() => checkParams(r, [...many, { name: 'a.weight', shape: [2, 3] }, { name: 'a.bias', shape: [2] }, { name: 'extra.weight', shape: [1] }])).toThrow(/25 missing: m0 \[1\], .*m19 \[1\], \.\.\. \(5 more\)$/);
  });
});
