// Thin adapters from the benches that report their own objects (vae, mmdit) to the harness's
// BenchResult rows, so every family prints and saves the same way.
import type { Gpu } from '../src/runtime/device.ts';
import { round, type BenchResult } from './harness.ts';
import { roofline } from './roofline.ts';
import type { BenchOptions } from './run.ts';

/**
 * `npm run bench -- vae [--quick|--full]`: conv GFLOP/s, 768² peak memory (not executed), an
 * encode/decode executed at 64² (--full: at 768² in f16, the pipeline's precision; tens of minutes on lavapipe).
 */
export async function vaeRows(gpu: Gpu, o: BenchOptions): Promise<BenchResult[]> {
  const { benchVae } = await import('./vae.ts');
  const peak = (await roofline(gpu)).gflops;
  const r = await benchVae(gpu, o.quick ? { dtypes: ['f32'], convFlops: 5e8 } : o.full ? { e2eSize: 768, dtypes: ['f16'] } : {});
  const adapter = gpu.caps.adapterName;
  const rows: BenchResult[] = r.convs.map((c) => ({
    op: c.op,
    variant: `VAE ${c.resolution}`,
    shape: `strip ${c.strip}, ${c.channels}`,
    dtype: c.dtype,
    ms_median: c.ms,
    runs: 2,
    gflops: c.gflops,
    pct_of_peak: round((100 * c.gflops) / peak),
    adapter,
  }));
  // GroupNorm+SiLU as its own pass then the conv, against the conv's fused read (inNorm).
  for (const c of r.convs) {
    if (!c.norm) continue;
    const { separateMs, fusedMs, fusedOverSeparate, ci, verdict, rounds } = c.norm;
    const shape = `strip ${c.strip}, ${c.channels}`;
    rows.push({ op: 'groupnorm+silu, conv2d 3x3', variant: `VAE ${c.resolution}: separate pass (in place)`, shape, dtype: c.dtype, ms_median: separateMs, runs: rounds, adapter });
    rows.push({ op: 'groupnorm+silu, conv2d 3x3', variant: `VAE ${c.resolution}: fused into the conv's read`, shape, dtype: c.dtype, ms_median: fusedMs, runs: rounds, ratio: fusedOverSeparate, note: `fused ÷ separate per round, 95% CI [${ci}], ${verdict}`, adapter });
  }
  for (const run of r.runs) {
    const dtype = String(run.precision);
    for (const stage of ['encode', 'decode'] as const) {
      const e2e = run.e2e as Record<string, number | string>;
      const executed = { op: `vae ${stage}`, variant: 'executed', shape: String(e2e.size), dtype, ms_median: Number(e2e[`${stage}Ms`]), runs: 1 };
      rows.push({ ...executed, peak_bytes: Number(e2e[`${stage}PeakBytes`]), adapter });
      for (const [variant, m] of [
        ['memory (not executed)', run],
        ['memory (not executed), GroupNorm+SiLU fused into conv1', run.fused as Record<string, unknown>],
      ] as const) {
        rows.push({
          op: `vae ${stage}`,
          variant,
          shape: String(run.memorySize),
          dtype,
          ms_median: 0,
          runs: 0,
          peak_bytes: Number(m[`${stage}PeakBytes`]),
          note: `${m[`${stage}Dispatches`]} dispatches, weights ${(Number(m.weightsBytes) / 2 ** 20).toFixed(0)} MiB`,
          adapter,
        });
      }
    }
  }
  return rows;
}
