// GPU tensors: a buffer, a shape, a dtype. Lifetime is explicit: dispose() hands the buffer
// back to the pool, so model code frees intermediates at their last use.
import type { Gpu } from './device.ts';
import { f16ArrayToF32, f32ArrayToF16 } from './f16.ts';

/**
 * Storage dtype. f16 tensors hold IEEE half bytes; shaders view them as array<f16> when the
 * adapter has `shader-f16`, else as packed array<u32> unpacked with unpack2x16float (read-only).
 */
export type DType = 'f32' | 'f16';

/** What a buffer may hold: a DType, or raw 32-bit words ('u32': packed int8 weights, see q8.ts). */
export type StorageDType = DType | 'u32';

export const BYTES: Record<StorageDType, number> = { f32: 4, f16: 2, u32: 4 };

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** `Tensor` holds float values; `Tensor<'u32'>` holds words that only kernels interpret. */
export class Tensor<D extends StorageDType = DType> {
  private disposed = false;

  constructor(
    readonly gpu: Gpu,
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: D,
    /** Byte offset of element 0 in `buffer` (a multiple of the storage offset alignment). */
    readonly offset = 0,
    /** False for views: they share their parent's buffer and never release it. */
    readonly owner = true,
  ) {}

  get numel(): number {
    return numel(this.shape);
  }

  get byteLength(): number {
    return this.numel * BYTES[this.dtype];
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** A view with another shape over the same elements (no copy). */
  reshape(shape: readonly number[]): Tensor<D> {
    const n = numel(shape);
    if (n !== this.numel) throw new Error(`reshape: [${this.shape}] has ${this.numel} elements, [${shape}] has ${n}`);
    return new Tensor(this.gpu, this.buffer, shape, this.dtype, this.offset, false);
  }

  /**
   * A view of `count` rows starting at row `start` along the first dimension (no copy). The
   * byte offset must meet the adapter's storage-offset alignment (256 bytes).
   */
  rows(start: number, count: number): Tensor<D> {
    const rowBytes = (this.numel / this.shape[0]) * BYTES[this.dtype];
    const offset = this.offset + start * rowBytes;
    if (offset % this.gpu.caps.minStorageOffsetAlignment !== 0) {
      throw new Error(`rows: byte offset ${offset} is not a multiple of ${this.gpu.caps.minStorageOffsetAlignment}`);
    }
    return new Tensor(this.gpu, this.buffer, [count, ...this.shape.slice(1)], this.dtype, offset, false);
  }

  /**
   * Hands this tensor's buffer to a new owning tensor of `shape` (no more bytes than this one)
   * and disposes this one without releasing the buffer: a kernel that wrote its output over its
   * input returns it this way (kernels/conv1x1-over-input.ts).
   */
  reuseAs(shape: readonly number[]): Tensor<D> {
    const what = `reuseAs: [${this.shape}] ${this.dtype} as [${shape}]`;
    if (!this.owner || this.disposed) throw new Error(`${what}: only a live tensor owning its buffer can hand it on`);
    if (numel(shape) > this.numel) throw new Error(`${what}: ${numel(shape)} elements do not fit in ${this.numel}`);
    this.disposed = true;
    return new Tensor(this.gpu, this.buffer, shape, this.dtype, this.offset);
  }

  binding(): GPUBufferBinding {
    if (this.disposed) throw new Error(`use of a disposed tensor [${this.shape}] ${this.dtype}`);
    // Bindings are rounded up to 4 bytes (an odd-length f16 tensor is read as packed u32 pairs).
    return { buffer: this.buffer, offset: this.offset, size: Math.ceil(this.byteLength / 4) * 4 };
  }

  /** Copies the tensor to the CPU as f32 values. Flushes recorded work first. */
  async read(): Promise<Float32Array> {
    if (this.dtype === 'u32') throw new Error(`read: [${this.shape}] holds u32 words, not values`);
    const raw = await this.gpu.recorder.readBytes(this.buffer, this.offset, Math.ceil(this.byteLength / 4) * 4);
    if (this.dtype === 'f32') return new Float32Array(raw.buffer, raw.byteOffset, this.numel);
    return f16ArrayToF32(new Uint16Array(raw.buffer, raw.byteOffset, this.numel));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.owner) this.gpu.pool.release(this.buffer);
  }
}

/** A new uninitialised tensor from the pool. */
export function empty(gpu: Gpu, shape: readonly number[], dtype: DType = 'f32', label?: string): Tensor {
  const bytes = numel(shape) * BYTES[dtype];
  return new Tensor(gpu, gpu.pool.acquire(bytes, label ?? `[${shape}] ${dtype}`), shape, dtype);
}

/** Uploads 32-bit words (e.g. packed int8 weights) into a new u32 tensor. */
export function fromWords(gpu: Gpu, data: Uint32Array, shape: readonly number[], label?: string): Tensor<'u32'> {
  const n = numel(shape);
  if (data.length !== n) throw new Error(`fromWords: ${data.length} words for shape [${shape}] (${n} elements)`);
  const t = new Tensor(gpu, gpu.pool.acquire(data.byteLength, label ?? `[${shape}] u32`), shape, 'u32');
  gpu.recorder.write(t.buffer, t.offset, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return t;
}

/**
 * Uploads values into a new tensor. `data` is f32 values, or raw f16 bits (Uint16Array) for
 * an f16 tensor.
 */
export function fromArray(
  gpu: Gpu,
  data: Float32Array | Uint16Array | number[],
  shape: readonly number[],
  dtype: DType = 'f32',
): Tensor {
  const n = numel(shape);
  if (data.length !== n) throw new Error(`fromArray: ${data.length} values for shape [${shape}] (${n} elements)`);
  let bytes: Uint8Array;
  if (dtype === 'f32') {
    if (data instanceof Uint16Array) throw new Error('fromArray: f16 bits given for an f32 tensor');
    const f = data instanceof Float32Array ? data : Float32Array.from(data);
    bytes = new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
  } else {
    const h = data instanceof Uint16Array ? data : f32ArrayToF16(data);
    bytes = new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
  }
  const t = empty(gpu, shape, dtype);
  gpu.recorder.write(t.buffer, t.offset, bytes);
  return t;
}
