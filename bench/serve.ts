// `npm run bench -- serve`: `diception serve`'s API with the real pipeline on the demo model
// (tools/tiny-model.ts), under N requests from 16 concurrent loopback clients (200; 16 with
// --quick): latency percentiles, requests/s, 429s and the micro-batch sizes used. Every answer
// for the same image and seed must be byte-identical (batching must not change a prediction).
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Gpu } from '../src/runtime/device.ts';
import { allPrompts } from '../src/model/tasks.ts';
import { loadPipeline } from '../tools/pipeline-loader.ts';
import { buildApp } from '../tools/serve-api/app.ts';
import { loadSharp } from '../tools/sharp.ts';
import { DEMO_SPEC, writeTinyModel } from '../tools/tiny-model.ts';
import type { BenchResult } from './harness.ts';
import type { BenchOptions } from './run.ts';

export interface LoadResult {
  statuses: number[];
  /** per answered request, the size of the batch it ran in (when `send` reports it) */
  batches: number[];
  /** sorted, ms */
  latencies: number[];
  wallMs: number;
  summary: string;
}

/**
 * Sends `count` requests from `clients` concurrent clients; `send(i)` makes request i and gives
 * its status and, when answered, the size of the batch it ran in.
 */
export async function loadClients(count: number, clients: number, send: (i: number) => Promise<{ status: number; batch?: number }>): Promise<LoadResult> {
  let next = 0;
  const latencies: number[] = [];
  const statuses: number[] = [];
  const batches: number[] = [];
  const t0 = performance.now();
  const client = async () => {
    for (let i = next++; i < count; i = next++) {
      const t = performance.now();
      const r = await send(i);
      latencies.push(performance.now() - t);
      statuses.push(r.status);
      if (r.batch !== undefined) batches.push(r.batch);
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  const wallMs = performance.now() - t0;
  latencies.sort((a, b) => a - b);
  const rejected = statuses.filter((c) => c === 429).length;
  const bySize = JSON.stringify(countBy(batches));
  const summary = `${count} requests, ${clients} clients, ${rejected} x 429; p50 ${quantile(latencies, 0.5).toFixed(0)} ms, p95 ${quantile(latencies, 0.95).toFixed(0)} ms${batches.length ? `; requests by batch size ${bySize}` : ''}`;
  return { statuses, batches, latencies, wallMs, summary };
}

export function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function countBy(xs: number[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

/**
 * POSTs a PNG to `url`/v1/predict with `query`; the answer's status and body text. node:http
 * rather than fetch: fetch gives up when response headers take over 300 s, and under a load of
 * 200 requests on a CPU adapter a queued request waits longer than that.
 */
export function postImage(url: string, body: Uint8Array, query: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers = { 'content-type': 'image/png', 'content-length': body.length };
    const req = request(`${url}/v1/predict?${query}`, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A small PNG whose colours depend on `variant`, so responses can be told apart. */
export async function pngBytes(width: number, height: number, variant = 0): Promise<Uint8Array> {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set([(i * 7 + variant * 40) % 256, (variant * 90) % 256, (i * 3) % 256], i * 3);
  const sharp = await loadSharp();
  return new Uint8Array(await sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer());
}

/** The demo model in a temporary folder, as `--sd3`, `--diception_path` and `--prompt-cache` paths. */
export async function demoModel(): Promise<{ dir: string; sd3: string; diception: string; prompts: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'diception-serve-'));
  const sd3 = join(dir, 'model');
  await writeTinyModel(sd3, { ...DEMO_SPEC, prompts: allPrompts() });
  return { dir, sd3, diception: join(sd3, 'diception.safetensors'), prompts: join(sd3, 'prompts.safetensors') };
}

export async function benchServe(gpu: Gpu, o: BenchOptions): Promise<BenchResult[]> {
  const count = o.quick ? 16 : 200;
  const clients = 16;
  const model = await demoModel();
  const pipeline = await loadPipeline({ pretrainedModelPath: model.sd3, diceptionPath: model.diception, promptCache: model.prompts, precision: 'f16' });
  const server = await buildApp({ pipeline, gpu, maxQueue: 64, maxBatch: 4, batchWindowMs: 20, maxBodyMb: 10, defaults: { steps: 1, guidance: 1, seed: 42 } });
  const url = await server.app.listen({ host: '127.0.0.1', port: 0 });
  try {
    const images = await Promise.all([0, 1, 2, 3].map((v) => pngBytes(20, 14, v)));
    const first = new Map<number, string>();
    let differing = 0;
    const load = await loadClients(count, clients, async (i) => {
      const r = await postImage(url, images[i % 4], `task=depth&seed=${7 + (i % 4)}&format=json`);
      if (r.status !== 200) return { status: r.status };
      const json = JSON.parse(r.text);
      const seen = first.get(i % 4);
      if (seen === undefined) first.set(i % 4, json.npy_base64);
      else if (seen !== json.npy_base64) differing++;
      return { status: r.status, batch: json.timings.batch };
    });
    const failed = load.statuses.filter((c) => c !== 200 && c !== 429).length;
    if (failed || differing) throw new Error(`bench serve: ${failed} failed request(s), ${differing} answer(s) differing from the first for the same image and seed`);
    const answered = load.batches.length;
    const stats = {
      requests: count,
      clients,
      answered,
      rejected_429: load.statuses.filter((c) => c === 429).length,
      p50_ms: Math.round(quantile(load.latencies, 0.5)),
      p95_ms: Math.round(quantile(load.latencies, 0.95)),
      requests_per_s: Number(((answered / load.wallMs) * 1000).toFixed(3)),
      requests_by_batch_size: countBy(load.batches),
    };
    return [{
      op: 'serve',
      variant: 'demo model, depth --fast (1 step, no CFG), max-batch 4, window 20 ms',
      shape: `${count} requests x ${clients} clients, 20x14 PNG -> 768² model input`,
      dtype: 'f16',
      ms_median: stats.p50_ms,
      runs: answered,
      note: JSON.stringify(stats),
      adapter: gpu.caps.adapterName,
    }];
  } finally {
    await server.close();
    await rm(model.dir, { recursive: true, force: true });
  }
}
