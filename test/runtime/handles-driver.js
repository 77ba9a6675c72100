// Runs `diception conformance <dir> --only <goldens>` in this process, then lists the files
// under <dir> this process still has open (Linux /proc/self/fd) and forces a garbage
// collection, which makes Node warn about any FileHandle nobody closed. handles.test.ts runs
// this with --expose-gc --trace-warnings.
import { readdirSync, readlinkSync } from 'node:fs';
import { register } from 'node:module';
import { resolve } from 'node:path';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('../../tools/wgsl-hook.js', import.meta.url);
const dir = resolve(process.argv[2]);
await import('../../src/runtime/node.ts');
const { conformanceCommand } = await import('../../tools/conformance/index.ts');
await conformanceCommand(dir, { only: process.argv[3] });
const open = [];
for (const fd of readdirSync('/proc/self/fd')) {
  try {
    const target = readlinkSync(`/proc/self/fd/${fd}`);
    if (target.startsWith(dir + '/')) open.push(target);
  } catch {
    // The fd that listed the folder is gone by now.
  }
}
console.log(JSON.stringify({ open }));
for (let i = 0; i < 3; i++) {
  globalThis.gc();
  await new Promise((r) => setTimeout(r, 50));
}
process.exit();
