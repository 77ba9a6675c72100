#!/usr/bin/env node
// The `diception` command from a checkout, without a build: runs the TypeScript CLI directly
// (tsx), with WGSL files importable as text. The package's bin is the bundled dist/cli.js
// (`npm run build`, tools/build.ts).
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./wgsl-hook.js', import.meta.url);
await import('./cli.ts');
