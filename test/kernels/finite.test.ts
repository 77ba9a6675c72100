import { afterEach, describe, expect, it } from 'vitest';
import { advanceFiniteCounter, checkFinite, finiteStatsBuffer, readFiniteStats, type FiniteStats } from '../../src/kernels/finite.ts';
import { setKernelChoice, setKernelOverride } from '../../src/kernels/registry.ts';
import { roundF16 } from '../../src/runtime/f16.ts';
import { fromArray, Tensor } from '../../src/runtime/tensor.ts';
import finiteWgsl from '../../shaders/finite.wgsl';
import { device, PRECISIONS, rand } from '../helpers.ts';
import { forEachVariant } from './variants.ts';

/** What the check must find in the values as stored (f16 storage turns |x| > 65504 into ±Inf). */
function finiteRef(stored: ArrayLike<number>): FiniteStats {
  const r = { nan: 0, inf: 0, maxAbs: 0 };
  for (let i = 0; i < stored.length; i++) {
    const v = stored[i];
    if (Number.isNaN(v)) r.nan++;
    else if (!Number.isFinite(v)) r.inf++;
    else r.maxAbs = Math.max(r.maxAbs, Math.abs(v));
  }
  return r;
}

/** Random values with NaN, ±Inf, −0, f16 subnormals and (for f16) values that overflow it, sprinkled in. */
function awkward(n: number, seed: number): Float32Array {
  const x = rand(n, seed, -3, 3);
  const special = [NaN, Infinity, -Infinity, -0, 3e-6, 70000, -1e30];
  for (let k = 0; k < Math.min(n, 3 + (n >> 9)); k++) x[(k * 7919 + seed) % n] = special[k % special.length];
  return x;
}

async function statsOf(gpu: Awaited<ReturnType<typeof device>>, t: Tensor, slots = 1, slot = 0): Promise<FiniteStats> {
  const stats = finiteStatsBuffer(gpu, slots);
  await checkFinite(gpu, t, stats, { slot });
  const { slots: got } = await readFiniteStats(stats);
  stats.dispose();
  return got[slot];
}

describe.each(PRECISIONS)('checkFinite ($name)', ({ dtype, opts }) => {
  // 1 and 7: an odd f16 tensor's last word holds one half; 70001: many workgroups, grid-stride loops.
  it.each([1, 2, 7, 256, 1031, 4096 * 4 + 3, 70001])('n = %i', async (n) => {
    const gpu = await device(opts);
    await forEachVariant(gpu, 'finite', async (variant) => {
      const x = awkward(n, n);
      const stored = dtype === 'f16' ? roundF16(x) : x;
      const t = fromArray(gpu, x, [n], dtype);
      expect(await statsOf(gpu, t, 3, 2), `${variant} n=${n}`).toEqual(finiteRef(stored));
      t.dispose();
    });
  });

  it('all finite: the largest magnitude of its dtype, zeros, subnormals', async () => {
    const gpu = await device(opts);
    const big = dtype === 'f16' ? 65504 : 3.4028234663852886e38;
    const x = Float32Array.from([0, -0, 6e-8, -big, 1, 2]);
    const t = fromArray(gpu, x, [6], dtype);
    expect(await statsOf(gpu, t)).toEqual({ nan: 0, inf: 0, maxAbs: big });
    t.dispose();
  });
});

describe('checkFinite bounds and accumulation', () => {
  it('ignores the padding half after an odd-length f16 tensor (NaN bits there)', async () => {
    for (const opts of [{}, { disableF16: true }]) {
      const gpu = await device(opts);
      const whole = fromArray(gpu, Float32Array.from([1, -2, 3, 4, 5, 6, 7, NaN]), [8], 'f16');
      const seven = new Tensor(gpu, whole.buffer, [7], 'f16', whole.offset, false);
      expect(await statsOf(gpu, seven)).toEqual({ nan: 0, inf: 0, maxAbs: 7 });
      expect((await statsOf(gpu, whole)).nan).toBe(1);
      whole.dispose();
    }
  });

  it('checks a row view at an offset, and bands under a 20000-byte binding limit', async () => {
    for (const dtype of ['f32', 'f16'] as const) {
      const gpu = await device({ maxStorageBinding: 20000 });
      const rows = 9;
      const cols = 2048; // 4 KiB (f16) or 8 KiB (f32) per row: several bands per view
      const x = awkward(rows * cols, 5);
      const t = fromArray(gpu, x, [rows, cols], dtype);
      const view = t.rows(2, 5);
      const stored = (dtype === 'f16' ? roundF16(x) : x).subarray(2 * cols, 7 * cols);
      expect(await statsOf(gpu, view), dtype).toEqual(finiteRef(stored));
      t.dispose();
    }
  });

  it('adds checks of the same slot, keeps slots apart, and indexes counted slots by the step counter', async () => {
    const gpu = await device();
    const stats = finiteStatsBuffer(gpu, 5);
    const a = fromArray(gpu, [1, NaN, -4], [3]);
    const b = fromArray(gpu, [Infinity, 2, NaN], [3], 'f16');
    const ok = fromArray(gpu, [0.5, -8], [2]);
    await checkFinite(gpu, a, stats, { slot: 0 });
    await checkFinite(gpu, b, stats, { slot: 0 });
    // Three "steps": the same recorded calls each time, the counter moves them on from slot 1.
    for (const x of [ok, a, b]) {
      await checkFinite(gpu, x, stats, { slot: 1, counted: true });
      await advanceFiniteCounter(gpu, stats);
    }
    await checkFinite(gpu, ok, stats, { slot: 4 });
    const { counter, slots } = await readFiniteStats(stats);
    expect(counter).toBe(3);
    expect(slots).toEqual([
      { nan: 2, inf: 1, maxAbs: 4 },
      { nan: 0, inf: 0, maxAbs: 8 },
      { nan: 1, inf: 0, maxAbs: 4 },
      { nan: 1, inf: 1, maxAbs: 2 },
      { nan: 0, inf: 0, maxAbs: 8 },
    ]);
    for (const t of [stats, a, b, ok]) t.dispose();
  });

  it('refuses a slot outside the buffer', async () => {
    const gpu = await device();
    const stats = finiteStatsBuffer(gpu, 2);
    const t = fromArray(gpu, [1], [1]);
    await expect(checkFinite(gpu, t, stats, { slot: 2 })).rejects.toThrow(/checkFinite: slot 2 is outside the stats buffer's 2 slots/);
    [stats, t].forEach((x) => x.dispose());
  });
});

describe('finite family in the registry', () => {
  afterEach(() => {
    setKernelChoice('finite', undefined);
    setKernelOverride('finite', undefined);
  });

  it('runs a user override (here: every NaN also counted as Inf) with the forced variant', async () => {
    const gpu = await device();
    setKernelOverride('finite', { source: finiteWgsl.replaceAll('} else { (*t).nan += 1u; }', '} else { (*t).nan += 1u; (*t).inf += 1u; }'), file: 'my/finite.wgsl' });
    setKernelChoice('finite', 'atomic');
    const t = fromArray(gpu, [NaN, 1, NaN], [3]);
    expect(await statsOf(gpu, t)).toEqual({ nan: 2, inf: 2, maxAbs: 1 });
    t.dispose();
  });

  it('names the user file and line of a WGSL error', async () => {
    const gpu = await device();
    const source = `${finiteWgsl}\nconst broken: u32 = ;\n`;
    setKernelOverride('finite', { source, file: 'my/finite.wgsl' });
    const t = fromArray(gpu, [1], [1]);
    await expect(statsOf(gpu, t)).rejects.toThrow(new RegExp(`my/finite\\.wgsl:${source.split('\n').length - 1}:`));
    t.dispose();
  });
});
