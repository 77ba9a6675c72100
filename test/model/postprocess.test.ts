// Depth colouring against matplotlib's own output, the byte rules, the bilinear resize against
// a direct align_corners=False formula, and the .npy encoding.
import { describe, expect, it } from 'vitest';
import {
  colorizeDepth, depthMap, encodeNpyF16, lutIndex, npyPayload, planarToRgb, toPrediction, SPECTRAL_LUT, toByte,
} from '../../src/model/postprocess.ts';
import { resizePlanes, resizeU8 } from '../../src/model/resample.ts';
import { f16BitsToF32, f32ToF16Bits } from '../../src/runtime/f16.ts';
import { expectClose, rand } from '../helpers.ts';
import golden from './spectral-golden.json';
import { parseNpy } from './npy.ts';

describe('Spectral depth colouring', () => {
  it('the 256-entry LUT truncated to bytes equals matplotlib (all entries)', () => {
    for (let i = 0; i < 256; i++) {
      const got = [0, 1, 2].map((c) => Math.trunc(SPECTRAL_LUT[i * 3 + c] * 255));
      expect(got, `LUT entry ${i}`).toEqual(golden.lut[i]);
    }
  });

  it('colours chosen depths like matplotlib, including 0, 0.999 and 1 (x·N, x==1 → N−1)', () => {
    const n = golden.points.length;
    // One pixel per depth, all three channels equal so the channel mean is the depth itself.
    const image = new Float32Array(3 * n);
    golden.points.forEach((d, i) => {
      for (let c = 0; c < 3; c++) image[c * n + i] = d;
    });
    const rgb = colorizeDepth(image, 1, n);
    golden.points.forEach((d, i) => expect([...rgb.subarray(i * 3, i * 3 + 3)], `depth ${d}`).toEqual(golden.pointColors[i]));
    expect(lutIndex(1)).toBe(255);
    expect(lutIndex(0.5)).toBe(128);
    expect(lutIndex(-0.2)).toBe(0);
    expect(lutIndex(1.7)).toBe(255);
  });

  it('uses the float32 mean of the three channels and maps NaN to black', () => {
    const image = new Float32Array([0.1, NaN, 0.2, NaN, 0.6, NaN]); // [3, 1, 2]
    const d = depthMap(image, 1, 2);
    expect(d[0]).toBe(Math.fround(Math.fround(Math.fround(0.1) + Math.fround(0.2)) + Math.fround(0.6)) / 3);
    expect(Number.isNaN(d[1])).toBe(true);
    const rgb = colorizeDepth(image, 1, 2);
    expect([...rgb.subarray(3)]).toEqual([0, 0, 0]);
  });
});

describe('float → byte rules', () => {
  it("'clamp' (inference.py) clamps then truncates", () => {
    expect([-0.5, 0, 0.5, 0.999, 1, 1.5].map((v) => toByte(v, 'clamp'))).toEqual([0, 0, 127, 254, 255, 255]);
  });

  it("'f16' (ToPILImage of a float16 tensor) multiplies in float16 then truncates", () => {
    for (const v of [0, 0.2, 0.5, 0.9, 1, 0.33]) {
      const h = f16BitsToF32(f32ToF16Bits(v));
      expect(toByte(v, 'f16'), `value ${v}`).toBe(Math.trunc(f16BitsToF32(f32ToF16Bits(h * 255))));
    }
    // A value where float16 rounding changes the byte: 0.99999 → f16 1.0 → 255 (f32 gives 254).
    expect(toByte(0.99999, 'f16')).toBe(255);
    expect(toByte(0.99999, 'clamp')).toBe(254);
  });

  it('planarToRgb interleaves [3,H,W] into RGB bytes', () => {
    const rgb = planarToRgb(new Float32Array([1, 0, 0, 1, 0.5, 0.5]), 1, 2, 'clamp');
    expect([...rgb]).toEqual([255, 0, 127, 0, 255, 127]);
  });
});

/** F.interpolate(mode='bilinear', align_corners=False), written directly. */
function bilinearRef(src: Float32Array, h: number, w: number, oh: number, ow: number): Float32Array {
  const out = new Float32Array(oh * ow);
  const coord = (o: number, inSize: number, outSize: number) => {
    const s = Math.max(((o + 0.5) * inSize) / outSize - 0.5, 0);
    const i0 = Math.floor(s);
    const i1 = Math.min(i0 + 1, inSize - 1);
    return [i0, i1, s - i0] as const;
  };
  for (let y = 0; y < oh; y++) {
    const [y0, y1, ly] = coord(y, h, oh);
    for (let x = 0; x < ow; x++) {
      const [x0, x1, lx] = coord(x, w, ow);
      const top = src[y0 * w + x0] * (1 - lx) + src[y0 * w + x1] * lx;
      const bot = src[y1 * w + x0] * (1 - lx) + src[y1 * w + x1] * lx;
      out[y * ow + x] = top * (1 - ly) + bot * ly;
    }
  }
  return out;
}

describe('bilinear resize of float maps (align_corners=False, no antialias)', () => {
  for (const [h, w, oh, ow] of [[768, 768, 200, 300], [17, 23, 41, 9], [5, 7, 5, 7], [1, 9, 3, 4]]) {
    it(`${h}x${w} → ${oh}x${ow} matches the direct formula`, () => {
      const src = rand(h * w, h + w);
      expectClose(resizePlanes(src, 1, h, w, oh, ow, 'bilinear', false), bilinearRef(src, h, w, oh, ow), { atol: 1e-6, label: `${h}x${w}→${oh}x${ow}` });
    });
  }
});

describe('.npy encoding', () => {
  it('writes a v1.0 header, <f2, C order, 64-byte aligned data, float16 values', () => {
    const data = new Float32Array([0, 1, -2.5, 0.1, 65504, 3e-8]);
    const bytes = encodeNpyF16(data, [2, 3]);
    const npy = parseNpy(bytes);
    expect(npy.header).toMatch(/^\{'descr': '<f2', 'fortran_order': False, 'shape': \(2, 3\), \} *\n$/);
    expect(npy.dataOffset % 64).toBe(0);
    expect(npy.shape).toEqual([2, 3]);
    expect([...npy.values]).toEqual([...data].map((v) => f16BitsToF32(f32ToF16Bits(v))));
  });

  it('writes a 1-D shape as (n,) and rejects a shape that does not match the data', () => {
    expect(parseNpy(encodeNpyF16(new Float32Array(4), [4])).header).toContain("'shape': (4,)");
    expect(() => encodeNpyF16(new Float32Array(5), [2, 3])).toThrow(/shape \[2,3\] holds 6 values, data has 5/);
  });

  it('toPrediction and npyPayload: depth → [H,W] channel mean, normal → [3,H,W], other tasks → none', () => {
    const size = 8;
    const image = rand(3 * size * size, 3, 0, 1);
    const at = (task: string) => toPrediction(image, task, 11, 5, { rule: 'clamp', filter: 'lanczos' });
    const depth = npyPayload(at('depth'))!;
    expect(depth.shape).toEqual([5, 11]);
    expectClose(depth.data, bilinearRef(depthMap(image, size, size), size, size, 5, 11), { atol: 1e-6, label: 'depth npy' });
    const normal = npyPayload(at('normal'))!;
    expect(normal.shape).toEqual([3, 5, 11]);
    expectClose(normal.data.subarray(2 * 55), bilinearRef(image.subarray(2 * 64), size, size, 5, 11), { atol: 1e-6, label: 'normal npy channel 2' });
    expect(npyPayload(at('pose'))).toBeUndefined();
    const pose = at('pose');
    expectClose(pose.values.subarray(55, 110), bilinearRef(image.subarray(64, 128), size, size, 5, 11), { atol: 1e-6, label: 'values channel 1' });
    expect(pose.rgb).toEqual(resizeU8(planarToRgb(image, size, size, 'clamp'), size, size, 3, 11, 5, 'lanczos'));
    expect(at('depth').rgb).toEqual(resizeU8(colorizeDepth(image, size, size), size, size, 3, 11, 5, 'lanczos'));
  });
});
