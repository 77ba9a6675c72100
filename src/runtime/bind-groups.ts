// Bind groups reused across dispatches. A denoising step binds the same pool buffers at the same
// offsets as the step before it (the pool hands freed buffers back in the same order), so once
// the loop is steady a step creates no bind group. A cached group is the very one a fresh
// createBindGroup would make: the key is the layout and every binding's (buffer, offset, size);
// uniform values are not part of it (they reach the shader through a dynamic offset into the
// recorder's per-submit arena). Only groups over buffers the pool created are kept: the pool is
// the one place that destroys them, and this cache empties itself whenever the pool has (so a
// cached group never names a destroyed buffer, nor keeps one alive after the pool let it go).
import type { BufferPool } from './pool.ts';

/** Bind groups kept at most (least recently used dropped first); a 24-block step binds ~500. */
const CAPACITY = 8192;

export class BindGroupCache {
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;
  private readonly groups = new Map<string, GPUBindGroup>();
  private seenTrims: number;
  /** Off: every dispatch gets a fresh bind group (to compare against). */
  enabled = true;
  hits = 0;
  misses = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly pool: BufferPool,
    private readonly capacity = CAPACITY,
  ) {
    this.seenTrims = pool.trims;
  }

  get size(): number {
    return this.groups.size;
  }

  /**
   * The bind group of `layout` with entries 0..n-1 = `buffers`. Buffers other than the pool's
   * may appear only where `kept` says they live as long as the device (the uniform arenas).
   */
  get(layout: GPUBindGroupLayout, buffers: GPUBufferBinding[], label: string, kept?: GPUBuffer): GPUBindGroup {
    const make = () => this.device.createBindGroup({ layout, entries: buffers.map((resource, binding) => ({ binding, resource })), label });
    if (!this.enabled || !buffers.every((b) => b.buffer === kept || this.pool.owns(b.buffer))) return make();
    if (this.pool.trims !== this.seenTrims) this.clear();
    let key = String(this.id(layout));
    for (const b of buffers) key += `|${this.id(b.buffer)}:${b.offset ?? 0}:${b.size ?? '-'}`;
    let group = this.groups.get(key);
    if (group) {
      this.hits++;
      this.groups.delete(key); // re-inserted last: the Map's order is least recently used first
    } else {
      this.misses++;
      group = make();
      if (this.groups.size >= this.capacity) this.groups.delete(this.groups.keys().next().value!);
    }
    this.groups.set(key, group);
    return group;
  }

  clear(): void {
    this.groups.clear();
    this.seenTrims = this.pool.trims;
  }

  private id(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) this.ids.set(o, (id = this.nextId++));
    return id;
  }
}
