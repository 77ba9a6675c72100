// The browser bundle as a user loads it: a plain HTML page (no bundler) starts a module Worker
// that imports dist-style diception.js, decodes a PNG Blob (createImageBitmap + OffscreenCanvas)
// and runs predict in headless Chromium (SwiftShader). Its `values` must match the Node entry's
// on the same image, model and seed (lavapipe), f32.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadDiception } from '../../src/node.ts';
import { buildBrowser } from '../../tools/build.ts';
import { serve } from '../../tools/serve.ts';
import { writeSmallModel } from '../api/small-model.ts';
import { relL2 } from '../helpers.ts';
import { describeChromium, launchChromium, openPage } from './chromium.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));

const PAGE = `<!doctype html>
<meta charset="utf-8">
<script type="module">
  const worker = new Worker('./worker.js', { type: 'module' });
  window.predictInWorker = (request) => new Promise((resolve, reject) => {
    worker.onmessage = ({ data }) => (data.error ? reject(new Error(data.error)) : resolve(data));
    worker.postMessage(request);
  });
</script>`;

const WORKER = `import { loadDiception } from './diception.js';
self.onmessage = async ({ data }) => {
  try {
    const model = await loadDiception({ sd3: data.sd3, checkpoint: data.sd3 + '/diception.safetensors', promptCache: data.sd3 + '/prompts.safetensors', precision: 'f32' });
    const image = await (await fetch(data.image)).blob();
    const r = await model.predict(image, { task: 'depth', steps: 1, guidance: 1, seed: 7 });
    await model.dispose();
    // Base64 of the float bytes: far smaller than a JSON array of numbers.
    const bytes = new Uint8Array(r.values.buffer);
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    self.postMessage({ width: r.width, height: r.height, values: btoa(s), inWorker: typeof document === 'undefined' });
  } catch (e) {
    self.postMessage({ error: String(e && e.stack || e) });
  }
};
`;

describeChromium('browser bundle in a module Worker (Chromium, SwiftShader WebGPU)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'diception-worker-'));
  const site = join(tmp, 'site');
  let browser: Browser;
  let server: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    mkdirSync(site);
    await Promise.all([
      buildBrowser(join(site, 'diception.js')),
      writeSmallModel(join(tmp, 'model')),
      // A small image: the model runs at 768² whatever the input, and `values` come back at the input's size.
      sharp(join(repo, 'assets/sample.png')).resize(96, 64).png().toFile(join(site, 'image.png')),
    ]);
    writeFileSync(join(site, 'index.html'), PAGE);
    writeFileSync(join(site, 'worker.js'), WORKER);
    server = await serve({ '/': site, '/models/': join(tmp, 'model') });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    server?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('predict inside a Worker matches the Node result on the same seed (rel_l2 ≤ 1e-5 on values)', async () => {
    const s = await openPage(browser);
    try {
      await s.page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      const got = await s.page
        .evaluate((r) => (window as unknown as { predictInWorker(r: unknown): Promise<{ width: number; height: number; values: string; inWorker: boolean }> }).predictInWorker(r), {
          sd3: '/models',
          image: '/image.png',
        })
        .catch((e: Error) => {
          throw new Error(`${e.message}\nconsole:\n${s.log.join('\n')}`);
        });
      expect([got.width, got.height, got.inWorker]).toEqual([96, 64, true]);
      const buf = Buffer.from(got.values, 'base64');
      const browserValues = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);

      const model = await loadDiception({ sd3: join(tmp, 'model'), checkpoint: join(tmp, 'model/diception.safetensors'), promptCache: join(tmp, 'model/prompts.safetensors'), precision: 'f32' });
      try {
        const node = await model.predict(join(site, 'image.png'), { task: 'depth', steps: 1, guidance: 1, seed: 7 });
        expect(browserValues.length).toBe(node.values.length);
        const err = relL2(browserValues, node.values);
        console.log(`Worker (SwiftShader) vs Node (lavapipe) values: rel_l2 ${err.toExponential(2)}`);
        expect(err).toBeLessThanOrEqual(1e-5);
      } finally {
        await model.dispose();
      }
    } finally {
      await s.close();
    }
  });
});
