// Operands larger than the storage-binding limit (128 MiB on lavapipe) are processed in
// bands. A band binds a window of the buffer that starts at the aligned offset at or below its
// first element; the shader adds the remaining element shift (a uniform), so bands may start
// anywhere, whatever the row size or dtype.
import type { Gpu } from '../runtime/device.ts';
import { BYTES, type DType, type StorageDType, type Tensor } from '../runtime/tensor.ts';
import type { Chunk } from './types.ts';

export interface Window {
  binding: GPUBufferBinding;
  /** Index of the band's first element inside the bound window. */
  shift: number;
}

/** Bytes a window may need beyond its elements: alignment slack in front, 16-byte rounding behind. */
const slack = (gpu: Gpu) => gpu.caps.minStorageOffsetAlignment + 16;

/** Binds elements [start, start + count) of `t`. */
export function bindingWindow(t: Tensor<StorageDType>, start: number, count: number): Window {
  t.binding(); // throws on a disposed tensor
  const bytes = BYTES[t.dtype];
  const first = t.offset + start * bytes;
  const offset = first - (first % t.gpu.caps.minStorageOffsetAlignment);
  const shift = (first - offset) / bytes;
  // 16-byte multiples keep vec4 views whole; never past the buffer's end.
  const size = Math.min(Math.max(16, Math.ceil(((shift + count) * bytes) / 16) * 16), t.buffer.size - offset);
  return { binding: { buffer: t.buffer, offset, size }, shift };
}

/**
 * The same window described by `base`: the index, counted from the tensor's start, of the
 * binding's element 0 (for shaders that index from the tensor's start).
 */
export function baseWindow(t: Tensor, start: number, count: number): { binding: GPUBufferBinding; base: number } {
  const w = bindingWindow(t, start, count);
  return { binding: w.binding, base: start - w.shift };
}

/** Kernels index in u32: the most elements a tensor indexed from its start may have. */
export const MAX_INDEXED = 2 ** 32 - 1;

/**
 * Refuses, naming the op and the shape, a tensor that a kernel indexing from the tensor's start
 * (conv2d, groupnorm: window bases are absolute) could not address in u32: past 2³²−1 elements the
 * base and index uniforms would wrap. Windows themselves stay below 2³² bytes (caps.maxStorageBinding).
 */
export function checkIndexable(op: string, tensors: Record<string, readonly number[] | undefined>): void {
  for (const [name, shape] of Object.entries(tensors)) {
    const n = shape ? shape.reduce((a, b) => a * b, 1) : 0;
    if (n > MAX_INDEXED) {
      throw new Error(`${op}: ${name} [${shape}] has ${n} elements, past the ${MAX_INDEXED} its u32 indices reach; use a smaller batch or image`);
    }
  }
}

/** Largest element count whose window fits in one binding. */
export function maxWindowElems(gpu: Gpu, dtype: DType): number {
  return Math.floor((gpu.caps.maxStorageBinding - slack(gpu)) / BYTES[dtype]);
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
 * Checks that `ch` (a chunk of [B, chunks·cols]) can modulate `rows` rows of `cols` columns;
 * returns the rows per sample.
 */
export function checkChunk(op: string, name: string, ch: Chunk, cols: number, rows: number): number {
  const t = ch.tensor;
  const batch = t.shape[0];
  if (t.shape.length !== 2 || t.shape[1] !== ch.chunks * cols || !(ch.chunk >= 0 && ch.chunk < ch.chunks) || rows % batch !== 0) {
    throw new Error(
      `${op}: ${name} chunk ${ch.chunk}/${ch.chunks} of [${t.shape}] does not fit ${rows} rows of C = ${cols} (expected [B, ${ch.chunks}·${cols}] with rows divisible by B)`,
    );
  }
  return rows / batch;
}

/**
 * Binds the part of a per-sample column chunk that rows [r0, r0 + count) use (rowsPerSample
 * rows per sample): the kernel then indexes `shift + (sample − firstSample)·stride + col`.
 */
export function chunkWindow(ch: Chunk, cols: number, rowsPerSample: number, r0: number, count: number): Window & { firstSample: number } {
  const stride = ch.tensor.numel / ch.tensor.shape[0];
  const first = Math.floor(r0 / rowsPerSample);
  const last = Math.floor((r0 + count - 1) / rowsPerSample);
  return { ...bindingWindow(ch.tensor, first * stride + ch.chunk * cols, (last - first) * stride + cols), firstSample: first };
}
