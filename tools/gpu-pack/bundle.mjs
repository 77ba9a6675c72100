// Bundles the `diception` CLI (tools/cli.ts) into ONE ES module for the GPU pack, which runs
// with a bare node binary: no tsx, no node_modules.
//   node tools/gpu-pack/bundle.mjs OUT.mjs
// - WGSL files become strings (esbuild's text loader, as in the browser bundle).
// - `webgpu`'s wrapper is bundled; it loads dawn.node from `dist/linux-x64/` beside the bundle
//   (it resolves the path from import.meta.url), so the pack puts dawn.node there.
// - Native or heavy packages the GPU run never loads (sharp: image files; tfjs: bench peers)
//   stay external; the CLI imports them lazily, so the bundle loads without them.
// - CommonJS dependencies (commander, cli-progress) get a real `require` for Node built-ins.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const out = process.argv[2];
if (!out) {
  console.error('usage: node tools/gpu-pack/bundle.mjs OUT.mjs');
  process.exit(2);
}

await build({
  entryPoints: [fileURLToPath(new URL('../cli.ts', import.meta.url))],
  outfile: out,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  legalComments: 'none',
  loader: { '.wgsl': 'text' },
  external: ['sharp', '@tensorflow/*'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});
