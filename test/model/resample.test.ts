// The 8-bit resampler against Pillow's Image.resize (golden bytes from Pillow, see the JSON's
// `source`), and the antialiased float path against Pillow's 8-bit BILINEAR.
import { describe, expect, it } from 'vitest';
import { resizePlanes, resizeU8, type Filter } from '../../src/model/resample.ts';
import golden from './pil-resize-golden.json';

const input = Uint8Array.from(golden.input);

describe('resizeU8 equals Pillow byte for byte', () => {
  for (const c of golden.cases) {
    it(`${c.filter} ${golden.width}x${golden.height} → ${c.width}x${c.height}`, () => {
      const got = resizeU8(input, golden.width, golden.height, 3, c.width, c.height, c.filter as Filter);
      const bad = got.findIndex((v, i) => v !== c.data[i]);
      expect(bad, bad >= 0 ? `byte ${bad}: ${got[bad]}, Pillow ${c.data[bad]}` : '').toBe(-1);
    });
  }

  it('returns a copy when the size does not change', () => {
    const got = resizeU8(input, golden.width, golden.height, 3, golden.width, golden.height, 'lanczos');
    expect(got).not.toBe(input);
    expect([...got]).toEqual([...input]);
  });
});

describe('resizePlanes with antialias (torchvision Resize on float tensors)', () => {
  it('is within one 8-bit step of Pillow BILINEAR (which rounds to bytes between passes)', () => {
    const c = golden.cases.find((x) => x.filter === 'bilinear')!;
    const { width: w, height: h } = golden;
    const planes = new Float32Array(3 * w * h);
    for (let i = 0; i < w * h; i++) for (let ch = 0; ch < 3; ch++) planes[ch * w * h + i] = input[i * 3 + ch];
    const out = resizePlanes(planes, 3, h, w, c.height, c.width, 'bilinear', true);
    const n = c.width * c.height;
    for (let i = 0; i < n; i++) {
      for (let ch = 0; ch < 3; ch++) {
        expect(Math.abs(out[ch * n + i] - c.data[i * 3 + ch]), `pixel ${i} channel ${ch}`).toBeLessThanOrEqual(1);
      }
    }
  });

  it('keeps a constant image constant, up and down', () => {
    const src = new Float32Array(2 * 13 * 7).fill(0.25);
    for (const [oh, ow] of [[768, 768], [3, 2]]) {
      const out = resizePlanes(src, 2, 13, 7, oh, ow, 'bilinear', true);
      expect(out.every((v) => Math.abs(v - 0.25) < 1e-7), `13x7 → ${oh}x${ow}`).toBe(true);
    }
  });
});
