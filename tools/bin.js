#!/usr/bin/env node
// Entry point of the `diception` command: runs the TypeScript CLI directly (tsx), with WGSL
// files importable as text.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./wgsl-hook.js', import.meta.url);
await import('./cli.ts');
