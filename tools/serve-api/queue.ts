// Micro-batching for one GPU: requests wait in a bounded queue; the worker takes the oldest,
// waits up to the batch window for more requests with the same batch key (the settings a batch
// must share), and runs up to maxBatch of them as one pipeline call. A queued request whose
// client went away is dropped before it costs GPU time.

export class QueueFull extends Error {
  constructor(readonly retryAfterS: number) {
    super(`the queue is full; retry in ${retryAfterS} s`);
  }
}

export class Cancelled extends Error {
  constructor() {
    super('the client disconnected before its request ran');
  }
}

export interface QueueOptions {
  maxQueue: number;
  maxBatch: number;
  batchWindowMs: number;
}

interface Waiting<I, O> {
  key: string;
  input: I;
  arrived: number;
  resolve(out: O): void;
  reject(e: Error): void;
}

/** Runs a batch of inputs sharing one key; returns one output per input, in order. */
export type BatchRunner<I, O> = (key: string, inputs: I[]) => Promise<O[]>;

export class BatchQueue<I, O> {
  private waiting: Waiting<I, O>[] = [];
  private running = 0;
  private working = false;
  private idle: (() => void)[] = [];
  /** Mean seconds per batch, for Retry-After. */
  private meanBatchS = 1;
  private wake: (() => void) | undefined;

  constructor(
    private readonly o: QueueOptions,
    private readonly run: BatchRunner<I, O>,
    private readonly onBatch: (size: number) => void = () => {},
  ) {}

  get depth(): number {
    return this.waiting.length;
  }

  /** Queued and running requests. */
  get pending(): number {
    return this.waiting.length + this.running;
  }

  /** Enqueues `input`; `signal` cancels it while it still waits. Rejects with QueueFull at once when full. */
  submit(key: string, input: I, signal?: AbortSignal): Promise<O> {
    if (this.waiting.length >= this.o.maxQueue) {
      const batchesAhead = Math.ceil((this.waiting.length + 1) / this.o.maxBatch);
      return Promise.reject(new QueueFull(Math.max(1, Math.ceil(batchesAhead * this.meanBatchS))));
    }
    if (signal?.aborted) return Promise.reject(new Cancelled());
    return new Promise<O>((resolve, reject) => {
      const w: Waiting<I, O> = { key, input, arrived: performance.now(), resolve, reject };
      this.waiting.push(w);
      signal?.addEventListener('abort', () => {
        const i = this.waiting.indexOf(w);
        if (i >= 0) {
          this.waiting.splice(i, 1);
          reject(new Cancelled());
        }
      }, { once: true });
      this.wake?.();
      if (!this.working) void this.work();
    });
  }

  /** Resolves once nothing is queued or running. */
  drained(): Promise<void> {
    return this.pending === 0 ? Promise.resolve() : new Promise((ok) => this.idle.push(ok));
  }

  private async work(): Promise<void> {
    this.working = true;
    while (this.waiting.length) {
      const first = this.waiting[0];
      // Wait for company until the window closes or the batch is full.
      const until = first.arrived + this.o.batchWindowMs;
      while (this.sameKey(first.key).length < this.o.maxBatch && performance.now() < until && this.waiting.includes(first)) {
        await new Promise<void>((ok) => {
          const t = setTimeout(ok, until - performance.now());
          this.wake = () => {
            clearTimeout(t);
            ok();
          };
        });
        this.wake = undefined;
      }
      if (!this.waiting.includes(first)) continue; // cancelled while waiting
      const batch = this.sameKey(first.key).slice(0, this.o.maxBatch);
      this.waiting = this.waiting.filter((w) => !batch.includes(w));
      this.running = batch.length;
      this.onBatch(batch.length);
      const started = performance.now();
      try {
        const outs = await this.run(first.key, batch.map((w) => w.input));
        batch.forEach((w, i) => w.resolve(outs[i]));
      } catch (e) {
        for (const w of batch) w.reject(e as Error);
      }
      this.meanBatchS = 0.8 * this.meanBatchS + 0.2 * ((performance.now() - started) / 1000);
      this.running = 0;
    }
    this.working = false;
    for (const ok of this.idle.splice(0)) ok();
  }

  private sameKey(key: string): Waiting<I, O>[] {
    return this.waiting.filter((w) => w.key === key);
  }
}
