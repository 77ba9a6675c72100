#!/usr/bin/env node
// Runs bench/<name>.ts's main(argv) with TypeScript and WGSL imports enabled:
//   node bench/run.js <name> [options]
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

const name = process.argv[2];
if (!name || !/^[\w-]+$/.test(name)) {
  console.error('usage: node bench/run.js <bench name> [options]');
  process.exit(1);
}
registerTsx();
register('../tools/wgsl-hook.js', import.meta.url);
const mod = await import(`./${name}.ts`);
if (typeof mod.main !== 'function') {
  console.error(`bench/${name}.ts has no main(argv) export`);
  process.exit(1);
}
await mod.main(process.argv.slice(3));
