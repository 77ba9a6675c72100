import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';
import { CHROMIUM, CHROMIUM_ARGS } from './test/browser/chromium-flags.ts';
import { LongFirstSequencer } from './test/sequencer.ts';

const wgsl = {
  name: 'wgsl-text',
  transform(code: string, id: string) {
    if (id.endsWith('.wgsl')) return { code: `export default ${JSON.stringify(code)};`, map: null };
  },
};


export default defineConfig({
  plugins: [wgsl],
  test: {
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // Two cores and a CPU GPU driver that uses both: more workers only contend.
    maxWorkers: 2,
    sequence: { sequencer: LongFirstSequencer },
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/browser/**'],
          setupFiles: ['test/setup.ts'],
          pool: 'forks',
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          // The kernel tests again, in a real browser: no shader-f16, subgroup size 4, other limits.
          include: ['test/kernels/**/*.test.ts'],
          browser: {
            enabled: true,
            headless: true,
            provider: playwright({
              launchOptions: {
                executablePath: CHROMIUM,
                args: CHROMIUM_ARGS,
              },
            }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          // The web page end to end: Node serves it and drives Chromium (test/browser/chromium.ts).
          include: ['test/browser/**/*.test.ts'],
          setupFiles: ['test/setup.ts'],
          pool: 'forks',
        },
      },
    ],
  },
});
