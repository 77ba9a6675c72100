import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';

const wgsl = {
  name: 'wgsl-text',
  transform(code: string, id: string) {
    if (id.endsWith('.wgsl')) return { code: `export default ${JSON.stringify(code)};`, map: null };
  },
};

// Chromium from Debian (never a downloaded browser); WebGPU runs on SwiftShader there.
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export default defineConfig({
  plugins: [wgsl],
  test: {
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // Two cores and a CPU GPU driver that uses both: more workers only contend.
    maxWorkers: 2,
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
                executablePath: chromium,
                args: ['--enable-unsafe-webgpu', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
              },
            }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
    ],
  },
});
