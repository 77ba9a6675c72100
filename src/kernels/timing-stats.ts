// Telling a faster kernel from noise: candidates are timed in interleaved rounds (each round
// runs every candidate once, in a shuffled order, so a load that comes and goes hits them all
// alike), and each is judged against the first by the median over the rounds of its time ÷ the
// first's, with a 95% bootstrap confidence interval that resamples whole rounds. One module for
// `bench --compare`, the web page's kernel lab and autotune's choice between variants.
import { Rng } from '../runtime/random.ts';

export type Verdict = 'faster' | 'slower' | 'same (within noise)' | 'baseline';

export interface Spread {
  median: number;
  q1: number;
  q3: number;
  iqr: number;
}

export interface RatioCI {
  /** Candidate time ÷ baseline time (median of per-round ratios, see ratioCI): below 1 is faster. */
  ratio: number;
  /** 95% bootstrap confidence interval of the ratio. */
  lo: number;
  hi: number;
  verdict: Verdict;
}

export interface RoundOptions {
  /** Rounds to run (samples per candidate) without a budget. */
  rounds: number;
  /** With a budget (ms): rounds go on until it is spent. Either way at least `MIN_ROUNDS`. */
  budgetMs?: number;
  /** Untimed runs of each candidate first (compilation, caches). */
  warmup?: number;
  /** Seeds the order of each round. */
  seed?: number;
}

/**
 * Fewest rounds behind any verdict: with n rounds a bootstrap interval of a median cannot be
 * wider than the smallest to the largest ratio, which holds the true median with probability
 * 1 - 2·0.5ⁿ: 75% for 3 rounds, 97% for 6.
 */
export const MIN_ROUNDS = 6;
const RESAMPLES = 2000;
/**
 * A difference must also exceed this fraction to count (as criterion's noise threshold): timer
 * granularity and clock changes make identical kernels differ by a few percent consistently.
 */
export const NOISE_THRESHOLD = 0.03;

/** The q-quantile (0..1) by linear interpolation between order statistics. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (!sorted.length) return NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

const ascending = (xs: ArrayLike<number>) => Float64Array.from(xs).sort();

export function median(xs: ArrayLike<number>): number {
  return quantile(ascending(xs), 0.5);
}

export function spread(xs: ArrayLike<number>): Spread {
  const s = ascending(xs);
  const [q1, med, q3] = [quantile(s, 0.25), quantile(s, 0.5), quantile(s, 0.75)];
  return { median: med, q1, q3, iqr: q3 - q1 };
}

/**
 * Runs `sample(i)` (one timed run of candidate i, in ms) for `n` candidates in rounds of a
 * shuffled order, after `warmup` untimed runs of each; returns each candidate's samples in
 * round order (sample r of every candidate comes from round r).
 */
export async function interleavedRounds(n: number, sample: (i: number) => Promise<number>, o: RoundOptions): Promise<number[][]> {
  const rng = new Rng(o.seed ?? 1);
  for (let w = 0; w < (o.warmup ?? 1); w++) for (let i = 0; i < n; i++) await sample(i);
  const out: number[][] = Array.from({ length: n }, () => []);
  const start = performance.now();
  const more = (r: number) => (o.budgetMs === undefined ? r < Math.max(MIN_ROUNDS, o.rounds) : r < MIN_ROUNDS || performance.now() - start < o.budgetMs);
  for (let r = 0; more(r); r++) {
    for (const i of shuffled(n, rng)) out[i].push(await sample(i));
  }
  return out;
}

/** 0..n-1 in a random order (Fisher-Yates). */
function shuffled(n: number, rng: Rng): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/**
 * How the candidate's time compares with the baseline's, with a 95% percentile-bootstrap
 * interval. When both come from the same rounds (equal lengths) the ratio is the median of the
 * per-round ratios, so a slowdown that hits a whole round cancels out, and the bootstrap draws
 * whole rounds; otherwise it is the ratio of the medians, each side resampled on its own.
 */
export function ratioCI(baseline: ArrayLike<number>, candidate: ArrayLike<number>, seed = 1): RatioCI {
  const rng = new Rng(seed);
  const draw = (xs: ArrayLike<number>, into: Float64Array) => {
    for (let i = 0; i < into.length; i++) into[i] = xs[Math.floor(rng.uniform() * xs.length)];
    return into.sort();
  };
  const ratios = new Float64Array(RESAMPLES);
  let ratio: number;
  if (baseline.length === candidate.length) {
    const perRound = Float64Array.from(candidate, (c, i) => c / baseline[i]);
    ratio = median(perRound);
    const buf = new Float64Array(perRound.length);
    for (let r = 0; r < RESAMPLES; r++) ratios[r] = quantile(draw(perRound, buf), 0.5);
  } else {
    ratio = median(candidate) / median(baseline);
    const [b, c] = [new Float64Array(baseline.length), new Float64Array(candidate.length)];
    for (let r = 0; r < RESAMPLES; r++) ratios[r] = quantile(draw(candidate, c), 0.5) / quantile(draw(baseline, b), 0.5);
  }
  ratios.sort();
  const lo = quantile(ratios, 0.025);
  const hi = quantile(ratios, 0.975);
  const verdict = hi < 1 && ratio < 1 - NOISE_THRESHOLD ? 'faster' : lo > 1 && ratio > 1 + NOISE_THRESHOLD ? 'slower' : 'same (within noise)';
  return { ratio, lo, hi, verdict };
}
