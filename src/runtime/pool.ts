// Reuses freed GPU buffers by size class, so a denoising loop allocates nothing after its
// first step. Classes are 1/8 steps between powers of two (at most 12.5% slack).

const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

export function sizeClass(bytes: number): number {
  const b = Math.max(256, Math.ceil(bytes / 4) * 4);
  if (b <= 4096) return Math.ceil(b / 256) * 256;
  const step = 2 ** (Math.floor(Math.log2(b)) - 3);
  return Math.ceil(b / step) * step;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  /** Buffers created here and not destroyed yet. */
  private created = new WeakSet<GPUBuffer>();
  /** How many trim() calls destroyed buffers: holders of pool buffers (bind groups) check it. */
  trims = 0;
  /** Bytes in buffers handed out and not yet released. */
  liveBytes = 0;
  /** Bytes in buffers the pool holds for reuse. */
  cachedBytes = 0;
  /** Highest liveBytes + cachedBytes seen since the last resetPeak(): GPU memory actually held. */
  peakBytes = 0;

  constructor(private readonly device: GPUDevice) {}

  acquire(bytes: number, label = 'tensor'): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(size);
    let buf = list?.pop();
    if (buf) {
      this.cachedBytes -= size;
    } else {
      if (size > this.device.limits.maxBufferSize) {
        throw new Error(
          `${label}: needs a ${(size / 2 ** 20).toFixed(1)} MiB buffer, above this adapter's maxBufferSize (${(this.device.limits.maxBufferSize / 2 ** 20).toFixed(0)} MiB)`,
        );
      }
      buf = this.device.createBuffer({ size, usage: USAGE, label });
      this.created.add(buf);
    }
    this.liveBytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes + this.cachedBytes);
    return buf;
  }

  release(buf: GPUBuffer): void {
    const size = buf.size;
    this.liveBytes -= size;
    this.cachedBytes += size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buf);
  }

  /**
   * Takes those of `buffers` that sit free here out of reuse, as if acquired, and returns them
   * (to release() later): a recorded plan keeps the scratch buffers its replays write.
   */
  claim(buffers: Iterable<GPUBuffer>): GPUBuffer[] {
    const taken: GPUBuffer[] = [];
    for (const buf of buffers) {
      const list = this.free.get(buf.size);
      const i = list ? list.indexOf(buf) : -1;
      if (i < 0) continue;
      list!.splice(i, 1);
      this.cachedBytes -= buf.size;
      this.liveBytes += buf.size;
      taken.push(buf);
    }
    return taken;
  }

  /** True for a buffer this pool created and has not destroyed. */
  owns(buf: GPUBuffer): boolean {
    return this.created.has(buf);
  }

  /**
   * Destroys every cached buffer (e.g. between pipeline stages, or before loading a big model).
   * The only place pool buffers are destroyed: nobody else may destroy one.
   */
  trim(): void {
    for (const list of this.free.values()) {
      for (const b of list) {
        this.created.delete(b);
        b.destroy();
      }
      if (list.length) this.trims++;
    }
    this.free.clear();
    this.cachedBytes = 0;
  }

  resetPeak(): void {
    this.peakBytes = this.liveBytes + this.cachedBytes;
  }
}
