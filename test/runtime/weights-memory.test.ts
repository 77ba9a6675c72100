// Loading weights must not hold the file in memory: a 512 MiB file read tensor by tensor keeps
// JS memory growth under a quarter of its size. What growth remains is V8 collecting dropped
// tensors lazily: a constant, not a fraction of the file. bench/weights-memory.ts: 4 GiB.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { measureWeightMemory } from '../../bench/weights-memory.ts';

const MiB = 2 ** 20;
const dir = mkdtempSync(join(tmpdir(), 'weights-memory-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('reads a 512 MiB safetensors file one tensor at a time in bounded memory', async () => {
  const f = await measureWeightMemory(dir, 512 * MiB, 4 * MiB);
  console.log(`512 MiB file: JS growth ${(f.jsGrowth / MiB).toFixed(0)} MiB, RSS growth ${(f.rssGrowth / MiB).toFixed(0)} MiB`);
  expect(f.fileBytes).toBeGreaterThanOrEqual(512 * MiB);
  expect(f.tensors).toBeGreaterThan(120);
  expect(f.jsGrowth).toBeLessThan(f.fileBytes / 4);
});
