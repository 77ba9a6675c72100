// Every test process uses the Node platform (Dawn).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll } from 'vitest';
import '../src/runtime/node.ts';

// Autotune results go to a fresh folder per test process, never to the user's cache.
process.env.DICEPTION_CACHE_DIR = mkdtempSync(join(tmpdir(), 'diception-cache-'));

// A file handle nobody closed is closed by the garbage collector, with a warning in the output
// whenever a collection happens to run: collect at the end of every test file and fail it there.
const unclosed: string[] = [];
process.on('warning', (w) => {
  if (/Closing file descriptor \d+ on garbage collection/.test(w.message)) unclosed.push(w.message);
});
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
afterAll(async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((done) => setTimeout(done, 50));
  }
  if (unclosed.length) throw new Error(`this file left ${unclosed.length} file handle(s) to the garbage collector (${unclosed[0]}): close every reader it opens (test/fixture-weights.ts openForTest)`);
});
