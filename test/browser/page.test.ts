// The web page in headless Chromium (WebGPU on SwiftShader): adapter messages, the
// interactive-segmentation workflow end to end (with its masks) on a tiny random model served over HTTP Range.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { decodeSegmentation } from '../../src/model/sa1b.ts';
import { DEMO_SPEC, writeTinyModel } from '../../tools/tiny-model.ts';
import type { Browser } from 'playwright-core';
import { describeChromium, launchChromium, openPage, servePage, type Session } from './chromium.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const SAMPLE = join(repo, 'assets/sample.png');

/** Waits for the page to finish a run; a page error fails with its message and the console. */
async function waitForRun(s: Session, timeout: number): Promise<void> {
  await s.page.waitForSelector('body[data-status=done], body[data-status=error]', { timeout });
  const status = await s.page.getAttribute('body', 'data-status');
  if (status !== 'done') {
    const msg = await s.page.textContent('#message');
    throw new Error(`the page reported: ${msg}\nconsole:\n${s.log.join('\n')}`);
  }
}

/** RGB of the canvas pixel at normalised (y, x). */
function pixel(page: Page, id: string, y: number, x: number): Promise<number[]> {
  return page.evaluate(
    ([id, y, x]) => {
      const c = document.getElementById(id as string) as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(Math.floor((x as number) * c.width), Math.floor((y as number) * c.height), 1, 1).data;
      return [d[0], d[1], d[2]];
    },
    [id, y, x] as const,
  );
}

/**
 * The demo model shrunk until one 768² run takes well under a minute on SwiftShader (≈4× slower
 * than lavapipe): the page works at the model's real input size, so the cost that scales is
 * per-pixel width (VAE channels, no 96²-token VAE attention) and per-token width (one head).
 */
const PAGE_TEST_SPEC = {
  ...DEMO_SPEC,
  transformer: { ...DEMO_SPEC.transformer, num_attention_heads: 1, caption_projection_dim: 16 },
  vae: { ...DEMO_SPEC.vae, block_out_channels: [8, 8, 8, 8], mid_block_add_attention: false },
};

describeChromium('web page (Chromium, SwiftShader WebGPU)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'diception-web-'));
  let server: Awaited<ReturnType<typeof servePage>>;
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
    await writeTinyModel(join(tmp, 'tiny'), { ...PAGE_TEST_SPEC, prompts: ['[[image2segmentation]]', '[[image2depth]]', ''] });
    server = await servePage({ '/models/': tmp });
  });
  afterAll(async () => {
    await browser?.close();
    server?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('names the adapter, says activations run in f32 without shader-f16, takes model URLs from the query', async () => {
    const s = await openPage(browser);
    try {
      await s.page.goto(`${server.url}?sd3=/models/tiny&diception=/models/tiny/diception.safetensors`);
      expect(await s.page.isVisible('#source-url')).toBe(true);
      expect(await s.page.inputValue('#diception-url')).toBe('/models/tiny/diception.safetensors');
      await s.page.waitForSelector('body[data-adapter]');
      expect(await s.page.getAttribute('body', 'data-adapter')).toBe('f32-activations');
      expect(await s.page.textContent('#adapter')).toMatch(/no shader-f16 .* activations are computed in f32/);
      expect(await s.page.isEnabled('#run')).toBe(true);
      expect(await s.page.locator('#kernel-lab select').count()).toBeGreaterThan(0);
    } finally {
      await s.close();
    }
  });

  it('explains that WebGPU is missing instead of failing', async () => {
    const s = await openPage(browser);
    try {
      await s.page.addInitScript(() => delete (Navigator.prototype as { gpu?: unknown }).gpu);
      await s.page.goto(server.url);
      await s.page.waitForSelector('body[data-adapter=missing]');
      expect(await s.page.textContent('#adapter')).toMatch(/WebGPU is not available in this browser/);
      expect(await s.page.isEnabled('#run')).toBe(false);
    } finally {
      await s.close();
    }
  });

  it('segmentation with two clicked points (one removed, re-added) from URLs, then depth from picked files: results and download', async () => {
    const s = await openPage(browser);
    const { page } = s;
    try {
      await page.goto(server.url);
      await page.waitForSelector('body[data-adapter=f32-activations]');
      await page.setInputFiles('#image-file', SAMPLE);
      await page.waitForFunction(() => (document.getElementById('image-canvas') as HTMLCanvasElement).width === 768);
      await page.selectOption('#task', 'segmentation');
      expect(await page.isVisible('#points-help')).toBe(true);

      const canvas = page.locator('#image-canvas');
      // Positions inside the 1px border, in CSS pixels of the (unscaled) image.
      const at = (y: number, x: number) => ({ position: { x: 1 + x * 768, y: 1 + y * 512 } });
      await canvas.click(at(0.3, 0.25));
      await canvas.click(at(0.6, 0.7));
      await expect.poll(() => page.locator('#points li').count()).toBe(2);
      expect(await pixel(page, 'image-canvas', 0.6, 0.7)).toEqual([255, 32, 32]);
      // Remove the first with its button, then with a click on its dot after re-adding it.
      await page.click('#points li:first-child button');
      await expect.poll(() => page.locator('#points li').count()).toBe(1);
      expect(await pixel(page, 'image-canvas', 0.3, 0.25)).not.toEqual([255, 32, 32]);
      await canvas.click(at(0.3, 0.25));
      await canvas.click(at(0.3, 0.25));
      await expect.poll(() => page.locator('#points li').count()).toBe(1);
      await canvas.click(at(0.3, 0.25));
      await expect.poll(() => page.locator('#points li').count()).toBe(2);
      const listed = [...(await page.textContent('#points'))!.matchAll(/y ([\d.]+), x ([\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
      expect(listed.flat().map((v, i) => Math.abs(v - [0.6, 0.7, 0.3, 0.25][i]) < 3 / 512)).toEqual([true, true, true, true]);

      await page.check('input[name=source][value=url]');
      await page.fill('#sd3-url', '/models/tiny');
      await page.fill('#diception-url', '/models/tiny/diception.safetensors');
      await page.fill('#cache-url', '/models/tiny/prompts.safetensors');
      await page.click('#fast');
      await page.click('#run');
      await waitForRun(s, 150_000);
      console.log(`segmentation in Chromium/SwiftShader: ${await page.textContent('#timings')}`);

      expect(await page.isVisible('#result-section')).toBe(true);
      const size = await page.evaluate(() => {
        const c = document.getElementById('result-canvas') as HTMLCanvasElement;
        return [c.width, c.height];
      });
      expect(size).toEqual([2 * 768, 512]);
      // Left: the input; right: a prediction (random weights: anything but a flat image).
      const right = await page.evaluate(() => {
        const c = document.getElementById('result-canvas') as HTMLCanvasElement;
        const d = c.getContext('2d')!.getImageData(c.width / 2, 0, c.width / 2, c.height).data;
        let min = 255;
        let max = 0;
        for (let i = 0; i < d.length; i += 4) [min, max] = [Math.min(min, d[i]), Math.max(max, d[i])];
        return { min, max };
      });
      expect(right.max).toBeGreaterThan(right.min);
      expect(await page.textContent('#progress')).toMatch(/denoise/);

      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
      expect(download.suggestedFilename()).toBe('result_sample_segmentation.png');
      const png = readFileSync((await download.path())!);
      expect([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');

      // Masks: the overlay at the image's size, a mask PNG and the COCO RLE, which decodes.
      expect(await page.isVisible('#mask-section')).toBe(true);
      expect(await page.evaluate(() => [(document.getElementById('mask-canvas') as HTMLCanvasElement).width, (document.getElementById('mask-canvas') as HTMLCanvasElement).height])).toEqual([768, 512]);
      const [maskPng] = await Promise.all([page.waitForEvent('download'), page.click('#mask-png')]);
      expect(maskPng.suggestedFilename()).toBe('result_sample_mask.png');
      const [maskJson] = await Promise.all([page.waitForEvent('download'), page.click('#mask-json')]);
      expect(maskJson.suggestedFilename()).toBe('result_sample_mask.json');
      const rle = JSON.parse(readFileSync((await maskJson.path())!, 'utf8'));
      expect(rle.size).toEqual([512, 768]);
      expect(decodeSegmentation(rle).data.reduce((a, b) => a + b, 0)).toBe(rle.area);

      mkdirSync(join(repo, 'out'), { recursive: true });
      await page.screenshot({ path: join(repo, 'out/web-screenshot.png'), fullPage: true });

      // In the same page (compiled shaders are reused): depth from files picked on disk, with
      // the folder picker, read through Blob slices, and 8-bit transformer weights.
      await page.selectOption('#task', 'depth');
      await page.selectOption('#weights', 'q8');
      await page.check('input[name=source][value=files]');
      await page.setInputFiles('#sd3-dir', join(tmp, 'tiny'));
      await page.setInputFiles('#diception-file', join(tmp, 'tiny/diception.safetensors'));
      await page.setInputFiles('#cache-file', join(tmp, 'tiny/prompts.safetensors'));
      await page.click('#run');
      await waitForRun(s, 150_000);
      console.log(`depth in Chromium/SwiftShader: ${await page.textContent('#timings')}`);
      // Spectral colouring: hardly any pixel of the right half is grey.
      const grey = await page.evaluate(() => {
        const c = document.getElementById('result-canvas') as HTMLCanvasElement;
        const d = c.getContext('2d')!.getImageData(c.width / 2, 0, c.width / 2, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] === d[i + 1] && d[i + 1] === d[i + 2]) n++;
        return n / (d.length / 4);
      });
      expect(grey).toBeLessThan(0.01);
      expect(await page.getAttribute('#download', 'download')).toBe('result_sample_depth.png');
      expect(await page.isVisible('#mask-section')).toBe(false); // depth has no masks
    } finally {
      await s.close();
    }
  });
});
