// COCO/SA-1B mask decoding on hand-made masks, and the batch collator's point sampling (round trips through the encoder: rle.test.ts).
import { describe, expect, it } from 'vitest';
import {
  chooseAnnotation, decodeRleString, decodeSegmentation, polygonsToMask, rleToMask, samplePointsInMask, type Mask,
} from '../../src/model/sa1b.ts';
import { Rng } from '../../src/runtime/random.ts';

const rows = (m: Mask) => Array.from({ length: m.height }, (_, y) => [...m.data.subarray(y * m.width, (y + 1) * m.width)].join(''));

describe('RLE decoding', () => {
  it('decodes hand-encoded count strings (plain, delta and negative delta)', () => {
    expect(decodeRleString('04')).toEqual([0, 4]);
    expect(decodeRleString('122')).toEqual([1, 2, 2]); // the first three counts are plain
    expect(decodeRleString('1233')).toEqual([1, 2, 3, 5]); // from the 4th on: delta to two back
    expect(decodeRleString('542M')).toEqual([5, 4, 2, 1]); // 'M' = 29, sign bit → −3; 4 + (−3)
    expect(decodeRleString('0g1')).toEqual([0, 55]); // two 5-bit groups: 23 + 1·32
  });

  it('lays runs out in column-major order', () => {
    const m = rleToMask([1, 2, 3], 3, 2);
    expect(rows(m)).toEqual(['00', '10', '10']);
    expect(rows(decodeSegmentation({ size: [3, 2], counts: '123' }))).toEqual(['00', '10', '10']);
    expect(rows(decodeSegmentation({ size: [2, 3], counts: [2, 3, 1] }))).toEqual(['011', '010']);
  });

  it('rejects runs that overflow the mask and bad characters', () => {
    expect(() => rleToMask([2, 5], 2, 2)).toThrow(/RLE run 1 \(5\) does not fit a 2x2 mask/);
    expect(() => decodeRleString('0 ')).toThrow(/invalid character ' '/);
    expect(() => decodeRleString('0g')).toThrow(/ends inside a number/);
    expect(() => decodeSegmentation({ counts: '04' } as never)).toThrow(/needs 'size'/);
  });
});

describe('polygon rasterisation (pycocotools frPyObjects + merge)', () => {
  it('covers the pixels whose centres lie inside an axis-aligned square', () => {
    // Square from (1,1) to (4,4): pixel centres (c+0.5, r+0.5) inside for c, r in 1..3.
    const m = polygonsToMask([[1, 1, 4, 1, 4, 4, 1, 4]], 6, 6);
    expect(rows(m)).toEqual(['000000', '011100', '011100', '011100', '000000', '000000']);
  });

  it('rasterises a triangle below its hypotenuse x + y = 8, close to its area', () => {
    const m = polygonsToMask([[0, 0, 8, 0, 0, 8]], 10, 10);
    let area = 0;
    for (let y = 0; y < 10; y++) {
      for (let x = 0; x < 10; x++) {
        if (!m.data[y * 10 + x]) continue;
        area++;
        expect(x + y, `pixel (${y},${x})`).toBeLessThanOrEqual(8);
      }
    }
    expect(area).toBeGreaterThanOrEqual(28);
    expect(area).toBeLessThanOrEqual(36);
  });

  it('merges several polygons by union, and needs the image size', () => {
    const m = decodeSegmentation([[0, 0, 2, 0, 2, 2, 0, 2], [3, 3, 5, 3, 5, 5, 3, 5]], 5, 5);
    expect(rows(m)).toEqual(['11000', '11000', '00000', '00011', '00011']);
    expect(() => decodeSegmentation([[0, 0, 2, 0, 2, 2]])).toThrow(/needs the image size/);
    expect(() => polygonsToMask([[0, 0, 2, 0]], 4, 4)).toThrow(/at least 3 \(x,y\) pairs/);
  });
});

describe('collator point sampling', () => {
  // 50x100 image, mask rows 10..39, columns 20..79.
  const data = new Uint8Array(50 * 100);
  for (let y = 10; y < 40; y++) data.fill(1, y * 100 + 20, y * 100 + 80);
  const mask = { height: 50, width: 100, data };

  it('draws 5 distinct points inside the mask at 768², stored as (row/768, col/768)', () => {
    const { points, pixels } = samplePointsInMask(mask, new Rng(1));
    expect(points.count).toBe(5);
    expect([...points.labels]).toEqual([1, 1, 1, 1, 1]);
    expect(new Set(pixels.map(([r, c]) => r * 768 + c)).size).toBe(5);
    pixels.forEach(([r, c], i) => {
      expect((r * 50) / 768, `point ${i} row`).toBeGreaterThanOrEqual(10);
      expect((r * 50) / 768, `point ${i} row`).toBeLessThan(40);
      expect((c * 100) / 768, `point ${i} col`).toBeGreaterThanOrEqual(20);
      expect((c * 100) / 768, `point ${i} col`).toBeLessThan(80);
      expect(points.coords[2 * i]).toBe(Math.fround(r / 768));
      expect(points.coords[2 * i + 1]).toBe(Math.fround(c / 768));
    });
  });

  it('is reproducible per seed and varies across seeds', () => {
    const a = samplePointsInMask(mask, new Rng(9)).pixels;
    expect(samplePointsInMask(mask, new Rng(9)).pixels).toEqual(a);
    expect(samplePointsInMask(mask, new Rng(10)).pixels).not.toEqual(a);
  });

  it('gives no points for an empty mask', () => {
    const { points } = samplePointsInMask({ height: 4, width: 4, data: new Uint8Array(16) }, new Rng(1));
    expect(points.count).toBe(0);
    expect([...points.labels]).toEqual([0, 0, 0, 0, 0]);
  });

  it('chooses among annotations and names the file when there are none', () => {
    const seen = new Set<number>();
    const rng = new Rng(5);
    for (let i = 0; i < 50; i++) seen.add(chooseAnnotation([0, 1, 2], rng, 'x'));
    expect([...seen].sort()).toEqual([0, 1, 2]);
    expect(() => chooseAnnotation([], rng, 'b.json sample 2')).toThrow(/^b.json sample 2: no annotations/);
  });
});
