import { expect, it } from 'vitest';
import { stageSummary } from '../../tools/progress.ts';

it('sums time per stage over batches and keeps the highest GPU memory peak', () => {
  const lines = stageSummary([
    { stage: 'text', ms: 1500, peakBytes: 10 * 2 ** 20 },
    { stage: 'denoise', ms: 2000, peakBytes: 300 * 2 ** 20 },
    { stage: 'denoise', ms: 1000, peakBytes: 200 * 2 ** 20 },
  ]);
  expect(lines).toEqual([
    'stage      time       peak GPU memory',
    'text          1.50 s       10 MiB',
    'denoise       3.00 s      300 MiB',
    'total         4.50 s',
  ]);
});
