// 2-D convolution (implicit GEMM) with fused bias, optional residual add (or written over the
// residual), input affine or GroupNorm+SiLU of the input, output affine+clamp and nearest 2×
// upsampling of the input. Activations are NHWC (channels-last),
// so a band of rows is one contiguous range: tensors above the binding limit are processed in
// row bands. NCHW operands (an image in, an image out) are bound whole, so they must fit one
// binding. Variants (family 'conv2d', shaders/conv2d.wgsl) are picked by the registry.
import type { Capabilities, Gpu } from '../runtime/device.ts';
import { empty, fromArray, type DType, type Tensor } from '../runtime/tensor.ts';
import { rangeSafeDtype, readF32, type WeightReader } from '../runtime/weights.ts';
import source from '../../shaders/conv2d.wgsl';
import { bandItems, checkIndexable, maxWindowElems, writable, baseWindow } from './bands.ts';
import { chooseVariant, kernelSource, registerFamily, type Variant } from './registry.ts';
import { subgroupsOf } from './types.ts';

export interface Conv2dVariant extends Variant {
  /** Share each ci step's weight vec4s through subgroup shuffles. */
  subgroups?: boolean;
  /** Workgroup-memory implicit GEMM: bm output pixels × bn output channels per workgroup, bk-deep slices. */
  tile?: { bm: number; bn: number; bk: number };
}

/** Invocations per workgroup of the register-blocked kernel. */
const WORKGROUP = 64;
/** The workgroup-memory kernel: 4 pixels × 4 channels per invocation, 16×16 invocations. */
const WG_TILE = { bm: 64, bn: 64, bk: 16 };
const WG_INVOCATIONS = (WG_TILE.bm / 4) * (WG_TILE.bn / 4);

/**
 * In preference order (CPU adapters take the first supported one): on lavapipe register
 * blocking with shared weight loads is fastest; GPUs time them all.
 */
export const CONV2D_VARIANTS: Conv2dVariant[] = registerFamily('conv2d', [
  { name: 'subgroup', family: 'conv2d', subgroups: true, supports: (c: Capabilities) => sharesWeights(c), needs: ['subgroups'], workgroupMemory: false },
  { name: 'register', family: 'conv2d', supports: () => true, needs: [], workgroupMemory: false },
  {
    name: 'wgmem-64x64',
    family: 'conv2d',
    tile: WG_TILE,
    supports: (c: Capabilities) => c.maxInvocations >= WG_INVOCATIONS && c.maxWorkgroupStorage >= (WG_TILE.bm + WG_TILE.bn) * WG_TILE.bk * 4,
    needs: [],
    workgroupMemory: true,
  },
]);

/** Conv weights laid out for the kernel: w [kh·kw·cin, coutPad], bias [coutPad] (zero padded). */
export interface Conv2dWeight {
  w: Tensor;
  bias: Tensor;
  cout: number;
  cin: number;
  kh: number;
  kw: number;
  /** vec4 output-channel groups per invocation; coutPad is a multiple of 4·tn. */
  tn: number;
  coutPad: number;
}

/**
 * Re-lays a PyTorch conv weight [cout, cin, kh, kw] (and bias [cout]) out once for the kernel.
 */
export function prepareConv2d(gpu: Gpu, weight: Float32Array, shape: readonly number[], bias: Float32Array | undefined, dtype: DType): Conv2dWeight {
  if (shape.length !== 4) throw new Error(`conv2d weight: expected shape [cout, cin, kh, kw], got [${shape}]`);
  const [cout, cin, kh, kw] = shape;
  if (weight.length !== cout * cin * kh * kw) throw new Error(`conv2d weight: ${weight.length} values for shape [${shape}]`);
  if (bias && bias.length !== cout) throw new Error(`conv2d bias: expected ${cout} values, got ${bias.length}`);
  // 16 output channels per invocation where subgroups share the weight loads (1.3-1.9× over 8
  // on lavapipe); without them each invocation loads its own weights, and 8 channels pay more.
  const tn = cout >= 16 && sharesWeights(gpu.caps) ? 4 : cout >= 8 ? 2 : 1;
  const coutPad = Math.ceil(cout / (4 * tn)) * 4 * tn;
  const w = new Float32Array(kh * kw * cin * coutPad);
  for (let o = 0; o < cout; o++)
    for (let i = 0; i < cin; i++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++) w[((y * kw + x) * cin + i) * coutPad + o] = weight[((o * cin + i) * kh + y) * kw + x];
  const b = new Float32Array(coutPad);
  if (bias) b.set(bias);
  return { w: fromArray(gpu, w, [kh * kw * cin, coutPad], dtype), bias: fromArray(gpu, b, [coutPad], dtype), cout, cin, kh, kw, tn, coutPad };
}

/** Loads `<prefix>.weight` and `<prefix>.bias` (upstream names) and prepares them. */
export async function loadConv2d(gpu: Gpu, r: WeightReader, prefix: string, dtype: DType): Promise<Conv2dWeight> {
  const e = r.entry(`${prefix}.weight`);
  const bias = r.has(`${prefix}.bias`) ? await readF32(r.entry(`${prefix}.bias`)) : undefined;
  const w = await readF32(e);
  // Weight and bias share one dtype: f32 if either holds values f16 cannot.
  const wDtype = rangeSafeDtype(gpu, e.name, e.source.name, w, dtype);
  const safe = bias ? rangeSafeDtype(gpu, `${prefix}.bias`, e.source.name, bias, wDtype) : wDtype;
  return prepareConv2d(gpu, w, e.shape, bias, safe);
}

export function disposeConv2d(c: Conv2dWeight): void {
  c.w.dispose();
  c.bias.dispose();
}

export type Layout = 'nhwc' | 'nchw';

export interface Conv2dOptions {
  stride?: number;
  /**
   * 2: nearest-neighbour 2× upsampling of the input, fused into the convolution (as
   * interpolate→conv upstream; padding applies in the upsampled frame) so the upsampled map
   * is never stored.
   */
  upsample?: 1 | 2;
  /** Zero padding: one value for all sides, or [top, bottom, left, right]. Default (k-1)/2. */
  pad?: number | [number, number, number, number];
  inLayout?: Layout;
  outLayout?: Layout;
  /** Added to the output (same shape and layout as the output). */
  residual?: Tensor;
  /**
   * Write the output over `residual` and return it (no third map alive: x, the conv's input
   * and the output). The caller must not need the residual's values afterwards.
   */
  residualInPlace?: boolean;
  /** x·scale + shift applied to the real inputs (padding stays 0), e.g. un-scaling a latent. */
  inAffine?: [number, number];
  /**
   * GroupNorm+SiLU applied to the real inputs as they are read (padding stays 0, as for a conv
   * after the activation): the [B, 2, cin] affine from `groupNormAffine(x)`. The normalised map
   * is never written. NHWC input only.
   */
  inNorm?: Tensor;
  /** clamp(v·scale + shift, lo, hi) applied last. */
  outAffine?: [number, number];
  clamp?: [number, number];
  outDtype?: DType;
}

/** Output size of a convolution along one axis. */
export function convOutSize(n: number, k: number, stride: number, padBefore: number, padAfter: number): number {
  return Math.floor((n + padBefore + padAfter - k) / stride) + 1;
}

/** Output pixels per invocation (TM in shaders/conv2d.wgsl): fewer when each covers more channels (registers). */
function tmOf(c: Conv2dWeight): number {
  return c.tn === 4 ? 4 : 8;
}

/** Weight loads shared through subgroup shuffles (lane j loads vec4s j, j+8, …: subgroups of ≥ 8). */
function sharesWeights(caps: Capabilities): boolean {
  return subgroupsOf(caps, 8);
}

export async function conv2d(gpu: Gpu, x: Tensor, c: Conv2dWeight, o: Conv2dOptions = {}): Promise<Tensor> {
  const stride = o.stride ?? 1;
  const p = o.pad ?? (c.kh - 1) / 2;
  const [padT, padB, padL, padR] = typeof p === 'number' ? [p, p, p, p] : p;
  const inL = o.inLayout ?? 'nhwc';
  const outL = o.outLayout ?? 'nhwc';
  if (x.shape.length !== 4) throw new Error(`conv2d: input must be 4-D (${inL}), got [${x.shape}]`);
  const [B, inH, inW, cin] = inL === 'nhwc' ? x.shape : [x.shape[0], x.shape[2], x.shape[3], x.shape[1]];
  if (cin !== c.cin) throw new Error(`conv2d: input has ${cin} channels, the weight expects ${c.cin} (input [${x.shape}] ${inL})`);
  const up = o.upsample ?? 1;
  if (up !== 1 && up !== 2) throw new Error(`conv2d: upsample must be 1 or 2, got ${up}`);
  const outH = convOutSize(up * inH, c.kh, stride, padT, padB);
  const outW = convOutSize(up * inW, c.kw, stride, padL, padR);
  if (outH < 1 || outW < 1) throw new Error(`conv2d: input ${up * inH}×${up * inW} is smaller than the ${c.kh}×${c.kw} kernel`);
  const outShape = outL === 'nhwc' ? [B, outH, outW, c.cout] : [B, c.cout, outH, outW];
  const res = o.residual;
  const inPlace = Boolean(o.residualInPlace);
  if (inPlace && !res) throw new Error('conv2d: residualInPlace needs a residual');
  const outDtype = o.outDtype ?? (inPlace && res ? res.dtype : writable(gpu, x.dtype));
  if (res && (res.shape.length !== 4 || res.shape.some((d, i) => d !== outShape[i]))) {
    throw new Error(`conv2d: residual is [${res.shape}], expected the output shape [${outShape}]`);
  }
  if (inPlace && res && (res.dtype !== outDtype || writable(gpu, res.dtype) !== res.dtype)) {
    throw new Error(`conv2d: residualInPlace needs a residual writable as the output dtype ${outDtype}, got ${res.dtype}`);
  }
  checkIndexable('conv2d', { input: x.shape, output: outShape });

  const nrm = o.inNorm;
  if (nrm) {
    if (inL !== 'nhwc' || o.inAffine) throw new Error('conv2d: inNorm needs an NHWC input and no inAffine');
    if (nrm.numel !== B * 2 * cin || nrm.dtype !== 'f32') throw new Error(`conv2d: inNorm must be f32 [${B}, 2, ${cin}] (groupNormAffine of the input), got ${nrm.dtype} [${nrm.shape}]`);
  }
  const vecIn = inL === 'nhwc' && cin % 4 === 0;
  const vecOut = outL === 'nhwc' && c.cout % 4 === 0;
  // ip: the residual is read from the output (in place); else from its own binding.
  const bindingsOf = (ip: boolean) => [
    { name: 'x', dtype: x.dtype, vec: vecIn ? (4 as const) : (1 as const) },
    { name: 'w', dtype: c.w.dtype, vec: 4 as const },
    { name: 'bias', dtype: c.bias.dtype, vec: 4 as const },
    ...(nrm ? [{ name: 'nrm', dtype: 'f32' as const, vec: vecIn ? (4 as const) : (1 as const) }] : []),
    ...(res && !ip ? [{ name: 'res', dtype: res.dtype, vec: vecOut ? (4 as const) : (1 as const) }] : []),
    { name: 'out', dtype: outDtype, access: 'read_write' as const, vec: vecOut ? (4 as const) : (1 as const) },
  ];
  // Taps of a kernel row share input loads (stride 1) where loads outweigh the FMAs: on lavapipe
  // 0.56-0.63x the time for the RGB conv_in, 0.77-0.78x for a 16->3 conv_out, but ~1.1x for
  // vec4 inputs with 16 output channels per invocation (2026-12-01, interleaved, f16).
  const shiftTaps = stride === 1 && !(vecIn && c.tn === 4);
  const kernelOf = (v: Conv2dVariant, ip: boolean) => {
    const t = v.tile;
    const defines: Record<string, number | boolean> = t
      ? { WGMEM: true, BM: t.bm, BN: t.bn, BK: t.bk, TM: 4, TN: 1, WG_X: t.bn / 4, WG_Y: t.bm / 4 }
      : { TM: tmOf(c), TN: c.tn, SGL: Math.ceil(c.tn / 2), STRIDE: stride, SHIFT_TAPS: shiftTaps, SUBGROUPS: Boolean(v.subgroups) };
    const k = kernelSource('conv2d', source, gpu);
    return gpu.pipelines.get({
      name: 'conv2d',
      source: k.source,
      file: k.file,
      bindings: bindingsOf(ip),
      uniforms: true,
      defines: { ...defines, VEC_IN: vecIn, VEC_OUT: vecOut, RESIDUAL: Boolean(res), RES_IN_PLACE: ip, IN_AFFINE: Boolean(o.inAffine), IN_NORM: Boolean(nrm) },
    });
  };
  const out = inPlace && res ? res : empty(gpu, outShape, outDtype);

  const inRow = inW * cin; // elements per input row (NHWC)
  const outRow = outW * c.cout;
  // A workgroup of any variant covers at least 64 pixels (register kernels 64 row segments of
  // 1 to TM pixels, WGMEM bm).
  const maxPixels = gpu.caps.maxWorkgroupsPerDim * 64;
  const fits = (t: Tensor) => t.numel <= maxWindowElems(gpu, t.dtype);
  const fitsWhole = fits(x) && fits(out) && (!res || fits(res)) && outH * outW <= maxPixels;
  const u = new ArrayBuffer(128);
  const u32 = new Uint32Array(u);
  const f32 = new Float32Array(u);
  u32.set([inH, inW, cin, c.cout, outH, outW, c.coutPad / 4, 0, 0, 0, padT, padL, 0, 0, 0]);
  u32[15] = inL === 'nhwc' ? 1 : inH * inW; // ciStride
  u32[16] = inL === 'nhwc' ? cin : 1; // pixStride
  u32[17] = outL === 'nhwc' ? c.cout : 1; // outPix
  u32[18] = outL === 'nhwc' ? 1 : outH * outW; // outCi
  u32[19] = Math.log2(up); // upsampling shift
  f32.set([...(o.inAffine ?? [1, 0]), ...(o.outAffine ?? [1, 0]), ...(o.clamp ?? [-3.4e38, 3.4e38])], 20);
  const i32 = new Int32Array(u);
  u32.set([c.kh, c.kw], 28);
  i32[30] = stride;

  /** Dispatches: batch b0 and `batches` after it, output rows [oy0, oy0 + rows), input elements [xs, xs + xn). */
  type Band = { b0: number; batches: number; oy0: number; rows: number; xs: number; xn: number };
  const plan: Band[] = [];
  if (fitsWhole) {
    plan.push({ b0: 0, batches: B, oy0: 0, rows: outH, xs: 0, xn: x.numel });
  } else {
    // Row bands: output rows [oy0, oy0+R) read (upsampled) input rows oy0·s − padT …
    // (oy0+R−1)·s − padT + kh − 1, stored rows those divided by `up`. A window of inRows stored
    // rows holds any run of up·(inRows − 1) + 1 upsampled rows, wherever it starts.
    const inRows = inL === 'nhwc' ? bandItems(gpu, inRow, [x.dtype], 'conv2d') : Infinity;
    const outRows = outL === 'nhwc' ? bandItems(gpu, outRow, res ? [outDtype, res.dtype] : [outDtype], 'conv2d') : Infinity;
    const rows = Math.min(Math.floor((up * (inRows - 1) + 1 - c.kh) / stride) + 1, outRows, Math.floor(maxPixels / outW), outH);
    if (rows < 1) {
      throw new Error(`conv2d: one band of input [${x.shape}] / output [${outShape}] exceeds the ${gpu.caps.maxStorageBinding}-byte binding limit`);
    }
    for (let b = 0; b < B; b++) {
      for (let oy0 = 0; oy0 < outH; oy0 += rows) {
        const r = Math.min(rows, outH - oy0);
        const iy0 = Math.floor(Math.max(0, oy0 * stride - padT) / up);
        const iy1 = Math.floor(Math.min(up * inH - 1, (oy0 + r - 1) * stride - padT + c.kh - 1) / up);
        plan.push({ b0: b, batches: 1, oy0, rows: r, xs: (b * inH + iy0) * inRow, xn: Math.max(1, iy1 - iy0 + 1) * inRow });
      }
    }
  }

  // NHWC operands are bound as windows of the band's rows; NCHW ones (an image in or out: a
  // few channels) are bound whole and must fit one binding.
  // The shaders index from the tensor's start minus `base` (the elements before the window).
  const outWindow = (t: Tensor, b0: number, batches: number, oy0: number, rows: number) =>
    outL === 'nhwc' ? baseWindow(t, (b0 * outH + oy0) * outRow, batches * rows * outRow) : baseWindow(t, 0, t.numel);
  // dst: the output (the residual itself when ip).
  const record = async (v: Conv2dVariant, dst: Tensor, ip: boolean) => {
    const kernel = await kernelOf(v, ip);
    // Register kernels: one invocation per TM-pixel segment of an output row.
    const segs = Math.ceil(outW / tmOf(c));
    const groupsOf = (rows: number) => (v.tile ? Math.ceil((rows * outW) / v.tile.bm) : Math.ceil((rows * segs) / WORKGROUP));
    const yGroups = v.tile ? Math.ceil(c.coutPad / v.tile.bn) : c.coutPad / 4 / c.tn;
    for (const { b0, batches, oy0, rows, xs, xn } of plan) {
      const xw = inL === 'nhwc' ? baseWindow(x, xs, xn) : baseWindow(x, 0, x.numel);
      const ow = outWindow(dst, b0, batches, oy0, rows);
      const rw = res && !ip ? outWindow(res, b0, batches, oy0, rows) : undefined;
      const pixels = rows * outW;
      u32[7] = pixels;
      u32[8] = oy0 * outW;
      u32[9] = b0;
      u32[12] = xw.base;
      u32[13] = ow.base;
      u32[14] = rw ? rw.base : ip ? ow.base : 0;
      const bindings = [xw.binding, c.w, c.bias, ...(nrm ? [nrm] : []), ...(rw ? [rw.binding] : []), ow.binding];
      gpu.recorder.dispatch(kernel, bindings, u, [groupsOf(rows), yGroups, batches], `conv2d ${v.name}`);
    }
  };
  const shapeClass = `${inL}->${outL} ${x.dtype}.${c.w.dtype}->${outDtype} ${c.kh}x${c.kw}/${stride} up${up} ${cin}->${c.cout}${nrm ? ' norm' : ''} px~${2 ** Math.ceil(Math.log2(outH * outW))}`;
  // Autotuning times an in-place call out of place (repeating it would add the residual again).
  const v = await chooseVariant<Conv2dVariant>(gpu, 'conv2d', shapeClass, async (cand) => {
    const scratch = inPlace ? empty(gpu, outShape, outDtype) : out;
    await gpu.sync('conv2d');
    const t0 = performance.now();
    await record(cand, scratch, false);
    await gpu.sync('conv2d');
    if (scratch !== out) scratch.dispose();
    return performance.now() - t0;
  });
  await record(v, out, inPlace);
  return out;
}
