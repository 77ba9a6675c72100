// Binding windows: a range of a tensor's elements bound at an aligned byte offset, so kernels
// can process tensors larger than the storage binding limit in bands. WebGPU wants binding
// offsets aligned (256 bytes); the window starts at the aligned offset below the first element
// and the shader subtracts `base` (elements between the tensor's start and the window's start).
import type { Gpu } from '../runtime/device.ts';
import { BYTES, type Tensor } from '../runtime/tensor.ts';

export interface Window {
  binding: GPUBufferBinding;
  /** Element index (from the tensor's start) of the binding's element 0. */
  base: number;
}

/** Bytes a window may need beyond its elements: alignment slack in front, 16-byte rounding behind. */
export function windowSlack(gpu: Gpu): number {
  return gpu.caps.minStorageOffsetAlignment + 16;
}

/** Elements [start, start+count) of `t`, bound from the aligned offset at or below `start`. */
export function window(t: Tensor, start: number, count: number): Window {
  const bytes = BYTES[t.dtype];
  const align = t.gpu.caps.minStorageOffsetAlignment;
  const first = t.offset + start * bytes;
  const offset = Math.floor(first / align) * align;
  const end = t.offset + (start + count) * bytes;
  // 16-byte multiples keep vec4 views whole; never past the buffer's end.
  const size = Math.min(Math.ceil((end - offset) / 16) * 16, t.buffer.size - offset);
  if (size > t.gpu.caps.maxStorageBinding) {
    throw new Error(`window: ${size} bytes of [${t.shape}] exceed the ${t.gpu.caps.maxStorageBinding}-byte binding limit`);
  }
  t.binding(); // throws on a disposed tensor
  return { binding: { buffer: t.buffer, offset, size }, base: (offset - t.offset) / bytes };
}

/** Bytes one band may use so that its window stays within the binding limit. */
export function bandBudget(gpu: Gpu): number {
  return gpu.caps.maxStorageBinding - windowSlack(gpu);
}
