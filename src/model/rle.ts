// COCO run-length encoding of masks, in pycocotools' compressed string form (what `mask.encode`
// returns and SA-1B stores), so the files we write open with pycocotools and compare byte for
// byte with its own. Runs go over the mask in COLUMN-major order, alternating 0s and 1s and
// starting with a (possibly empty) 0-run. Each count becomes 5-bit groups, low group first,
// 48 added to make it printable, bit 5 set while more groups follow; the last group's bit 4 is
// the sign. From the fourth count on the difference to the count two back is stored instead.
// The decoder lives with the annotation readers in sa1b.ts.
import type { Mask } from './sa1b.ts';

/** What pycocotools writes and reads: {"size": [h, w], "counts": "..."}. */
export interface RleString {
  size: [number, number];
  counts: string;
}

/** A label map's instances: column-major runs of each label 1..n, its pixel count and COCO bbox. */
export interface LabelRuns {
  counts: number[];
  area: number;
  /** [x, y, width, height] of the pixels, pycocotools' toBbox; [0, 0, 0, 0] when empty */
  bbox: [number, number, number, number];
}

/**
 * One column-major pass over a row-major label map (0 = none) gives the runs, area and bbox of
 * every label 1..n at once, so an image with many instances is scanned once, not once each.
 */
export function labelRuns(labels: ArrayLike<number>, height: number, width: number, n: number): LabelRuns[] {
  if (labels.length !== height * width) throw new Error(`labelRuns: ${labels.length} labels for a ${height}x${width} map`);
  const out = Array.from({ length: n }, () => ({ counts: [] as number[], area: 0, x0: width, y0: height, x1: -1, y1: -1, end: 0 }));
  for (let x = 0, i = 0; x < width; x++) {
    for (let y = 0; y < height; y++, i++) {
      const l = labels[y * width + x];
      if (!l) continue;
      const r = out[l - 1];
      if (r === undefined) throw new Error(`labelRuns: label ${l} at row ${y}, column ${x} is outside 0..${n}`);
      // A new 1-run unless this pixel continues the label's last one.
      if (r.counts.length === 0 || r.end !== i) r.counts.push(i - r.end, 0);
      r.counts[r.counts.length - 1]++;
      r.end = i + 1;
      r.area++;
      if (x < r.x0) r.x0 = x;
      if (x > r.x1) r.x1 = x;
      if (y < r.y0) r.y0 = y;
      if (y > r.y1) r.y1 = y;
    }
  }
  return out.map((r) => {
    // No trailing 0-run when the mask ends inside (pycocotools only closes runs at changes).
    const counts = !r.counts.length ? [height * width] : r.end < height * width ? [...r.counts, height * width - r.end] : r.counts;
    const bbox: LabelRuns['bbox'] = r.area ? [r.x0, r.y0, r.x1 - r.x0 + 1, r.y1 - r.y0 + 1] : [0, 0, 0, 0];
    return { counts, area: r.area, bbox };
  });
}

/** Column-major run lengths of a binary mask (any nonzero value is inside), as pycocotools encodes. */
export function maskRuns(m: Mask): LabelRuns {
  const ones = m.data.map((v) => (v ? 1 : 0));
  return labelRuns(ones, m.height, m.width, 1)[0];
}

/** Run lengths → pycocotools' compressed counts string (rleToString). */
export function encodeRleString(counts: readonly number[]): string {
  let s = '';
  for (let i = 0; i < counts.length; i++) {
    if (!Number.isInteger(counts[i]) || counts[i] < 0) throw new Error(`RLE count ${i} (${counts[i]}) is not a whole number >= 0`);
    let x = i > 2 ? counts[i] - counts[i - 2] : counts[i];
    for (let more = true; more; ) {
      // Arithmetic (sign-keeping) shifts by 5, written with floor so counts beyond 2^31 stay exact.
      const q = Math.floor(x / 32);
      let c = x - q * 32;
      x = q;
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      s += String.fromCharCode(c + 48);
    }
  }
  return s;
}

/** A binary mask as COCO compressed RLE. */
export function encodeMask(m: Mask): RleString {
  return { size: [m.height, m.width], counts: encodeRleString(maskRuns(m).counts) };
}
