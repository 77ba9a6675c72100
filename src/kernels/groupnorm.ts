// GroupNorm (+ optional fused SiLU) over channels-last activations [B, ..., C]: a stats pass,
// a merge pass and an apply pass (see shaders/groupnorm.wgsl), each banded over pixels when
// the tensor exceeds the binding limit. Results do not depend on the banding.
import { isCpuAdapter, type Gpu } from '../runtime/device.ts';
import { empty, type DType, type Tensor } from '../runtime/tensor.ts';
import source from '../../shaders/groupnorm.wgsl';
import { grid1d } from './grid.ts';
import { bandItems, checkIndexable, maxWindowElems, writable, baseWindow } from './bands.ts';
import { runVariant, sizeClass } from './choice.ts';
import { kernelSource, registerFamily, type Variant } from './registry.ts';
import type { BindingSpec } from '../runtime/shader.ts';

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

// One variant: columns of pixels per invocation for the stats and apply passes, tree merges in
// workgroup memory for the merge pass. It must stay the only one while `inPlace` exists:
// autotuning would run an in-place call once per candidate.
registerFamily('groupnorm', [{ name: 'workgroup', family: 'groupnorm', supports: () => true, needs: [], workgroupMemory: true }]);

/** Pixels per invocation (a column) at most: longer columns mean fewer partials to merge. */
const MAX_CHUNK = 256;
const MIN_CHUNK = 16;
/**
 * Columns get shorter below this many per batch element, so small maps still fill the adapter:
 * a CPU adapter runs a few threads, a GPU wants ~10⁵ invocations in flight (not measured here).
 */
const minColumns = (gpu: Gpu) => (isCpuAdapter(gpu.caps) ? 8192 : 1 << 17);
/**
 * On CPU adapters, from this many channels a column spans WIDE_UNITS vec4 units: its loads of a
 * pixel then cover 64 bytes rather than 16, and lavapipe ran the SD3 VAE's 128-512-channel maps
 * in 0.6-0.7x the time (narrow maps gained nothing). GPUs keep one unit, so that consecutive
 * lanes read consecutive 16 bytes.
 */
const WIDE = 128;
const WIDE_UNITS = 4;

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

/**
 * How the passes split x: columns of `span` channels (`units` units of `vec` channels: vec 4 when
 * whole spans fall in one group or hold whole groups) by `chunk` pixels, one per invocation; bands
 * of `bandPixels` pixels (whole columns, so partials tile each (batch, group) exactly) when x
 * exceeds a binding; `nPart` partials per (batch, group).
 */
function layout(gpu: Gpu, x: Tensor, C: number, G: number, P: number, outDtype: DType) {
  const dtypes = [x.dtype, outDtype];
  const cg = C / G;
  const fits = (span: number) => C % span === 0 && (cg % span === 0 || span % cg === 0);
  const vec: 1 | 4 = fits(4) ? 4 : 1;
  const units = vec === 4 && C >= WIDE && fits(4 * WIDE_UNITS) && isCpuAdapter(gpu.caps) ? WIDE_UNITS : 1;
  const span = vec * units;
  const pixelsPerWindow = bandItems(gpu, C, dtypes, 'groupNorm');
  const perGroup = Math.max(1, cg / span);
  const partBytes = (chunk: number) => x.shape[0] * G * Math.ceil(P / chunk) * perGroup * 3 * 4;
  let chunk = MAX_CHUNK;
  while (chunk > MIN_CHUNK && Math.ceil(P / chunk) * (C / span) < minColumns(gpu)) chunk >>= 1;
  while (chunk < MAX_CHUNK && partBytes(chunk) > gpu.caps.maxStorageBinding) chunk <<= 1;
  while (chunk > pixelsPerWindow) chunk >>= 1;
  if (partBytes(chunk) > gpu.caps.maxStorageBinding) throw new Error(`groupNorm: too many partial sums for [${x.shape}]`);
  const bandPixels = Math.min(P, Math.floor(pixelsPerWindow / chunk) * chunk);
  const whole = bandPixels === P && dtypes.every((d) => x.numel <= maxWindowElems(gpu, d));
  return { vec, units, span, chunk, bandPixels, whole, perGroup, nPart: Math.ceil(P / chunk) * perGroup };
}
type Layout = ReturnType<typeof layout>;

/** f16 data in vec4 units binds as raw u32 words (the shader's X_WORDS, OUT_WORDS). */
const words = (l: Layout, dtype: DType) => l.vec === 4 && dtype === 'f16';
function binding(l: Layout, name: string, dtype: DType, access?: 'read_write'): BindingSpec {
  return words(l, dtype) ? { name, dtype: 'u32', access } : { name, dtype, vec: l.vec, access };
}

/** Uniforms shared by the passes (per-band fields are set by each dispatch). */
function uniforms(C: number, G: number, P: number, l: Layout, eps: number) {
  const u = new ArrayBuffer(64);
  const u32 = new Uint32Array(u);
  new Float32Array(u)[12] = eps;
  u32.set([C, C / G, G, P, 0, 0, 0, 0, l.nPart, 0, l.chunk, 0]);
  return { u, u32 };
}

/**
 * Calls `band` for each band of x the stats and apply passes dispatch over: the whole batch when
 * it fits one binding, else runs of pixels of one batch element. `start`/`count`: its elements.
 */
function forBands(B: number, C: number, P: number, l: Layout, band: (b0: number, batches: number, p0: number, n: number, start: number, count: number) => void): void {
  if (l.whole) return band(0, B, 0, P, 0, B * P * C);
  for (let b = 0; b < B; b++) {
    for (let p0 = 0; p0 < P; p0 += l.bandPixels) {
      const n = Math.min(l.bandPixels, P - p0);
      band(b, 1, p0, n, (b * P + p0) * C, n * C);
    }
  }
}

/** Workgroups of a band's stats or apply dispatch: one invocation per column, 64 per workgroup. */
function columnGrid(gpu: Gpu, C: number, l: Layout, n: number, batches: number): [number, number, number] {
  return [...grid1d(gpu, Math.ceil(n / l.chunk) * (C / l.span), 64), batches];
}

/**
 * Records the statistics and merge passes: the group statistics of x, as the per-channel
 * affine `aff` [B, 2, C] (f32) that normalising amounts to: y = x·aff[b, 0, c] + aff[b, 1, c].
 */
async function recordAffine(gpu: Gpu, x: Tensor, p: GroupNormParams, aff: Tensor, l: Layout, label: string): Promise<void> {
  const [B, C, P] = dims(x, p);
  const G = p.groups;
  const common = { name: 'groupnorm', ...kernelSource('groupnorm', source, gpu), uniforms: true } as const;
  const [stats, final] = await Promise.all([
    gpu.pipelines.get({
      ...common,
      bindings: [binding(l, 'x', x.dtype), { name: 'part', dtype: 'f32', access: 'read_write' }],
      defines: { STATS: true, VEC: l.vec === 4, UNITS: l.units, X_WORDS: words(l, x.dtype) },
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
  const { u, u32 } = uniforms(C, G, P, l, p.eps);
  const part = empty(gpu, [B * G * l.nPart * 3], 'f32', 'groupnorm partials');
  // Pass 1: partial moments per band. Shaders index from the tensor's start minus the elements
  // before the window (its base).
  forBands(B, C, P, l, (b0, batches, p0, n, start, count) => {
    const w = baseWindow(x, start, count);
    u32.set([n, p0, b0, w.base], 4);
    u32[9] = (p0 / l.chunk) * l.perGroup;
    gpu.recorder.dispatch(stats, [w.binding, part], u, columnGrid(gpu, C, l, n, batches), `groupnorm stats ${label}`);
  });
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
  const [B, C, P] = dims(x, p);
  const aff = empty(gpu, [B, 2, C], 'f32', 'groupnorm affine');
  const l = layout(gpu, x, C, p.groups, P, x.dtype);
  await runVariant(gpu, 'groupnorm', `affine ${x.dtype} C${C} G${p.groups}`, (v) => recordAffine(gpu, x, p, aff, l, v.name), { outputs: [aff] });
  return aff;
}

export async function groupNorm(gpu: Gpu, x: Tensor, p: GroupNormParams, o: GroupNormOptions = {}): Promise<Tensor> {
  const [B, C, P] = dims(x, p);
  const G = p.groups;
  const outDtype = o.outDtype ?? writable(gpu, x.dtype);
  if (o.inPlace && outDtype !== x.dtype) throw new Error(`groupNorm: in place needs the output in x's dtype ${x.dtype}, not ${outDtype}`);
  const l = layout(gpu, x, C, G, P, outDtype);
  const aff = empty(gpu, [B, 2, C], 'f32', 'groupnorm affine');
  const out = o.inPlace ? x : empty(gpu, x.shape, outDtype);

  const record = async (v: Variant) => {
    await recordAffine(gpu, x, p, aff, l, v.name);
    const apply = await gpu.pipelines.get({
      name: 'groupnorm',
      ...kernelSource('groupnorm', source, gpu),
      uniforms: true,
      bindings: [
        // In place, x is read through `out` (one buffer cannot be bound read-only and writable at once).
        ...(o.inPlace ? [] : [binding(l, 'x', x.dtype)]),
        { name: 'aff', dtype: 'f32', vec: l.vec },
        binding(l, 'out', outDtype, 'read_write'),
      ],
      defines: {
        APPLY: true,
        VEC: l.vec === 4,
        UNITS: l.units,
        X_WORDS: words(l, x.dtype),
        OUT_WORDS: words(l, outDtype),
        SILU: Boolean(o.silu),
        IN_PLACE: Boolean(o.inPlace),
      },
    });
    const { u, u32 } = uniforms(C, G, P, l, p.eps);
    // Pass 3: normalise, over the same bands as the stats.
    forBands(B, C, P, l, (b0, batches, p0, n, start, count) => {
      const xw = baseWindow(x, start, count);
      const ow = baseWindow(out, start, count);
      u32.set([n, p0, b0, xw.base], 4);
      u32[11] = ow.base;
      const bindings = [...(o.inPlace ? [] : [xw.binding]), aff, ow.binding];
      gpu.recorder.dispatch(apply, bindings, u, columnGrid(gpu, C, l, n, batches), `groupnorm apply ${v.name}`);
    });
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
