// Per-kernel GPU time. With `timestamp-query` each dispatch gets its own compute pass with
// timestamp writes; without it every dispatch is submitted alone and timed by the completion
// of consecutive submits (coarser, and it serialises the queue: for finding hot kernels only).
// Some drivers advertise timestamps but write zeros (lavapipe): start() probes and falls back.
import type { Gpu } from './device.ts';
import type { DispatchObserver } from './recorder.ts';

export interface KernelTime {
  label: string;
  calls: number;
  ms: number;
}

const MAX_QUERIES = 512;

export class Profiler implements DispatchObserver {
  private totals = new Map<string, KernelTime>();
  private labels: string[] = [];
  private querySet: GPUQuerySet | undefined;
  private pending: Promise<void>[] = [];
  private toRead: (() => Promise<void>) | undefined;
  private lastDone = 0;
  mode: 'timestamps' | 'cpu' = 'cpu';

  /** `cpuTiming` forces the submit-per-dispatch fallback (used where timestamps are missing). */
  constructor(
    private readonly gpu: Gpu,
    private readonly cpuTiming = false,
  ) {}

  /** Starts observing the device's recorder. */
  async start(): Promise<void> {
    this.mode = !this.cpuTiming && this.gpu.caps.timestamps && (await timestampsWork(this.gpu)) ? 'timestamps' : 'cpu';
    this.gpu.recorder.flush();
    this.gpu.recorder.observer = this;
    this.lastDone = performance.now();
  }

  /** Waits for outstanding measurements and stops observing. */
  async stop(): Promise<KernelTime[]> {
    this.gpu.recorder.flush();
    this.gpu.recorder.observer = undefined;
    await Promise.all(this.pending);
    this.pending = [];
    return this.report();
  }

  report(): KernelTime[] {
    return [...this.totals.values()].sort((a, b) => b.ms - a.ms);
  }

  beginDispatch(label: string): GPUComputePassTimestampWrites | undefined {
    if (this.mode === 'cpu') {
      this.labels.push(label);
      return undefined;
    }
    if (this.labels.length * 2 + 2 > MAX_QUERIES) this.gpu.recorder.flush();
    this.querySet ??= this.gpu.device.createQuerySet({ type: 'timestamp', count: MAX_QUERIES });
    const i = this.labels.length;
    this.labels.push(label);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  wantsFlushAfterDispatch(): boolean {
    return this.mode === 'cpu';
  }

  beforeSubmit(encoder: GPUCommandEncoder): void {
    if (this.mode === 'cpu' || !this.labels.length || !this.querySet) return;
    const n = this.labels.length * 2;
    const resolve = this.gpu.device.createBuffer({ size: n * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const read = this.gpu.device.createBuffer({ size: n * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.resolveQuerySet(this.querySet, 0, n, resolve, 0);
    encoder.copyBufferToBuffer(resolve, 0, read, 0, n * 8);
    const labels = this.labels;
    this.labels = [];
    this.querySet = undefined; // the next batch writes a fresh set while this one is read
    // Mapped after the submit: a buffer pending a map cannot be used by the submit itself.
    this.toRead = async () => {
      await this.gpu.settle(read.mapAsync(GPUMapMode.READ));
      const t = new BigUint64Array(read.getMappedRange());
      labels.forEach((l, i) => this.add(l, Number(t[2 * i + 1] - t[2 * i]) / 1e6));
      read.unmap();
      read.destroy();
      resolve.destroy();
    };
  }

  afterSubmit(): void {
    if (this.toRead) this.pending.push(this.toRead());
    this.toRead = undefined;
    if (this.mode !== 'cpu' || !this.labels.length) return;
    const labels = this.labels;
    this.labels = [];
    this.pending.push(
      this.gpu.settle(this.gpu.device.queue.onSubmittedWorkDone()).then(() => {
        const now = performance.now();
        // Consecutive completions bound each submit's time; a lone dispatch per submit makes it per kernel.
        labels.forEach((l) => this.add(l, (now - this.lastDone) / labels.length));
        this.lastDone = now;
      }),
    );
  }

  private add(label: string, ms: number): void {
    const key = label.split(' ')[0];
    const t = this.totals.get(key) ?? { label: key, calls: 0, ms: 0 };
    t.calls++;
    t.ms += Math.max(0, ms);
    this.totals.set(key, t);
  }
}

const probed = new WeakMap<Gpu, Promise<boolean>>();

/** Whether a timed empty pass yields increasing, non-zero timestamps on this device (probed once per device). */
export function timestampsWork(gpu: Gpu): Promise<boolean> {
  let p = probed.get(gpu);
  if (!p) probed.set(gpu, (p = probeTimestamps(gpu)));
  return p;
}

async function probeTimestamps(gpu: Gpu): Promise<boolean> {
  const d = gpu.device;
  const qs = d.createQuerySet({ type: 'timestamp', count: 2 });
  const resolve = d.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const read = d.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = d.createCommandEncoder();
  enc.beginComputePass({ timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } }).end();
  enc.resolveQuerySet(qs, 0, 2, resolve, 0);
  enc.copyBufferToBuffer(resolve, 0, read, 0, 16);
  d.queue.submit([enc.finish()]);
  await gpu.settle(read.mapAsync(GPUMapMode.READ));
  const [a, b] = new BigUint64Array(read.getMappedRange());
  const ok = a > 0n && b >= a;
  read.unmap();
  [read, resolve, qs].forEach((x) => x.destroy());
  return ok;
}

/** A table of the top kernels by GPU time. */
export function formatProfile(times: KernelTime[], top = 15): string {
  const total = times.reduce((a, t) => a + t.ms, 0) || 1;
  const rows = times.slice(0, top).map((t) => `${t.label.padEnd(28)} ${String(t.calls).padStart(6)} ${t.ms.toFixed(2).padStart(10)} ms ${((100 * t.ms) / total).toFixed(1).padStart(5)}%`);
  return [`${'kernel'.padEnd(28)} ${'calls'.padStart(6)} ${'GPU time'.padStart(13)} ${'share'.padStart(6)}`, ...rows].join('\n');
}
