import type { Gpu } from '../runtime/device.ts';

/**
 * Workgroup counts covering `n` items at `perGroup` items per workgroup. Past the
 * per-dimension limit (65535) the grid folds into y; shaders rebuild the linear index as
 * `gid.x + gid.y * nwg.x * perGroup`.
 */
export function grid1d(gpu: Gpu, n: number, perGroup: number): [number, number] {
  const groups = Math.max(1, Math.ceil(n / perGroup));
  const max = gpu.caps.maxWorkgroupsPerDim;
  if (groups <= max) return [groups, 1];
  const y = Math.ceil(groups / max);
  return [Math.ceil(groups / y), y];
}
