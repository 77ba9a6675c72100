// Runs a test body once per variant of a kernel family, with that variant forced (as
// `--kernel family=variant` does), so that every code path a registry can choose is tested.
import '../../src/kernels/families.ts';
import type { Gpu } from '../../src/runtime/device.ts';
import { kernelOverride, variantsOf, withKernel } from '../../src/kernels/registry.ts';

/** The family's variants this device can run. */
export function supportedVariants(gpu: Gpu, family: string): string[] {
  return variantsOf(family)
    .filter((v) => v.supports(gpu.caps))
    .map((v) => v.name);
}

/** Calls `fn` for each variant of `family` this device supports, with the variant forced. */
export async function forEachVariant(gpu: Gpu, family: string, fn: (variant: string) => Promise<void>): Promise<void> {
  const names = supportedVariants(gpu, family);
  if (!names.length) throw new Error(`${family}: no variant runs on ${gpu.caps.adapterName}`);
  for (const name of names) await withKernel(gpu, family, name, kernelOverride(family, gpu), () => fn(name));
}
