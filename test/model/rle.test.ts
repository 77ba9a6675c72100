// The RLE encoder against pycocotools' own strings (every SA-1B annotation the reference ships
// decodes and re-encodes to the identical `counts`), random round trips, and the entity and
// threshold rules of masks.ts.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { binaryMask, entityInstances } from '../../src/model/masks.ts';
import { encodeMask, encodeRleString, labelRuns, maskRuns } from '../../src/model/rle.ts';
import { decodeRleString, decodeSegmentation, rleToMask } from '../../src/model/sa1b.ts';
import { Rng } from '../../src/runtime/random.ts';

const VAL = '../shared/data/diception-examples/val';

describe('RLE encoding (pycocotools compressed strings)', () => {
  const files = readdirSync(VAL).filter((f) => f.endsWith('.json'));

  it('re-encodes every SA-1B annotation to its exact counts string, with its area and bbox', () => {
    expect(files.length).toBeGreaterThanOrEqual(2);
    let n = 0;
    for (const f of files) {
      const { annotations } = JSON.parse(readFileSync(join(VAL, f), 'utf8'));
      for (const a of annotations) {
        const where = `${f} annotation ${a.id}`;
        // Every counts string round-trips (decode → encode); every 25th annotation and each file's
        // last also go through the full-size mask (2363x1500 pixels, ~0.2 s each).
        expect(encodeRleString(decodeRleString(a.segmentation.counts)), where).toBe(a.segmentation.counts);
        n++;
        if (n % 25 !== 1 && a !== annotations.at(-1)) continue;
        const mask = decodeSegmentation(a.segmentation);
        expect(encodeMask(mask), where).toEqual(a.segmentation);
        const runs = maskRuns(mask);
        expect(runs.counts, where).toEqual(decodeRleString(a.segmentation.counts));
        expect(runs.area, where).toBe(a.area);
        // SA-1B's bbox comes from SAM (x1 − x0, one less than pycocotools' toBbox width/height).
        const [x, y, w, h] = runs.bbox;
        expect([x, y, w - 1, h - 1], where).toEqual(a.bbox);
      }
    }
    expect(n).toBeGreaterThan(100);
  });

  it('round-trips random masks, empty and full ones, and masks that start inside', () => {
    const rng = new Rng(19);
    for (const [h, w, p] of [[37, 23, 0.3], [1, 50, 0.5], [64, 1, 0.9], [17, 19, 0], [5, 7, 1], [300, 200, 0.02]]) {
      const data = Uint8Array.from({ length: h * w }, () => (rng.uniform() < p ? 1 : 0));
      const m = { height: h, width: w, data };
      const rle = encodeMask(m);
      expect(rle.size).toEqual([h, w]);
      expect([...decodeSegmentation(rle).data], `${h}x${w} p=${p}`).toEqual([...data]);
    }
    // Large counts use several 5-bit groups and negative deltas.
    const counts = [0, 100000, 3, 7, 99999, 1, 2 ** 33];
    expect(decodeRleString(encodeRleString(counts))).toEqual(counts);
    expect(() => encodeRleString([1, -2])).toThrow(/RLE count 1 \(-2\) is not a whole number >= 0/);
  });

  it('finds every label of a label map in one pass', () => {
    // 3x4 map: label 1 = left column, label 2 = two pixels adjacent in column-major order (one run).
    const labels = [1, 0, 2, 0, 1, 0, 0, 0, 1, 2, 0, 0];
    const [one, two] = labelRuns(labels, 3, 4, 2);
    expect(one).toEqual({ counts: [0, 3, 9], area: 3, bbox: [0, 0, 1, 3] });
    expect(two.counts).toEqual([5, 2, 5]);
    expect([...rleToMask(two.counts, 3, 4).data]).toEqual(labels.map((l) => (l === 2 ? 1 : 0)));
    expect(two.bbox).toEqual([1, 0, 2, 3]);
    expect(labelRuns([0, 1, 1, 1], 2, 2, 1)[0].counts).toEqual([1, 3]); // ends inside: no trailing 0-run
    expect(labelRuns([0, 0, 0, 0], 2, 2, 1)[0].counts).toEqual([4]);
    expect(() => labelRuns([3], 1, 1, 2)).toThrow(/label 3 at row 0, column 0 is outside 0..2/);
  });
});

/** A [3,s,s] prediction with `paint(x, y)` → [r,g,b] in [0,1]. */
function prediction(s: number, paint: (x: number, y: number) => number[]): Float32Array {
  const out = new Float32Array(3 * s * s);
  for (let y = 0; y < s; y++) for (let x = 0; x < s; x++) paint(x, y).forEach((v, c) => (out[c * s * s + y * s + x] = v));
  return out;
}

describe('masks from predictions', () => {
  it('binarises the channel mean at the threshold, at the original size', () => {
    // Left half white, right half at 0.4 grey; original image 6x12 (W x H).
    const pred = prediction(8, (x) => (x < 4 ? [1, 1, 1] : [0.4, 0.4, 0.4]));
    const m = binaryMask(pred, 8, 12, 6);
    expect([m.height, m.width]).toEqual([12, 6]);
    expect([...m.data.subarray(0, 6)]).toEqual([1, 1, 1, 0, 0, 0]);
    expect([...binaryMask(pred, 8, 12, 6, 0.4).data.subarray(0, 6)]).toEqual([1, 1, 1, 1, 1, 1]);
    expect(() => binaryMask(pred, 8, 12, 6, 1.5)).toThrow(/threshold 1.5 is outside \[0, 1\]/);
  });

  it('groups entities by colour bin and connectivity, drops small ones and black', () => {
    // 16x16: two red squares (separate components), a green band, a 2-pixel blue speck, black rest.
    const pred = prediction(16, (x, y) => {
      if (y < 4 && x < 4) return [0.9, 0.1, 0.1];
      if (y < 4 && x >= 12) return [0.92, 0.12, 0.08]; // same bin as the first square
      if (y >= 8 && y < 12) return [0.2, 0.8, 0.3];
      if (y === 14 && x < 2) return [0.1, 0.1, 0.9];
      return [0, 0, 0];
    });
    const found = entityInstances(pred, 16, 32, 32, { levels: 8, minArea: 3 / 256 });
    expect(found.map((e) => [e.id, e.area, e.bbox])).toEqual([
      [1, 64, [0, 0, 8, 8]], // the first red square, scaled 2x
      [2, 256, [0, 16, 32, 8]], // the green band
      [3, 64, [24, 0, 8, 8]],
    ]);
    expect(found[0].color).toEqual([229, 26, 26]); // 0.9 in float32 · 255 = 229.4999
    for (const e of found) expect(decodeSegmentation(e.segmentation).data.reduce((a, b) => a + b, 0)).toBe(e.area);
    expect(() => entityInstances(pred, 16, 32, 32, { levels: 1, minArea: 0 })).toThrow(/levels 1 must be a whole number from 2 to 256/);
  });
});
