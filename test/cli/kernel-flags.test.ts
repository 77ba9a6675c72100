// --kernel / --kernel-override on any command, `bench --compare`, and `infer --profile`, with
// the fake pipeline (which runs a real elementwise kernel when asked, so profiles have content).
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { linear } from '../../src/kernels/matmul.ts';
import { kernelChoice, kernelOverride, setKernelChoice, setKernelOverride } from '../../src/kernels/registry.ts';
import type { DispatchObserver } from '../../src/runtime/recorder.ts';
import { fromArray } from '../../src/runtime/tensor.ts';
import { benchCompare, parseCandidates } from '../../tools/bench-compare.ts';
import { applyKernelFlags } from '../../tools/kernel-flags.ts';
import { device, expectClose, rand } from '../helpers.ts';
import { linearRef } from '../kernels/ref.ts';
import { fakePipeline, runCli } from './fake-pipeline.ts';
import { modelArgs, removeTempDirs, tempDir, writeImage } from './files.ts';

afterAll(removeTempDirs);
afterEach(() => {
  setKernelChoice('matmul', undefined);
  setKernelOverride('matmul', undefined);
});

const builtin = readFileSync(resolve(__dirname, '../../shaders/matmul.wgsl'), 'utf8');

function wgslFile(name: string, text: string): string {
  const path = join(tempDir('kernel'), name);
  writeFileSync(path, text);
  return path;
}

/** The full dispatch labels ('linear <variant>') of what `fn` records. */
async function labelsOf(fn: () => Promise<unknown>): Promise<string[]> {
  const gpu = await device();
  const labels: string[] = [];
  const observer: DispatchObserver = {
    beginDispatch: (l) => void labels.push(l),
    beforeSubmit: () => {},
    afterSubmit: () => {},
    wantsFlushAfterDispatch: () => false,
  };
  gpu.recorder.observer = observer;
  try {
    await fn();
  } finally {
    gpu.recorder.observer = undefined;
  }
  return labels;
}

async function product(M = 19, N = 13, K = 24) {
  const gpu = await device();
  const x = rand(M * K, 3);
  const w = rand(N * K, 4);
  let got: Float32Array = new Float32Array();
  const labels = await labelsOf(async () => {
    got = await (await linear(gpu, fromArray(gpu, x, [M, K]), fromArray(gpu, w, [N, K]))).read();
  });
  return { got, want: linearRef(x, w, M, N, K), labels };
}

async function inferArgs() {
  const dir = tempDir('kinfer');
  const image = join(dir, 'in.png');
  await writeImage(image, 64, 48);
  return ['infer', '--image', image, '--output_dir', join(dir, 'out'), ...modelArgs(dir)];
}

describe('--kernel', () => {
  it('forces the variant that runs (linear 19x24x13): naive and tiled-8x4 give the same numbers', async () => {
    await applyKernelFlags({ kernel: ['matmul=naive'] });
    const naive = await product();
    await applyKernelFlags({ kernel: ['matmul=tiled-8x4'] });
    const tiled = await product();
    expect(naive.labels).toEqual(['linear naive']);
    expect(tiled.labels).toEqual(['linear tiled-8x4']);
    expectClose(naive.got, naive.want, { atol: 1e-5, label: 'naive' });
    expectClose(tiled.got, naive.got, { atol: 1e-5, label: 'tiled-8x4 vs naive' });
  });

  it('works on any command, before or after the subcommand name', async () => {
    const args = await inferArgs();
    await runCli(['--kernel', 'matmul=tiled-4x8', ...args, '--quiet'], fakePipeline().factory);
    expect(kernelChoice('matmul')).toBe('tiled-4x8');
    await runCli([...args, '--quiet', '--kernel', 'matmul=naive'], fakePipeline().factory);
    expect(kernelChoice('matmul')).toBe('naive');
  });

  it('rejects an unknown variant or family with the list of what exists, before loading the pipeline', async () => {
    const fake = fakePipeline();
    const args = await inferArgs();
    await expect(runCli([...args, '--kernel', 'matmul=tiled-99x99'], fake.factory)).rejects.toThrow(/^--kernel: 'matmul' has no variant 'tiled-99x99' \(variants: .*tiled-8x4.*naive/);
    await expect(runCli([...args, '--kernel', 'conv9d=fast'], fake.factory)).rejects.toThrow(/^--kernel: unknown kernel family 'conv9d' \(known: .*matmul/);
    await expect(runCli([...args, '--kernel', 'matmul'], fake.factory)).rejects.toThrow(/^--kernel: 'matmul' is not family=value/);
    expect(fake.state.loads).toBe(0);
  });
});

describe('--kernel-override', () => {
  it('runs a valid file (built-in with a harmless change) in the real run (variant forced: checking all costs minutes here)', async () => {
    const file = wgslFile('ok.wgsl', builtin.replace('var v = acc;', 'var v = acc * 1.0;'));
    await applyKernelFlags({ kernel: ['matmul=tiled-8x4'], kernelOverride: [`matmul=${file}`] });
    expect(kernelOverride('matmul')?.file).toBe(file);
    const { got, want, labels } = await product();
    expect(labels).toEqual(['linear tiled-8x4']);
    expectClose(got, want, { atol: 1e-5 });
  });

  it('stops before the pipeline loads: syntax error (file:line), wrong results, missing file', async () => {
    const line = builtin.split('\n').findIndex((l) => l.includes('var v = acc;')) + 1;
    const syntax = wgslFile('syntax.wgsl', builtin.replace('var v = acc;', 'var v = acc +;'));
    const wrong = wgslFile('wrong.wgsl', builtin.replace('var v = acc;', 'var v = acc + 1.0;'));
    const fake = fakePipeline();
    const args = await inferArgs();
    await expect(runCli([...args, '--kernel', 'matmul=tiled-4x4', '--kernel-override', `matmul=${syntax}`], fake.factory)).rejects.toThrow(
      new RegExp(`^--kernel-override matmul=${syntax} \\(variant tiled-4x4\\): WGSL compile error .*\\n${syntax}:${line}:\\d+: `),
    );
    await expect(runCli([...args, '--kernel', 'matmul=naive', '--kernel-override', `matmul=${wrong}`], fake.factory)).rejects.toThrow(
      /\(variant naive\): wrong results on 37x64x45: rel_l2 [\d.e-]+ .*against the CPU reference/,
    );
    await expect(runCli([...args, '--kernel-override', 'matmul=/nonexistent/x.wgsl'], fake.factory)).rejects.toThrow(/cannot read \/nonexistent\/x\.wgsl: ENOENT/);
    expect(fake.state.loads).toBe(0);
  });
});

describe('bench --compare', () => {
  it('parses candidates: variants, files, file@variant; clear errors otherwise', () => {
    const file = wgslFile('mine.wgsl', builtin);
    const { family, candidates } = parseCandidates(`matmul=tiled-4x4,${file},${file}@naive`);
    expect(family).toBe('matmul');
    expect(candidates.map((c) => [c.label, c.variant, c.override?.file])).toEqual([
      ['tiled-4x4', 'tiled-4x4', undefined],
      [file, undefined, file],
      [`${file}@naive`, 'naive', file],
    ]);
    expect(() => parseCandidates('matmul=fastest')).toThrow(/'fastest' is neither a matmul variant \(.*naive.*\) nor a \.wgsl file/);
    expect(() => parseCandidates(`matmul=${file}@fastest`)).toThrow(/matmul has no variant 'fastest'/);
    expect(() => parseCandidates('tiled-4x4')).toThrow(/is not family=candidate/);
  });

  it('--json: one row per candidate and shape, PASS for a valid file, FAIL for a broken one (exit code 1)', async () => {
    const ok = wgslFile('ok.wgsl', builtin.replace('var v = acc;', 'var v = acc * 1.0;'));
    const bad = wgslFile('bad.wgsl', builtin.replace('var v = acc;', 'var v = acc +;'));
    let out = '';
    const io = { out: (t: string) => void (out += t), err: () => {} };
    await benchCompare({ compare: `matmul=tiled-4x4,${ok},${bad}`, shapes: '33x40x20', runs: '5', json: true }, io);
    const rows = out.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((r) => [r.candidate, r.shape, r.pass])).toEqual([
      ['tiled-4x4', '33x40x20', true],
      [ok, '33x40x20', true],
      [bad, '33x40x20', false],
    ]);
    expect(rows[2].error).toContain(`${bad}:`);
    expect(process.exitCode).toBe(1);
    process.exitCode = 0;
  });
});

describe('infer --profile', () => {
  it('prints the top kernels by GPU time and puts them in the --json summary', async () => {
    const args = await inferArgs();
    const { out: json } = await runCli([...args, '--profile', '--json'], fakePipeline({ gpu: true }).factory);
    const { profile } = JSON.parse(json);
    expect(['timestamps', 'cpu']).toContain(profile.timing);
    expect(profile.kernels).toEqual([{ label: 'scale', calls: 1, ms: expect.any(Number) }]);
    expect(profile.kernels[0].ms).toBeGreaterThan(0);
    const { out: text } = await runCli([...args, '--profile'], fakePipeline({ gpu: true }).factory);
    expect(text).toMatch(/Result saved to: .*\n(?:.*\n)*?\nTop kernels by GPU time \((GPU timestamp queries|CPU-side timing.*)\):\nkernel +calls +GPU time +share\nscale +1 +[\d.]+ ms +100\.0%/);
  });
});
