// `npm run bench -- <family> [--json] [--quick]`: runs bench/<family>.ts.
import { getDevice } from '../src/runtime/device.ts';
import { report, type BenchResult } from './harness.ts';
import type { Gpu } from '../src/runtime/device.ts';

export interface BenchOptions {
  json?: boolean;
  quick?: boolean;
  /** Every variant on every shape (slow on CPU adapters). */
  all?: boolean;
  /** One shape instead of the model shapes, "MxNxK". */
  shape?: string;
}

type Family = (gpu: Gpu, o: BenchOptions) => Promise<BenchResult[]>;

const FAMILIES: Record<string, () => Promise<Family>> = {
  matmul: async () => (await import('./matmul.ts')).benchMatmul,
  roofline: async () => (await import('./roofline.ts')).benchRoofline,
  peers: async () => (await import('./peers.ts')).benchPeers,
};

export async function bench(family: string, o: BenchOptions): Promise<void> {
  const load = FAMILIES[family];
  if (!load) throw new Error(`bench: unknown family '${family}' (known: ${Object.keys(FAMILIES).join(', ')})`);
  const gpu = await getDevice();
  report(await (await load())(gpu, o), Boolean(o.json));
}
