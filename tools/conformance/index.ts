// `diception conformance <fixture-dir>`: runs every golden whose module exists and compares
// each output tensor with the upstream implementation's (rel_l2 per tensor).
import { join } from 'node:path';
import { getDevice, type DeviceOptions } from '../../src/runtime/device.ts';
import { openWeights, readF32, readJson } from '../../src/runtime/weights.ts';
import { runners } from './runners.ts';
import type { GoldenContext, Precision } from './types.ts';
import { parseWeightFormat, type WeightFormat } from '../../src/model/q8-weights.ts';

export const TOLERANCE: Record<Precision, number> = { f32: 1e-4, f16: 1e-2 };

/**
 * `--weights q8`: the rel_l2 bound of each golden output the int8 block linears reach; the rest
 * (temb comes before any block; the scheduler, VAE and text goldens never touch the transformer)
 * keep the precision's. The transformer output's is issue 21's; the others leave 2-4× the error
 * measured on the tiny fixture (README "8-bit weights": 2.8e-3 to 5.4e-3 in f32).
 */
export const Q8_TOLERANCE: Readonly<Record<string, number>> = {
  'transformer/output': 3e-2,
  'transformer/block0_hidden': 1e-2,
  'transformer/block0_context': 1e-2,
  'pipeline/latents_A': 2e-2,
  'pipeline/image_A': 1e-2,
  'pipeline/latents_B': 2e-2,
  'pipeline/image_B': 1e-2,
};

export function tolerance(precision: Precision, weights: WeightFormat, golden: string, tensor: string): number {
  const q8 = weights === 'q8' ? Q8_TOLERANCE[`${golden}/${tensor}`] : undefined;
  return Math.max(TOLERANCE[precision], q8 ?? 0);
}

export interface ConformanceOptions {
  only?: string[];
  precision?: Precision;
  /** 'q8': the transformer's block linears in int8, judged by Q8_TOLERANCE. */
  weights?: WeightFormat;
  json?: boolean;
  /** Device capability overrides (tests run the packed-f16 path with disableF16). */
  device?: DeviceOptions;
}

export interface Line {
  golden: string;
  tensor?: string;
  status: 'PASS' | 'FAIL' | 'MISSING';
  max_abs?: number;
  rel_l2?: number;
  tol?: number;
  error?: string;
  note?: string;
}

export function compare(ours: ArrayLike<number>, golden: ArrayLike<number>): { max_abs: number; rel_l2: number } {
  if (ours.length !== golden.length) return { max_abs: Infinity, rel_l2: Infinity };
  let maxAbs = 0;
  let num = 0;
  let den = 0;
  for (let i = 0; i < golden.length; i++) {
    const d = Math.abs(ours[i] - golden[i]);
    maxAbs = Math.max(maxAbs, Number.isNaN(d) ? Infinity : d);
    num += d * d;
    den += golden[i] * golden[i];
  }
  return { max_abs: maxAbs, rel_l2: Number.isNaN(num) ? Infinity : Math.sqrt(num / (den || 1)) };
}

export async function conformance(dir: string, o: ConformanceOptions = {}): Promise<Line[]> {
  const precision = o.precision ?? 'f32';
  const weights = o.weights ?? 'f16';
  const manifest = await readJson<{ goldens: Record<string, GoldenContext['manifest']> }>(join(dir, 'golden', 'manifest.json'));
  if (!manifest.goldens) throw new Error(`${join(dir, 'golden', 'manifest.json')}: no "goldens" object`);
  const gpu = await getDevice(o.device);
  const lines: Line[] = [];
  for (const [name, entry] of Object.entries(manifest.goldens)) {
    if (o.only && !o.only.includes(name)) continue;
    const load = runners[name];
    if (!load) {
      lines.push({ golden: name, status: 'MISSING' });
      continue;
    }
    const path = join(dir, 'golden', entry.file);
    const ctx: GoldenContext = { dir, gpu, precision, weights, manifest: entry };
    if (entry.file.endsWith('.json')) ctx.json = await readJson(path);
    else ctx.golden = await openWeights(path);
    try {
      for (const out of await (await load())(ctx)) {
        const note = out.note && { note: out.note };
        const expected = out.expected ?? (await readF32(ctx.golden!.entry(out.tensor)));
        if (out.exact) {
          const same = out.ours.length === expected.length && Array.from(expected).every((v, i) => v === out.ours[i]);
          lines.push({ golden: name, tensor: out.tensor, status: same ? 'PASS' : 'FAIL', tol: 0, ...compare(out.ours, expected), ...note });
        } else {
          const tol = tolerance(precision, weights, name, out.tensor);
          const c = compare(out.ours, expected);
          lines.push({ golden: name, tensor: out.tensor, status: c.rel_l2 <= tol ? 'PASS' : 'FAIL', tol, ...c, ...note });
        }
      }
    } catch (e) {
      lines.push({ golden: name, status: 'FAIL', error: (e as Error).message });
    } finally {
      await ctx.golden?.close?.();
    }
    gpu.pool.trim();
  }
  return lines;
}

export function formatLine(l: Line): string {
  if (l.status === 'MISSING') return `${l.golden} MISSING (no module implements it yet)`;
  if (l.error) return `${l.golden} FAIL: ${l.error}`;
  return `${l.golden}/${l.tensor} max_abs=${l.max_abs!.toExponential(3)} rel_l2=${l.rel_l2!.toExponential(3)} tol=${l.tol} ${l.status}${l.note ? `  ${l.note}` : ''}`;
}

export function summary(lines: Line[]): { passed: number; failed: number; missing: number } {
  return {
    passed: lines.filter((l) => l.status === 'PASS').length,
    failed: lines.filter((l) => l.status === 'FAIL').length,
    missing: lines.filter((l) => l.status === 'MISSING').length,
  };
}

/** The CLI action: prints one line per tensor and a summary; exit code 1 on any FAIL. */
export async function conformanceCommand(dir: string, o: { only?: string; precision?: string; weights?: string; json?: boolean }): Promise<void> {
  if (o.precision && o.precision !== 'f32' && o.precision !== 'f16') throw new Error(`--precision must be f32 or f16, got '${o.precision}'`);
  const weights = parseWeightFormat(o.weights, '--weights');
  const lines = await conformance(dir, { only: o.only?.split(','), precision: o.precision as Precision | undefined, weights });
  const s = summary(lines);
  if (o.json) console.log(JSON.stringify({ precision: o.precision ?? 'f32', weights, lines, ...s }, null, 2));
  else {
    for (const l of lines) console.log(formatLine(l));
    console.log(`conformance: ${s.passed} passed, ${s.failed} failed, ${s.missing} missing`);
  }
  if (s.failed) process.exitCode = 1;
}
