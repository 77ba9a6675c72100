// Shared test utilities: the device, comparisons that name the worst element, fixtures.
import { describe } from 'vitest';
import { getDevice, type DeviceOptions, type Gpu } from '../src/runtime/device.ts';
import { Rng } from '../src/runtime/random.ts';

export function device(opts?: DeviceOptions): Promise<Gpu> {
  return getDevice(opts);
}

/** The three storage levels every kernel is tested in. */
export const PRECISIONS = [
  { name: 'f32', dtype: 'f32', opts: {} },
  { name: 'f16', dtype: 'f16', opts: {} },
  { name: 'f16-packed (no shader-f16)', dtype: 'f16', opts: { disableF16: true } },
] as const;

export function rand(n: number, seed = 1, lo = -1, hi = 1): Float32Array {
  return new Rng(seed).uniformArray(n, lo, hi);
}

export interface CloseOpts {
  atol?: number;
  rtol?: number;
  label?: string;
}

/** Throws naming the worst element when |a - e| > atol + rtol·|e| anywhere. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, o: CloseOpts = {}): void {
  const { atol = 1e-5, rtol = 1e-4, label = 'tensor' } = o;
  if (actual.length !== expected.length) throw new Error(`${label}: length ${actual.length}, expected ${expected.length}`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    const excess = d - (atol + rtol * Math.abs(expected[i]));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(d))) {
      worst = i;
      worstExcess = Number.isNaN(d) ? Infinity : excess;
    }
  }
  if (worst >= 0) {
    throw new Error(
      `${label}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (|diff| ${Math.abs(actual[worst] - expected[worst]).toExponential(3)} > atol ${atol} + rtol ${rtol}·|expected|)`,
    );
  }
}

/** ‖a − e‖₂ / ‖e‖₂, the fixtures' conformance measure. */
export function relL2(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    num += (actual[i] - expected[i]) ** 2;
    den += expected[i] ** 2;
  }
  return Math.sqrt(num / (den || 1));
}

// Fixtures are files: under Node only (the browser project runs the kernel tests alone).
const node = typeof process !== 'undefined' && Boolean(process.versions?.node);
const fs = node ? await import('node:fs') : undefined;
const path = node ? await import('node:path') : undefined;
export const FIXTURES = path ? path.resolve(process.env.DICEPTION_FIXTURES ?? path.resolve(import.meta.dirname, '../../shared/fixtures')) : '';
export const TINY = path ? path.resolve(FIXTURES, 'tiny') : '';
export const haveFixtures = Boolean(fs?.existsSync(`${TINY}/model_index.json`));
/** describe() for tests that need ../shared/fixtures: a visible skip when they are absent. */
export const describeFixtures = haveFixtures ? describe : describe.skip;
if (node && !haveFixtures) console.warn(`fixtures not found at ${TINY}: fixture tests are skipped (set DICEPTION_FIXTURES)`);
