// tools/gpu-pack/torch_ref.py only runs for real on the GPU machine (PyTorch and CUDA). Here it
// runs on a numpy stand-in for torch (test/tools/torch-stub: same shapes and math, fake
// timings) with the --quick work, so a shape or API slip in the plain-torch MMDiT shows up
// before a GPU is lent; and without torch it must say so in one JSON line.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { torchWork } from '../../tools/gpu-pack/sections.ts';
import { work } from '../../tools/gpu-pack/shapes.ts';

const SCRIPT = join(import.meta.dirname, '..', '..', 'tools', 'gpu-pack', 'torch_ref.py');
const python = (env: Record<string, string>) =>
  spawnSync('python3', [SCRIPT], { input: JSON.stringify(torchWork(work(true))), encoding: 'utf8', env: { ...process.env, ...env } });

it('times every item of the work, the MMDiT step with and without CFG (numpy stand-in for torch)', () => {
  const r = python({ PYTHONPATH: join(import.meta.dirname, 'torch-stub') });
  expect(r.status, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  const w = torchWork(work(true));
  const keys = [...w.linears.map((l) => l.key), ...w.attention.map((a) => a.key), w.mmdit.keys[1], w.mmdit.keys[2]];
  expect(out.rows.map((row: { key: string }) => row.key)).toEqual(keys);
});

it('says in one JSON line why it skips where python3 has no torch', () => {
  const r = python({ PYTHONPATH: '' });
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  expect(out.skipped).toMatch(/cannot import torch|sees no CUDA device/);
});
