// `batch --shard auto` from Slurm / Kubernetes environments, the shard manifests, and
// `batch-merge` (complete runs merged; a deleted output or an unfinished shard listed as missing).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { batchMerge } from '../../tools/batch-merge.ts';
import { resolveShard } from '../../tools/shard.ts';
import { fakePipeline, runCli } from './fake-pipeline.ts';
import { modelArgs, removeTempDirs, tempDir, writeImage } from './files.ts';

afterAll(removeTempDirs);
afterEach(() => vi.unstubAllEnvs());

/** Six small depth samples 0..5; sample i runs with seed 42 + i, which tells which ran. */
async function sixSamples() {
  const dir = tempDir('shard');
  const names = [0, 1, 2, 3, 4, 5].map((i) => `s${i}.png`);
  for (const n of names) await writeImage(join(dir, n), 12, 10);
  const json = join(dir, 'list.json');
  writeFileSync(json, JSON.stringify(names.map((input) => ({ input, caption: '[[image2depth]]' }))));
  const save = join(dir, 'out');
  const run = async (extra: string[]) => {
    const fake = fakePipeline();
    const { out } = await runCli(['batch', '--input_path', json, '--data_root_path', dir, '--save_path', save, ...modelArgs(dir), '--json', '--save_npy', ...extra], fake.factory);
    return { ran: fake.state.requests.flatMap((r) => r.seeds.map((s) => s - 42)), summary: JSON.parse(out) };
  };
  return { save, run };
}

describe('batch --shard auto', () => {
  it('Slurm array: SLURM_ARRAY_TASK_ID=1 of SLURM_ARRAY_TASK_COUNT=3 runs samples 1 and 4', async () => {
    const d = await sixSamples();
    vi.stubEnv('SLURM_ARRAY_TASK_ID', '1');
    vi.stubEnv('SLURM_ARRAY_TASK_COUNT', '3');
    const { ran, summary } = await d.run(['--shard', 'auto']);
    expect(ran).toEqual([1, 4]);
    expect(summary.shard).toBe('1/3');
    const manifest = JSON.parse(readFileSync(summary.manifest, 'utf8'));
    expect(manifest.samples.map((s: { index: number; outputs: string[] }) => [s.index, s.outputs])).toEqual([
      [1, ['images/s1_[[image2depth]].png', 'images/s1.npy']], [4, ['images/s4_[[image2depth]].png', 'images/s4.npy']],
    ]);
  });

  it('Slurm array starting at 1 (--array=1-3): SLURM_ARRAY_TASK_MIN is subtracted', async () => {
    const d = await sixSamples();
    vi.stubEnv('SLURM_ARRAY_TASK_ID', '3');
    vi.stubEnv('SLURM_ARRAY_TASK_MIN', '1');
    vi.stubEnv('SLURM_ARRAY_TASK_COUNT', '3');
    expect((await d.run(['--shard', 'auto'])).ran).toEqual([2, 5]);
  });

  it('Kubernetes Indexed Job: JOB_COMPLETION_INDEX=2 with DICEPTION_SHARDS=3 (or --shards 3) runs samples 2 and 5', async () => {
    const d = await sixSamples();
    vi.stubEnv('JOB_COMPLETION_INDEX', '2');
    vi.stubEnv('DICEPTION_SHARDS', '3');
    expect((await d.run(['--shard', 'auto'])).ran).toEqual([2, 5]);
    expect(resolveShard('auto', '3', { JOB_COMPLETION_INDEX: '2' })).toMatchObject({ k: 2, n: 3 });
  });

  it('says what is wrong with the environment in one line', () => {
    expect(() => resolveShard('auto', undefined, {})).toThrow(/^--shard auto: no scheduler found .*give --shard k\/n$/);
    expect(() => resolveShard('auto', undefined, { JOB_COMPLETION_INDEX: '0' })).toThrow(/give --shards N/);
    expect(() => resolveShard('auto', '3', { JOB_COMPLETION_INDEX: '3' })).toThrow(/shard 3 is outside 0\.\.2/);
    expect(() => resolveShard('auto', undefined, { SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_COUNT: 'x' })).toThrow(/SLURM_ARRAY_TASK_COUNT='x' is not a whole number/);
    expect(() => resolveShard('1/2', '3', {})).toThrow(/^--shards goes with --shard auto/);
    expect(resolveShard('1/2', undefined, { JOB_COMPLETION_INDEX: '0' })).toMatchObject({ k: 1, n: 2 });
  });
});

describe('batch-merge', () => {
  it('merges complete shards into results.json; lists unfinished shards and deleted outputs', async () => {
    const d = await sixSamples();
    await d.run(['--shard', '0/3']);
    await d.run(['--shard', '2/3']);
    const merge = () => runCli(['batch-merge', '--save_path', d.save], fakePipeline().factory);
    await expect(merge()).rejects.toThrow(/^batch-merge: 1 part\(s\) missing/);

    await d.run(['--shard', '1/3']);
    const { out } = await merge();
    expect(out).toMatch(/^All 3 shards complete: 6 samples\. Results saved to: .*results\.json/);
    const results = JSON.parse(readFileSync(join(d.save, 'results.json'), 'utf8'));
    expect(results.samples.map((s: { index: number }) => s.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(results.samples[3].outputs).toEqual(['images/s3_[[image2depth]].png', 'images/s3.npy']);

    rmSync(join(d.save, 'images', 's4.npy'));
    rmSync(join(d.save, 'shards', '2-of-3.json'));
    const printed = { err: '' };
    await expect(batchMerge(d.save, false, { out: () => {}, err: (t) => void (printed.err += t) })).rejects.toThrow(/^batch-merge: 2 part\(s\) missing in .*; rerun those shards/);
    expect(printed.err).toBe('missing: shard 2/3: no manifest (not run, or not finished)\nmissing: images/s4.npy (sample 4, shard 1/3)\n');
    // Rerunning the incomplete shards redoes only what is missing.
    expect((await d.run(['--shard', '1/3'])).ran).toEqual([4]);
    expect((await d.run(['--shard', '2/3'])).ran).toEqual([]);
    await expect(merge()).resolves.toBeTruthy();
  });
});
