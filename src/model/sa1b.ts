// Ground-truth masks of the batch JSON's targets (SA-1B / COCO annotation files) and the point
// prompts the reference's batch collator samples inside them. Masks decode like pycocotools:
// RLE counts run over the mask in COLUMN-major order, alternating 0-runs and 1-runs, starting
// with 0s; the compressed string form packs each count in 5-bit groups (LEB128-like, a sign bit
// in the last group) and, from the third count on, stores the difference to the count two back.
import { Rng } from '../runtime/random.ts';
import { resizePlanes } from './resample.ts';
import { MAX_POINTS, pointSlots, type PointPrompt } from './tasks.ts';

/** A binary mask, row-major [height, width], 1 inside. */
export interface Mask {
  height: number;
  width: number;
  data: Uint8Array;
}

export interface Rle {
  size: [number, number]; // [height, width]
  counts: string | number[];
}

/** A COCO `segmentation`: RLE (compressed or not) or polygons [[x1,y1,x2,y2,...], ...]. */
export type Segmentation = Rle | number[][];

/** pycocotools' compressed counts string → run lengths. */
export function decodeRleString(s: string): number[] {
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= s.length) throw new Error(`RLE counts string ends inside a number at character ${p}`);
      const c = s.charCodeAt(p++) - 48;
      if (c < 0 || c > 63) throw new Error(`RLE counts string has an invalid character '${s[p - 1]}' at ${p - 1}`);
      x += (c & 0x1f) * 2 ** (5 * k);
      k++;
      more = (c & 0x20) !== 0;
      if (!more && c & 0x10) x -= 2 ** (5 * k); // sign-extend the last group
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    counts.push(x);
  }
  return counts;
}

/** Run lengths (column-major) → row-major mask. */
export function rleToMask(counts: readonly number[], height: number, width: number): Mask {
  const n = height * width;
  const data = new Uint8Array(n);
  let pos = 0;
  for (let r = 0; r < counts.length; r++) {
    const len = counts[r];
    if (!Number.isInteger(len) || len < 0 || pos + len > n) {
      throw new Error(`RLE run ${r} (${len}) does not fit a ${height}x${width} mask`);
    }
    if (r % 2 === 1) for (let i = pos; i < pos + len; i++) data[(i % height) * width + Math.floor(i / height)] = 1;
    pos += len;
  }
  return { height, width, data };
}

/**
 * Polygons → mask with pycocotools' rasterisation (frPyObjects + merge): the outline is traced
 * on a 5× finer grid, every crossing of a pixel-centre column marks where the column enters or
 * leaves the shape at the first pixel centre below the crossing, and the marks toggle the mask
 * in column-major order. Several polygons are merged by union.
 */
export function polygonsToMask(polygons: readonly number[][], height: number, width: number): Mask {
  const data = new Uint8Array(height * width);
  for (const poly of polygons) {
    if (!Array.isArray(poly) || poly.length < 6 || poly.length % 2) throw new Error(`a polygon needs at least 3 (x,y) pairs, got ${JSON.stringify(poly).slice(0, 40)}`);
    // The rasteriser walks every edge on a 5× grid: a coordinate far outside the image would
    // make it walk for ever. COCO's lie inside (or a pixel or so outside) the image.
    const bound = 4 * Math.max(height, width);
    const bad = poly.find((c) => typeof c !== 'number' || !(Math.abs(c) <= bound));
    if (bad !== undefined) throw new Error(`polygon coordinate ${JSON.stringify(bad)} is not a number within ±${bound} of a ${height}x${width} image`);
    const toggles = new Uint8Array(height * width + 1);
    for (const [col, row] of boundaryCrossings(poly, height, width)) toggles[col * height + row] ^= 1;
    let inside = 0;
    for (let i = 0; i < height * width; i++) {
      inside ^= toggles[i];
      if (inside) data[(i % height) * width + Math.floor(i / height)] = 1;
    }
  }
  return { height, width, data };
}

function* boundaryCrossings(poly: readonly number[], height: number, width: number): Generator<[number, number]> {
  const scale = 5;
  const k = poly.length / 2;
  const xs: number[] = [];
  const ys: number[] = [];
  for (let j = 0; j <= k; j++) {
    xs.push(Math.trunc(scale * poly[(j % k) * 2] + 0.5));
    ys.push(Math.trunc(scale * poly[(j % k) * 2 + 1] + 0.5));
  }
  // Dense integer points along each edge on the fine grid, stepping along the longer axis.
  const u: number[] = [];
  const v: number[] = [];
  for (let j = 0; j < k; j++) {
    let [x0, y0, x1, y1] = [xs[j], ys[j], xs[j + 1], ys[j + 1]];
    const dx = Math.abs(x1 - x0);
    const dy = Math.abs(y1 - y0);
    const flip = dx >= dy ? x0 > x1 : y0 > y1;
    if (flip) [x0, y0, x1, y1] = [x1, y1, x0, y0];
    if (dx >= dy) {
      const slope = dx ? (y1 - y0) / dx : 0;
      for (let d = 0; d <= dx; d++) {
        const t = flip ? dx - d : d;
        u.push(t + x0);
        v.push(Math.trunc(y0 + slope * t + 0.5));
      }
    } else {
      const slope = (x1 - x0) / dy;
      for (let d = 0; d <= dy; d++) {
        const t = flip ? dy - d : d;
        v.push(t + y0);
        u.push(Math.trunc(x0 + slope * t + 0.5));
      }
    }
  }
  for (let j = 1; j < u.length; j++) {
    if (u[j] === u[j - 1]) continue;
    const xd = ((u[j] < u[j - 1] ? u[j] : u[j] - 1) + 0.5) / scale - 0.5;
    if (Math.floor(xd) !== xd || xd < 0 || xd > width - 1) continue;
    let yd = ((v[j] < v[j - 1] ? v[j] : v[j - 1]) + 0.5) / scale - 0.5;
    yd = Math.ceil(Math.min(Math.max(yd, 0), height));
    yield [xd, yd];
  }
}

/** Masks above this are refused (sharp's default limit on decoded image pixels). */
const MAX_MASK_PIXELS = 2 ** 28;

/** Any COCO segmentation → mask; polygons need the image size (RLE carries its own). */
export function decodeSegmentation(seg: Segmentation, height?: number, width?: number): Mask {
  if (Array.isArray(seg)) {
    if (!height || !width) throw new Error('polygon segmentation needs the image size');
    return polygonsToMask(seg, height, width);
  }
  if (!seg || !Array.isArray(seg.size) || seg.size.length !== 2) throw new Error("RLE segmentation needs 'size': [height, width]");
  const [h, w] = seg.size;
  if (!Number.isSafeInteger(h) || !Number.isSafeInteger(w) || h < 1 || w < 1 || h * w > MAX_MASK_PIXELS) {
    throw new Error(`RLE 'size' [${seg.size}] is not [height, width] of at most ${MAX_MASK_PIXELS} pixels`);
  }
  const counts = typeof seg.counts === 'string' ? decodeRleString(seg.counts) : seg.counts;
  if (!Array.isArray(counts)) throw new Error("RLE segmentation needs 'counts' (a string or a list of run lengths)");
  return rleToMask(counts, h, w);
}

/** What the collator derives from a segmentation target: the point prompt and the points drawn. */
export interface SampledPoints {
  points: PointPrompt;
  /** the chosen pixels at model resolution, [row, col] */
  pixels: Array<[number, number]>;
}

/**
 * DataCollator_MT_EVAL for "[[image2segmentation]]" with a target: the mask is resized like
 * the image (torchvision bilinear, antialiased) to size×size, the pixels whose value is exactly
 * 1 (entirely inside) are candidates, up to 5 distinct ones are drawn, and each is stored as
 * (row/size, col/size) — row first, unlike inference.py's (x, y). The reference draws with
 * Python's `random`; we draw from `rng` so a run is reproducible.
 */
export function samplePointsInMask(mask: Mask, rng: Rng, size = 768): SampledPoints {
  const resized = resizePlanes(Float32Array.from(mask.data), 1, mask.height, mask.width, size, size, 'bilinear', true);
  const inside: number[] = [];
  for (let i = 0; i < resized.length; i++) if (resized[i] === 1) inside.push(i);
  const take = Math.min(MAX_POINTS, inside.length);
  // Partial Fisher-Yates: `take` distinct candidates, uniformly.
  for (let i = 0; i < take; i++) {
    const j = i + Math.floor(rng.uniform() * (inside.length - i));
    [inside[i], inside[j]] = [inside[j], inside[i]];
  }
  const pixels = inside.slice(0, take).map((i) => [Math.floor(i / size), i % size] as [number, number]);
  return { points: pointSlots(pixels.map(([r, c]) => [r / size, c / size] as const)), pixels };
}

/** One annotation, chosen like random.choice (here from `rng`); a clear error when there is none. */
export function chooseAnnotation<T>(annotations: readonly T[], rng: Rng, where: string): T {
  if (!Array.isArray(annotations) || annotations.length === 0) throw new Error(`${where}: no annotations to choose a mask from`);
  return annotations[Math.floor(rng.uniform() * annotations.length)];
}
