// `bench mmdit --profile`: a block's kernel time split into linears, attention, norms, elementwise.
import { describe, expect, it } from 'vitest';
import { kindOf, splitByKind } from '../../bench/mmdit.ts';

describe('bench mmdit --profile split', () => {
  it('sorts the labels the MMDiT dispatches into their kind', () => {
    expect(['linear', 'attention', 'layerNorm', 'rmsNorm', 'patchify', 'silu', 'eulerStep'].map(kindOf)).toEqual([
      'linears',
      'attention',
      'norms',
      'norms',
      'elementwise',
      'elementwise',
      'elementwise',
    ]);
  });

  it('sums time and calls per kind, every kind present even when empty', () => {
    const split = splitByKind([
      { label: 'linear', calls: 19, ms: 40 },
      { label: 'attention', calls: 1, ms: 5 },
      { label: 'layerNorm', calls: 4, ms: 0.5 },
      { label: 'rmsNorm', calls: 2, ms: 0.25 },
    ]);
    expect(split.map((k) => [k.kind, k.ms, k.calls])).toEqual([
      ['linears', 40, 19],
      ['attention', 5, 1],
      ['norms', 0.75, 6],
      ['elementwise', 0, 0],
    ]);
  });
});
