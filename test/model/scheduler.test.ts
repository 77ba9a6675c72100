import { describe, expect, it } from 'vitest';
import { FlowMatchEuler, parseSchedulerConfig } from '../../src/model/scheduler.ts';
import { fromArray } from '../../src/runtime/tensor.ts';
import { conformance, formatLine } from '../../tools/conformance/index.ts';
import { describeFixtures, device, expectClose, rand, TINY } from '../helpers.ts';

/**
 * Upstream's schedule written out directly in float64: the training ends σ(1000)=1 and
 * σ(1) = shift·0.001/(1+(shift−1)·0.001), t = linspace(1000·σmax, 1000·σmin, N) shifted again.
 * Differs from the implementation only by its float32 rounding, hence the 1e-6 tolerance.
 */
function reference(n: number, shift: number, T = 1000): { sigmas: number[]; timesteps: number[] } {
  const sh = (s: number) => (shift * s) / (1 + (shift - 1) * s);
  const [tMax, tMin] = [sh(1) * T, sh(1 / T) * T];
  const t = Array.from({ length: n }, (_, i) => (n === 1 ? tMax : tMax + ((tMin - tMax) * i) / (n - 1)));
  const sigmas = t.map((x) => sh(x / T));
  return { sigmas: [...sigmas, 0], timesteps: sigmas.map((s) => s * T) };
}

describe('FlowMatchEuler schedule beyond the golden step counts', () => {
  for (const [n, shift] of [[3, 3], [7, 3], [10, 1], [50, 3], [1000, 3], [5, 0.5]] as const) {
    it(`N=${n}, shift=${shift} matches the float64 formula to 1e-6 and is float32-consistent`, () => {
      const s = new FlowMatchEuler({ num_train_timesteps: 1000, shift }, n);
      const ref = reference(n, shift);
      expect(s.sigmas.length).toBe(n + 1);
      expect(s.timesteps.length).toBe(n);
      expectClose(s.sigmas, ref.sigmas, { atol: 1e-7, rtol: 1e-6, label: 'sigmas' });
      expectClose(s.timesteps, ref.timesteps, { atol: 1e-4, rtol: 1e-6, label: 'timesteps' });
      expect(s.sigmas[0]).toBe(1);
      expect(s.sigmas[n]).toBe(0);
      for (let i = 0; i < n; i++) {
        expect(s.sigmas[i + 1]).toBeLessThan(s.sigmas[i]);
        // timesteps are float32(σ·1000) of the float32 σ.
        expect(s.timesteps[i]).toBe(Math.fround(s.sigmas[i] * 1000));
        expect(s.dt(i)).toBe(Math.fround(s.sigmas[i + 1] - s.sigmas[i]));
      }
    });
  }

  it('rejects bad step counts and configs with clear errors', () => {
    const cfg = { num_train_timesteps: 1000, shift: 3 };
    expect(() => new FlowMatchEuler(cfg, 0)).toThrow(/number of steps must be a positive integer, got 0/);
    expect(() => new FlowMatchEuler(cfg, 2).dt(2)).toThrow(/step 2 is outside 0..1/);
    expect(() => parseSchedulerConfig({ _class_name: 'DDIMScheduler' })).toThrow(/expected 'FlowMatchEulerDiscreteScheduler'/);
    expect(() => parseSchedulerConfig({ shift: -1 })).toThrow(/shift must be a positive number/);
    expect(() => parseSchedulerConfig({ use_dynamic_shifting: true })).toThrow(/use_dynamic_shifting/);
    expect(parseSchedulerConfig({ shift: 3 })).toEqual(cfg);
  });

  it('Euler step on the GPU: x + (σ1 − σ0)·v on 1037 elements', async () => {
    const gpu = await device();
    const s = new FlowMatchEuler({ num_train_timesteps: 1000, shift: 3 }, 28);
    const xs = rand(1037, 1);
    const vs = rand(1037, 2);
    const x = fromArray(gpu, xs, [1037]);
    const v = fromArray(gpu, vs, [1037]);
    const y = await s.step(gpu, x, v, 5);
    const dt = s.dt(5);
    expectClose(await y.read(), Array.from(xs, (xi, i) => xi + dt * vs[i]), { atol: 1e-6, rtol: 1e-6, label: 'euler' });
    for (const t of [x, v, y]) t.dispose();
  });
});

describeFixtures('scheduler golden (tiny fixture)', () => {
  for (const precision of ['f32', 'f16'] as const) {
    it(`conformance scheduler ${precision}`, async () => {
      const lines = await conformance(TINY, { only: ['scheduler'], precision });
      const bad = lines.filter((l) => l.status !== 'PASS');
      expect(bad.map(formatLine)).toEqual([]);
      expect(lines.length).toBe(12);
    });
  }
});
