import { Writable } from 'node:stream';
import { expect, it } from 'vitest';
import { makeOutput, stageSummary } from '../../tools/progress.ts';

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

it('draws a bar per stage with steps and it/s on a terminal, and none without one', () => {
  let drawn = '';
  // What cli-progress needs of a terminal: write(), isTTY and a width.
  const terminal = Object.assign(new Writable({ write: (chunk, _enc, done) => ((drawn += String(chunk)), done()) }), { isTTY: true, columns: 120 });
  const printed: string[] = [];
  const io = { out: (t: string) => void printed.push(t), err: (t: string) => void printed.push(t), terminal };
  const output = makeOutput({}, io);
  output.progress('denoise', 1, 3);
  output.progress('denoise', 3, 3);
  output.progress('decode', 1, 1);
  output.finish({}, ['done']);
  const plain = drawn.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, '');
  expect(plain).toMatch(/denoise +\[[█░]+\] 3\/3 \| \d+s \| [\d.]+ it\/s/);
  expect(plain).toMatch(/decode +\[█+\] 1\/1/);
  expect(printed).toEqual(['done\n']);

  const quiet = makeOutput({ quiet: true }, io);
  drawn = '';
  quiet.progress('denoise', 1, 3);
  quiet.finish({}, ['done']);
  expect(drawn).toBe('');
});
