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

/** Checks x against p; returns [B, C, P (pixels per batch item)]. */
function dims(x: Tensor, p: GroupNormParams): [number, number, number] {
  if (x.shape.length < 2) throw new Error(`groupNorm: input must be [B, ..., C], got [${x.shape}]`);
  const B = x.shape[0];
  const C = x.shape[x.shape.length - 1];
  if (C % p.groups !== 0) throw new Error(`groupNorm: ${C} channels are not divisible into ${p.groups} groups (input [${x.shape}])`);
  if (p.gamma.numel !== C || p.beta.numel !== C) {
    throw new Error(`groupNorm: gamma/beta have ${p.gamma.numel}/${p.beta.numel} values, expected ${C} (input [${x.shape}])`);
  }
  checkIndexable('groupNorm', { input: x.shape });
  return [B, C, x.numel / (B * C)];
}

/** Pixels per band (whole stats chunks, so partials tile each (batch, group) exactly) and the chunk. */
function banding(gpu: Gpu, x: Tensor, C: number, P: number, outDtype: DType) {
  const pixelsPerWindow = bandItems(gpu, C, [x.dtype, outDtype], 'groupNorm');
  let chunk = MAX_CHUNK;
  while (chunk > pixelsPerWindow) chunk >>= 1;
  const bandPixels = Math.min(P, Math.floor(pixelsPerWindow / chunk) * chunk, gpu.caps.maxWorkgroupsPerDim * chunk);
  return { pixelsPerWindow, chunk, bandPixels, nPart: Math.ceil(P / chunk) };
}

/** Uniforms shared by the three passes (per-band fields are set by each dispatch). */
function uniforms(C: number, G: number, P: number, nPart: number, chunk: number, eps: number) {
  const u = new ArrayBuffer(64);
  const u32 = new Uint32Array(u);
  new Float32Array(u)[12] = eps;
  u32.set([C, C / G, G, P, 0, 0, 0, 0, nPart, 0, chunk, 0]);
  return { u, u32 };
}

/**
 * Records the statistics and merge passes: the group statistics of x, as the per-channel
 * affine `aff` [B, 2, C] (f32) that normalising amounts to: y = x·aff[b, 0, c] + aff[b, 1, c].
 */
async function recordAffine(gpu: Gpu, x: Tensor, p: GroupNormParams, aff: Tensor, outDtype: DType, label: string): Promise<void> {
  const [B, C, P] = dims(x, p);
  const G = p.groups;
  const { chunk, bandPixels, nPart } = banding(gpu, x, C, P, outDtype);
  if (B * G * nPart * 3 * 4 > gpu.caps.maxStorageBinding) throw new Error(`groupNorm: too many partial sums for [${x.shape}]`);
  const common = { name: 'groupnorm', ...kernelSource('groupnorm', source, gpu), uniforms: true } as const;
  const [stats, final] = await Promise.all([
    gpu.pipelines.get({
      ...common,
      bindings: [{ name: 'x', dtype: x.dtype }, { name: 'part', dtype: 'f32', access: 'read_write' }],
      defines: { STATS: true },
    }),
    gpu.pipelines.get({
      ...common,
      bindings: [
        { name: 'part', dtype: 'f32' },
        { name: 'gamma', dtype: p.gamma.dtype },
        { name: 'beta', dtype: p.beta.dtype },
        { name: 'aff', dtype: 'f32', access: 'read_write' },
      ],
      defines: { FINAL: true },
    }),
  ]);
  const { u, u32 } = uniforms(C, G, P, nPart, chunk, p.eps);
  const part = empty(gpu, [B * G * nPart * 3], 'f32', 'groupnorm partials');
  // Pass 1: partial moments per band (the whole batch at once when everything fits). Shaders
  // index from the tensor's start minus the elements before the window (its base).
  const statsBand = (b0: number, batches: number, p0: number, n: number) => {
    const start = (b0 * P + p0) * C;
    const w = baseWindow(x, start, (batches > 1 ? batches * P : n) * C);
    u32.set([n, p0, b0, w.base], 4);
    u32[9] = p0 / chunk;
    gpu.recorder.dispatch(stats, [w.binding, part], u, [Math.ceil(n / chunk), G, batches], `groupnorm stats ${label}`);
  };
  if (bandPixels === P && x.numel <= maxWindowElems(gpu, x.dtype)) statsBand(0, B, 0, P);
  else for (let b = 0; b < B; b++) for (let p0 = 0; p0 < P; p0 += bandPixels) statsBand(b, 1, p0, Math.min(bandPixels, P - p0));
  // Pass 2: merge partials into the per-channel affine of each (batch, group).
  gpu.recorder.dispatch(final, [part, p.gamma, p.beta, aff], u, [G, B], `groupnorm merge ${label}`);
  part.dispose();
}

/**
 * The statistics of GroupNorm(x) as the per-channel affine [B, 2, C] (f32): row 0 the scales
 * rstd·gamma, row 1 the shifts beta − mean·rstd·gamma. For consumers that normalise on load
 * (conv2d's `inNorm`), so the normalised map is never written.
 */
export async function groupNormAffine(gpu: Gpu, x: Tensor, p: GroupNormParams): Promise<Tensor> {
  const [B, C] = dims(x, p);
  const aff = empty(gpu, [B, 2, C], 'f32', 'groupnorm affine');
  await runVariant(gpu, 'groupnorm', `affine ${x.dtype} C${C} G${p.groups}`, (v) => recordAffine(gpu, x, p, aff, x.dtype, v.name), { outputs: [aff] });
  return aff;
}

export async function groupNorm(gpu: Gpu, x: Tensor, p: GroupNormParams, o: GroupNormOptions = {}): Promise<Tensor> {
  const [B, C, P] = dims(x, p);
  const G = p.groups;
  const outDtype = o.outDtype ?? writable(gpu, x.dtype);
  if (o.inPlace && outDtype !== x.dtype) throw new Error(`groupNorm: in place needs the output in x's dtype ${x.dtype}, not ${outDtype}`);
  const { pixelsPerWindow, chunk, nPart } = banding(gpu, x, C, P, outDtype);
  const aff = empty(gpu, [B, 2, C], 'f32', 'groupnorm affine');
  const out = o.inPlace ? x : empty(gpu, x.shape, outDtype);
  const vec = C % 4 === 0 ? 4 : 1;

  const record = async (v: Variant) => {
    await recordAffine(gpu, x, p, aff, outDtype, v.name);
    const apply = await gpu.pipelines.get({
      name: 'groupnorm',
      ...kernelSource('groupnorm', source, gpu),
      uniforms: true,
      bindings: [
        // In place, x is read through `out` (one buffer cannot be bound read-only and writable at once).
        ...(o.inPlace ? [] : [{ name: 'x', dtype: x.dtype, vec } as const]),
        { name: 'aff', dtype: 'f32' },
        { name: 'out', dtype: outDtype, access: 'read_write', vec },
      ],
      defines: { APPLY: true, VEC: vec === 4, SILU: Boolean(o.silu), IN_PLACE: Boolean(o.inPlace) },
    });
    const { u, u32 } = uniforms(C, G, P, nPart, chunk, p.eps);
    // Pass 3: normalise (elementwise over bands of whole pixels).
    const applyBand = (e0: number, count: number) => {
      const xw = baseWindow(x, e0, count);
      const ow = baseWindow(out, e0, count);
      u32.set([count / vec, e0, 0, xw.base], 4);
      u32[11] = ow.base;
      const bindings = [...(o.inPlace ? [] : [xw.binding]), aff, ow.binding];
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
    aff.dispose();
  }
  return out;
}
