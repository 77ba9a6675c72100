// Kernel variants: the one place that decides which variant of a family runs.
//
// Each family (matmul, attention, conv2d, ...) lists its variants. `chooseVariant` picks one:
// a forced choice, else the only candidate, else the winner of an autotuning for the
// problem's shape class. Settings come in two layers:
// - process-wide defaults (`setKernelChoice(family, name)`, `configureKernels`, the CLI's
//   `--kernel` / `--kernel-override`, `setAutotune(on)`): what every device starts from;
// - per device (the same calls with a `gpu` argument, and `withKernel(gpu, ...)`): they win over
//   the defaults for that device only, so two models on two devices in one process don't
//   interfere. Autotuning results always belong to a device (and, through the autotune cache,
//   to its adapter).
// `setKernelOverride` replaces a family's WGSL with a user's file; it is compiled through the
// same runtime prelude, so it sees the same bindings, accessors and defines as the built-in.
import { isCpuAdapter, type Capabilities, type Gpu } from '../runtime/device.ts';
import { autotuneCache, type AutotuneCache } from './autotune-cache.ts';
import { kernelTimer } from './kernel-timer.ts';
import { interleavedRounds, median, MIN_ROUNDS, ratioCI } from './timing-stats.ts';

export interface Variant {
  /** Unique within the family, e.g. 'tiled-8x4'. */
  name: string;
  family: string;
  /** Whether this adapter can run the variant at all (e.g. f16 math needs shader-f16). */
  supports(caps: Capabilities): boolean;
  /**
   * False to leave the variant out of autotuning (it still runs when forced). For baselines
   * whose timing on a model-sized problem would cost minutes on a CPU adapter.
   */
  autotune?: boolean;
  /** Products in f16: meant for f16 operands only (checks of an override use f16 inputs). */
  f16Math?: boolean;
  /** WebGPU features the variant's code needs ('subgroups', 'shader-f16', 'chromium-experimental-subgroup-matrix'). */
  needs?: string[];
  /** Whether the variant stages operands in workgroup memory (GPU-style tiling; slow on CPU adapters). */
  workgroupMemory?: boolean;
}

export interface KernelOverride {
  /** WGSL text replacing `shaders/<family>.wgsl`. */
  source: string;
  /** Where it came from (shown in compiler messages), e.g. the user's path. */
  file: string;
}

/** One layer of settings. In a device's layer `null` means "explicitly automatic / built-in". */
interface Settings {
  forced: Map<string, string | null>;
  overrides: Map<string, KernelOverride | null>;
  /** undefined: on for GPUs, off for CPU adapters (lavapipe, SwiftShader). */
  autotune?: boolean;
}

/** What belongs to one device. */
interface DeviceKernels extends Settings {
  /** `family|shapeClass` -> winning variant name. */
  tuned: Map<string, string>;
  /** Tunings run one at a time per device: each waits for the one before. */
  queue: Promise<unknown>;
  /** Tunings in progress, so that a second request for the same class waits for the first. */
  pending: Map<string, Promise<string>>;
  /** The adapter's persisted choices, loaded on first use. */
  cache?: Promise<AutotuneCache>;
}

const families = new Map<string, Variant[]>();
const defaults: Settings = { forced: new Map(), overrides: new Map() };
const devices = new WeakMap<Gpu, DeviceKernels>();

/** Timed samples per candidate in an autotuning (after a warm-up of each): the fewest behind a verdict. */
export const AUTOTUNE_SAMPLES = MIN_ROUNDS;

function deviceKernels(gpu: Gpu): DeviceKernels {
  let d = devices.get(gpu);
  if (!d) devices.set(gpu, (d = { forced: new Map(), overrides: new Map(), tuned: new Map(), queue: Promise.resolve(), pending: new Map() }));
  return d;
}

/** The device's layer where `gpu` is given, else the process-wide defaults. */
const layer = (gpu?: Gpu): Settings => (gpu ? deviceKernels(gpu) : defaults);

/** A device's own setting if it has one, else the process-wide default. */
function resolve<T>(family: string, pick: (s: Settings) => Map<string, T | null>, gpu?: Gpu): T | undefined {
  const own = gpu && pick(deviceKernels(gpu));
  if (own?.has(family)) return own.get(family) ?? undefined;
  return pick(defaults).get(family) ?? undefined;
}

/** Declares a family's variants (called once by the family's module, in preference order). */
export function registerFamily<V extends Variant>(family: string, variants: V[]): V[] {
  families.set(family, variants);
  return variants;
}

export function variantsOf(family: string): Variant[] {
  const v = families.get(family);
  if (!v) throw new Error(`unknown kernel family '${family}' (known: ${[...families.keys()].join(', ') || 'none'})`);
  return v;
}

/**
 * Forces a variant for a family (undefined restores automatic choice): process-wide, or for
 * one device when `gpu` is given.
 */
export function setKernelChoice(family: string, name: string | undefined, gpu?: Gpu): void {
  const names = variantsOf(family).map((v) => v.name);
  if (name !== undefined && !names.includes(name)) {
    throw new Error(`setKernelChoice: '${family}' has no variant '${name}' (variants: ${names.join(', ')})`);
  }
  const forced = layer(gpu).forced;
  if (name !== undefined) forced.set(family, name);
  else if (gpu) forced.set(family, null);
  else forced.delete(family);
}

/** Replaces a family's WGSL with a user's source (undefined restores the built-in one): process-wide, or for one device. */
export function setKernelOverride(family: string, o: KernelOverride | undefined, gpu?: Gpu): void {
  variantsOf(family);
  const overrides = layer(gpu).overrides;
  if (o) overrides.set(family, o);
  else if (gpu) overrides.set(family, null);
  else overrides.delete(family);
}

/** The forced variant of a family, if any (a device's own choice wins over the default). */
export function kernelChoice(family: string, gpu?: Gpu): string | undefined {
  return resolve(family, (s) => s.forced, gpu);
}

/** The user's WGSL for a family, if any. */
export function kernelOverride(family: string, gpu?: Gpu): KernelOverride | undefined {
  return resolve(family, (s) => s.overrides, gpu);
}

/** Every family registered so far. */
export function kernelFamilies(): string[] {
  return [...families.keys()];
}

/**
 * Runs `fn` with a family's variant and WGSL set as given on this device (undefined: automatic
 * choice, built-in source), then restores the device's settings, even when `fn` throws.
 */
export async function withKernel<T>(gpu: Gpu, family: string, variant: string | undefined, override: KernelOverride | undefined, fn: () => Promise<T>): Promise<T> {
  const d = deviceKernels(gpu);
  const saved = [d.forced.has(family), d.forced.get(family), d.overrides.has(family), d.overrides.get(family)] as const;
  try {
    setKernelChoice(family, variant, gpu);
    setKernelOverride(family, override, gpu);
    return await fn();
  } finally {
    if (saved[0]) d.forced.set(family, saved[1]!);
    else d.forced.delete(family);
    if (saved[2]) d.overrides.set(family, saved[3]!);
    else d.overrides.delete(family);
  }
}

/**
 * The family's WGSL: the user's override if one is set, else the built-in source. Pass the
 * device: without it only process-wide overrides are seen (not a device's own, nor
 * `withKernel`'s, which `bench --compare` uses).
 */
export function kernelSource(family: string, builtin: string, gpu?: Gpu): { source: string; file?: string } {
  const o = kernelOverride(family, gpu);
  return o ? { source: o.source, file: o.file } : { source: builtin };
}

/**
 * Turns timing-based choice on or off (off: the first supported autotunable variant wins),
 * process-wide or for one device; undefined restores the default (on for GPUs, off for CPU
 * adapters, where compiling and timing every variant costs minutes).
 */
export function setAutotune(on: boolean | undefined, gpu?: Gpu): void {
  layer(gpu).autotune = on;
}

function autotuneOn(gpu: Gpu): boolean {
  return deviceKernels(gpu).autotune ?? defaults.autotune ?? !isCpuAdapter(gpu.caps);
}

/**
 * The variant to run. `time` runs one variant on the real problem (or a representative slice
 * of it) and returns its wall-clock duration (ignored where GPU timestamps work: the GPU time of
 * its dispatches counts). It is called only on the first request for a shape class on a device
 * whose adapter has no cached choice: once per candidate to warm up, then in
 * `AUTOTUNE_SAMPLES` interleaved rounds. The first candidate (preference order) stays unless
 * another is faster beyond noise. `eligible` excludes variants that would change the
 * problem's numerics (e.g. f16 products for f32 operands); it must depend only on what
 * `shapeClass` encodes, since the choice is remembered per shape class.
 */
export async function chooseVariant<V extends Variant>(
  gpu: Gpu,
  family: string,
  shapeClass: string,
  time: (v: V) => Promise<number>,
  eligible: (v: V) => boolean = () => true,
): Promise<V> {
  const all = variantsOf(family) as V[];
  const name = kernelChoice(family, gpu);
  if (name) {
    const v = all.find((x) => x.name === name)!;
    if (!v.supports(gpu.caps)) throw new Error(`${family}: forced variant '${name}' is not supported on ${gpu.caps.adapterName}`);
    return v;
  }
  const candidates = all.filter((v) => v.autotune !== false && v.supports(gpu.caps) && eligible(v));
  if (!candidates.length) throw new Error(`${family}: no variant supports ${shapeClass} on ${gpu.caps.adapterName}`);
  if (candidates.length === 1 || !autotuneOn(gpu)) return candidates[0];
  const d = deviceKernels(gpu);
  const key = `${family}|${shapeClass}`;
  const known = () => candidates.find((v) => v.name === d.tuned.get(key));
  if (known()) return known()!;
  // A dry run executes nothing: timing there would tune (and cache) on noise.
  if (gpu.recorder.isDryRun) return candidates[0];
  let job = d.pending.get(key);
  if (!job) {
    const run = d.queue.then(() => tune(gpu, d, key, candidates, time));
    d.queue = run.catch(() => undefined);
    d.pending.set(key, (job = run.finally(() => d.pending.delete(key))));
  }
  const winner = await job;
  return candidates.find((v) => v.name === winner) ?? candidates[0];
}

/** One tuning (the device's queue runs them one at a time): cached choice, else timed rounds. */
async function tune<V extends Variant>(gpu: Gpu, d: DeviceKernels, key: string, candidates: V[], time: (v: V) => Promise<number>): Promise<string> {
  const cache = await (d.cache ??= autotuneCache(gpu));
  const cached = cache.get(key);
  if (cached && candidates.some((v) => v.name === cached)) {
    d.tuned.set(key, cached);
    return cached;
  }
  const timer = await kernelTimer(gpu);
  const samples = await interleavedRounds(candidates.length, (i) => timer.time(() => time(candidates[i])), { rounds: AUTOTUNE_SAMPLES, warmup: 1 });
  // The incumbent stays unless a challenger is faster beyond noise; among those, the fastest wins.
  let best = 0;
  for (let i = 1; i < candidates.length; i++) {
    if (ratioCI(samples[0], samples[i]).verdict === 'faster' && median(samples[i]) < median(samples[best])) best = i;
  }
  const name = candidates[best].name;
  d.tuned.set(key, name);
  await cache.set(key, name);
  return name;
}

/** What autotuning chose so far on this device (for the bench, `diception tune` and diagnostics). */
export function tunedChoices(gpu: Gpu): Record<string, string> {
  return Object.fromEntries(deviceKernels(gpu).tuned);
}
