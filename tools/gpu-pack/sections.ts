// The sections of the GPU report. Each runs in its own process (tools/gpu-pack/run.sh), returns
// its data, and may `save` partial data as it goes so a section killed at its time limit keeps
// what it measured.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { benchAttention } from '../../bench/attention.ts';
import { flopsRow, round, timeRuns } from '../../bench/harness.ts';
import { benchMMDiT } from '../../bench/mmdit.ts';
import { roofline, variantName } from '../../bench/roofline.ts';
import { benchConvs, benchE2e, randomVae } from '../../bench/vae.ts';
import { linear, matmul as matmulOp, MATMUL_VARIANTS } from '../../src/kernels/matmul.ts';
import { tunedChoices, withKernel } from '../../src/kernels/registry.ts';
import { getDevice, Gpu } from '../../src/runtime/device.ts';
import { Rng } from '../../src/runtime/random.ts';
import { fromArray, type DType } from '../../src/runtime/tensor.ts';
import { conformance, summary } from '../conformance/index.ts';
import { firstLine, type Report } from './report-file.ts';
import { mmditFlops, mmditKey, work, type Work } from './shapes.ts';

export interface SectionContext {
  quick: boolean;
  report: Report;
  fixtures: string;
  torchScript: string;
  /** Seconds this section may still run (run.sh's limit for it). */
  seconds: number;
  save(data: Record<string, unknown>): void;
  log(line: string): void;
}

type Section = (c: SectionContext) => Promise<Record<string, unknown>>;

/** The dtypes timed: f16 is the pipeline's precision (packed in f32 shaders without shader-f16). */
const DTYPES: DType[] = ['f16', 'f32'];

/** The measured FMA peak: the adapter section's, else measured here. */
async function peakGflops(gpu: Gpu, c: SectionContext): Promise<number> {
  const known = (c.report.sections.adapter?.roofline as { gflops?: number } | undefined)?.gflops;
  return known ?? (await roofline(gpu)).gflops;
}

function dict(o: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in o) out[k] = (o as Record<string, unknown>)[k];
  return out;
}

/** The files of the native libraries this process mapped whose names contain `part` (Linux). */
function mapped(part: string): string[] {
  if (!existsSync('/proc/self/maps')) return [];
  const paths = readFileSync('/proc/self/maps', 'utf8').split('\n').map((l) => l.slice(l.indexOf('/')));
  return [...new Set(paths.filter((p) => p.startsWith('/') && p.includes(part)))];
}

async function adapter(): Promise<Record<string, unknown>> {
  const gpu = await getDevice();
  const r = await roofline(gpu);
  return {
    // Which dawn.node and Vulkan loader ran: the pack's own, or the machine's.
    loaded: { dawn: mapped('dawn.node'), vulkan_loader: mapped('libvulkan.so') },
    caps: gpu.caps,
    info: dict(gpu.device.adapterInfo),
    // The device asks for every optional feature the engine uses and the adapter's real limits.
    features: [...gpu.device.features].sort(),
    limits: dict(gpu.device.limits),
    // The timed runs grow to ≥ 50 ms (fma_ms, copy_ms); clock: GPU timestamps or the wall clock.
    roofline: {
      gflops: round(r.gflops),
      gbps: round(r.gbps),
      fma_ms: round(r.fmaMs),
      copy_ms: round(r.copyMs),
      clock: r.clock,
      fma_run: { variant: variantName(r.best.variant), threads: r.best.threads, iters: r.best.iters, dispatches: r.best.dispatches },
      copy_run: { bytes: r.copyBytes, dispatches: r.copyDispatches },
    },
  };
}

/** The register-blocked variant CI checks against the CPU reference everywhere: the oracle below. */
const ORACLE = 'tiled-8x4';

/**
 * The cooperative-matrix matmul variants, first run on hardware here: each against ORACLE on
 * the same inputs (awkward shapes: off every block, one row with a long K, B not transposed).
 * Without adapter shapes, --quick runs the kernel's plain-WGSL stand-ins on a pretend shape (so
 * this code is known to work); the full run then skips.
 */
async function subgroupMatrix(c: SectionContext): Promise<Record<string, unknown>> {
  const base = await getDevice();
  const real = base.caps.subgroupMatrixConfigs.length > 0;
  if (!real && !c.quick) return { status: 'skipped', reason: 'the adapter lists no subgroupMatrixConfigs' };
  const pretend = { componentType: 'f32', resultComponentType: 'f32', M: 2, N: 3, K: 4 };
  const gpu = real ? base : new Gpu(base.device, { ...base.caps, subgroups: true, subgroupMaxSize: Math.max(4, base.caps.subgroupMaxSize), subgroupMatrixConfigs: [pretend] });
  const cases: [number, number, number, boolean][] = c.quick ? [[9, 7, 13, true]] : [[70, 68, 100, true], [1, 45, 1030, true], [70, 68, 36, false]];
  const rows: Record<string, unknown>[] = [];
  for (const v of MATMUL_VARIANTS.filter((x) => x.subgroupMatrix && x.supports(gpu.caps))) {
    for (const dtype of v.subgroupMatrix === 'f16' ? (['f16'] as DType[]) : DTYPES) {
      for (const [M, N, K, transB] of cases) {
        const key = `${v.name} ${M}x${N}x${K} transB=${transB}`;
        try {
          const a = fromArray(gpu, new Rng(1).uniformArray(M * K, -1, 1), [M, K], dtype);
          const b = fromArray(gpu, new Rng(2).uniformArray(N * K, -1, 1), transB ? [N, K] : [K, N], dtype);
          const product = (name: string) => withKernel(gpu, 'matmul', name, undefined, async () => (await matmulOp(gpu, a, b, { transB, outDtype: 'f32' })).read());
          const [got, want] = [await product(v.name), await product(ORACLE)];
          let diff = 0;
          got.forEach((g, i) => (diff = Math.max(diff, Math.abs(g - want[i]))));
          // f16 products round each operand to 11 bits; f32 sums drift by ~√K ulps.
          const tol = v.subgroupMatrix === 'f16' || dtype === 'f16' ? 2e-3 * Math.sqrt(K) : 1e-5 * Math.sqrt(K);
          rows.push({ key, dtype, max_abs_diff: diff, tolerance: tol, ok: diff <= tol });
          a.dispose();
          b.dispose();
        } catch (e) {
          rows.push({ key, dtype, error: firstLine(e) });
        }
        c.log(`${key} ${dtype}: ${JSON.stringify(rows[rows.length - 1])}`);
        c.save({ rows });
      }
    }
  }
  const bad = rows.filter((r) => r.ok !== true);
  if (bad.length) throw new Error(`${bad.length} of ${rows.length} checks differ from ${ORACLE} or failed: ${JSON.stringify(bad[0])}`);
  return { configs: gpu.caps.subgroupMatrixConfigs, builtins: real, oracle: ORACLE, rows };
}

function conformanceSection(precision: 'f32' | 'f16'): Section {
  return async (c) => {
    const lines = await conformance(c.fixtures, { precision, only: work(c.quick).goldens });
    const s = summary(lines);
    c.log(`conformance ${precision}: ${s.passed} passed, ${s.failed} failed, ${s.missing} missing`);
    return { ...s, goldens: work(c.quick).goldens ?? 'all', lines };
  };
}

/**
 * Rows of a timed family, saved after each item; `tuned` is what autotune picked so far. An
 * item that fails becomes a row with its error, and the next item runs.
 */
function rowsSaver(gpu: Gpu, c: SectionContext) {
  const rows: Record<string, unknown>[] = [];
  const add = (row: Record<string, unknown>) => {
    rows.push(row);
    const rate = row.gflops !== undefined ? `, ${row.gflops} GFLOP/s (${row.pct_of_peak}% of peak)` : '';
    c.log(`${row.key} ${row.dtype}: ${row.error ? `error: ${row.error}` : `${row.ms_median} ms${rate}`}`);
    c.save({ rows, tuned: tunedChoices(gpu) });
  };
  return {
    rows,
    async item(key: string, dtype: DType, measure: () => Promise<object[]>) {
      try {
        for (const row of await measure()) add({ key, ...row }); // a row may name itself more precisely
      } catch (e) {
        add({ key, dtype, error: firstLine(e) });
      }
    },
  };
}

async function matmul(c: SectionContext): Promise<Record<string, unknown>> {
  const gpu = await getDevice();
  const peak = await peakGflops(gpu, c);
  const out = rowsSaver(gpu, c);
  for (const { key, M, N, K } of work(c.quick).linears) {
    for (const dtype of DTYPES) {
      await out.item(key, dtype, async () => {
        const x = fromArray(gpu, new Rng(1).uniformArray(M * K, -1, 1), [M, K], dtype);
        const w = fromArray(gpu, new Rng(2).uniformArray(N * K, -1, 1), [N, K], dtype);
        try {
          const t = await timeRuns(gpu, async () => (await linear(gpu, x, w)).dispose());
          return [flopsRow(gpu, { op: 'linear', variant: 'autotuned', shape: `${M}x${N}x${K}`, dtype }, t, 2 * M * N * K, peak)];
        } finally {
          x.dispose();
          w.dispose();
        }
      });
    }
  }
  return { rows: out.rows, tuned: tunedChoices(gpu) };
}

async function attention(c: SectionContext): Promise<Record<string, unknown>> {
  const gpu = await getDevice();
  await peakGflops(gpu, c);
  const out = rowsSaver(gpu, c);
  for (const shape of work(c.quick).attention) {
    for (const dtype of DTYPES) await out.item(shape.key, dtype, () => benchAttention(gpu, { shapes: [shape], dtype }));
  }
  return { rows: out.rows, tuned: tunedChoices(gpu) };
}

/** The VAE decoder's 3×3 convs at their four resolutions (whole maps at full size; --quick: f16 only). */
async function conv(c: SectionContext): Promise<Record<string, unknown>> {
  const gpu = await getDevice();
  const peak = await peakGflops(gpu, c);
  const out = rowsSaver(gpu, c);
  for (const dtype of c.quick ? DTYPES.slice(0, 1) : DTYPES) {
    await out.item('conv2d 3x3 (VAE decoder)', dtype, async () =>
      (await benchConvs(gpu, [dtype], work(c.quick).convFlops)).map((r) => ({ key: `conv2d 3x3 ${r.channels} at ${r.resolution}`, ...r, ms_median: r.ms, pct_of_peak: round((100 * r.gflops) / peak) })),
    );
  }
  return { rows: out.rows, tuned: tunedChoices(gpu) };
}

function mmdit(batch: 1 | 2): Section {
  return async (c) => {
    const gpu = await getDevice();
    const peak = await peakGflops(gpu, c);
    const w = work(c.quick).mmdit;
    const r = await benchMMDiT(gpu, {
      layers: w.config.num_layers,
      latent: w.latent,
      precision: 'f16',
      batch,
      warmup: true,
      profile: false,
      config: w.config,
      promptTokens: w.promptTokens,
      splitBlocks: false,
    });
    if (!r.finite) throw new Error('the forward produced non-finite values');
    const gflops = mmditFlops(w, batch) / (r.forwardMs * 1e6);
    c.log(`${mmditKey(batch)}: ${r.forwardMs} ms (${round(gflops)} GFLOP/s), first forward ${r.warmupMs} ms`);
    return { key: mmditKey(batch), ...r, ms: r.forwardMs, gflops: round(gflops), pct_of_peak: round((100 * gflops) / peak), tuned: tunedChoices(gpu) };
  };
}

/** The decode executed once at the request size (f16), after a warm-up at ≤ 64². */
async function vae(c: SectionContext): Promise<Record<string, unknown>> {
  const gpu = await getDevice();
  const w = work(c.quick);
  const model = await randomVae(gpu, w.vae, 'f16');
  const e2e = await benchE2e(gpu, model, w.vaeSize, false);
  model.dispose();
  c.log(`vae decode ${e2e.size}: ${e2e.decodeMs} ms`);
  return { ...e2e, tuned: tunedChoices(gpu) };
}

/** The items both sides time, for the PyTorch script. */
export function torchWork(w: Work) {
  const m = w.mmdit;
  return { linears: w.linears, attention: w.attention, mmdit: { ...m, keys: { 1: mmditKey(1), 2: mmditKey(2) } } };
}

/** PyTorch bf16 eager on the same items, where python3 has torch and a CUDA device. */
async function torch(c: SectionContext): Promise<Record<string, unknown>> {
  const r = spawnSync('python3', [c.torchScript], {
    input: JSON.stringify(torchWork(work(c.quick))),
    encoding: 'utf8',
    timeout: Math.max(1, c.seconds - 5) * 1000,
    killSignal: 'SIGKILL',
    maxBuffer: 1 << 24,
  });
  for (const line of (r.stderr ?? '').split('\n').filter(Boolean)) c.log(`torch: ${line}`);
  if (r.error) throw new Error(`python3 ${c.torchScript}: ${r.error.message}`);
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(last);
  } catch {
    throw new Error(`python3 ${c.torchScript} exited ${r.status ?? r.signal} without a JSON line: ${(r.stderr ?? '').trim().split('\n').pop() ?? ''}`);
  }
  if (data.skipped) return { status: 'skipped', reason: data.skipped };
  return data;
}

/** Our time ÷ PyTorch's for every item both timed (our f16 against its bf16), and every tuned choice. */
async function summarize(c: SectionContext): Promise<Record<string, unknown>> {
  const s = c.report.sections;
  const ours = new Map<string, number>();
  for (const name of ['matmul', 'attention']) {
    for (const row of (s[name]?.rows as { key: string; dtype: string; ms_median: number }[] | undefined) ?? []) {
      if (row.dtype === 'f16') ours.set(row.key, row.ms_median);
    }
  }
  for (const name of ['mmdit-step', 'mmdit-step-cfg']) if (s[name]?.status === 'ok') ours.set(String(s[name].key), Number(s[name].ms));
  const theirs = (s.torch?.rows as { key: string; ms: number }[] | undefined) ?? [];
  const comparison = theirs
    .filter((t) => ours.has(t.key))
    .map((t) => ({ key: t.key, ours_ms: ours.get(t.key)!, torch_bf16_ms: t.ms, ours_over_torch: round(ours.get(t.key)! / t.ms) }));
  for (const r of comparison) c.log(`${r.key}: ours ${r.ours_ms} ms, PyTorch bf16 ${r.torch_bf16_ms} ms, ratio ${r.ours_over_torch}`);
  const tuned = Object.assign({}, ...Object.values(s).map((x) => (x.tuned as Record<string, string> | undefined) ?? {}));
  const statuses = Object.fromEntries(Object.entries(s).filter(([k]) => k !== 'summary').map(([k, v]) => [k, v.status]));
  // The issue's targets for a GPU run (null where the data is missing).
  const cfg = comparison.find((r) => r.key === mmditKey(2));
  const linears = ((s.matmul?.rows as { dtype: string; pct_of_peak?: number }[] | undefined) ?? []).filter((r) => r.dtype === 'f16' && r.pct_of_peak !== undefined);
  const targets = {
    mmdit_step_cfg_over_torch: cfg?.ours_over_torch ?? null,
    mmdit_step_cfg_within_1_5x_torch: cfg ? cfg.ours_over_torch <= 1.5 : null,
    matmul_f16_min_pct_of_peak: linears.length ? Math.min(...linears.map((r) => r.pct_of_peak!)) : null,
    matmul_f16_at_least_50pct_of_peak: linears.length ? linears.every((r) => r.pct_of_peak! >= 50) : null,
  };
  return { comparison, targets, tuned, statuses };
}

export const SECTIONS: Record<string, { run: Section; seconds: number; quickSeconds: number }> = {
  adapter: { run: adapter, seconds: 30, quickSeconds: 60 },
  'subgroup-matrix': { run: subgroupMatrix, seconds: 30, quickSeconds: 90 },
  'conformance-f32': { run: conformanceSection('f32'), seconds: 45, quickSeconds: 90 },
  'conformance-f16': { run: conformanceSection('f16'), seconds: 45, quickSeconds: 90 },
  torch: { run: torch, seconds: 90, quickSeconds: 30 },
  matmul: { run: matmul, seconds: 60, quickSeconds: 60 },
  'mmdit-step-cfg': { run: mmdit(2), seconds: 120, quickSeconds: 90 },
  'mmdit-step': { run: mmdit(1), seconds: 90, quickSeconds: 90 },
  attention: { run: attention, seconds: 45, quickSeconds: 60 },
  conv: { run: conv, seconds: 45, quickSeconds: 60 },
  vae: { run: vae, seconds: 60, quickSeconds: 90 },
  summary: { run: summarize, seconds: 15, quickSeconds: 15 },
};
