// The kernel comparison behind `bench --compare` and the page's kernel lab: a user's WGSL runs
// beside the built-in variants on the same inputs and is judged against the CPU reference;
// broken files fail with the compiler's file:line or the bindings-contract message, and the
// device keeps working afterwards.
import { afterEach, describe, expect, it } from 'vitest';
import attentionSource from '../../shaders/attention.wgsl';
import source from '../../shaders/matmul.wgsl';
import { compare, defaultVariant, formatCompare, parseShapes } from '../../bench/compare.ts';
import { linear } from '../../src/kernels/matmul.ts';
import { kernelChoice, kernelOverride, setKernelChoice } from '../../src/kernels/registry.ts';
import { fromArray } from '../../src/runtime/tensor.ts';
import { device, expectClose, rand } from '../helpers.ts';
import { linearRef } from './ref.ts';

const FILE = 'my/my_matmul.wgsl';
const edit = (from: string, to: string) => {
  expect(source).toContain(from);
  return source.replace(from, to);
};

describe('compare (matmul, smoke shapes 37x64x45 and 1x30x7, f32)', () => {
  afterEach(() => setKernelChoice('matmul', undefined));

  it('a valid override (built-in with a harmless change) passes beside the built-in variant', async () => {
    const gpu = await device();
    const variant = defaultVariant(gpu, 'matmul');
    const mine = { source: edit('var v = acc;', 'var v = acc * 1.0;'), file: FILE };
    const rows = await compare(gpu, 'matmul', [{ label: variant, variant }, { label: FILE, override: mine }], { runs: 1 });
    expect(rows.map((r) => [r.candidate, r.variant, r.shape, r.pass])).toEqual([
      [variant, variant, '37x64x45', true],
      [FILE, variant, '37x64x45', true],
      [variant, variant, '1x30x7', true],
      [FILE, variant, '1x30x7', true],
    ]);
    for (const r of rows) {
      expect(r.rel_l2, `${r.candidate} ${r.shape}`).toBeLessThan(1e-6);
      expect(r.ms_median).toBeGreaterThan(0);
      expect(r.gflops).toBeGreaterThan(0);
    }
    expect(formatCompare(rows)).toMatch(/^candidate +variant +shape .*result\n.*PASS/);
    // The registry is as it was: nothing forced, no override left behind.
    expect(kernelChoice('matmul')).toBeUndefined();
    expect(kernelOverride('matmul')).toBeUndefined();
  });

  it('an override that computes the wrong thing FAILs on its error (rel_l2 = 2 for a negated product, 37x64x45)', async () => {
    const gpu = await device();
    const rows = await compare(gpu, 'matmul', [{ label: FILE, override: { source: edit('var v = acc;', 'var v = -acc;'), file: FILE } }], { shapes: '37x64x45', runs: 0 });
    for (const r of rows) {
      expect(r.pass, r.shape).toBe(false);
      expect(r.rel_l2).toBeCloseTo(2, 5);
      expect(r.error).toBeUndefined();
    }
  });

  it('a syntax error FAILs with the file:line:col of the user file; a wrong binding layout with the contract message; the device survives', async () => {
    const gpu = await device();
    const line = source.split('\n').findIndex((l) => l.includes('var v = acc;')) + 1;
    const syntax = { source: edit('var v = acc;', 'var v = acc +;'), file: FILE };
    const extra = '@group(0) @binding(9) var<storage, read> extra: array<f32>;\n';
    const layout = { source: extra + edit('var v = acc;', 'var v = acc + extra[0];'), file: 'my/extra_binding.wgsl' };
    const rows = await compare(gpu, 'matmul', [{ label: 'syntax', override: syntax }, { label: 'layout', override: layout }], { shapes: '37x64x45', runs: 0 });
    expect(rows.map((r) => r.pass)).toEqual([false, false]);
    expect(rows[0].error).toMatch(new RegExp(`WGSL compile error .*\\n${FILE}:${line}:\\d+: `));
    expect(rows[1].error).toMatch(/my\/extra_binding\.wgsl: pipeline creation failed .*bindings contract in shaders\/README\.md/);
    expect(formatCompare(rows)).toContain(`syntax (37x64x45): WGSL compile error`);
    // Same process, same device: the built-in kernel still runs and is right.
    await gpu.sync('after broken overrides');
    const x = rand(5 * 8, 1);
    const w = rand(6 * 8, 2);
    const y = await linear(gpu, fromArray(gpu, x, [5, 8]), fromArray(gpu, w, [6, 8]));
    expectClose(await y.read(), linearRef(x, w, 5, 6, 8), { atol: 1e-5 });
  });

  it('attention: an override (naive, output divided as x·(1/l)) passes beside the built-in; a wrong one fails (37x45x2x16)', async () => {
    const gpu = await device();
    const from = 'out_store4(ob + i, acc[i] / l);';
    expect(attentionSource).toContain(from);
    const ok = { source: attentionSource.replace(from, 'out_store4(ob + i, acc[i] * (1.0 / l));'), file: 'my/attention.wgsl' };
    const wrong = { source: attentionSource.replace(from, 'out_store4(ob + i, acc[i]);'), file: 'my/unnormalised.wgsl' };
    const candidates = [{ label: 'naive', variant: 'naive' }, { label: 'ok', variant: 'naive', override: ok }, { label: 'wrong', variant: 'naive', override: wrong }];
    const rows = await compare(gpu, 'attention', candidates, { shapes: '37x45x2x16', runs: 0 });
    expect(rows.map((r) => [r.candidate, r.shape, r.pass])).toEqual([['naive', '37x45x2x16', true], ['ok', '37x45x2x16', true], ['wrong', '37x45x2x16', false]]);
    expect(rows[1].rel_l2).toBeLessThan(1e-5);
    expect(rows[2].rel_l2).toBeGreaterThan(1);
  });

  it('parses shape sets and explicit MxKxN shapes, with a clear error otherwise', () => {
    expect(parseShapes('matmul', 'transformer')).toContainEqual([4946, 1536, 6144]);
    expect(parseShapes('matmul', '8x16x4, 1x2x3')).toEqual([[8, 16, 4], [1, 2, 3]]);
    expect(() => parseShapes('matmul', '8x16')).toThrow(/'8x16' is neither a shape set \(transformer, vae, text, smoke\) nor MxKxN/);
    expect(() => parseShapes('conv9d', 'smoke')).toThrow(/no comparison for kernel family 'conv9d' \(available: matmul, attention\)/);
  });
});
