// bench attention's ratio to the linear: the linear and the attention variants are timed in the
// same interleaved rounds, and the ratio is GFLOP/s ÷ GFLOP/s with a 95% interval around it.
import { expect, it } from 'vitest';
import { benchAttention } from '../../bench/attention.ts';
import { device } from '../helpers.ts';

it('divides each attention row by a linear timed in the same rounds', async () => {
  const gpu = await device();
  const rows = await benchAttention(gpu, { shapes: [{ label: 'tiny', batch: 1, tokens: 37, heads: 2, headDim: 64 }], reference: true });
  const [ref, att] = rows;
  expect(ref.op).toBe('linear');
  expect(ref.runs).toBeGreaterThanOrEqual(6);
  expect(att.op).toBe('attention');
  expect(att.runs).toBe(ref.runs);
  const m = att.note!.match(/median of (\d+) interleaved rounds, 95% CI \[([\d.e+-]+), ([\d.e+-]+)\]/);
  expect(m, att.note).not.toBeNull();
  const [lo, hi] = [Number(m![2]), Number(m![3])];
  expect(lo).toBeLessThanOrEqual(att.ratio!);
  expect(att.ratio!).toBeLessThanOrEqual(hi);
  // The median of per-round ratios lies within the spread of the ratio of the two rows' medians.
  expect(att.ratio! / (att.gflops! / ref.gflops!)).toBeGreaterThan(0.2);
  expect(att.ratio! / (att.gflops! / ref.gflops!)).toBeLessThan(5);
});
