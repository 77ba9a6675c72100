// Records kernel dispatches into one command encoder and submits them in batches, so a
// denoising step is a handful of submits with no CPU round-trip inside it. Uniforms of the
// pending batch live in a CPU-side arena written once per submit.
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
  observer: DispatchObserver | undefined;
  /** Number of submits so far (the bench reports submits per step). */
  submits = 0;

  constructor(private readonly gpu: Gpu) {}

  private enc(): GPUCommandEncoder {
    return (this.encoder ??= this.gpu.device.createCommandEncoder());
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = undefined;
  }

  private uniformSlot(data: ArrayBuffer | ArrayBufferView): GPUBufferBinding {
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
    const entries: GPUBindGroupEntry[] = bindings.map((b, i) => {
      const res = 'binding' in b && typeof b.binding === 'function' ? b.binding() : (b as GPUBufferBinding);
      if ((res.size ?? 0) > this.gpu.caps.maxStorageBinding) {
        throw new Error(`${label}: binding '${kernel.spec.bindings[i].name}' is ${res.size} bytes, above the ${this.gpu.caps.maxStorageBinding}-byte binding limit (the kernel must split it)`);
      }
      return { binding: i, resource: res };
    });
    if (kernel.spec.uniforms) {
      if (!uniforms) throw new Error(`${label}: kernel expects uniforms`);
      entries.push({ binding: nb, resource: this.uniformSlot(uniforms) });
    }
    const group = this.gpu.device.createBindGroup({ layout: kernel.layout, entries, label });
    const ts = this.observer?.beginDispatch(label);
    if (ts) this.endPass();
    if (!this.pass) this.pass = this.enc().beginComputePass(ts ? { timestampWrites: ts, label } : {});
    this.pass.setPipeline(kernel.pipeline);
    this.pass.setBindGroup(0, group);
    this.pass.dispatchWorkgroups(workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1);
    if (ts) this.endPass();
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
    this.observer?.beforeSubmit(this.encoder);
    this.gpu.device.queue.submit([this.encoder.finish()]);
    this.observer?.afterSubmit();
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
    const padded = bytes.byteLength % 4 ? new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4) : bytes;
    if (padded !== bytes) padded.set(bytes);
    this.gpu.device.queue.writeBuffer(buffer, offset, padded.buffer, padded.byteOffset, padded.byteLength);
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
