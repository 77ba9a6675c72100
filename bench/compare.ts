// Kernel candidates side by side: built-in variants and users' WGSL run on the same random
// inputs at a family's real shapes, each timed (median) and checked against the CPU reference.
// One module for `diception bench --compare` and the web page's kernel lab (browser-safe).
import attentionSource from '../shaders/attention.wgsl';
import matmulSource from '../shaders/matmul.wgsl';
import { attention } from '../src/kernels/attention.ts';
import { linear } from '../src/kernels/matmul.ts';
import { attentionRow, matmulRow } from '../src/kernels/reference.ts';
import { variantsOf, withKernel, type KernelOverride } from '../src/kernels/registry.ts';
import type { Gpu } from '../src/runtime/device.ts';
import { roundF16 } from '../src/runtime/f16.ts';
import { Rng } from '../src/runtime/random.ts';
import { BYTES, fromArray, type DType, type Tensor } from '../src/runtime/tensor.ts';
import { round, timeRuns } from './harness.ts';
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
  variant: string;
  shape: string;
  dtype: DType;
  ms_median?: number;
  /** Timed runs behind the median. */
  runs?: number;
  gflops?: number;
  /** Achieved rate as a percentage of min(peak FLOP rate, arithmetic intensity × bandwidth). */
  pct_of_roofline?: number;
  max_abs?: number;
  rel_l2?: number;
  pass: boolean;
  /** Why the candidate failed to run (compiler message with file:line, contract mismatch...). */
  error?: string;
  adapter: string;
}

export interface CompareOptions {
  /** A shape set of the family ('transformer', 'vae', 'text', 'smoke') or explicit shapes ('MxKxN,...' for matmul). */
  shapes?: string;
  dtype?: DType;
  /** Timed runs per candidate and shape (after one warm-up; at least 5); 0 checks results only. */
  runs?: number;
  seed?: number;
  /** The adapter's measured ceilings (bench/roofline.ts), for pct_of_roofline. */
  peak?: Roofline;
  /** Called as each row is ready (the page fills its table progressively). */
  onRow?: (row: CompareRow) => void;
}

/** One problem instance: the same inputs for every candidate. */
interface Problem {
  flops: number;
  /** Bytes moved at minimum (each operand read once, the output written once). */
  bytes: number;
  run(): Promise<Tensor>;
  /** Error of an output against the CPU reference. */
  check(out: Tensor): Promise<{ maxAbs: number; relL2: number }>;
  dispose(): void;
}

interface ComparableFamily {
  /** The built-in WGSL (what an override replaces; the page starts its editor from it). */
  source: string;
  /** How an explicit shape is written. */
  shapeForm: string;
  sets: Record<string, number[][]>;
  label(shape: number[]): string;
  problem(gpu: Gpu, shape: number[], dtype: DType, seed: number): Problem;
}

/** max_abs and rel_l2 accumulated over the checked output rows. */
class ErrorSum {
  private maxAbs = 0;
  private num = 0;
  private den = 0;
  add(got: ArrayLike<number>, at: number, want: ArrayLike<number>): void {
    for (let n = 0; n < want.length; n++) {
      const d = Math.abs(got[at + n] - want[n]);
      this.maxAbs = Number.isNaN(d) || d > this.maxAbs ? d : this.maxAbs;
      this.num += d * d;
      this.den += want[n] * want[n];
    }
  }
  result(): { maxAbs: number; relL2: number } {
    return { maxAbs: this.maxAbs, relL2: Math.sqrt(this.num / (this.den || 1)) };
  }
}

/** Random inputs as the kernel sees them: f16 storage rounds, so the reference gets the rounded values. */
function inputs(gpu: Gpu, rng: Rng, shape: number[], dtype: DType): { t: Tensor; ref: Float32Array } {
  const data = rng.uniformArray(shape.reduce((a, b) => a * b, 1));
  return { t: fromArray(gpu, data, shape, dtype), ref: dtype === 'f16' ? roundF16(data) : data };
}

/** Largest output rows × K × N the reference computes per shape (sampled rows beyond). */
const REF_BUDGET = 6e7;

/** Evenly spaced rows including the first and the last. */
function sampleRows(M: number, want: number): number[] {
  const n = Math.max(1, Math.min(M, want));
  if (n === M) return Array.from({ length: M }, (_, i) => i);
  return Array.from({ length: n }, (_, i) => Math.round((i * (M - 1)) / (n - 1 || 1)));
}

// Linear layers as the models run them: y[M, N] = x[M, K] · W[N, K]ᵀ, shapes MxKxN.
const matmulFamily: ComparableFamily = {
  source: matmulSource,
  shapeForm: 'MxKxN',
  sets: {
    // MMDiT at 768²: 4946 joint tokens (2·2304 image + 338 context), hidden 1536, MLP 6144.
    transformer: [[4946, 1536, 1536], [4946, 1536, 6144], [4946, 6144, 1536], [333, 4096, 1536]],
    // VAE mid-block attention at the 96×96 latent: 9216 tokens × 512 channels.
    vae: [[9216, 512, 512]],
    // T5-XXL (256 tokens: attention, gated-GELU MLP in and out), CLIP-G and CLIP-L MLPs (77 tokens).
    text: [[256, 4096, 4096], [256, 4096, 10240], [256, 10240, 4096], [77, 1280, 5120], [77, 3072, 768]],
    // Awkward sizes (not multiples of any tile, a single row): quick validation of an override.
    smoke: [[37, 64, 45], [1, 30, 7]],
  },
  label: ([M, K, N]) => `${M}x${K}x${N}`,
  problem(gpu, [M, K, N], dtype, seed) {
    const rng = new Rng(seed);
    const { t: x, ref: xr } = inputs(gpu, rng, [M, K], dtype);
    const { t: w, ref: wr } = inputs(gpu, rng, [N, K], dtype);
    const rows = sampleRows(M, Math.max(4, Math.floor(REF_BUDGET / (K * N))));
    return {
      flops: 2 * M * N * K,
      bytes: (M * K + N * K + M * N) * BYTES[dtype],
      run: () => linear(gpu, x, w),
      async check(out) {
        const got = await out.read();
        const want = new Float64Array(N);
        const e = new ErrorSum();
        for (const m of rows) {
          matmulRow(xr, wr, 0, m, M, N, K, true, want);
          e.add(got, m * N, want);
        }
        return e.result();
      },
      dispose() {
        x.dispose();
        w.dispose();
      },
    };
  },
};

// Attention as the models run it (one batch, heads interleaved in features), shapes TqxTkxHxD.
const attentionFamily: ComparableFamily = {
  source: attentionSource,
  shapeForm: 'TqxTkxHxD',
  sets: {
    // MMDiT joint attention at 768²: 4946 tokens, 24 heads of 64.
    transformer: [[4946, 4946, 24, 64]],
    // VAE mid-block attention: 9216 tokens, one head of 512.
    vae: [[9216, 9216, 1, 512]],
    // T5-XXL (256 tokens, 64 heads of 64) and CLIP-G (77 tokens, 20 heads of 64), unmasked here.
    text: [[256, 256, 64, 64], [77, 77, 20, 64]],
    smoke: [[37, 45, 2, 16], [1, 7, 1, 8]],
  },
  label: (s) => s.join('x'),
  problem(gpu, [tq, tk, heads, d], dtype, seed) {
    const rng = new Rng(seed);
    const hd = heads * d;
    const { t: q, ref: qr } = inputs(gpu, rng, [1, tq, hd], dtype);
    const { t: k, ref: kr } = inputs(gpu, rng, [1, tk, hd], dtype);
    const { t: v, ref: vr } = inputs(gpu, rng, [1, tk, hd], dtype);
    const spec = { batch: 1, tq, tk, heads, headDim: d, scale: 1 / Math.sqrt(d) };
    const rows = sampleRows(tq, Math.max(4, Math.floor(REF_BUDGET / (2 * tk * hd))));
    return {
      flops: 4 * tq * tk * hd,
      bytes: (2 * tq + 2 * tk) * hd * BYTES[dtype],
      run: () => attention(gpu, q, k, v, { heads }),
      async check(out) {
        const got = await out.read();
        const want = new Float32Array(hd);
        const e = new ErrorSum();
        for (const i of rows) {
          attentionRow(qr, kr, vr, spec, 0, i, want);
          e.add(got, i * hd, want);
        }
        return e.result();
      },
      dispose() {
        [q, k, v].forEach((t) => t.dispose());
      },
    };
  },
};

const FAMILIES: Record<string, ComparableFamily> = { matmul: matmulFamily, attention: attentionFamily };

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

/** The variant a candidate runs with when it names none. */
export function defaultVariant(gpu: Gpu, family: string): string {
  const v = variantsOf(family).find((x) => x.autotune !== false && x.supports(gpu.caps));
  if (!v) throw new Error(`${family}: no variant runs on ${gpu.caps.adapterName}`);
  return v.name;
}

/** Runs every candidate on every shape; a candidate that fails to build or run gets a FAIL row. */
export async function compare(gpu: Gpu, family: string, candidates: Candidate[], o: CompareOptions = {}): Promise<CompareRow[]> {
  const f = familyOf(family);
  const shapes = parseShapes(family, o.shapes ?? 'smoke');
  const dtype = o.dtype ?? 'f32';
  if (dtype === 'f16' && !gpu.caps.f16) {
    // Packed f16 inputs would need f32 outputs: compare the two storage paths in the tests, not here.
    throw new Error('compare: --dtype f16 needs shader-f16, which this adapter lacks');
  }
  const runs = o.runs ?? 5;
  const rows: CompareRow[] = [];
  for (const shape of shapes) {
    const problem = f.problem(gpu, shape, dtype, o.seed ?? 1);
    try {
      for (const c of candidates) {
        const variant = c.variant ?? defaultVariant(gpu, family);
        const row: CompareRow = { candidate: c.label, variant, shape: f.label(shape), dtype, pass: false, adapter: gpu.caps.adapterName };
        try {
          await withKernel(family, variant, c.override, async () => {
            const out = await problem.run();
            const err = await problem.check(out);
            out.dispose();
            Object.assign(row, { max_abs: round(err.maxAbs), rel_l2: round(err.relL2), pass: err.relL2 <= REL_L2_TOLERANCE[dtype] });
            if (!runs) return;
            const t = await timeRuns(gpu, async () => (await problem.run()).dispose(), { runs });
            const gflops = problem.flops / (t.median * 1e6);
            Object.assign(row, { ms_median: round(t.median, 4), runs: t.runs, gflops: round(gflops) });
            if (o.peak) row.pct_of_roofline = round((100 * gflops) / Math.min(o.peak.gflops, (problem.flops / problem.bytes) * o.peak.gbps));
          });
        } catch (e) {
          row.error = (e as Error).message;
          // Leave no GPU error behind for the next candidate to trip over.
          await gpu.sync('compare').catch((x: Error) => (row.error += `\n${x.message}`));
        }
        rows.push(row);
        o.onRow?.(row);
      }
    } finally {
      problem.dispose();
    }
  }
  return rows;
}

/** The comparison as an aligned table; failed candidates' messages follow it. */
export function formatCompare(rows: CompareRow[]): string {
  const cells = rows.map((r) => [
    r.candidate,
    r.variant,
    r.shape,
    r.dtype,
    r.ms_median?.toFixed(2) ?? '-',
    r.gflops?.toString() ?? '-',
    r.pct_of_roofline !== undefined ? `${r.pct_of_roofline}%` : '-',
    r.max_abs?.toExponential(2) ?? '-',
    r.rel_l2?.toExponential(2) ?? '-',
    r.pass ? 'PASS' : 'FAIL',
  ]);
  const head = ['candidate', 'variant', 'shape', 'dtype', 'ms median', 'GFLOP/s', 'roofline', 'max_abs', 'rel_l2', 'result'];
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
  if (rows.length) out.push('', `adapter: ${rows[0].adapter}`);
  return out.join('\n');
}
