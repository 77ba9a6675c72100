// Kernel choices as options: `--kernel matmul=tiled-8x4` / `--kernel-override matmul=./x.wgsl`
// on the command line, `configureKernels({ kernel: { matmul: 'tiled-8x4' } })` in JS. Both end
// in the registry (registry.ts), which every family consults when it picks a pipeline.
import type { Gpu } from '../runtime/device.ts';
import './families.ts';
import { setKernelChoice, setKernelOverride, variantsOf, type KernelOverride } from './registry.ts';

export interface KernelConfig {
  /** Forced variants per family, e.g. { matmul: 'tiled-8x4' }, or CLI form 'matmul=tiled-8x4'. */
  kernel?: Record<string, string> | string | string[];
  /** A user's WGSL per family (same bindings contract as the built-in, see shaders/README.md). */
  override?: Record<string, KernelOverride>;
}

/**
 * Splits `family=value` assignments (repeated or comma-separated: 'matmul=naive,attention=tiled')
 * and checks that each family exists.
 */
export function parseAssignments(flag: string, spec: string | string[]): [family: string, value: string][] {
  const parts = (Array.isArray(spec) ? spec : [spec]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  return parts.map((p) => {
    const eq = p.indexOf('=');
    if (eq <= 0 || eq === p.length - 1) throw new Error(`${flag}: '${p}' is not family=value (e.g. matmul=tiled-8x4)`);
    const family = p.slice(0, eq).trim();
    try {
      variantsOf(family);
    } catch (e) {
      throw new Error(`${flag}: ${(e as Error).message}`);
    }
    return [family, p.slice(eq + 1).trim()];
  });
}

/**
 * Applies forced variants and overrides (the rest of the registry is left as it is): as
 * process-wide defaults, or for one device when `gpu` is given (they win over the defaults there).
 */
export function configureKernels(c: KernelConfig, gpu?: Gpu): void {
  const kernel = c.kernel ?? {};
  const choices = typeof kernel === 'string' || Array.isArray(kernel) ? parseAssignments('kernel', kernel) : Object.entries(kernel);
  for (const [family, name] of choices) setKernelChoice(family, name, gpu);
  for (const [family, o] of Object.entries(c.override ?? {})) setKernelOverride(family, o, gpu);
}
