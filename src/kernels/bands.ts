// Banding helpers for kernels whose operands may exceed the storage-binding limit (128 MiB on
// lavapipe): bands of items that fit one binding window each (window.ts), bound so that the
// shader adds a uniform `shift` to its band-relative indices.
import type { Gpu } from '../runtime/device.ts';
import { BYTES, type DType, type Tensor } from '../runtime/tensor.ts';
import type { Chunk } from './types.ts';
import { bandBudget, window } from './window.ts';

export interface ShiftedWindow {
  binding: GPUBufferBinding;
  /** Index of the band's first element inside the bound window. */
  shift: number;
}

/** Binds elements [start, start + count) of `t`. */
export function bind(t: Tensor, start: number, count: number): ShiftedWindow {
  const w = window(t, start, count);
  return { binding: w.binding, shift: start - w.base };
}

/** Largest element count whose window fits in one binding. */
export function maxWindowElems(gpu: Gpu, dtype: DType): number {
  return Math.floor(bandBudget(gpu) / BYTES[dtype]);
}

/** Items per band when every item takes up to `itemElems` elements of each operand. */
export function bandItems(gpu: Gpu, itemElems: number, dtypes: DType[], op: string): number {
  const n = Math.min(...dtypes.map((d) => Math.floor(maxWindowElems(gpu, d) / itemElems)));
  if (n < 1) throw new Error(`${op}: a row of ${itemElems} elements exceeds the ${gpu.caps.maxStorageBinding}-byte storage binding limit`);
  return n;
}

/** [start, count] pairs covering [0, total) in steps of `per`. */
export function* bands(total: number, per: number): Generator<[number, number]> {
  for (let s = 0; s < total; s += per) yield [s, Math.min(per, total - s)];
}

/** The dtype a kernel writes for an input of `dtype`: packed f16 (no shader-f16) is read-only. */
export function writable(gpu: Gpu, dtype: DType): DType {
  return dtype === 'f16' && !gpu.caps.f16 ? 'f32' : dtype;
}

/**
 * Binds the part of a per-sample column chunk that rows [r0, r0 + count) use (rowsPerSample
 * rows per sample): the kernel then indexes `shift + (sample − firstSample)·stride + col`.
 */
export function chunkWindow(ch: Chunk, cols: number, rowsPerSample: number, r0: number, count: number): ShiftedWindow & { firstSample: number } {
  const stride = ch.tensor.numel / ch.tensor.shape[0];
  const first = Math.floor(r0 / rowsPerSample);
  const last = Math.floor((r0 + count - 1) / rowsPerSample);
  return { ...bind(ch.tensor, first * stride + ch.chunk * cols, (last - first) * stride + cols), firstSample: first };
}
