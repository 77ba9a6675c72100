// Runs the cases the main thread sends, one at a time, in a private temp folder.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import '../../src/runtime/node.ts';
import { runCase } from './case.ts';
import { prepareImages } from './formats.ts';

// What a library prints about a damaged file is noise here: the result says what happened.
for (const k of ['log', 'info', 'warn', 'error', 'debug'] as const) console[k] = () => {};
const port = parentPort!;
const root = await mkdtemp(join(tmpdir(), 'diception-fuzz-'));
await prepareImages();
port.on('message', async (index: number | null) => {
  if (index === null) {
    await rm(root, { recursive: true, force: true });
    port.close();
    return;
  }
  port.postMessage(await runCase(join(root, 'case'), (workerData as { seed: number }).seed, index));
});
port.postMessage({ ready: root });
