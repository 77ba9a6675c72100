// `--kernel family=variant` and `--kernel-override family=file.wgsl` on every command: applied
// before the subcommand runs. An override is checked at once on small awkward shapes against
// the CPU reference, so a broken file fails in seconds with the compiler's file:line message
// (not after minutes of weight loading, and never as a lost device).
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { comparableFamilies, compare, defaultVariant } from '../bench/compare.ts';
import { configureKernels, parseAssignments } from '../src/kernels/kernel-options.ts';
import { kernelChoice, type KernelOverride } from '../src/kernels/registry.ts';
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
 * Runs the override on small awkward shapes with the forced variant, else the family's default
 * one (checking every variant autotuning might pick costs a compile each: minutes on a CPU
 * adapter; those are still compiled, and reported with file:line, when first used).
 */
async function checkOverride(family: string, o: KernelOverride): Promise<void> {
  const gpu = await getDevice();
  const variant = kernelChoice(family) ?? defaultVariant(gpu, family);
  const candidates = [{ label: `${o.file}@${variant}`, variant, override: o }];
  const bad = (await compare(gpu, family, candidates, { shapes: 'smoke', runs: 0 })).find((r) => !r.pass);
  if (bad) {
    const why = bad.error ?? `wrong results on ${bad.shape}: rel_l2 ${bad.rel_l2} (max_abs ${bad.max_abs}) against the CPU reference`;
    throw new Error(`--kernel-override ${family}=${o.file} (variant ${bad.variant}): ${why}`);
  }
}
