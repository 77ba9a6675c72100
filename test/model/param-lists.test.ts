import { resolve } from 'node:path';
import { expect, it } from 'vitest';
import { transformerParams, vaeParams, type ParamSpec } from '../../src/model/param-lists.ts';
import { readJson } from '../../src/runtime/weights.ts';
import { describeFixtures, TINY } from '../helpers.ts';
import { openForTest } from '../fixture-weights.ts';

const asMap = (ps: ParamSpec[]) => Object.fromEntries(ps.map((p) => [p.name, p.shape]));

describeFixtures('parameter lists derived from config.json', () => {
  it.each([
    ['transformer', transformerParams],
    ['vae', vaeParams],
  ] as const)('%s: names and shapes equal the fixture checkpoint', async (dir, params) => {
    const cfg = await readJson(resolve(TINY, dir, 'config.json'));
    const r = await openForTest(resolve(TINY, dir, 'diffusion_pytorch_model.safetensors'));
    const fromFile = Object.fromEntries(r.names().map((n) => [n, r.entry(n).shape]));
    expect(asMap(params(cfg as never))).toEqual(fromFile);
  });
});
