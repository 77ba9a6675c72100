// `batch --evaluate`: after the run, each sample that has a target is scored against it from the
// files the run wrote (so resumed samples count too), and <save_path>/images/metrics.json holds
// one row per sample and the means, per task.
import { basename, join } from 'node:path';
import type { Sample } from './batch.ts';
import { evaluatePairs, formatReport, type EvalTask, type Pair, type Report } from './evaluate.ts';
import { writeAtomic } from './image.ts';

export async function evaluateBatch(samples: readonly Sample[], imagesDir: string): Promise<{ path: string; means: object; lines: string[] }> {
  const groups: Record<EvalTask, Pair[]> = { depth: [], normal: [], segmentation: [] };
  const notScored: string[] = [];
  for (const s of samples) {
    const stem = basename(s.maskBase);
    const t = s.task.name;
    if (s.gtPath && (t === 'depth' || t === 'normal') && s.npy) groups[t].push({ stem, pred: s.npy, gt: s.gtPath });
    else if (s.gtPath && (t === 'segmentation' || t === 'semantic')) groups.segmentation.push({ stem, pred: `${s.maskBase}_mask.json`, gt: s.gtPath });
    else notScored.push(stem);
  }
  const reports: Partial<Record<EvalTask, Report>> = {};
  for (const [task, pairs] of Object.entries(groups) as [EvalTask, Pair[]][]) if (pairs.length) reports[task] = await evaluatePairs(task, pairs);
  const path = join(imagesDir, 'metrics.json');
  const doc = { ...Object.fromEntries(Object.entries(reports).map(([t, r]) => [t, { rows: r.rows, mean: r.mean }])), notScored };
  await writeAtomic(path, new TextEncoder().encode(`${JSON.stringify(doc, null, 2)}\n`));
  const lines = Object.values(reports).flatMap((r) => formatReport(r));
  return { path, means: Object.fromEntries(Object.entries(reports).map(([t, r]) => [t, r.mean])), lines: [...lines, `Metrics saved to: ${path}`] };
}
