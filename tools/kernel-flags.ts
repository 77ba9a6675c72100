// `--kernel family=variant` and `--kernel-override family=file.wgsl` on every command: applied
// before the subcommand runs. An override is checked at once on small awkward shapes against
// the CPU reference, so a broken file fails in seconds with the compiler's file:line message
// (not after minutes of weight loading, and never as a lost device).
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { comparableFamilies, compare } from '../bench/compare.ts';
import { configureKernels, parseAssignments } from '../src/kernels/kernel-options.ts';
import { kernelChoice, variantsOf, type KernelOverride } from '../src/kernels/registry.ts';
import { getDevice } from '../src/runtime/device.ts';

const collect = (v: string, prev: string[]) => [...prev, v];

export function addKernelFlags(program: Command): Command {
  return program
    .option('--kernel <family=variant>', 'force a kernel variant, e.g. matmul=tiled-8x4 (repeatable)', collect, [])
    .option('--kernel-override <family=file>', 'run your WGSL for a kernel family, e.g. matmul=./my_matmul.wgsl (repeatable; contract: shaders/README.md)', collect, [])
    .hook('preAction', () => applyKernelFlags(program.opts()));
}

export async function applyKernelFlags(o: { kernel?: string[]; kernelOverride?: string[] }): Promise<void> {
  const override: Record<string, KernelOverride> = {};
  for (const [family, file] of parseAssignments('--kernel-override', o.kernelOverride ?? [])) {
    try {
      override[family] = { source: readFileSync(file, 'utf8'), file };
    } catch (e) {
      throw new Error(`--kernel-override: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  try {
    configureKernels({ kernel: o.kernel ?? [], override });
  } catch (e) {
    throw new Error(`--kernel: ${(e as Error).message.replace(/^\w+: /, '')}`);
  }
  const checkable = new Set(comparableFamilies().map((f) => f.family));
  // Families without a comparison are compiled, with the same file:line messages, when first used.
  for (const family of Object.keys(override).filter((f) => checkable.has(f))) await checkOverride(family, override[family]);
}

/**
 * Runs the override with each variant it may be used with (the forced one, else every variant
 * autotuning may pick: their defines select different code) on small awkward shapes.
 */
async function checkOverride(family: string, o: KernelOverride): Promise<void> {
  const gpu = await getDevice();
  const forced = kernelChoice(family);
  const variants = variantsOf(family).filter((v) => (forced ? v.name === forced : v.autotune !== false && v.supports(gpu.caps)));
  for (const v of variants) {
    const candidate = { label: `${o.file}@${v.name}`, variant: v.name, override: o };
    const rows = await compare(gpu, family, [candidate], { shapes: 'smoke', runs: 0, dtype: v.f16Math ? 'f16' : 'f32' });
    const row = rows.find((r) => !r.pass);
    if (row) {
      const why = row.error ?? `wrong results on ${row.shape}: rel_l2 ${row.rel_l2} (max_abs ${row.max_abs}) against the CPU reference`;
      throw new Error(`--kernel-override ${family}=${o.file} (variant ${v.name}): ${why}`);
    }
  }
}
