// Records kernel dispatches into one command encoder and submits them in batches, so a
// denoising step is a handful of submits with no CPU round-trip inside it. Uniforms of the
// pending batch live in a CPU-side arena written once per submit and reach each dispatch through
// a dynamic offset, so bind groups do not depend on uniform values and are reused
// (bind-groups.ts): steps 2..N of a denoising loop create none.
//
// Dry run (`dryRun(f)`): model code runs as usual (buffers come from the pool, every dispatch is
// validated, bound and encoded, every batch's command buffer is finished) but nothing is
// submitted and no tensor is written, so a full-size run that would take hours on a CPU adapter
// takes seconds, allocates exactly what the real run does (pool.peakBytes is the real peak),
// checks every binding against the limits, and costs the CPU what recording the real run costs.
// Outputs hold whatever the buffers held; nothing may depend on their values.
//
// Capture and replay (`capture(f)`, `replay(plan)`): the commands `f` records (pipelines, bind
// groups, uniform bytes, workgroup counts, copies, where each batch was submitted) are kept as a
// Plan, and replay() re-issues them from that flat list without running any model code: the
// denoising steps after the first cost a few µs of encoding per dispatch (model/replay.ts).
// WebGPU has no render bundles for compute, so a replay still encodes every command.
import { BindGroupCache } from './bind-groups.ts';
import type { Gpu } from './device.ts';
import type { BufferPool } from './pool.ts';
import type { Kernel } from './shader.ts';
import type { Tensor } from './tensor.ts';

const UNIFORM_SLOT = 256; // minUniformBufferOffsetAlignment on every adapter seen
const ARENA_BYTES = 1 << 18;
/** Submit after this many dispatches, so the GPU starts while the CPU keeps recording. */
const AUTO_FLUSH = 128;

export type Binding = Tensor | GPUBufferBinding;

interface PlannedDispatch {
  copy: false;
  pipeline: GPUComputePipeline;
  group: GPUBindGroup;
  offsets: number[];
  x: number;
  y: number;
  z: number;
}

interface PlannedCopy {
  copy: true;
  src: GPUBuffer;
  srcOffset: number;
  dst: GPUBuffer;
  dstOffset: number;
  size: number;
}

/** One submit of a plan: its commands, and the uniform arenas written before it. */
interface PlannedBatch {
  ops: (PlannedDispatch | PlannedCopy)[];
  arenas: { index: number; bytes: Uint8Array }[];
}

interface Capture {
  batches: PlannedBatch[];
  batch: PlannedBatch;
  /** Every buffer a command bound or copied. */
  buffers: Set<GPUBuffer>;
  dispatches: number;
  /** Why the stretch cannot be replayed, once it cannot. */
  broken: string | undefined;
  trims: number;
}

const newBatch = (): PlannedBatch => ({ ops: [], arenas: [] });

/**
 * Work recorded by Recorder.capture, re-issued as it was by Recorder.replay. The pool buffers it
 * used as scratch (free again when the capture ended) are held out of the pool until dispose(),
 * so nothing else is handed them between replays. The buffers that were still allocated then
 * (the stretch's inputs and outputs, weights) must stay allocated, at the same place, for as long
 * as the plan is replayed: the plan binds those very buffers.
 */
export class Plan {
  private held: GPUBuffer[] | undefined;

  constructor(
    private readonly pool: BufferPool,
    readonly batches: readonly PlannedBatch[],
    /** Dispatches per replay. */
    readonly dispatches: number,
    buffers: Iterable<GPUBuffer>,
  ) {
    this.held = pool.claim(buffers);
  }

  get disposed(): boolean {
    return !this.held;
  }

  /** Returns the held scratch buffers to the pool; the plan cannot be replayed after. */
  dispose(): void {
    for (const b of this.held ?? []) this.pool.release(b);
    this.held = undefined;
  }
}

/** Receives per-dispatch timing when profiling (see profiler.ts). */
export interface DispatchObserver {
  /** Returns timestamp writes for this dispatch's own pass, or undefined to share the pass. */
  beginDispatch(label: string): GPUComputePassTimestampWrites | undefined;
  /** Called once per submit with the encoder about to be finished. */
  beforeSubmit(encoder: GPUCommandEncoder): void;
  afterSubmit(): void;
  /** True to submit every dispatch alone (CPU-side timing). */
  wantsFlushAfterDispatch(): boolean;
}

export class Recorder {
  private encoder: GPUCommandEncoder | undefined;
  private pass: GPUComputePassEncoder | undefined;
  private arenas: GPUBuffer[] = [];
  private staging = new Uint8Array(ARENA_BYTES);
  private arenaIndex = 0;
  private arenaUsed = 0;
  private dispatches = 0;
  private dry = false;
  private capturing: Capture | undefined;
  observer: DispatchObserver | undefined;
  /** Off: capture() makes no plan, so callers run their model code every time (to compare against). */
  plans = true;
  /** Number of plan replays so far. */
  replays = 0;
  /** Number of submits so far (the bench reports submits per step); a dry run counts the ones it skips. */
  submits = 0;
  /** Number of dispatches recorded so far (dry runs included). */
  dispatched = 0;

  /** Bind groups reused across dispatches (and so across denoising steps). */
  readonly bindGroups: BindGroupCache;

  constructor(private readonly gpu: Gpu) {
    this.bindGroups = new BindGroupCache(gpu.device, gpu.pool);
  }

  private enc(): GPUCommandEncoder {
    return (this.encoder ??= this.gpu.device.createCommandEncoder());
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = undefined;
  }

  private uniformSlot(data: ArrayBuffer | ArrayBufferView): { buffer: GPUBuffer; offset: number; size: number } {
    const bytes = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
    if (bytes.byteLength > UNIFORM_SLOT) throw new Error(`uniforms of ${bytes.byteLength} bytes exceed ${UNIFORM_SLOT}`);
    if (this.arenaUsed + UNIFORM_SLOT > ARENA_BYTES) {
      this.writeArena();
      this.arenaIndex++;
      this.arenaUsed = 0;
    }
    while (this.arenas.length <= this.arenaIndex) {
      this.arenas.push(
        this.gpu.device.createBuffer({ size: ARENA_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'uniform arena' }),
      );
    }
    this.staging.set(bytes, this.arenaUsed);
    const slot = { buffer: this.arenas[this.arenaIndex], offset: this.arenaUsed, size: Math.max(16, Math.ceil(bytes.byteLength / 16) * 16) };
    this.arenaUsed += UNIFORM_SLOT;
    return slot;
  }

  private writeArena(): void {
    if (!this.arenaUsed) return;
    this.gpu.device.queue.writeBuffer(this.arenas[this.arenaIndex], 0, this.staging, 0, this.arenaUsed);
    const c = this.capturing;
    if (c && !c.broken) c.batch.arenas.push({ index: this.arenaIndex, bytes: this.staging.slice(0, this.arenaUsed) });
  }

  /** Records one dispatch of `kernel` over `workgroups`. */
  dispatch(
    kernel: Kernel,
    bindings: Binding[],
    uniforms: ArrayBuffer | ArrayBufferView | undefined,
    workgroups: [number, number?, number?],
    label = kernel.label,
  ): void {
    const nb = kernel.spec.bindings.length;
    if (bindings.length !== nb) throw new Error(`${kernel.label}: ${bindings.length} bindings given, kernel declares ${nb}`);
    const max = this.gpu.caps.maxWorkgroupsPerDim;
    for (const w of workgroups) {
      if (w !== undefined && (w < 1 || w > max || !Number.isInteger(w))) {
        throw new Error(`${label}: workgroup count ${w} outside 1..${max}`);
      }
    }
    const buffers = bindings.map((b, i) => {
      const res = 'binding' in b && typeof b.binding === 'function' ? b.binding() : (b as GPUBufferBinding);
      if ((res.size ?? 0) > this.gpu.caps.maxStorageBinding) {
        throw new Error(`${label}: binding '${kernel.spec.bindings[i].name}' is ${res.size} bytes, above the ${this.gpu.caps.maxStorageBinding}-byte binding limit (the kernel must split it)`);
      }
      return res;
    });
    // Uniforms: the arena at offset 0 in the bind group, this dispatch's slot as dynamic offset.
    let offsets: number[] = [];
    if (kernel.spec.uniforms) {
      if (!uniforms) throw new Error(`${label}: kernel expects uniforms`);
      const slot = this.uniformSlot(uniforms);
      buffers.push({ buffer: slot.buffer, offset: 0, size: slot.size });
      offsets = [slot.offset];
    }
    const group = this.bindGroups.get(kernel.layout, buffers, label, buffers[nb]?.buffer);
    const ts = this.observer?.beginDispatch(label);
    if (ts) this.endPass();
    if (!this.pass) this.pass = this.enc().beginComputePass(ts ? { timestampWrites: ts, label } : {});
    const [x, y = 1, z = 1] = workgroups;
    this.pass.setPipeline(kernel.pipeline);
    this.pass.setBindGroup(0, group, offsets);
    this.pass.dispatchWorkgroups(x, y, z);
    if (ts) this.endPass();
    this.dispatched++;
    const c = this.capturing;
    if (c && !c.broken) {
      c.batch.ops.push({ copy: false, pipeline: kernel.pipeline, group, offsets, x, y, z });
      for (const b of buffers) c.buffers.add(b.buffer);
      c.dispatches++;
    }
    if (++this.dispatches >= AUTO_FLUSH || this.observer?.wantsFlushAfterDispatch()) this.submit();
  }

  /** Records a buffer-to-buffer copy. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    this.endPass();
    this.enc().copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
    const c = this.capturing;
    if (c && !c.broken) {
      c.batch.ops.push({ copy: true, src, srcOffset, dst, dstOffset, size });
      c.buffers.add(src).add(dst);
    }
  }

  /** Submits everything recorded so far (inside capture(), the stretch can then not be replayed). */
  flush(): void {
    if (this.capturing) this.capturing.broken ??= 'it submitted work early (a write, a read or a wait)';
    this.submit();
  }

  private submit(): void {
    this.endPass();
    if (!this.encoder) return;
    this.writeArena();
    if (this.dry) {
      this.encoder.finish(); // validated like a real batch, then dropped
    } else {
      this.observer?.beforeSubmit(this.encoder);
      this.gpu.device.queue.submit([this.encoder.finish()]);
      this.observer?.afterSubmit();
    }
    this.submits++;
    this.encoder = undefined;
    this.dispatches = 0;
    this.arenaIndex = 0;
    this.arenaUsed = 0;
    const c = this.capturing;
    if (c && !c.broken) {
      c.batches.push(c.batch);
      c.batch = newBatch();
    }
  }

  /**
   * Runs `f` and returns, with its result, a Plan of the work it recorded, or no plan and the
   * reason when that work cannot be replayed as recorded: it wrote, read or waited on the GPU
   * (autotuning, a first upload), a profiler is attached, the pool destroyed buffers meanwhile,
   * or `plans` is off. Everything recorded while `f` runs belongs to the plan: nothing else may
   * record then.
   */
  async capture<T>(f: () => Promise<T>): Promise<{ result: T; plan: Plan } | { result: T; plan: undefined; reason: string }> {
    if (this.capturing) throw new Error('capture: already capturing');
    this.flush();
    const pool = this.gpu.pool;
    const batch = newBatch();
    const c: Capture = { batches: [], batch, buffers: new Set(), dispatches: 0, broken: undefined, trims: pool.trims };
    if (!this.plans) c.broken = 'plans are off';
    else if (this.observer) c.broken = 'a profiler is attached';
    this.capturing = c;
    let result: T;
    try {
      result = await f();
      this.submit();
    } finally {
      this.capturing = undefined;
    }
    if (this.observer) c.broken ??= 'a profiler is attached';
    if (pool.trims !== c.trims) c.broken ??= 'the pool destroyed buffers meanwhile';
    if (c.broken) return { result, plan: undefined, reason: c.broken };
    return { result, plan: new Plan(pool, c.batches, c.dispatches, c.buffers) };
  }

  /**
   * Re-issues a plan's commands (pending work is submitted first). Allocation-free apart from
   * the encoders: the per-dispatch cost is the three native calls.
   */
  replay(plan: Plan): void {
    if (plan.disposed) throw new Error('replay: the plan was disposed');
    if (this.observer) throw new Error('replay: a profiler is attached (it times recorded dispatches: run the work instead)');
    this.flush();
    const { device } = this.gpu;
    for (const b of plan.batches) {
      const enc = device.createCommandEncoder();
      let pass: GPUComputePassEncoder | undefined;
      let pipeline: GPUComputePipeline | undefined;
      for (const op of b.ops) {
        if (op.copy) {
          pass?.end();
          pass = undefined;
          enc.copyBufferToBuffer(op.src, op.srcOffset, op.dst, op.dstOffset, op.size);
          continue;
        }
        if (!pass) {
          pass = enc.beginComputePass();
          pipeline = undefined;
        }
        if (op.pipeline !== pipeline) pass.setPipeline((pipeline = op.pipeline));
        pass.setBindGroup(0, op.group, op.offsets);
        pass.dispatchWorkgroups(op.x, op.y, op.z);
      }
      pass?.end();
      for (const a of b.arenas) device.queue.writeBuffer(this.arenas[a.index], 0, a.bytes);
      const commands = enc.finish();
      if (!this.dry) device.queue.submit([commands]);
      this.submits++;
    }
    this.dispatched += plan.dispatches;
    this.replays++;
  }

  /**
   * Writes bytes into a buffer. Pending work is submitted first: the buffer may be a recycled
   * one that recorded dispatches still read, and queue writes run before unsubmitted work.
   */
  write(buffer: GPUBuffer, offset: number, bytes: Uint8Array): void {
    this.flush();
    if (this.dry) return;
    const padded = bytes.byteLength % 4 ? new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4) : bytes;
    if (padded !== bytes) padded.set(bytes);
    this.gpu.device.queue.writeBuffer(buffer, offset, padded.buffer, padded.byteOffset, padded.byteLength);
  }

  /** True inside dryRun(). */
  get isDryRun(): boolean {
    return this.dry;
  }

  /**
   * Runs `f` as a dry run (see the top of this file). Work recorded before is submitted first;
   * the GPU's memory is left as it was. Validation errors the device reports come out at the end.
   */
  async dryRun<T>(f: () => Promise<T>): Promise<T> {
    if (this.dry) throw new Error('dryRun: already inside a dry run');
    if (this.observer) throw new Error('dryRun: a profiler is attached (a dry run executes nothing to time)');
    this.flush();
    this.dry = true;
    let result: T;
    try {
      result = await f();
    } finally {
      this.flush();
      this.dry = false;
    }
    await this.gpu.settle(this.gpu.device.queue.onSubmittedWorkDone());
    this.gpu.check('dry run');
    return result;
  }

  /** Reads bytes back (submitting pending work first). */
  async readBytes(buffer: GPUBuffer, offset: number, size: number): Promise<Uint8Array> {
    const staging = this.gpu.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'readback' });
    this.copy(buffer, offset, staging, 0, size);
    this.flush();
    try {
      await this.gpu.settle(staging.mapAsync(GPUMapMode.READ));
    } catch (e) {
      this.gpu.check('readback');
      throw await this.gpu.failure('readback', e);
    }
    this.gpu.check('readback');
    const out = new Uint8Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    return out;
  }
}
