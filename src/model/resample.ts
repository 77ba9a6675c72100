// Separable image resampling with the semantics of the libraries the reference uses:
// - resizeU8: Pillow's Image.resize on 8-bit RGB (fixed-point weights, horizontal pass first,
//   8-bit intermediate) for LANCZOS and BICUBIC (PIL's default), bit-exact by construction.
// - resizePlanes: float planes, torch's bilinear: F.interpolate(mode='bilinear',
//   align_corners=False) with antialias=false, and torchvision's Resize(BILINEAR) on tensors
//   (antialias=True, PIL's triangle filter widened by the downscale factor) with antialias=true.
// Both come from one coefficient rule: output pixel i centred at (i+0.5)·scale in input pixels,
// taps within ±support·max(scale,1), weights filter((j+0.5−centre)/max(scale,1)) normalised.
// Without antialias the filter is not widened, which reduces to align_corners=False's two taps.

export type Filter = 'bilinear' | 'bicubic' | 'lanczos';

const SUPPORT: Record<Filter, number> = { bilinear: 1, bicubic: 2, lanczos: 3 };

function sinc(x: number): number {
  if (x === 0) return 1;
  x *= Math.PI;
  return Math.sin(x) / x;
}

const KERNEL: Record<Filter, (x: number) => number> = {
  bilinear: (x) => {
    x = Math.abs(x);
    return x < 1 ? 1 - x : 0;
  },
  // Keys' cubic with a = -0.5, as Pillow's BICUBIC.
  bicubic: (x) => {
    const a = -0.5;
    x = Math.abs(x);
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
    return 0;
  },
  lanczos: (x) => (x > -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0),
};

interface Taps {
  /** first input index and tap count per output index */
  start: Int32Array;
  count: Int32Array;
  /** [out, ksize] normalised weights */
  weights: Float64Array;
  ksize: number;
}

function taps(inSize: number, outSize: number, filter: Filter, antialias: boolean): Taps {
  const scale = inSize / outSize;
  const widen = antialias ? Math.max(scale, 1) : 1;
  const support = SUPPORT[filter] * widen;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * ksize);
  const kernel = KERNEL[filter];
  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * scale;
    // C's (int) cast truncates toward zero; the clamp makes that equal to floor here.
    const lo = Math.max(Math.trunc(centre - support + 0.5), 0);
    const hi = Math.min(Math.trunc(centre + support + 0.5), inSize);
    let total = 0;
    for (let j = lo; j < hi; j++) {
      const w = kernel((j - centre + 0.5) / widen);
      weights[i * ksize + j - lo] = w;
      total += w;
    }
    if (total !== 0) for (let j = 0; j < hi - lo; j++) weights[i * ksize + j] /= total;
    start[i] = lo;
    count[i] = hi - lo;
  }
  return { start, count, weights, ksize };
}

const PRECISION_BITS = 22; // Pillow's 8-bit path: 32 − 8 − 2

/** Pillow-exact 8-bit resize of interleaved pixels (e.g. RGB), always antialiased as Pillow is. */
export function resizeU8(
  src: Uint8Array, width: number, height: number, channels: number,
  outWidth: number, outHeight: number, filter: Filter,
): Uint8Array {
  const fixed = (t: Taps) => {
    const out = new Int32Array(t.weights.length);
    for (let k = 0; k < out.length; k++) {
      const w = t.weights[k] * (1 << PRECISION_BITS);
      out[k] = Math.trunc(w < 0 ? w - 0.5 : w + 0.5);
    }
    return out;
  };
  const half = 1 << (PRECISION_BITS - 1);
  const clip8 = (v: number) => Math.min(255, Math.max(0, Math.floor(v / (1 << PRECISION_BITS))));
  let cur = src;
  let w = width;
  if (outWidth !== width) {
    const t = taps(width, outWidth, filter, true);
    const k = fixed(t);
    const out = new Uint8Array(outWidth * height * channels);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < outWidth; x++) {
        const s = t.start[x];
        for (let c = 0; c < channels; c++) {
          let acc = half;
          for (let j = 0; j < t.count[x]; j++) acc += cur[(y * w + s + j) * channels + c] * k[x * t.ksize + j];
          out[(y * outWidth + x) * channels + c] = clip8(acc);
        }
      }
    }
    cur = out;
    w = outWidth;
  }
  if (outHeight !== height) {
    const t = taps(height, outHeight, filter, true);
    const k = fixed(t);
    const out = new Uint8Array(w * outHeight * channels);
    const row = w * channels;
    for (let y = 0; y < outHeight; y++) {
      const s = t.start[y];
      for (let i = 0; i < row; i++) {
        let acc = half;
        for (let j = 0; j < t.count[y]; j++) acc += cur[(s + j) * row + i] * k[y * t.ksize + j];
        out[y * row + i] = clip8(acc);
      }
    }
    cur = out;
  }
  return cur === src ? src.slice() : cur;
}

/** Resize `planes` float planes [planes, height, width] (f32 results, f64 accumulation). */
export function resizePlanes(
  src: Float32Array, planes: number, height: number, width: number,
  outHeight: number, outWidth: number, filter: Filter, antialias: boolean,
): Float32Array {
  const tx = taps(width, outWidth, filter, antialias);
  const ty = taps(height, outHeight, filter, antialias);
  const tmp = new Float32Array(height * outWidth);
  const out = new Float32Array(planes * outHeight * outWidth);
  for (let p = 0; p < planes; p++) {
    const base = p * height * width;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < outWidth; x++) {
        let acc = 0;
        const s = base + y * width + tx.start[x];
        for (let j = 0; j < tx.count[x]; j++) acc += src[s + j] * tx.weights[x * tx.ksize + j];
        tmp[y * outWidth + x] = acc;
      }
    }
    const obase = p * outHeight * outWidth;
    for (let y = 0; y < outHeight; y++) {
      for (let x = 0; x < outWidth; x++) {
        let acc = 0;
        for (let j = 0; j < ty.count[y]; j++) acc += tmp[(ty.start[y] + j) * outWidth + x] * ty.weights[y * ty.ksize + j];
        out[obase + y * outWidth + x] = acc;
      }
    }
  }
  return out;
}
