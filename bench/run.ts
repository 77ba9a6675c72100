// `npm run bench -- <family>[,<family>...] [--json] [--quick] [--out file]`: runs the families
// in one process on one device; --out writes [header, ...rows] (date, adapter, load average).
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { getDevice } from '../src/runtime/device.ts';
import { report, type BenchResult } from './harness.ts';
import type { Gpu } from '../src/runtime/device.ts';

export interface BenchOptions {
  json?: boolean;
  quick?: boolean;
  /** Every variant on every shape (slow on CPU adapters). */
  all?: boolean;
  /** attention: the real DICEPTION shapes (minutes on a CPU adapter). */
  full?: boolean;
  /** One shape instead of the model shapes, "MxNxK". */
  shape?: string;
  /** Write the header and all rows as one JSON array to this file. */
  out?: string;
  /** mmdit: split a block's time by kind of kernel from a profiled forward. */
  profile?: boolean;
  /** memory: 'q8' loads the transformer's block linears in int8. */
  weights?: string;
}

type Family = (gpu: Gpu, o: BenchOptions) => Promise<BenchResult[]>;

const FAMILIES: Record<string, () => Promise<Family>> = {
  roofline: async () => (await import('./roofline.ts')).benchRoofline,
  matmul: async () => (await import('./matmul.ts')).benchMatmul,
  peers: async () => (await import('./peers.ts')).benchPeers,
  ops: async () => (await import('./ops.ts')).benchOps,
  attention: async () => {
    const { benchAttention } = await import('./attention.ts');
    return (gpu, o) => benchAttention(gpu, { full: o.full, variants: o.all ? 'all' : undefined });
  },
  vae: async () => (await import('./families.ts')).vaeRows,
  mmdit: async () => (await import('./mmdit.ts')).benchMMDiTFamily,
  pipeline: async () => (await import('./pipeline.ts')).benchPipeline,
  encode: async () => (await import('./pipeline.ts')).benchEncode,
  memory: async () => (await import('./memory.ts')).benchMemory,
  finite: async () => (await import('./finite.ts')).benchFinite,
  serve: async () => (await import('./serve.ts')).benchServe,
};

export async function bench(families: string, o: BenchOptions): Promise<void> {
  const names = families.split(',');
  const unknown = names.find((f) => !FAMILIES[f]);
  if (unknown) throw new Error(`bench: unknown family '${unknown}' (known: ${Object.keys(FAMILIES).join(', ')})`);
  const gpu = await getDevice();
  const started = { date: new Date().toISOString(), loadavg: loadavg() };
  const rows: BenchResult[] = [];
  for (const name of names) {
    const r = await (await FAMILIES[name]())(gpu, o);
    report(r, Boolean(o.json));
    rows.push(...r);
  }
  if (o.out) {
    const header = {
      date: started.date,
      ended: new Date().toISOString(),
      families: names,
      quick: Boolean(o.quick),
      ...(o.weights && o.weights !== 'f16' && { weights: o.weights }),
      adapter: gpu.caps.adapterName,
      f16: gpu.caps.f16,
      // The machine may be shared: the load average (1, 5, 15 min) says how much to trust the figures.
      loadavg_start: started.loadavg.map((x) => Number(x.toFixed(2))),
      loadavg_end: loadavg().map((x) => Number(x.toFixed(2))),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
    };
    await writeFile(o.out, JSON.stringify([header, ...rows], null, 1) + '\n');
  }
}
