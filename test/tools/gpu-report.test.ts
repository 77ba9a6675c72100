// The GPU report's bookkeeping without a GPU: a section whose process died or was killed keeps
// its partial data and says so, and the summary pairs our f16 times with PyTorch's bf16 times.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { putSection, readReport } from '../../tools/gpu-pack/report-file.ts';
import { gpuReport } from '../../tools/gpu-pack/report.ts';
import { SECTIONS, type SectionContext } from '../../tools/gpu-pack/sections.ts';
import { mmditKey } from '../../tools/gpu-pack/shapes.ts';

const tmp = mkdtempSync(join(tmpdir(), 'gpu-report-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('gpu-report', () => {
  it('records a crash, a kill at the time limit and a skip, and never overwrites a finished section', async () => {
    const report = join(tmp, 'a.json');
    await gpuReport('start', { report, quick: true });
    putSection(report, 'matmul', { status: 'running', rows: [{ key: 'linear 1x2x3' }] });
    putSection(report, 'attention', { status: 'running' });
    putSection(report, 'conv', { status: 'ok', rows: [] });
    await gpuReport('matmul', { report, ended: '124' });
    await gpuReport('attention', { report, ended: '139' });
    await gpuReport('conv', { report, ended: '0' });
    await gpuReport('vae', { report, ended: 'skipped' });
    const s = readReport(report).sections;
    expect(s.matmul.status).toBe('timeout');
    expect(s.matmul.rows).toEqual([{ key: 'linear 1x2x3' }]);
    expect(s.attention).toMatchObject({ status: 'error', error: expect.stringContaining('status 139') });
    expect(s.conv.status).toBe('ok');
    expect(s.vae.status).toBe('skipped');
    await expect(gpuReport('nonsense', { report })).rejects.toThrow(/unknown step 'nonsense'/);
  });

  it('summary: our f16 time ÷ PyTorch bf16 time per shared key, and the targets', async () => {
    const report = join(tmp, 'b.json');
    await gpuReport('start', { report });
    putSection(report, 'matmul', {
      status: 'ok',
      rows: [
        { key: 'linear 8x8x8', dtype: 'f16', ms_median: 3, pct_of_peak: 60 },
        { key: 'linear 8x8x8', dtype: 'f32', ms_median: 5, pct_of_peak: 30 },
        { key: 'linear 9x9x9', dtype: 'f16', ms_median: 2, pct_of_peak: 40 },
      ],
      tuned: { 'matmul|a': 'tiled' },
    });
    putSection(report, 'mmdit-step-cfg', { status: 'ok', key: mmditKey(2), ms: 600, tuned: { 'attention|b': 'flash' } });
    putSection(report, 'torch', { status: 'ok', rows: [{ key: 'linear 8x8x8', ms: 2 }, { key: mmditKey(2), ms: 500 }, { key: 'only torch', ms: 1 }] });
    const logs: string[] = [];
    const c: SectionContext = { quick: false, report: readReport(report), fixtures: '', torchScript: '', seconds: 10, save: () => {}, log: (l) => logs.push(l) };
    const out = await SECTIONS.summary.run(c);
    expect(out.comparison).toEqual([
      { key: 'linear 8x8x8', ours_ms: 3, torch_bf16_ms: 2, ours_over_torch: 1.5 },
      { key: mmditKey(2), ours_ms: 600, torch_bf16_ms: 500, ours_over_torch: 1.2 },
    ]);
    expect(out.targets).toEqual({
      mmdit_step_cfg_over_torch: 1.2,
      mmdit_step_cfg_within_1_5x_torch: true,
      matmul_f16_min_pct_of_peak: 40,
      matmul_f16_at_least_50pct_of_peak: false,
    });
    expect(out.tuned).toEqual({ 'matmul|a': 'tiled', 'attention|b': 'flash' });
    expect(logs).toHaveLength(2);
  });
});
