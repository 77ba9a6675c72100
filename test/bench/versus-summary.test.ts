// bench/versus.ts's summary: one line per (op, variant, shape, dtype), ratios per round.
import { expect, it } from 'vitest';
import { summarize, type VersusRow } from '../../bench/versus-summary.ts';

const row = (op: string, variant: string, version: 'older' | 'this', round: number, ms: number): VersusRow => ({ op, variant, shape: 's', dtype: 'f32', ms_median: ms, runs: 1, adapter: 'test', version, round });

it('summarises each row of an op on its own, by round', () => {
  const rows = [
    row('conv', 'VAE 96²', 'older', 0, 200),
    row('conv', 'VAE 192²', 'older', 0, 300),
    row('conv', 'VAE 96²', 'this', 0, 100),
    row('conv', 'VAE 192²', 'this', 0, 200),
    row('conv', 'VAE 192²', 'this', 1, 100),
    row('conv', 'VAE 96²', 'this', 1, 100),
    row('conv', 'VAE 96²', 'older', 1, 300),
    row('conv', 'VAE 192²', 'older', 1, 300),
  ];
  const ratios = summarize(rows, 2).filter((r) => r.op === 'conv: older ÷ this');
  expect(ratios.map((r) => [r.variant, r.ratio, r.per_round])).toEqual([
    ['VAE 96²', 2.5, [2, 3]],
    ['VAE 192²', 2.25, [1.5, 3]],
  ]);
  const medians = summarize(rows, 2).filter((r) => r.variant === 'VAE 96²' && !r.ratio);
  expect(medians.map((r) => [r.op, r.ms_median])).toEqual([
    ['conv: older, median of rounds', 250],
    ['conv: this, median of rounds', 100],
  ]);
});

it('leaves out a row missing from a run or too short to time', () => {
  const rows = [row('a', 'v', 'older', 0, 10), row('a', 'v', 'this', 0, 5), row('b', 'v', 'older', 0, 10), row('b', 'v', 'this', 0, 0), row('c', 'v', 'this', 0, 4)];
  expect(summarize(rows, 1).map((r) => r.op)).toEqual(['a: older, median of rounds', 'a: this, median of rounds', 'a: older ÷ this']);
});
