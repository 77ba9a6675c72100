// `npm run build` (also `prepack`; run with tsx, a devDependency: builds happen in a checkout): the package's bundles and type declarations in dist/.
//   dist/node.js    the library for Node (src/node.ts); npm packages stay imports
//   dist/index.js   the library for browsers and Workers (src/index.ts), self-contained: no
//                   bare imports, so a plain <script type="module"> or Worker can load it
//   dist/cli.js     the `diception` command (tools/cli.ts) with its CLI-only packages inside
//   dist/types/     .d.ts files from `tsc --emitDeclarationOnly` (tools/tsconfig.types.json)
// WGSL files are inlined as text. `--no-types` skips the declarations (the set-up step only
// needs the JS). Tests import buildBrowser() to bundle into a folder of their own.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type BuildOptions } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const common: BuildOptions = { bundle: true, format: 'esm', target: 'es2022', loader: { '.wgsl': 'text' }, logLevel: 'warning', absWorkingDir: root };

/** Native or optional packages the Node bundles import at run time (the package's dependencies, and tools' lazy extras). */
const NODE_EXTERNAL = ['webgpu', 'sharp', '@huggingface/tokenizers', '@tensorflow/*', 'esbuild', 'playwright-core'];

/** The browser library bundle, written to `outfile`. */
export function buildBrowser(outfile = `${root}dist/index.js`): Promise<unknown> {
  return build({ ...common, entryPoints: ['src/index.ts'], outfile, platform: 'browser', sourcemap: true });
}

export async function buildAll({ types = true } = {}): Promise<void> {
  await Promise.all([
    build({ ...common, entryPoints: ['src/node.ts'], outfile: 'dist/node.js', platform: 'node', external: NODE_EXTERNAL }),
    buildBrowser(),
    build({
      ...common,
      entryPoints: ['tools/cli.ts'],
      outfile: 'dist/cli.js',
      platform: 'node',
      external: NODE_EXTERNAL,
      // Bundled CommonJS packages (commander, cli-progress) call require() for Node built-ins.
      banner: { js: "#!/usr/bin/env node\nimport { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);" },
    }),
  ]);
  if (types) {
    rmSync(`${root}dist/types`, { recursive: true, force: true });
    execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}tools/tsconfig.types.json`], { stdio: 'inherit' });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await buildAll({ types: !process.argv.includes('--no-types') });
