// GroupNorm (+ optional fused SiLU) over channels-last activations [B, ..., C]: a stats pass,
// a merge pass and an apply pass (see shaders/groupnorm.wgsl), each banded over pixels when
// the tensor exceeds the binding limit. Results do not depend on the banding.
import type { Gpu } from '../runtime/device.ts';
import { empty, type DType, type Tensor } from '../runtime/tensor.ts';
import source from '../../shaders/groupnorm.wgsl';
import { grid1d } from './grid.ts';
import { bandItems, checkIndexable, maxWindowElems, writable, baseWindow } from './bands.ts';
import { runVariant, sizeClass } from './choice.ts';
import { kernelSource, registerFamily, type Variant } from './registry.ts';

export interface GroupNormParams {
  gamma: Tensor;
  beta: Tensor;
  groups: number;
  eps: number;
}

export interface GroupNormOptions {
  silu?: boolean;
  outDtype?: DType;
  /**
   * Overwrite x and return it (no second map of x's size: the VAE's 768² maps are 144–288 MiB
   * each). x must be writable in its own dtype; the caller must not need its values afterwards.
   */
  inPlace?: boolean;
}

// One variant: tree merges of moments in workgroup memory (stats and merge passes). It must stay
// the only one while `inPlace` exists: autotuning would run an in-place call once per candidate.
registerFamily('groupnorm', [{ name: 'workgroup', family: 'groupnorm', supports: () => true, needs: [], workgroupMemory: true }]);

/** Pixels per stats workgroup at most (fewer when a band of that many would not fit a binding). */
const MAX_CHUNK = 256;

export async function groupNorm(gpu: Gpu, x: Tensor, p: GroupNormParams, o: GroupNormOptions = {}): Promise<Tensor> {
  if (x.shape.length < 2) throw new Error(`groupNorm: input must be [B, ..., C], got [${x.shape}]`);
  const B = x.shape[0];
  const C = x.shape[x.shape.length - 1];
  const G = p.groups;
  if (C % G !== 0) throw new Error(`groupNorm: ${C} channels are not divisible into ${G} groups (input [${x.shape}])`);
  if (p.gamma.numel !== C || p.beta.numel !== C) {
    throw new Error(`groupNorm: gamma/beta have ${p.gamma.numel}/${p.beta.numel} values, expected ${C} (input [${x.shape}])`);
  }
  checkIndexable('groupNorm', { input: x.shape });
  const P = x.numel / (B * C);
  const outDtype = o.outDtype ?? writable(gpu, x.dtype);
  if (o.inPlace && outDtype !== x.dtype) throw new Error(`groupNorm: in place needs the output in x's dtype ${x.dtype}, not ${outDtype}`);
  const pixelsPerWindow = bandItems(gpu, C, [x.dtype, outDtype], 'groupNorm');
  // Stats chunks must tile a band exactly, so bands are whole chunks of pixels.
  let chunk = MAX_CHUNK;
  while (chunk > pixelsPerWindow) chunk >>= 1;
  const bandPixels = Math.min(P, Math.floor(pixelsPerWindow / chunk) * chunk, gpu.caps.maxWorkgroupsPerDim * chunk);
  const nPart = Math.ceil(P / chunk);
  const whole = bandPixels === P;

  if (B * G * nPart * 3 * 4 > gpu.caps.maxStorageBinding) throw new Error(`groupNorm: too many partial sums for [${x.shape}]`);
  const part = empty(gpu, [B * G * nPart * 3], 'f32', 'groupnorm partials');
  const st = empty(gpu, [B * G * 2], 'f32', 'groupnorm stats');
  const out = o.inPlace ? x : empty(gpu, x.shape, outDtype);

  const record = async (v: Variant) => {
    const common = { name: 'groupnorm', ...kernelSource('groupnorm', source, gpu), uniforms: true } as const;
    const [stats, final, apply] = await Promise.all([
      gpu.pipelines.get({
        ...common,
        bindings: [{ name: 'x', dtype: x.dtype }, { name: 'part', dtype: 'f32', access: 'read_write' }],
        defines: { STATS: true },
      }),
      gpu.pipelines.get({
        ...common,
        bindings: [{ name: 'part', dtype: 'f32' }, { name: 'stats', dtype: 'f32', access: 'read_write' }],
        defines: { FINAL: true },
      }),
      gpu.pipelines.get({
        ...common,
        bindings: [
          // In place, x is read through `out` (one buffer cannot be bound read-only and writable at once).
          ...(o.inPlace ? [] : [{ name: 'x', dtype: x.dtype, vec: C % 4 === 0 ? 4 : 1 } as const]),
          { name: 'stats', dtype: 'f32' },
          { name: 'gamma', dtype: p.gamma.dtype },
          { name: 'beta', dtype: p.beta.dtype },
          { name: 'out', dtype: outDtype, access: 'read_write', vec: C % 4 === 0 ? 4 : 1 },
        ],
        defines: { APPLY: true, VEC: C % 4 === 0, SILU: Boolean(o.silu), IN_PLACE: Boolean(o.inPlace) },
      }),
    ]);
    const u = new ArrayBuffer(64);
    const u32 = new Uint32Array(u);
    new Float32Array(u)[12] = p.eps;
    u32.set([C, C / G, G, P, 0, 0, 0, 0, nPart, 0, chunk, 0]);

    // Pass 1: partial moments per band (the whole batch at once when everything fits). Shaders
    // index from the tensor's start minus the elements before the window (its base).
    const statsBand = (b0: number, batches: number, p0: number, n: number) => {
      const start = (b0 * P + p0) * C;
      const w = baseWindow(x, start, (batches > 1 ? batches * P : n) * C);
      u32.set([n, p0, b0, w.base], 4);
      u32[9] = p0 / chunk;
      gpu.recorder.dispatch(stats, [w.binding, part], u, [Math.ceil(n / chunk), G, batches], `groupnorm stats ${v.name}`);
    };
    if (whole && x.numel <= maxWindowElems(gpu, x.dtype)) statsBand(0, B, 0, P);
    else for (let b = 0; b < B; b++) for (let p0 = 0; p0 < P; p0 += bandPixels) statsBand(b, 1, p0, Math.min(bandPixels, P - p0));

    // Pass 2: merge partials into mean and rstd per (batch, group).
    gpu.recorder.dispatch(final, [part, st], u, [G, B], `groupnorm merge ${v.name}`);

    // Pass 3: normalise (elementwise over bands of whole pixels).
    const vec = C % 4 === 0 ? 4 : 1;
    const applyBand = (e0: number, count: number) => {
      const xw = baseWindow(x, e0, count);
      const ow = baseWindow(out, e0, count);
      u32.set([count / vec, e0, 0, xw.base], 4);
      u32[11] = ow.base;
      const bindings = [...(o.inPlace ? [] : [xw.binding]), st, p.gamma, p.beta, ow.binding];
      gpu.recorder.dispatch(apply, bindings, u, grid1d(gpu, count / vec, 256), `groupnorm apply ${v.name}`);
    };
    const bandElems = pixelsPerWindow * C;
    for (let e0 = 0; e0 < x.numel; e0 += bandElems) applyBand(e0, Math.min(bandElems, x.numel - e0));
  };
  try {
    await runVariant(gpu, 'groupnorm', `${x.dtype}->${outDtype} C${C} G${G} P~${sizeClass(P, 1 << 20)}${o.silu ? ' silu' : ''}`, record, {
      outputs: o.inPlace ? [] : [out],
    });
  } finally {
    part.dispose();
    st.dispose();
  }
  return out;
}
