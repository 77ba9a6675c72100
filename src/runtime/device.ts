// One WebGPU device per process, with the adapter's real limits and the optional features
// that exist. Kernels consult `Capabilities`; nothing else sniffs the adapter.
import { platform, settle } from './platform.ts';
import { BufferPool } from './pool.ts';
import { Recorder } from './recorder.ts';
import { PipelineCache } from './shader.ts';

export interface Capabilities {
  adapterName: string;
  vendor: string;
  architecture: string;
  isFallback: boolean;
  /** `shader-f16`: f16 storage and math in shaders. Without it f16 weights stay packed in u32. */
  f16: boolean;
  subgroups: boolean;
  /** WGSL language feature `packed_4x8_integer_dot_product` (unpack4xI8 and friends). */
  packed4x8: boolean;
  subgroupMinSize: number;
  subgroupMaxSize: number;
  timestamps: boolean;
  /** Largest storage binding in bytes (kernels split or band anything larger). */
  maxStorageBinding: number;
  maxBufferSize: number;
  maxWorkgroupStorage: number;
  maxInvocations: number;
  maxWorkgroupSizeX: number;
  maxWorkgroupsPerDim: number;
  maxStorageBuffersPerStage: number;
  minStorageOffsetAlignment: number;
  /** Cooperative-matrix shapes of `chromium-experimental-subgroup-matrix` (empty without the feature). */
  subgroupMatrixConfigs: SubgroupMatrixConfig[];
}

/** One supported subgroup-matrix shape: left M×K and right K×N of componentType, result M×N. */
export interface SubgroupMatrixConfig {
  componentType: string;
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}

export interface DeviceOptions {
  /** Pretend `shader-f16` is missing (as on SwiftShader), to test the packed-f16 path. */
  disableF16?: boolean;
  /** Pretend `subgroups` is missing, to test the kernels' fallback reductions. */
  disableSubgroups?: boolean;
  /** Pretend WGSL lacks `packed_4x8_integer_dot_product`, to test the q8 kernels' shift unpacking. */
  disablePacked4x8?: boolean;
  /** Pretend a smaller storage binding limit (bytes), to test splitting and banding. */
  maxStorageBinding?: number;
  /** Pretend less workgroup memory (bytes), to test the tile geometry of small-memory adapters (and build test-sized tiles). */
  maxWorkgroupStorage?: number;
  /** Ask for a low-power/high-performance adapter. */
  powerPreference?: GPUPowerPreference;
}

const SUBGROUP_MATRIX = 'chromium-experimental-subgroup-matrix' as GPUFeatureName;
const OPTIONAL_FEATURES: GPUFeatureName[] = ['shader-f16', 'subgroups', 'timestamp-query', SUBGROUP_MATRIX];

/**
 * A CPU implementation of WebGPU (lavapipe/llvmpipe, SwiftShader), where a pipeline compiles in
 * seconds: by its fallback flag, which not every browser sets, or by its name.
 */
export function isCpuAdapter(caps: Capabilities): boolean {
  return caps.isFallback || caps.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(`${caps.adapterName} ${caps.architecture}`);
}

export class Gpu {
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  readonly recorder: Recorder;
  private lost: string | undefined;
  private destroyed = false;
  private pendingErrors: string[] = [];

  constructor(
    readonly device: GPUDevice,
    readonly caps: Capabilities,
  ) {
    this.pool = new BufferPool(device);
    this.pipelines = new PipelineCache(this);
    this.recorder = new Recorder(this);
    device.lost.then((info) => {
      // 'destroyed' by anyone but destroy() below is a loss too (and how tests simulate one).
      if (!this.destroyed) this.lost = `GPU device lost (${info.reason}${info.message ? `: ${info.message}` : ''})`;
      // The next getDevice() makes a fresh device, so a rerun in this process can resume.
      if (sharedGpu === this) shared = sharedGpu = undefined;
    });
    device.addEventListener('uncapturederror', (ev) => {
      const err = (ev as GPUUncapturedErrorEvent).error;
      const kind = err instanceof GPUOutOfMemoryError ? 'out of GPU memory' : 'GPU validation error';
      this.pendingErrors.push(`${kind}: ${err.message}`);
    });
  }

  /** Throws the first GPU error seen since the last check, naming the operation that found it. */
  check(operation: string): void {
    if (this.lost) throw new Error(`${operation}: ${this.lost}`);
    if (this.pendingErrors.length) {
      const errs = this.pendingErrors;
      this.pendingErrors = [];
      throw new Error(`${operation}: ${errs[0]}${errs.length > 1 ? ` (and ${errs.length - 1} more)` : ''}`);
    }
  }

  /**
   * Every wait on the GPU goes through here. On a CPU adapter, through the platform's settle:
   * Node's Dawn polls on the main thread and takes a core from the driver's threads. On a GPU the
   * polling costs a core but no GPU time and sees completion within microseconds, so the promise
   * is awaited as it is.
   */
  settle<T>(pending: Promise<T>): Promise<T> {
    return isCpuAdapter(this.caps) ? settle(pending) : pending;
  }

  /** Submits recorded work and waits for the GPU to finish it (in a dry run there is none to wait for). */
  async sync(operation = 'sync'): Promise<void> {
    this.recorder.flush();
    if (!this.recorder.isDryRun) await this.settle(this.device.queue.onSubmittedWorkDone());
    this.check(operation);
  }

  /**
   * The error to throw for a GPU operation that failed with `e` (a rejected mapAsync, say):
   * the device loss when that is the cause (its notice can lag the failure a little), else `e`.
   */
  async failure(operation: string, e: unknown): Promise<unknown> {
    if (!this.lost) await Promise.race([this.device.lost, new Promise((r) => setTimeout(r, 200))]);
    return this.lost ? new Error(`${operation}: ${this.lost}`) : e;
  }

  destroy(): void {
    this.destroyed = true;
    this.pool.trim();
    this.device.destroy();
  }
}

let shared: Promise<Gpu> | undefined;
let sharedGpu: Gpu | undefined;
let sharedKey = '';

/**
 * The process-wide device. Options only take effect on the first call (or when they change,
 * which creates a new device: tests use that to force capability levels).
 */
export function getDevice(opts: DeviceOptions = {}): Promise<Gpu> {
  const key = JSON.stringify(opts);
  if (!shared || key !== sharedKey) {
    sharedKey = key;
    const created = (shared = createDevice(opts));
    created.then((g) => shared === created && (sharedGpu = g)).catch(() => (shared = undefined));
  }
  return shared;
}

export async function createDevice(opts: DeviceOptions = {}): Promise<Gpu> {
  const gpu = platform().gpu();
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new Error(
      'No WebGPU adapter found. On Linux without a GPU install Mesa lavapipe (see README: .ci/run does it); in a browser enable WebGPU',
    );
  }
  const features = OPTIONAL_FEATURES.filter(
    (f) =>
      adapter.features.has(f) &&
      !(f === 'shader-f16' && opts.disableF16) &&
      !((f === 'subgroups' || f === SUBGROUP_MATRIX) && opts.disableSubgroups),
  );
  const l = adapter.limits;
  // Request the adapter's real limits: the defaults (128 MiB bindings, 16 KiB workgroup memory) are lower.
  const requiredLimits: Record<string, number> = {
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxBufferSize: l.maxBufferSize,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
    maxComputeWorkgroupSizeZ: l.maxComputeWorkgroupSizeZ,
    maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
  };
  const device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits });
  return wrapDevice(device, { ...opts, adapterInfo: adapter.info });
}

/** The largest storage binding used: 2³² bytes less 16, whatever the adapter allows. */
export const MAX_BINDING = 2 ** 32 - 16;

/**
 * A Gpu over a device the caller already made (e.g. an app that also renders with it). The
 * capabilities come from the device's own features and limits; `adapterInfo` defaults to the
 * device's (GPUDevice.adapterInfo, where the implementation has it).
 */
export function wrapDevice(device: GPUDevice, opts: DeviceOptions & { adapterInfo?: GPUAdapterInfo } = {}): Gpu {
  const info = opts.adapterInfo ?? (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  const sub = (info ?? {}) as unknown as { subgroupMinSize?: number; subgroupMaxSize?: number; isFallbackAdapter?: boolean; subgroupMatrixConfigs?: SubgroupMatrixConfig[] };
  const has = (f: GPUFeatureName) => device.features.has(f) && !(f === 'shader-f16' && opts.disableF16) && !(f === 'subgroups' && opts.disableSubgroups);
  const caps: Capabilities = {
    adapterName: info?.description || info?.device || info?.vendor || 'unknown adapter',
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    isFallback: Boolean(sub.isFallbackAdapter),
    f16: has('shader-f16'),
    subgroups: has('subgroups'),
    packed4x8: !opts.disablePacked4x8 && Boolean(platform().gpu().wgslLanguageFeatures?.has('packed_4x8_integer_dot_product')),
    subgroupMinSize: sub.subgroupMinSize ?? 0,
    subgroupMaxSize: sub.subgroupMaxSize ?? 0,
    timestamps: has('timestamp-query'),
    // Below 2³² bytes, so every index into a bound window fits the shaders' u32 (shaders/README.md, index limits).
    maxStorageBinding: Math.min(opts.maxStorageBinding ?? Infinity, device.limits.maxStorageBufferBindingSize, MAX_BINDING),
    maxBufferSize: device.limits.maxBufferSize,
    maxWorkgroupStorage: Math.min(opts.maxWorkgroupStorage ?? Infinity, device.limits.maxComputeWorkgroupStorageSize),
    maxInvocations: device.limits.maxComputeInvocationsPerWorkgroup,
    maxWorkgroupSizeX: device.limits.maxComputeWorkgroupSizeX,
    maxWorkgroupsPerDim: device.limits.maxComputeWorkgroupsPerDimension,
    maxStorageBuffersPerStage: device.limits.maxStorageBuffersPerShaderStage,
    minStorageOffsetAlignment: device.limits.minStorageBufferOffsetAlignment,
    subgroupMatrixConfigs: has(SUBGROUP_MATRIX)
      ? [...(sub.subgroupMatrixConfigs ?? [])].map(({ componentType, resultComponentType, M, N, K }) => ({ componentType, resultComponentType, M, N, K }))
      : [],
  };
  return new Gpu(device, caps);
}
