// `diception serve`'s HTTP API over loopback with the fake pipeline (each model call takes a
// few ms): micro-batching under 16 concurrent clients, bad inputs, 429, cancellation, /metrics
// and device loss. The real model is checked against `infer` in real-model.test.ts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PipelineFactory } from '../../src/model/pipeline-types.ts';
import { MemoryRefusal } from '../../src/model/preflight.ts';
import { getDevice } from '../../src/runtime/device.ts';
import { serveCommand } from '../../tools/serve-api/command.ts';
import { fakePipeline } from '../cli/fake-pipeline.ts';
import { expectSame } from '../cli/files.ts';
import { loadClients, parsePrometheus, pixels, post, pngBytes, startServer } from './server.ts';

const servers: { close(): Promise<void> }[] = [];
afterAll(() => Promise.all(servers.map((s) => s.close())));
async function server(...args: Parameters<typeof startServer>) {
  const s = await startServer(...args);
  servers.push(s);
  return s;
}

describe('serve under load', () => {
  it('200 requests from 16 clients: all answered, batched, each identical to its one-request answer', async () => {
    const fake = fakePipeline({ delayMs: 15 });
    const s = await server(fake.factory, { maxBatch: 4, batchWindowMs: 10 });
    const images = await Promise.all([0, 1, 2, 3].map((v) => pngBytes(12, 9, v)));
    // The one-request path: each image alone.
    const solo: Uint8Array[] = [];
    for (const img of images) {
      const r = await post(s.url, img, 'task=normal&seed=5');
      expect(r.status).toBe(200);
      solo.push(await pixels(await r.arrayBuffer()));
    }
    expect(fake.state.requests.map((r) => r.batch)).toEqual([1, 1, 1, 1]);
    fake.state.requests.length = 0;

    const load = await loadClients(200, 16, async (i) => {
      const r = await post(s.url, images[i % 4], `task=normal&seed=${i}`);
      if (r.status === 200) expectSame(await pixels(await r.arrayBuffer()), solo[i % 4], `request ${i}`);
      return { status: r.status };
    });
    expect(load.statuses.filter((c) => c !== 200 && c !== 429)).toEqual([]);
    const sizes = fake.state.requests.map((r) => r.batch);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(load.statuses.filter((c) => c === 200).length);
    expect(Math.max(...sizes)).toBeGreaterThan(1);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(4);
    expect(fake.state.requests.flatMap((r) => r.seeds).sort((a, b) => a - b)).toEqual([...Array(200).keys()]);
    console.log(`serve load (fake pipeline, 15 ms per call): ${load.summary}; batch sizes ${JSON.stringify(sizes)}`);
  });
});

describe('serve on bad input', () => {
  it('answers 4xx with {error, code} and the command line\'s message, then still serves', async () => {
    const fake = fakePipeline();
    const s = await server(fake.factory, { maxBodyMb: 10 });
    const img = await pngBytes(8, 8);
    const expectError = async (r: Response, status: number, code: string, message: RegExp) => {
      expect(r.status).toBe(status);
      const body = await r.json();
      expect(body.code).toBe(code);
      expect(body.error).toMatch(message);
      expect(body.error).not.toContain('\n');
    };
    await expectError(await post(s.url, new TextEncoder().encode('not an image at all')), 400, 'bad_image', /^image: cannot read the 19-byte body: not a readable image .*; give a PNG, JPEG/);
    await expectError(await post(s.url, img, 'task=semantic:unicorn'), 400, 'bad_task', /^task: 'unicorn' is not a COCO class/);
    await expectError(await post(s.url, img, 'task=teleport'), 400, 'bad_task', /^task: unknown task 'teleport'; use one of depth, normal/);
    await expectError(await post(s.url, img, `task=segmentation&points=${encodeURIComponent('0.1,0.1;0.2,0.2;0.3,0.3;0.4,0.4;0.5,0.5;0.6,0.6')}`), 400, 'bad_points', /^points: 6 points given, the model takes at most 5$/);
    await expectError(await post(s.url, img, 'steps=0'), 400, 'bad_steps', /^steps: '0' is not a whole number in \[1, 1000\]/);
    await expectError(await post(s.url, img, 'format=tiff'), 400, 'bad_format', /^format: 'tiff' is not one of png, npy, json/);
    await expectError(await post(s.url, img, 'task=pose&format=npy'), 400, 'bad_format', /npy holds depth and normal/);
    await expectError(await post(s.url, new Uint8Array(11 * 2 ** 20)), 413, 'body_too_large', /over --max-body-mb 10/);
    await expectError(await post(s.url, img, '', 'text/plain'), 415, 'unsupported_media_type', /^Content-Type 'text\/plain' is not accepted; send the image as image\/\* or multipart/);
    // Multipart cut off in the middle of the file.
    const form = new FormData();
    form.set('task', 'depth');
    form.set('image', new Blob([(await pngBytes(64, 64)) as Uint8Array<ArrayBuffer>], { type: 'image/png' }), 'a.png');
    const full = new Request('http://x/', { method: 'POST', body: form });
    const bytes = new Uint8Array(await full.arrayBuffer());
    await expectError(await post(s.url, bytes.subarray(0, bytes.length - 200), '', full.headers.get('content-type')!), 400, 'bad_multipart', /^multipart body: /);
    await expectError(await post(s.url, new Uint8Array(11 * 2 ** 20), '', full.headers.get('content-type')!), 413, 'body_too_large', /over --max-body-mb 10/);
    expect(fake.state.requests).toEqual([]);

    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    const ok = await post(s.url, form);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('image/png');
    expect(fake.state.requests.map((r) => r.prompts)).toEqual([['[[image2depth]]']]);

    const json = await (await post(s.url, img, 'task=depth&format=json&seed=3')).json();
    expect(Object.keys(json).sort()).toEqual(['height', 'npy_base64', 'png_base64', 'task', 'timings', 'width']);
    expect([json.width, json.height, json.task]).toEqual([8, 8, '[[image2depth]]']);
    const tasks = await (await fetch(`${s.url}/v1/tasks`)).json();
    expect(tasks.tasks).toContain('semantic');
    expect(tasks.coco_classes).toHaveLength(80);

    const metrics = parsePrometheus(await (await fetch(`${s.url}/metrics`)).text());
    const count = (status: string) => metrics.find((m) => m.name === 'diception_requests_total' && m.labels.route === '/v1/predict' && m.labels.status === status)?.value;
    expect([count('200'), count('400'), count('413'), count('415')]).toEqual([2, 8, 2, 1]);
    expect(metrics.find((m) => m.name === 'diception_request_duration_seconds_count' && m.labels.route === '/v1/predict')?.value).toBe(13);
    expect(metrics.find((m) => m.name === 'diception_batch_size_count')?.value).toBe(2);
    for (const name of ['diception_queue_depth', 'diception_gpu_live_bytes', 'diception_gpu_peak_bytes']) expect(metrics.some((m) => m.name === name), name).toBe(true);
    const lost = await fetch(`${s.url}/v2/predict`);
    expect([lost.status, (await lost.json()).code]).toEqual([404, 'not_found']);
  });
});

describe('serve when busy', () => {
  it('answers 429 with Retry-After when the queue is full, and drops a queued request whose client left', async () => {
    const fake = fakePipeline({ delayMs: 3000 });
    const s = await server(fake.factory, { maxQueue: 1, maxBatch: 1, batchWindowMs: 0 });
    const img = await pngBytes(8, 8);
    const running = post(s.url, img, 'seed=1');
    await until(() => fake.state.requests.length === 1);
    const leaving = new AbortController();
    const queued = post(s.url, img, 'seed=2', 'image/png', leaving.signal).catch((e: Error) => e.name);
    await until(() => s.queue.depth === 1);
    const full = await post(s.url, img, 'seed=3');
    expect(full.status).toBe(429);
    expect(Number(full.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await full.json()).code).toBe('queue_full');
    leaving.abort();
    expect(await queued).toBe('AbortError');
    await until(() => s.queue.depth === 0);
    expect((await running).status).toBe(200);
    await s.queue.drained();
    expect(fake.state.requests.map((r) => r.seeds)).toEqual([[1]]);
  });
});

describe('serve after a device loss', () => {
  it('fails /healthz (503) instead of hanging, and refuses predictions', async () => {
    const gpu = await getDevice();
    const s = await server(fakePipeline().factory, { gpu });
    expect((await (await fetch(`${s.url}/healthz`)).json()).adapter.vendor).toBe(gpu.device.adapterInfo.vendor);
    gpu.device.destroy();
    await until(async () => (await fetch(`${s.url}/healthz`)).status === 503);
    expect((await (await fetch(`${s.url}/healthz`)).json()).status).toBe('device lost');
    const r = await post(s.url, await pngBytes(8, 8));
    expect([r.status, (await r.json()).code]).toEqual([503, 'device_lost']);
  });
});

async function until(ok: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('serve and the memory preflight', () => {
  it('a batch the adapter cannot hold is a 503 JSON error', async () => {
    const s = await server(fakePipeline({ failRun: new MemoryRefusal('batch of 4 at 768²: the estimated peak is 9000 MiB; the largest batch that fits is 2 (--batch_size 2)', 2) }).factory);
    const r = await post(s.url, await pngBytes(8, 8));
    expect(r.status).toBe(503);
    expect(await r.json()).toEqual({ error: 'batch of 4 at 768²: the estimated peak is 9000 MiB; the largest batch that fits is 2 (--batch_size 2)', code: 'insufficient_gpu_memory' });
  });

  it('a --max-batch that cannot fit is refused at start, naming the one that does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'serve-preflight-'));
    const checkpoint = join(dir, 'd.safetensors');
    writeFileSync(checkpoint, '');
    const seen: unknown[] = [];
    const factory: PipelineFactory = async () => ({
      run: () => Promise.reject(new Error('not reached')),
      preflight: (r) => {
        seen.push(r);
        throw new MemoryRefusal('batch of 8 at 768²: the estimated peak is 9000 MiB, over the 4096 MiB budget (--max-gpu-memory); the largest batch that fits is 3 (--batch_size 3)', 3);
      },
      dispose: () => {},
    });
    try {
      const start = serveCommand({ sd3: dir, diception_path: checkpoint, maxBatch: '8', quiet: true }, factory, { out: () => {}, err: () => {} });
      await expect(start).rejects.toThrow(/^--max-batch 8: batch of 8 at 768²: .* over the 4096 MiB budget \(--max-gpu-memory\); the largest batch that fits is 3; use --max-batch 3$/);
      expect(seen).toEqual([{ batch: 8, side: 768, guidance: true }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
