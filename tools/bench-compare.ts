// `diception bench --compare matmul=tiled-4x4,./my_matmul.wgsl --shapes transformer`: built-in
// variants and WGSL files side by side (bench/compare.ts does the work; the page shares it).
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { compare, DEFAULT_ROUNDS, formatCompare, type Candidate } from '../bench/compare.ts';
import { roofline } from '../bench/roofline.ts';
import '../src/kernels/families.ts';
import { kernelFamilies, variantsOf } from '../src/kernels/registry.ts';
import { getDevice } from '../src/runtime/device.ts';
import { integer } from './run-options.ts';
import { processStreams, type Streams } from './progress.ts';

export interface CompareFlags {
  compare: string;
  shapes?: string;
  dtype?: string;
  runs?: string;
  budgetS?: string;
  control?: boolean;
  json?: boolean;
  /** Write [header, ...rows] (date, adapter, load average, every sample) to this file. */
  out?: string;
}

/** 'matmul=tiled-4x4,./mine.wgsl@naive' -> the family and its candidates (files read here). */
export function parseCandidates(spec: string): { family: string; candidates: Candidate[] } {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new Error(`--compare: '${spec}' is not family=candidate,candidate,... (e.g. matmul=tiled-4x4,./my_matmul.wgsl)`);
  const family = spec.slice(0, eq).trim();
  // A family without registered variants runs its built-in code, named 'built-in'.
  const builtinOnly = !kernelFamilies().includes(family);
  const names = builtinOnly ? ['built-in'] : variantsOf(family).map((v) => v.name);
  const items = spec.slice(eq + 1).split(',').map((s) => s.trim()).filter(Boolean);
  if (!items.length) throw new Error('--compare: no candidates after the family');
  const candidates = items.map((item): Candidate => {
    if (names.includes(item)) return builtinOnly ? { label: item } : { label: item, variant: item };
    const [file, variant] = item.split('@');
    if (!file.endsWith('.wgsl')) throw new Error(`--compare: '${item}' is neither a ${family} variant (${names.join(', ')}) nor a .wgsl file`);
    if (builtinOnly) throw new Error(`--compare: ${family} has no registered variants yet, so a .wgsl file cannot replace its code (candidates: built-in)`);
    if (variant !== undefined && !names.includes(variant)) throw new Error(`--compare: ${file}@${variant}: ${family} has no variant '${variant}' (variants: ${names.join(', ')})`);
    let source: string;
    try {
      source = readFileSync(file, 'utf8');
    } catch (e) {
      throw new Error(`--compare: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    return { label: item, variant, override: { source, file } };
  });
  return { family, candidates };
}

export async function benchCompare(o: CompareFlags, io: Streams = processStreams): Promise<void> {
  const { family, candidates } = parseCandidates(o.compare);
  const dtype = o.dtype ?? 'f32';
  if (dtype !== 'f32' && dtype !== 'f16') throw new Error(`--dtype: '${dtype}' is not f32 or f16`);
  const runs = integer(o.runs ?? String(DEFAULT_ROUNDS), '--runs', 1, 1000);
  const budgetS = o.budgetS === undefined ? undefined : Number(o.budgetS);
  if (budgetS !== undefined && !(budgetS > 0)) throw new Error(`--budget-s: '${o.budgetS}' is not a positive number of seconds`);
  const gpu = await getDevice();
  const started = { date: new Date().toISOString(), loadavg: loadavg() };
  const rows = await compare(gpu, family, candidates, {
    shapes: o.shapes ?? 'smoke',
    dtype,
    runs,
    budgetS,
    control: o.control,
    peak: await roofline(gpu),
    onRow: o.json ? (r) => io.out(`${JSON.stringify(r)}\n`) : undefined,
  });
  if (!o.json) io.out(`${formatCompare(rows)}\n`);
  if (o.out) {
    const load = (l: number[]) => l.map((x) => Number(x.toFixed(2)));
    const header = { date: started.date, ended: new Date().toISOString(), compare: o.compare, shapes: o.shapes ?? 'smoke', dtype, adapter: gpu.caps.adapterName, loadavg_start: load(started.loadavg), loadavg_end: load(loadavg()) };
    await writeFile(o.out, JSON.stringify([header, ...rows], null, 1) + '\n');
  }
  if (rows.some((r) => !r.pass)) process.exitCode = 1;
}
