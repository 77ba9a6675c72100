// Input tensors the two reference ways, the batch panel's point marks, and the bf16/f16 rounding.
import { describe, expect, it } from 'vitest';
import { roundMantissa } from '../../src/model/postprocess.ts';
import { batchInput, inferInput, inputPanel, markPoints } from '../../src/model/preprocess.ts';
import { f16BitsToF32, f32ToF16Bits } from '../../src/runtime/f16.ts';
import { Rng } from '../../src/runtime/random.ts';

describe('model inputs', () => {
  const img = { data: Uint8Array.from({ length: 5 * 4 * 3 }, (_, i) => (i * 37) % 256), width: 5, height: 4 };

  it('inferInput: (x/255 − 0.5)·2 in float32, [3, size, size]', () => {
    const flat = { data: new Uint8Array(4 * 4 * 3).fill(51), width: 4, height: 4 };
    const t = inferInput(flat, 8);
    expect(t.length).toBe(3 * 64);
    expect(t.every((v) => v === Math.fround(Math.fround(51 / 255) - 0.5) * 2)).toBe(true);
    expect(inferInput(img, 8).every((v) => v >= -1 && v <= 1)).toBe(true);
  });

  it('batchInput: constant images stay constant, range [-1, 1]', () => {
    const flat = { data: new Uint8Array(7 * 3 * 3).fill(255), width: 7, height: 3 };
    expect(batchInput(flat, 16).every((v) => v === 1)).toBe(true);
    expect(batchInput(img, 16).every((v) => v >= -1 && v <= 1)).toBe(true);
  });
});

describe('batch input panel', () => {
  it('marks each point with a radius-5 disk (distance² < 25) shown as (255, 127, 127)', () => {
    const size = 32;
    const input = new Float32Array(3 * size * size).fill(-1);
    const viz = markPoints(input, [[10, 20], [0, 0]], size);
    const rgb = inputPanel(viz, size);
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) {
        const inside = (r - 10) ** 2 + (c - 20) ** 2 < 25 || r ** 2 + c ** 2 < 25;
        expect([...rgb.subarray((r * size + c) * 3, (r * size + c) * 3 + 3)], `pixel (${r},${c})`).toEqual(inside ? [255, 127, 127] : [0, 0, 0]);
      }
    }
    expect(input.every((v) => v === -1)).toBe(true); // the model input itself is not marked
  });
});

describe('roundMantissa', () => {
  it('equals IEEE float16 rounding over float16’s normal range', () => {
    const rng = new Rng(2);
    for (let i = 0; i < 20000; i++) {
      const v = (rng.uniform() < 0.5 ? -1 : 1) * (1 + rng.uniform()) * 2 ** (Math.floor(rng.uniform() * 29) - 14); // exponents -14..14: normal, no overflow
      expect(roundMantissa(v, 10), `value ${v}`).toBe(f16BitsToF32(f32ToF16Bits(v)));
    }
  });

  it('rounds to bfloat16 (nearest even)', () => {
    expect(roundMantissa(1 + 2 ** -8, 7)).toBe(1); // tie → even
    expect(roundMantissa(1 + 3 * 2 ** -8, 7)).toBe(1 + 2 ** -6); // tie → even (up)
    expect(roundMantissa(1 + 2 ** -8 + 2 ** -12, 7)).toBe(1 + 2 ** -7);
    expect(roundMantissa(0.1, 7)).toBe(0.10009765625);
  });
});
