// The evaluation metrics the DICEPTION paper reports, per image; `mean` averages images.
// Depth is affine-invariant (Marigold's protocol): a least-squares scale and shift fitted over
// the valid pixels aligns the prediction to the ground truth before AbsRel and δ1. Sums run in
// float64. Every function names what was wrong when nothing can be measured.
import type { Mask } from './sa1b.ts';

export interface DepthOptions {
  /** valid ground truth: gt > 0 and within [minDepth, maxDepth] when given */
  minDepth?: number;
  maxDepth?: number;
  /**
   * Where the fit happens. 'disparity' (DICEPTION's output: dataset.py trains on normalised
   * inverse depth): fit s·pred + t to 1/gt, then depth = 1 / max(fit, 1e-6). 'depth': fit s·pred
   * + t to gt directly. Either way the aligned depth is clipped to [minDepth, maxDepth] when given,
   * and to >= 1e-6, as Marigold's evaluation does.
   */
  space?: 'disparity' | 'depth';
}

export interface DepthMetrics {
  absRel: number;
  delta1: number;
  scale: number;
  shift: number;
  valid: number;
}

const EPS = 1e-6;

/** Least squares s·x + t ≈ y over the listed indices; a constant x fits t = mean(y), s = 0. */
function fitScaleShift(x: ArrayLike<number>, y: ArrayLike<number>, idx: readonly number[]): [number, number] {
  let mx = 0;
  let my = 0;
  for (const i of idx) {
    mx += x[i];
    my += y[i];
  }
  mx /= idx.length;
  my /= idx.length;
  let sxy = 0;
  let sxx = 0;
  for (const i of idx) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
  }
  const s = sxx > 0 ? sxy / sxx : 0;
  return [s, my - s * mx];
}

export function depthMetrics(pred: ArrayLike<number>, gt: ArrayLike<number>, o: DepthOptions = {}, what = 'depth'): DepthMetrics {
  if (pred.length !== gt.length) throw new Error(`${what}: prediction has ${pred.length} pixels, ground truth ${gt.length}`);
  const lo = o.minDepth ?? 0;
  const hi = o.maxDepth ?? Infinity;
  const idx: number[] = [];
  for (let i = 0; i < gt.length; i++) if (gt[i] > 0 && gt[i] >= lo && gt[i] <= hi && Number.isFinite(gt[i]) && Number.isFinite(pred[i])) idx.push(i);
  if (!idx.length) {
    throw new Error(`${what}: no valid pixels (ground truth > 0${o.minDepth !== undefined ? `, >= ${lo}` : ''}${o.maxDepth !== undefined ? `, <= ${hi}` : ''}, finite prediction)`);
  }
  const disparity = (o.space ?? 'disparity') === 'disparity';
  const target = disparity ? Float64Array.from(gt, (g) => (g > 0 ? 1 / g : 0)) : gt;
  const [s, t] = fitScaleShift(pred, target, idx);
  let absRel = 0;
  let good = 0;
  for (const i of idx) {
    const fit = s * pred[i] + t;
    let d = disparity ? 1 / Math.max(fit, EPS) : fit;
    d = Math.max(Math.min(d, hi), Math.max(lo, EPS));
    absRel += Math.abs(d - gt[i]) / gt[i];
    if (Math.max(d / gt[i], gt[i] / d) < 1.25) good++;
  }
  return { absRel: absRel / idx.length, delta1: good / idx.length, scale: s, shift: t, valid: idx.length };
}

export interface NormalMetrics {
  mean: number;
  median: number;
  within11_25: number;
  within22_5: number;
  within30: number;
  valid: number;
  /** pixels left out because the prediction or the ground truth is a zero vector */
  skipped: number;
}

/**
 * Angular error in degrees between normal maps given as [3, H·W] planes (x, y, z). A pixel where
 * either vector has zero length (or is not finite) is skipped and counted; the "within" figures
 * are percentages of the measured pixels.
 */
export function normalMetrics(pred: ArrayLike<number>, gt: ArrayLike<number>, what = 'normal'): NormalMetrics {
  if (pred.length !== gt.length) throw new Error(`${what}: prediction has ${pred.length / 3} pixels, ground truth ${gt.length / 3}`);
  if (gt.length % 3) throw new Error(`${what}: ${gt.length} values are not 3 planes`);
  const hw = gt.length / 3;
  const errors: number[] = [];
  let skipped = 0;
  for (let i = 0; i < hw; i++) {
    const a = [pred[i], pred[hw + i], pred[2 * hw + i]];
    const b = [gt[i], gt[hw + i], gt[2 * hw + i]];
    const na = Math.hypot(...a);
    const nb = Math.hypot(...b);
    if (!(na > 0 && nb > 0 && Number.isFinite(na) && Number.isFinite(nb))) {
      skipped++;
      continue;
    }
    const cos = (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) / (na * nb);
    errors.push((Math.acos(Math.min(1, Math.max(-1, cos))) * 180) / Math.PI);
  }
  if (!errors.length) throw new Error(`${what}: no valid pixels (all ${hw} have a zero-length predicted or ground-truth normal)`);
  const n = errors.length;
  const within = (deg: number) => (100 * errors.filter((e) => e < deg).length) / n;
  const sorted = Float64Array.from(errors).sort();
  const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return {
    mean: errors.reduce((x, y) => x + y, 0) / n, median,
    within11_25: within(11.25), within22_5: within(22.5), within30: within(30), valid: n, skipped,
  };
}

/** Intersection over union of two binary masks of one size; two empty masks agree (IoU 1). */
export function maskIou(pred: Mask, gt: Mask, what = 'mask'): number {
  if (pred.height !== gt.height || pred.width !== gt.width) {
    throw new Error(`${what}: prediction is ${pred.width}x${pred.height}, ground truth ${gt.width}x${gt.height}; they must be the same size`);
  }
  let inter = 0;
  let union = 0;
  for (let i = 0; i < pred.data.length; i++) {
    const a = pred.data[i] !== 0;
    const b = gt.data[i] !== 0;
    if (a && b) inter++;
    if (a || b) union++;
  }
  return union ? inter / union : 1;
}

/** Mean of each numeric field over the rows (what the tables' last line shows). */
export function meanOf<T extends object>(rows: readonly T[]): Partial<Record<keyof T, number>> {
  const out: Partial<Record<keyof T, number>> = {};
  if (!rows.length) return out;
  for (const key of Object.keys(rows[0]) as (keyof T)[]) {
    if (typeof rows[0][key] !== 'number') continue;
    out[key] = rows.reduce((a, r) => a + (r[key] as number), 0) / rows.length;
  }
  return out;
}
