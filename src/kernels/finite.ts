// Finite-activation check (shaders/finite.wgsl): NaN and Inf counts and the largest finite |x|
// of a tensor, accumulated into a slot of a small stats buffer on the GPU. Nothing is read back
// here: the caller reads the whole buffer once (readFiniteStats) when it syncs anyway.
import type { Gpu } from '../runtime/device.ts';
import { f16BitsToF32 } from '../runtime/f16.ts';
import { empty, type Tensor } from '../runtime/tensor.ts';
import source from '../../shaders/finite.wgsl';
import { bands, bindingWindow, maxWindowElems } from './bands.ts';
import { runVariant } from './choice.ts';
import { grid1d } from './grid.ts';
import { kernelSource, registerFamily, type Variant } from './registry.ts';

// One variant: a grid-stride loop over raw bits, workgroup atomics, one global atomic per
// workgroup. It accumulates, so it is never timed by autotuning (a second run would add again).
registerFamily('finite', [{ name: 'atomic', family: 'finite', supports: () => true, needs: [], workgroupMemory: true }]);

/** Words of the header (word 0: the step counter) and of each slot. */
const HEADER = 4;
const SLOT = 4;
/** Elements per invocation before another workgroup is added. */
const PER = 16;

export interface FiniteStats {
  nan: number;
  inf: number;
  /** Largest finite |value| (0 when none). */
  maxAbs: number;
}

/** A zeroed stats buffer with `slots` slots (a tensor of u32 words; dispose it when done). */
export function finiteStatsBuffer(gpu: Gpu, slots: number): Tensor {
  if (!(Number.isInteger(slots) && slots >= 1)) throw new Error(`finiteStatsBuffer: slots must be a positive integer, got ${slots}`);
  const t = empty(gpu, [HEADER + SLOT * slots], 'f32', 'finite stats');
  gpu.recorder.write(t.buffer, t.offset, new Uint8Array(t.byteLength));
  return t;
}

export interface FiniteCheckOptions {
  /** The slot to add into. */
  slot: number;
  /**
   * Add the buffer's step counter to the slot (for a check repeated every denoising step: the
   * recorded dispatch is the same each step, and `advanceFiniteCounter` moves it on).
   */
  counted?: boolean;
  /** Names the check in the dispatch label, 'finite:<label>' (profiles total by its first word), e.g. 'step'. */
  label?: string;
}

/** Adds x's NaN and Inf counts and max finite |x| into `stats` (from finiteStatsBuffer). */
export async function checkFinite(gpu: Gpu, x: Tensor, stats: Tensor, o: FiniteCheckOptions): Promise<void> {
  const slots = (stats.numel - HEADER) / SLOT;
  if (!(Number.isInteger(o.slot) && o.slot >= 0 && o.slot < slots)) throw new Error(`checkFinite: slot ${o.slot} is outside the stats buffer's ${slots} slots`);
  if (x.numel === 0) return;
  const f16 = x.dtype === 'f16';
  // Band starts stay multiples of 256 elements: f16 windows then start at a word boundary.
  const per = Math.floor(maxWindowElems(gpu, x.dtype) / 256) * 256;
  const record = async (v: Variant) => {
    const kernel = await gpu.pipelines.get({
      name: 'finite',
      ...kernelSource('finite', source, gpu),
      bindings: [
        { name: 'x', dtype: 'u32' },
        { name: 'stats', dtype: 'u32', access: 'read_write', atomic: true },
      ],
      uniforms: true,
      defines: { F16: f16 },
    });
    for (const [s, count] of bands(x.numel, per)) {
      const w = bindingWindow(x, s, count);
      if (f16 && w.shift % 2) throw new Error(`checkFinite: f16 tensor at byte offset ${x.offset} does not start on a 4-byte word`);
      const words = f16 ? Math.ceil(count / 2) : count;
      gpu.recorder.dispatch(kernel, [w.binding, stats.binding()], new Uint32Array([count, w.shift, o.slot, o.counted ? 1 : 0]), grid1d(gpu, words, 256 * PER), `finite${o.label ? `:${o.label}` : ''} ${v.name}`);
    }
  };
  await runVariant(gpu, 'finite', `${x.dtype}`, record);
}

/** Moves the step counter of `stats` on by one (recorded after a counted check). */
export async function advanceFiniteCounter(gpu: Gpu, stats: Tensor): Promise<void> {
  const kernel = await gpu.pipelines.get({
    name: 'finite',
    ...kernelSource('finite', source, gpu),
    bindings: [{ name: 'stats', dtype: 'u32', access: 'read_write', atomic: true }],
    defines: { ADVANCE: true },
  });
  gpu.recorder.dispatch(kernel, [stats.binding()], undefined, [1], 'finite:advance');
}

/** Reads the stats buffer back (one small copy): the step counter and every slot. */
export async function readFiniteStats(stats: Tensor): Promise<{ counter: number; slots: FiniteStats[] }> {
  const raw = await stats.gpu.recorder.readBytes(stats.buffer, stats.offset, stats.byteLength);
  const u = new Uint32Array(raw.buffer, raw.byteOffset, stats.numel);
  const f = new Float32Array(raw.buffer, raw.byteOffset, stats.numel);
  const slots: FiniteStats[] = [];
  for (let i = HEADER; i < u.length; i += SLOT) {
    slots.push({ nan: u[i], inf: u[i + 1], maxAbs: Math.max(f[i + 2], f16BitsToF32(u[i + 3])) });
  }
  return { counter: u[0], slots };
}
