// T5's relative-position buckets (encoder, bidirectional), against values worked out from
// transformers' _relative_position_bucket for 32 buckets / max distance 128.
import { describe, expect, it } from 'vitest';
import { positionBias, relativePositionBucket } from '../../src/model/t5.ts';

describe('T5 relative position buckets (32 buckets, max distance 128)', () => {
  it('exact buckets below 8, logarithmic above, positive offsets in the upper half', () => {
    const cases: [number, number][] = [
      [0, 0], [-1, 1], [1, 17], [-7, 7], [7, 23], [-8, 8], [-15, 9], [-16, 10], [-31, 11], [-32, 12],
      [-63, 13], [-64, 14], [-127, 15], [-128, 15], [-1000, 15], [128, 31], [255, 31],
    ];
    for (const [rel, bucket] of cases) expect(relativePositionBucket(rel, 32, 128), `relative ${rel}`).toBe(bucket);
  });

  it('bias [heads, q, k] looks up bucket(k - q) per head', () => {
    const heads = 3;
    const table = Float32Array.from({ length: 32 * heads }, (_, i) => i);
    const T = 5;
    const bias = positionBias(table, heads, T, 32, 128);
    for (let h = 0; h < heads; h++) {
      for (let q = 0; q < T; q++) {
        for (let k = 0; k < T; k++) expect(bias[(h * T + q) * T + k]).toBe(relativePositionBucket(k - q, 32, 128) * heads + h);
      }
    }
  });
});
