// `serve` with the real pipeline on the demo model (the generated tiny model `npm run demo`
// runs): concurrent requests are micro-batched, and every answer is byte for byte what `infer`
// writes for the same image, task and seed (the PNG prediction panel and the .npy depth).
// The load: 200 requests from 16 clients. Each request costs several CPU-seconds on
// lavapipe (the demo VAE at 768²), so this is the longest test of the suite (about a quarter
// hour on 2 cores); `npm run bench -- serve` runs the same load and records the figures.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getDevice } from '../../src/runtime/device.ts';
import { loadPipeline } from '../../tools/pipeline-loader.ts';
import { demoModel } from '../../bench/serve.ts';
import { runCli } from '../cli/fake-pipeline.ts';
import { expectSame, readPixels, removeTempDirs, tempDir } from '../cli/files.ts';
import { loadClients, pixels, pngBytes, postImage, startServer } from './server.ts';

const cleanup: string[] = [];
afterAll(() => {
  removeTempDirs();
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

const W = 20;
const H = 14;

/** What `infer --fast` writes for `image` with `seed`: the prediction half of the PNG, and the npy bytes. */
async function inferred(dir: string, flags: string[], image: Uint8Array, seed: number) {
  const path = join(dir, `photo${seed}.png`);
  writeFileSync(path, image);
  const out = join(dir, 'out');
  await runCli(['infer', '--image', path, '--task', 'depth', '--fast', '--seed', String(seed), '--save_npy', '--output_dir', out, '--quiet', ...flags], loadPipeline);
  const sideBySide = await readPixels(join(out, `result_photo${seed}.png`));
  const panel = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) panel.set(sideBySide.data.subarray((y * 2 * W + W) * 3, (y * 2 * W + 2 * W) * 3), y * W * 3);
  return { panel, npy: readFileSync(join(out, `result_photo${seed}.npy`)) };
}

const REQUESTS = 200;
const CLIENTS = 16;

describe('serve with the demo model', () => {
  it(`${REQUESTS} requests from ${CLIENTS} concurrent clients: all answered, batched, each identical to infer with its seed`, async () => {
    const dir = tempDir('serve-real');
    const weights = await demoModel();
    cleanup.push(weights.dir);
    const flags = ['--sd3', weights.sd3, '--diception_path', weights.diception, '--prompt-cache', weights.prompts];
    // Two distinct requests (image and seed), each answered once by infer.
    const images = await Promise.all([0, 1].map((v) => pngBytes(W, H, v)));
    const expected: Awaited<ReturnType<typeof inferred>>[] = [];
    for (const [v, image] of images.entries()) expected.push(await inferred(dir, flags, image, 7 + v));

    const s = await startServer(
      () => loadPipeline({ pretrainedModelPath: weights.sd3, diceptionPath: weights.diception, promptCache: weights.prompts, precision: 'f16' }),
      { gpu: await getDevice(), maxQueue: 64, maxBatch: 4, batchWindowMs: 20, defaults: { steps: 1, guidance: 1, seed: 42 } },
    );
    try {
      const load = await loadClients(REQUESTS, CLIENTS, async (i) => {
        const r = await postImage(s.url, images[i % 2], `task=depth&seed=${7 + (i % 2)}&format=json`);
        if (r.status !== 200) return { status: r.status };
        const json = JSON.parse(r.text);
        expect([json.width, json.height]).toEqual([W, H]);
        expectSame(await pixels(Buffer.from(json.png_base64, 'base64')), expected[i % 2].panel, `request ${i}: prediction panel`);
        expect(Buffer.from(json.npy_base64, 'base64').equals(expected[i % 2].npy), `request ${i}: npy bytes`).toBe(true);
        return { status: r.status, batch: json.timings.batch as number };
      });
      // The queue (64) holds every request: all are answered.
      expect(load.statuses).toEqual(Array(REQUESTS).fill(200));
      expect(Math.max(...load.batches)).toBeGreaterThan(1);
      expect(Math.max(...load.batches)).toBeLessThanOrEqual(4);
      console.log(`serve load (demo model, --fast): ${load.summary}`);
    } finally {
      await s.close();
    }
  }, 45 * 60_000);
});
