// Every test process uses the Node platform (Dawn).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../src/runtime/node.ts';

// Autotune results go to a fresh folder per test process, never to the user's cache.
process.env.DICEPTION_CACHE_DIR = mkdtempSync(join(tmpdir(), 'diception-cache-'));
