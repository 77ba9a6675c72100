// Kernel candidates side by side: built-in variants and users' WGSL run on the same random
// inputs at a family's shapes, each checked against the CPU reference and timed in interleaved
// rounds (src/kernels/timing-stats.ts), so that a verdict says whether a difference is real or
// noise. One module for `diception bench --compare` and the web page's kernel lab (browser-safe).
import { kernelTimer, type Clock } from '../src/kernels/kernel-timer.ts';
import { kernelFamilies, variantsOf, withKernel, type KernelOverride } from '../src/kernels/registry.ts';
import { interleavedRounds, ratioCI, spread, type Verdict } from '../src/kernels/timing-stats.ts';
import type { Gpu } from '../src/runtime/device.ts';
import type { DType } from '../src/runtime/tensor.ts';
import { FAMILIES, type ComparableFamily, type Problem } from './compare-families.ts';
import { round } from './harness.ts';
import type { Roofline } from './roofline.ts';

export interface Candidate {
  /** Shown in the table: a variant name, or the override's file (with @variant if given). */
  label: string;
  /** The variant to force; default: the family's first variant this adapter supports. */
  variant?: string;
  /** WGSL replacing the family's built-in source. */
  override?: KernelOverride;
}

export interface CompareRow {
  candidate: string;
  /** The variant it ran as ('built-in' for a family with no registered variants). */
  variant: string;
  shape: string;
  dtype: DType;
  /** The copy of the first candidate added by `control` (its verdict should be `same`). */
  control?: boolean;
  ms_median?: number;
  /** Interquartile range of the samples (ms). */
  ms_iqr?: number;
  /** Every timed sample (ms), in round order. */
  samples?: number[];
  clock?: Clock;
  /** Time relative to the first candidate (< 1: faster), with its 95% bootstrap interval. */
  ratio?: number;
  ratio_ci?: [number, number];
  verdict?: Verdict;
  /** The control's interval excludes 1.0 on this shape: the machine was too noisy to conclude. */
  too_noisy?: boolean;
  gflops?: number;
  gbps?: number;
  /** Achieved rate as a percentage of min(peak FLOP rate, arithmetic intensity × bandwidth), or of peak bandwidth. */
  pct_of_roofline?: number;
  max_abs?: number;
  rel_l2?: number;
  pass: boolean;
  /** Why the candidate failed to run (compiler message with file:line, contract mismatch...). */
  error?: string;
  adapter: string;
}

/** Times one run of a candidate in ms (default: the adapter's kernel timer); tests inject a fake. */
export type CandidateTimer = (candidate: Candidate, run: () => Promise<unknown>) => Promise<number>;

export interface CompareOptions {
  /** A shape set of the family ('transformer', 'vae', 'text', 'smoke') or explicit shapes ('MxKxN,...' for matmul). */
  shapes?: string;
  dtype?: DType;
  /** Interleaved rounds (timed samples per candidate and shape, at least 6); 0 checks results only. */
  runs?: number;
  /** Seconds of timing in all (split evenly over the shapes): rounds go on until it is spent, instead of `runs`. */
  budgetS?: number;
  /** Adds a copy of the first candidate, whose verdict must come out `same` for the run to count. */
  control?: boolean;
  seed?: number;
  /** The adapter's measured ceilings (bench/roofline.ts), for pct_of_roofline. */
  peak?: Roofline;
  timer?: CandidateTimer;
  /** Called as each row is ready (the page fills its table progressively). */
  onRow?: (row: CompareRow) => void;
}

export const DEFAULT_ROUNDS = 10;

/** The families `compare` can run, with their shape sets. */
export function comparableFamilies(): { family: string; source: string; shapeForm: string; sets: string[] }[] {
  return Object.entries(FAMILIES).map(([family, f]) => ({ family, source: f.source, shapeForm: f.shapeForm, sets: Object.keys(f.sets) }));
}

function familyOf(family: string): ComparableFamily {
  const f = FAMILIES[family];
  if (!f) throw new Error(`compare: no comparison for kernel family '${family}' (available: ${Object.keys(FAMILIES).join(', ')})`);
  return f;
}

/** A shape set's name or explicit shapes ('MxKxN', comma-separated) -> shapes. */
export function parseShapes(family: string, spec: string): number[][] {
  const f = familyOf(family);
  if (f.sets[spec]) return f.sets[spec];
  const dims = f.shapeForm.split('x').length;
  return spec.split(',').map((s) => {
    const d = s.trim().split('x').map(Number);
    if (d.length !== dims || !d.every((v) => Number.isInteger(v) && v > 0)) {
      throw new Error(`--shapes: '${s}' is neither a shape set (${Object.keys(f.sets).join(', ')}) nor ${f.shapeForm} with positive integers`);
    }
    return d;
  });
}

/** Tolerances of the project's conformance checks: rel_l2 for the f32 and the f16 paths. */
export const REL_L2_TOLERANCE: Record<DType, number> = { f32: 1e-4, f16: 1e-2 };

/** A variant with f16 products is held to the f16 tolerance even on f32 inputs (it rounds them). */
function tolerance(family: string, row: CompareRow): number {
  const f16Math = registered(family) && variantsOf(family).find((v) => v.name === row.variant)?.f16Math;
  return REL_L2_TOLERANCE[f16Math ? 'f16' : row.dtype];
}

/** Whether the family lists variants in the registry (if not, only its built-in code runs). */
const registered = (family: string) => kernelFamilies().includes(family);

/** The variant a candidate runs with when it names none. */
export function defaultVariant(gpu: Gpu, family: string): string {
  if (!registered(family)) return 'built-in';
  const v = variantsOf(family).find((x) => x.autotune !== false && x.supports(gpu.caps));
  if (!v) throw new Error(`${family}: no variant runs on ${gpu.caps.adapterName}`);
  return v.name;
}

/** Runs `fn` with the candidate's variant and WGSL set on this device. */
function withCandidate<T>(gpu: Gpu, family: string, c: Candidate, fn: () => Promise<T>): Promise<T> {
  if (!registered(family)) {
    if (c.variant || c.override) throw new Error(`${family} has no registered variants yet: only its built-in code can run`);
    return fn();
  }
  return withKernel(gpu, family, c.variant ?? defaultVariant(gpu, family), c.override, fn);
}

/**
 * Runs every candidate on every shape: first a correctness check of each (a candidate that fails
 * to build or run gets a FAIL row), then timed interleaved rounds of those that ran.
 */
export async function compare(gpu: Gpu, family: string, candidates: Candidate[], o: CompareOptions = {}): Promise<CompareRow[]> {
  const f = familyOf(family);
  const shapes = parseShapes(family, o.shapes ?? 'smoke');
  const dtype = o.dtype ?? 'f32';
  if (dtype === 'f16' && !gpu.caps.f16) {
    // Packed f16 inputs would need f32 outputs: compare the two storage paths in the tests, not here.
    throw new Error('compare: --dtype f16 needs shader-f16, which this adapter lacks');
  }
  const runs = o.runs ?? DEFAULT_ROUNDS;
  const all = o.control && candidates.length ? [...candidates, { ...candidates[0], label: `${candidates[0].label} (control)` }] : candidates;
  const timer = runs > 0 ? (o.timer ?? (await defaultTimer(gpu))) : undefined;
  const rows: CompareRow[] = [];
  for (const shape of shapes) {
    const problem = f.problem(gpu, shape, dtype, o.seed ?? 1);
    try {
      const shapeRows: CompareRow[] = [];
      for (const [i, c] of all.entries()) {
        const row: CompareRow = { candidate: c.label, variant: c.variant ?? defaultVariant(gpu, family), shape: shape.join('x'), dtype, pass: false, adapter: gpu.caps.adapterName };
        if (o.control && i === all.length - 1) row.control = true;
        await checkCandidate(gpu, family, c, problem, row);
        shapeRows.push(row);
      }
      if (timer) await timeCandidates(gpu, family, all, shapeRows, problem, timer, { ...o, runs, budgetS: o.budgetS && o.budgetS / shapes.length });
      for (const row of shapeRows) {
        rows.push(row);
        o.onRow?.(row);
      }
    } finally {
      problem.dispose();
    }
  }
  return rows;
}

async function defaultTimer(gpu: Gpu): Promise<CandidateTimer> {
  const t = await kernelTimer(gpu);
  const timer: CandidateTimer = (_c, run) => t.time(run);
  return Object.assign(timer, { clock: t.clock });
}

async function checkCandidate(gpu: Gpu, family: string, c: Candidate, problem: Problem, row: CompareRow): Promise<void> {
  try {
    await withCandidate(gpu, family, c, async () => {
      const out = await problem.run();
      const err = await problem.check(out);
      out.dispose();
      Object.assign(row, { max_abs: round(err.maxAbs), rel_l2: round(err.relL2), pass: err.relL2 <= tolerance(family, row) });
    });
  } catch (e) {
    row.error = (e as Error).message;
    // Leave no GPU error behind for the next candidate to trip over.
    await gpu.sync('compare').catch((x: Error) => (row.error += `\n${x.message}`));
  }
}

/** Interleaved rounds of the candidates that ran, then per row: spread, rate, ratio to the first, verdict. */
async function timeCandidates(gpu: Gpu, family: string, all: Candidate[], rows: CompareRow[], problem: Problem, timer: CandidateTimer, o: CompareOptions & { runs: number }): Promise<void> {
  const ran = rows.map((r, i) => (r.error === undefined ? i : -1)).filter((i) => i >= 0);
  if (!ran.length) return;
  const sample = (k: number) => {
    const c = all[ran[k]];
    return withCandidate(gpu, family, c, () => timer(c, async () => (await problem.run()).dispose()));
  };
  const samples = await interleavedRounds(ran.length, sample, { rounds: o.runs, budgetMs: o.budgetS && o.budgetS * 1000, warmup: 1, seed: o.seed });
  const clock = (timer as { clock?: Clock }).clock;
  const base = ran[0] === 0 ? samples[0] : undefined;
  ran.forEach((at, k) => {
    const row = rows[at];
    const s = spread(samples[k]);
    Object.assign(row, { ms_median: round(s.median, 4), ms_iqr: round(s.iqr, 3), samples: samples[k].map((x) => round(x, 4)) });
    if (clock) row.clock = clock;
    if (problem.flops) row.gflops = round(problem.flops / (s.median * 1e6));
    else row.gbps = round(problem.bytes / (s.median * 1e6));
    if (o.peak) {
      const ceiling = problem.flops ? Math.min(o.peak.gflops, (problem.flops / problem.bytes) * o.peak.gbps) : o.peak.gbps;
      row.pct_of_roofline = round((100 * (row.gflops ?? row.gbps!)) / ceiling);
    }
    if (!base) return;
    if (at === 0) {
      Object.assign(row, { ratio: 1, verdict: 'baseline' });
      return;
    }
    const r = ratioCI(base, samples[k], o.seed);
    Object.assign(row, { ratio: round(r.ratio), ratio_ci: [round(r.lo), round(r.hi)], verdict: r.verdict });
  });
  const control = rows.find((r) => r.control);
  if (control?.verdict && control.verdict !== 'same (within noise)') rows.forEach((r) => (r.too_noisy = true));
}

/** What to do about a run flagged too noisy. */
export const NOISE_HINT =
  'the control (a copy of the first candidate) differs from it beyond noise, so no verdict here can be trusted: raise --budget-s or --runs, close other work, or use an adapter with GPU timestamps';

const fmt = (x: number | undefined, digits = 3) => (x === undefined ? '-' : String(Number(x.toPrecision(digits))));

/** The comparison as an aligned table; failed candidates' messages and noise warnings follow it. */
export function formatCompare(rows: CompareRow[]): string {
  const cells = rows.map((r) => [
    r.candidate,
    r.variant,
    r.shape,
    r.dtype,
    fmt(r.ms_median),
    fmt(r.ms_iqr, 2),
    r.ratio === undefined ? '-' : r.ratio_ci ? `${r.ratio.toFixed(2)} [${r.ratio_ci[0].toFixed(2)}, ${r.ratio_ci[1].toFixed(2)}]` : r.ratio.toFixed(2),
    r.verdict ?? '-',
    r.gflops !== undefined ? `${r.gflops} GFLOP/s` : r.gbps !== undefined ? `${r.gbps} GB/s` : '-',
    r.pct_of_roofline !== undefined ? `${r.pct_of_roofline}%` : '-',
    r.rel_l2?.toExponential(2) ?? '-',
    r.pass ? 'PASS' : 'FAIL',
  ]);
  const head = ['candidate', 'variant', 'shape', 'dtype', 'ms median', 'IQR', 'ratio [95% CI]', 'verdict', 'rate', 'roofline', 'rel_l2', 'result'];
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(width[i])).join('  ').trimEnd();
  const out = [line(head), ...cells.map(line)];
  // The first failure of each candidate (its other shapes usually fail the same way).
  const seen = new Set<string>();
  for (const r of rows) {
    if (!r.error || seen.has(r.candidate)) continue;
    seen.add(r.candidate);
    out.push('', `${r.candidate} (${r.shape}): ${r.error}`);
  }
  const noisy = [...new Set(rows.filter((r) => r.too_noisy).map((r) => r.shape))];
  if (noisy.length) out.push('', `TOO NOISY on ${noisy.join(', ')}: ${NOISE_HINT}`);
  const timed = rows.find((r) => r.samples);
  if (timed) out.push('', `${timed.samples!.length} interleaved rounds per shape after a warm-up, ${timed.clock ?? 'injected timer'}; ratio: median over the rounds of the time ÷ the first candidate's in the same round`);
  if (rows.length) out.push(`adapter: ${rows[0].adapter}`);
  return out.join('\n');
}
