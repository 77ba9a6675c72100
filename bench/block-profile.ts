// `bench/block-profile.ts <latent> <layers> --out file.json`: one MMDiT forward at SD3-medium
// width (f16, random weights, after a warm-up forward), its blocks' times and the GPU time per
// kernel label, as bench rows. It uses only what bench/mmdit.ts exported on 2026-11-29 as well
// (benchMMDiT with `profile`), so `bench/versus.ts --script` can run it on that commit too.
import '../src/runtime/node.ts';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { getDevice } from '../src/runtime/device.ts';
import { benchMMDiT } from './mmdit.ts';

const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const [latent, layers] = args.slice(0, 2).map(Number);
if (!Number.isInteger(latent) || !Number.isInteger(layers) || outAt < 0) throw new Error('usage: bench/block-profile.ts <latent> <layers> --out file.json');
const started = { date: new Date().toISOString(), loadavg: loadavg() };
const gpu = await getDevice();
const r = await benchMMDiT(gpu, { layers, latent, precision: 'f16', batch: 1, warmup: true, profile: true });
const row = (op: string, ms: number, note?: string) => ({ op, variant: 'f16', shape: `${r.tokens} tokens x ${r.hidden}`, dtype: 'f16', ms_median: Math.round(ms), runs: 1, note, adapter: r.adapter });
const rows = [
  ...r.blockMs.map((ms: number, i: number) => row(`mmdit block ${i}`, ms)),
  row('mmdit forward', r.forwardMs),
  ...r.profile!.kernels.map((k: { label: string; ms: number; calls: number }) => row(`kernel ${k.label}`, k.ms, `${k.calls} calls, ${r.profile!.mode}`)),
];
const header = { date: started.date, ended: new Date().toISOString(), script: 'bench/block-profile.ts', latent, layers, adapter: r.adapter, loadavg_start: started.loadavg.map((x) => Number(x.toFixed(2))), loadavg_end: loadavg().map((x) => Number(x.toFixed(2))) };
writeFileSync(args[outAt + 1], JSON.stringify([header, ...rows], null, 1) + '\n');
for (const x of rows) console.log(`${x.op}: ${x.ms_median} ms${x.note ? ` (${x.note})` : ''}`);
process.exit(0);
