// The fixture's `pipeline` golden (upstream eval loop: run A guidance 2 / 2 steps, run B
// guidance 1 / 1 step) computed IN the web page, in Chromium on SwiftShader (no shader-f16:
// f16 weights stay packed, activations run in f32), compared here with the upstream numbers.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FIXTURES, describeFixtures, relL2 } from '../helpers.ts';
import { describeChromium, launchChromium, openPage, servePage } from './chromium.ts';

interface Output {
  tensor: string;
  ours: number[];
  expected: number[];
}

const TOLERANCE = { f16: 1e-2, f32: 1e-4 } as const;

describeFixtures('pipeline golden in the page', () => {
  describeChromium('Chromium, SwiftShader WebGPU', () => {
    let browser: Browser;
    let server: Awaited<ReturnType<typeof servePage>>;
    beforeAll(async () => {
      [browser, server] = await Promise.all([launchChromium(), servePage({ '/fixtures/': FIXTURES })]);
    });
    afterAll(async () => {
      await browser?.close();
      server?.close();
    });

    for (const precision of ['f16', 'f32'] as const) {
      it(`${precision}: latents and images of runs A and B within rel_l2 ${TOLERANCE[precision]}`, async () => {
        const s = await openPage(browser);
        try {
          await s.page.goto(server.url);
          await s.page.waitForSelector('body[data-adapter]');
          const out = await s.page
            .evaluate(([p]) => (globalThis as unknown as { diceptionPage: { pipelineGolden(u: string, p: string): Promise<Output[]> } }).diceptionPage.pipelineGolden('/fixtures/tiny', p), [precision] as const)
            .catch((e: Error) => {
              throw new Error(`${e.message}\nconsole:\n${s.log.join('\n')}`);
            });
          expect(out.map((o) => o.tensor)).toEqual(['latents_A', 'image_A', 'latents_B', 'image_B']);
          const errors = Object.fromEntries(out.map((o) => [o.tensor, relL2(o.ours, o.expected)]));
          console.log(`pipeline golden in Chromium (${precision}): ${Object.entries(errors).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
          for (const o of out) {
            expect(o.ours.length, o.tensor).toBe(o.expected.length);
            expect(errors[o.tensor], `${o.tensor} rel_l2`).toBeLessThanOrEqual(TOLERANCE[precision]);
          }
        } finally {
          await s.close();
        }
      });
    }
  });
});
