// Kernel variants: the one place that decides which variant of a family runs.
//
// Each family (matmul, attention, conv, ...) lists its variants. `chooseVariant` picks one:
// a user's forced choice (`setKernelChoice`), else the only supported one, else the winner of
// a one-off timing of the supported variants for the problem's shape class, remembered per
// device (an adapter's speed does not change during a process). `setKernelOverride` replaces
// a family's WGSL with a user's file; it is compiled through the same runtime prelude, so it
// sees the same bindings, accessors and defines as the built-in source.
import type { Capabilities, Gpu } from '../runtime/device.ts';

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

const families = new Map<string, Variant[]>();
const forced = new Map<string, string>();
const overrides = new Map<string, KernelOverride>();
/** Per device: `family|shapeClass` -> winning variant name. */
const tuned = new WeakMap<Gpu, Map<string, string>>();
/** undefined: on for GPUs, off for CPU adapters (lavapipe, SwiftShader), where compiling and
 * timing every variant costs minutes; there the first supported variant (preference order) runs. */
let autotuneSetting: boolean | undefined;

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

/** Forces a variant for a family (undefined restores automatic choice). */
export function setKernelChoice(family: string, name: string | undefined): void {
  if (name === undefined) {
    forced.delete(family);
    return;
  }
  const names = variantsOf(family).map((v) => v.name);
  if (!names.includes(name)) {
    throw new Error(`setKernelChoice: '${family}' has no variant '${name}' (variants: ${names.join(', ')})`);
  }
  forced.set(family, name);
}

/** Replaces a family's WGSL with a user's source (undefined restores the built-in one). */
export function setKernelOverride(family: string, o: KernelOverride | undefined): void {
  variantsOf(family);
  if (o) overrides.set(family, o);
  else overrides.delete(family);
}

/** The forced variant of a family, if any. */
export function kernelChoice(family: string): string | undefined {
  return forced.get(family);
}

/** The user's WGSL for a family, if any. */
export function kernelOverride(family: string): KernelOverride | undefined {
  return overrides.get(family);
}

/** Every family registered so far. */
export function kernelFamilies(): string[] {
  return [...families.keys()];
}

/**
 * Runs `fn` with a family's variant and WGSL set as given (undefined: automatic choice, built-in
 * source), then restores what was set before, even when `fn` throws.
 */
export async function withKernel<T>(family: string, variant: string | undefined, override: KernelOverride | undefined, fn: () => Promise<T>): Promise<T> {
  const [v0, o0] = [forced.get(family), overrides.get(family)];
  try {
    setKernelChoice(family, variant);
    setKernelOverride(family, override);
    return await fn();
  } finally {
    setKernelChoice(family, v0);
    setKernelOverride(family, o0);
  }
}

/** The family's WGSL: the user's override if one is set, else the built-in source. */
export function kernelSource(family: string, builtin: string): { source: string; file?: string } {
  const o = overrides.get(family);
  return o ? { source: o.source, file: o.file } : { source: builtin };
}

/** Turns timing-based choice on or off (off: the first supported autotunable variant wins); undefined restores the default. */
export function setAutotune(on: boolean | undefined): void {
  autotuneSetting = on;
}

/**
 * The variant to run. `time` runs one variant on the real problem (or a representative slice
 * of it) and returns its duration; per variant it is called twice (warm-up, then timed), and
 * only on the first request for a shape class. `eligible` excludes variants that would change
 * the problem's numerics (e.g. f16 products for f32 operands); it must depend only on what
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
  const name = forced.get(family);
  if (name) {
    const v = all.find((x) => x.name === name)!;
    if (!v.supports(gpu.caps)) throw new Error(`${family}: forced variant '${name}' is not supported on ${gpu.caps.adapterName}`);
    return v;
  }
  const candidates = all.filter((v) => v.autotune !== false && v.supports(gpu.caps) && eligible(v));
  if (!candidates.length) throw new Error(`${family}: no variant supports ${shapeClass} on ${gpu.caps.adapterName}`);
  if (candidates.length === 1 || !(autotuneSetting ?? !gpu.caps.isFallback)) return candidates[0];
  let cache = tuned.get(gpu);
  if (!cache) tuned.set(gpu, (cache = new Map()));
  const key = `${family}|${shapeClass}`;
  const known = cache.get(key);
  const hit = candidates.find((v) => v.name === known);
  if (hit) return hit;
  let best = candidates[0];
  let bestTime = Infinity;
  for (const v of candidates) {
    await time(v); // compile and warm up
    const t = await time(v);
    if (t < bestTime) [best, bestTime] = [v, t];
  }
  cache.set(key, best.name);
  return best;
}

/** What autotuning chose so far on this device (for the bench and diagnostics). */
export function tunedChoices(gpu: Gpu): Record<string, string> {
  return Object.fromEntries(tuned.get(gpu) ?? []);
}
