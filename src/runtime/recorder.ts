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
import { BindGroupCache } from './bind-groups.ts';
import type { Gpu } from './device.ts';
import type { Kernel } from './shader.ts';
import type { Tensor } from './tensor.ts';

const UNIFORM_SLOT = 256; // minUniformBufferOffsetAlignment on every adapter seen
const ARENA_BYTES = 1 << 18;
/** Submit after this many dispatches, so the GPU starts while the CPU keeps recording. */
const AUTO_FLUSH = 128;

export type Binding = Tensor | GPUBufferBinding;

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
  observer: DispatchObserver | undefined;
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
    if (this.arenaUsed) this.gpu.device.queue.writeBuffer(this.arenas[this.arenaIndex], 0, this.staging, 0, this.arenaUsed);
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
    this.pass.setPipeline(kernel.pipeline);
    this.pass.setBindGroup(0, group, offsets);
    this.pass.dispatchWorkgroups(workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1);
    if (ts) this.endPass();
    this.dispatched++;
    if (++this.dispatches >= AUTO_FLUSH || this.observer?.wantsFlushAfterDispatch()) this.flush();
  }

  /** Records a buffer-to-buffer copy. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    this.endPass();
    this.enc().copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
  }

  /** Submits everything recorded so far. */
  flush(): void {
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
    await this.gpu.device.queue.onSubmittedWorkDone();
    this.gpu.check('dry run');
    return result;
  }

  /** Reads bytes back (submitting pending work first). */
  async readBytes(buffer: GPUBuffer, offset: number, size: number): Promise<Uint8Array> {
    const staging = this.gpu.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'readback' });
    this.copy(buffer, offset, staging, 0, size);
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ);
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
