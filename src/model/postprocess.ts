// From the pipeline's [3,H,W] image in [0,1] to what the reference saves: depth coloured with
// matplotlib's "Spectral", other tasks as RGB, the float maps written as .npy. Pure TypeScript
// (the browser page reuses it); every rounding rule mirrors the reference's numpy/torch call.
import { f32ToF16Bits } from '../runtime/f16.ts';
import { resizePlanes, resizeU8 } from './resample.ts';

/** ColorBrewer's 11-class Spectral, as matplotlib's `_Spectral_data` (r, g, b) / 255. */
const SPECTRAL_BREWER = [
  [158, 1, 66], [213, 62, 79], [244, 109, 67], [253, 174, 97], [254, 224, 139], [255, 255, 191],
  [230, 245, 152], [171, 221, 164], [102, 194, 165], [50, 136, 189], [94, 79, 162],
];

export const LUT_SIZE = 256;

/**
 * matplotlib's LinearSegmentedColormap.from_list(colors, N=256)._lut (RGB, float64): anchors at
 * linspace(0,1,11)·(N−1), sample positions linspace(0,1,N)·(N−1), left-searchsorted segment,
 * linear interpolation, endpoints pinned. Float64 in the same order, so the values (and their
 * truncation to uint8 below) match bit for bit.
 */
function buildSpectralLut(): Float64Array {
  const n = SPECTRAL_BREWER.length;
  const anchors = linspace(n).map((v) => v * (LUT_SIZE - 1));
  const samples = linspace(LUT_SIZE).map((v) => (LUT_SIZE - 1) * v);
  const lut = new Float64Array(LUT_SIZE * 3);
  for (let c = 0; c < 3; c++) {
    const y = SPECTRAL_BREWER.map((rgb) => rgb[c] / 255);
    lut[c] = y[0];
    lut[(LUT_SIZE - 1) * 3 + c] = y[n - 1];
    for (let i = 1; i < LUT_SIZE - 1; i++) {
      let k = 0;
      while (k < n && anchors[k] < samples[i]) k++; // numpy.searchsorted(side='left')
      const t = (samples[i] - anchors[k - 1]) / (anchors[k] - anchors[k - 1]);
      lut[i * 3 + c] = Math.min(1, Math.max(0, t * (y[k] - y[k - 1]) + y[k - 1]));
    }
  }
  return lut;
}

/** numpy.linspace(0, 1, n): i·step, the last value exactly 1. */
function linspace(n: number): number[] {
  const step = 1 / (n - 1);
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? 1 : i * step));
}

export const SPECTRAL_LUT = buildSpectralLut();

/** matplotlib's float → LUT index: x·N truncated, x == 1 → N−1; clipped to [0,1] first. */
export function lutIndex(x: number): number {
  const v = Math.min(1, Math.max(0, x));
  return Math.min(LUT_SIZE - 1, Math.trunc(v * LUT_SIZE));
}

/** The depth map the reference derives: the mean of the 3 channels, in float32 like numpy. */
export function depthMap(image: Float32Array, height: number, width: number): Float32Array {
  const hw = height * width;
  const out = new Float32Array(hw);
  for (let i = 0; i < hw; i++) out[i] = Math.fround(Math.fround(image[i] + image[hw + i]) + image[2 * hw + i]) / 3;
  return out;
}

/**
 * colorize_depth_maps(pred, 0, 1) then (rgb·255).astype(uint8): interleaved RGB bytes.
 * NaN (matplotlib's "bad" colour, transparent black) becomes 0.
 */
export function colorizeDepth(image: Float32Array, height: number, width: number): Uint8Array {
  const depth = depthMap(image, height, width);
  const out = new Uint8Array(depth.length * 3);
  for (let i = 0; i < depth.length; i++) {
    if (Number.isNaN(depth[i])) continue;
    const k = lutIndex(depth[i]) * 3;
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.trunc(SPECTRAL_LUT[k + c] * 255);
  }
  return out;
}

/**
 * How a float in [0,1] becomes a byte:
 * - 'clamp': inference.py's (x.clamp(0,1)·255).byte() (truncation);
 * - 'f16': batch_inference.py's ToPILImage(x.to(float16)): x·255 in float16, then truncation.
 */
export type ByteRule = 'clamp' | 'f16';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * Rounds to float32 and then to `keep` mantissa bits, nearest even: 7 is bfloat16; 10 is
 * float16 within its normal range (|v| >= 2^-14; smaller values keep their exponent, which
 * cannot change a byte: they are < 1/255). Bit arithmetic, as this runs per pixel.
 */
export function roundMantissa(v: number, keep: number): number {
  if (!Number.isFinite(v)) return v;
  const drop = 23 - keep;
  f32[0] = v;
  const u = u32[0];
  u32[0] = (u + (1 << (drop - 1)) - 1 + ((u >>> drop) & 1)) & ~((1 << drop) - 1);
  return f32[0];
}

export function toByte(x: number, rule: ByteRule): number {
  const v = rule === 'clamp' ? Math.min(1, Math.max(0, x)) * 255 : roundMantissa(roundMantissa(x, 10) * 255, 10);
  return Number.isNaN(v) ? 0 : Math.min(255, Math.max(0, Math.trunc(v)));
}

/** Planar [3,H,W] floats in [0,1] → interleaved RGB bytes. */
export function planarToRgb(image: Float32Array, height: number, width: number, rule: ByteRule): Uint8Array {
  const hw = height * width;
  const out = new Uint8Array(hw * 3);
  for (let i = 0; i < hw; i++) for (let c = 0; c < 3; c++) out[i * 3 + c] = toByte(image[c * hw + i], rule);
  return out;
}

/**
 * A .npy file (format 1.0, '<f2', C order) holding `data` rounded to float16, like
 * np.save(path, tensor.to(torch.float16).numpy()).
 */
export function encodeNpyF16(data: Float32Array, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`encodeNpyF16: shape [${shape}] holds ${count} values, data has ${data.length}`);
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f2', 'fortran_order': False, 'shape': (${dims}), }`;
  // numpy pads with spaces and a final newline so the data starts on a 64-byte boundary.
  const preamble = 10;
  const total = Math.ceil((preamble + header.length + 1) / 64) * 64;
  header = header.padEnd(total - preamble - 1, ' ') + '\n';
  const out = new Uint8Array(total + count * 2);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]); // \x93NUMPY v1.0
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[preamble + i] = header.charCodeAt(i);
  const view = new DataView(out.buffer, total);
  for (let i = 0; i < count; i++) view.setUint16(2 * i, f32ToF16Bits(data[i]), true);
  return out;
}

/** How a prediction is shown: the byte rule and the filter that brings it to the input's size. */
export interface PredictionStyle {
  rule: ByteRule;
  /** inference.py resizes with LANCZOS; batch_inference.py with PIL's default BICUBIC. */
  filter: 'lanczos' | 'bicubic';
}

/** inference.py's and the page's rendering; batch_inference.py's. */
export const INFER_STYLE: PredictionStyle = { rule: 'clamp', filter: 'lanczos' };
export const BATCH_STYLE: PredictionStyle = { rule: 'f16', filter: 'bicubic' };

/** What a run's [3, S, S] output becomes at the input's size; every front end uses this. */
export interface Prediction {
  width: number;
  height: number;
  /** The prediction image the reference saves: depth Spectral-coloured, other tasks as RGB. Interleaved, width×height. */
  rgb: Uint8Array;
  /** The model's [3, height, width] output in [0, 1], resized like F.interpolate(bilinear, align_corners=False). */
  values: Float32Array;
  /** depth task: the channel-mean map [height, width] (resized the same way). */
  depth?: Float32Array;
  /** normal task: [3, height, width] (the same array as `values`). */
  normal?: Float32Array;
}

/** The [3, S, S] output in [0, 1] of `task`, brought to the input's width×height. */
export function toPrediction(image01: Float32Array, task: string, width: number, height: number, style: PredictionStyle): Prediction {
  const size = Math.round(Math.sqrt(image01.length / 3));
  if (3 * size * size !== image01.length) throw new Error(`toPrediction: ${image01.length} values are not a square RGB image`);
  const isDepth = task === 'depth';
  const bytes = isDepth ? colorizeDepth(image01, size, size) : planarToRgb(image01, size, size, style.rule);
  const values = resizePlanes(image01, 3, size, size, height, width, 'bilinear', false);
  return {
    width,
    height,
    rgb: resizeU8(bytes, size, size, 3, width, height, style.filter),
    values,
    ...(isDepth && { depth: resizePlanes(depthMap(image01, size, size), 1, size, size, height, width, 'bilinear', false) }),
    ...(task === 'normal' && { normal: values }),
  };
}

/**
 * The `--save_npy` payload: for depth the channel-mean map [H, W], for normals [3, H, W].
 * Other tasks have none (as in the reference).
 */
export function npyPayload(p: Prediction): { data: Float32Array; shape: number[] } | undefined {
  if (p.depth) return { data: p.depth, shape: [p.height, p.width] };
  if (p.normal) return { data: p.normal, shape: [3, p.height, p.width] };
  return undefined;
}
