// Metrics against an independent numpy implementation (metrics-golden.py wrote the JSON: random
// arrays, zero-norm normals, constant predictions), plus the edge cases that must fail clearly.
import { describe, expect, it } from 'vitest';
import { depthMetrics, maskIou, meanOf, normalMetrics, type DepthOptions } from '../../src/model/metrics.ts';
import golden from './metrics-golden.json' with { type: 'json' };

interface Case {
  kind: 'depth' | 'normal' | 'iou';
  name: string;
  pred: number[];
  gt: number[];
  options?: DepthOptions;
  expected: Record<string, number>;
}

function expectClose(ours: Record<string, number>, expected: Record<string, number>, name: string): void {
  for (const [k, v] of Object.entries(expected)) {
    expect(Math.abs(ours[k] - v), `${name}: ${k} = ${ours[k]}, numpy ${v}`).toBeLessThanOrEqual(1e-6 * Math.max(Math.abs(v), 1e-12));
  }
}

describe('metrics match numpy', () => {
  for (const c of golden.cases as unknown as Case[]) {
    it(`${c.kind}: ${c.name}`, () => {
      if (c.kind === 'depth') expectClose({ ...depthMetrics(c.pred, c.gt, c.options) }, c.expected, c.name);
      else if (c.kind === 'normal') expectClose({ ...normalMetrics(c.pred, c.gt) }, c.expected, c.name);
      else {
        const mask = (v: number[]) => ({ height: 20, width: 20, data: Uint8Array.from(v) });
        expectClose({ iou: maskIou(mask(c.pred), mask(c.gt)) }, c.expected, c.name);
      }
    });
  }
});

describe('metric edge cases', () => {
  it('depth: all-invalid ground truth is a clear error; a perfect affine prediction scores 0 / 1', () => {
    expect(() => depthMetrics([1, 2, 3], [0, -1, 0])).toThrow(/^depth: no valid pixels \(ground truth > 0/);
    expect(() => depthMetrics([1, 2], [5, 50], { minDepth: 10, maxDepth: 20 }, 'img7')).toThrow(/^img7: no valid pixels .*>= 10, <= 20/);
    expect(() => depthMetrics([1, 2], [1])).toThrow(/prediction has 2 pixels, ground truth 1/);
    const gt = [1, 2, 4, 8];
    const perfect = depthMetrics(gt.map((g) => 3 / g + 1), gt);
    expect(perfect.absRel).toBeLessThan(1e-12);
    expect(perfect.delta1).toBe(1);
    expect(perfect.scale).toBeCloseTo(1 / 3, 12);
    expect(depthMetrics(gt.map((g) => 2 * g - 1), gt, { space: 'depth' }).absRel).toBeLessThan(1e-12);
  });

  it('normals: zero vectors are skipped and counted; all-zero is an error', () => {
    const m = normalMetrics([1, 0, 0, 0, 0, 0, 0, 0, 0], [1, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect(m).toMatchObject({ valid: 1, skipped: 2, mean: 0, median: 0, within11_25: 100 });
    expect(() => normalMetrics([0, 0, 0], [1, 0, 0])).toThrow(/^normal: no valid pixels \(all 1 have a zero-length/);
    expect(() => normalMetrics([0, 0, 0], [1, 0, 0, 1, 0, 0])).toThrow(/prediction has 1 pixels, ground truth 2/);
  });

  it('IoU: two empty masks agree, sizes must match; means average the numeric fields', () => {
    const empty = { height: 2, width: 2, data: new Uint8Array(4) };
    expect(maskIou(empty, empty)).toBe(1);
    expect(() => maskIou(empty, { height: 2, width: 3, data: new Uint8Array(6) }, 'x')).toThrow(/^x: prediction is 2x2, ground truth 3x2/);
    expect(meanOf([{ a: 1, s: 'x' }, { a: 3, s: 'y' }])).toEqual({ a: 2 });
  });
});
