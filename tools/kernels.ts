// `diception kernels [--json]`: every registered kernel variant with the WebGPU features it
// needs, whether it uses workgroup memory, subgroups or subgroup matrices, and whether this
// adapter runs it (and if not, which features it lacks).
import '../src/kernels/families.ts';
import { kernelFamilies, variantsOf } from '../src/kernels/registry.ts';
import { getDevice, type Gpu } from '../src/runtime/device.ts';
import { processStreams, type Streams } from './progress.ts';

export interface KernelRow {
  family: string;
  variant: string;
  needs: string[];
  workgroup_memory: boolean;
  subgroups: boolean;
  subgroup_matrix: boolean;
  /** Whether autotuning may pick it (false: runs only when forced, e.g. a naive baseline). */
  autotune: boolean;
  supported: boolean;
  /** Features it needs that this device lacks. */
  missing: string[];
}

export function kernelRows(gpu: Gpu): KernelRow[] {
  return kernelFamilies().flatMap((family) =>
    variantsOf(family).map((v) => {
      const needs = v.needs ?? [];
      const missing = needs.filter((f) => !gpu.device.features.has(f));
      return {
        family,
        variant: v.name,
        needs,
        workgroup_memory: Boolean(v.workgroupMemory),
        subgroups: needs.includes('subgroups'),
        subgroup_matrix: needs.includes('chromium-experimental-subgroup-matrix'),
        autotune: v.autotune !== false,
        supported: missing.length === 0 && v.supports(gpu.caps),
        missing,
      };
    }),
  );
}

export function formatKernels(rows: KernelRow[], adapter: string): string {
  const yes = (b: boolean) => (b ? 'yes' : '-');
  const cells = rows.map((r) => [
    r.family,
    r.variant,
    r.needs.join(', ') || '-',
    yes(r.workgroup_memory),
    yes(r.subgroups),
    yes(r.subgroup_matrix),
    r.autotune ? 'yes' : 'forced only',
    r.supported ? 'yes' : `no${r.missing.length ? ` (lacks ${r.missing.join(', ')})` : ''}`,
  ]);
  const head = ['family', 'variant', 'needs', 'workgroup mem', 'subgroups', 'subgroup matrix', 'autotune', 'runs here'];
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(width[i])).join('  ').trimEnd();
  return [line(head), ...cells.map(line), '', `adapter: ${adapter}`].join('\n');
}

export async function kernelsCommand(o: { json?: boolean }, io: Streams = processStreams, gpu?: Gpu): Promise<void> {
  gpu ??= await getDevice();
  const rows = kernelRows(gpu);
  io.out(o.json ? `${JSON.stringify({ adapter: gpu.caps.adapterName, kernels: rows }, null, 1)}\n` : `${formatKernels(rows, gpu.caps.adapterName)}\n`);
}
