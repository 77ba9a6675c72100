// Bundles the page (web/main.ts and the same src/ the CLI runs) for the browser.
import { fileURLToPath } from 'node:url';

export async function buildWeb(): Promise<string> {
  // Imported here, not at the top: the packaged CLI has no esbuild and must start without it.
  const { build } = await import('esbuild');
  const root = fileURLToPath(new URL('.', import.meta.url));
  await build({
    // The page, and the Worker it runs the model in (web/worker.ts).
    entryPoints: { app: `${root}main.ts`, worker: `${root}worker.ts` },
    outdir: `${root}dist`,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    loader: { '.wgsl': 'text' },
    logLevel: 'warning',
  });
  return `${root}dist/app.js`;
}
