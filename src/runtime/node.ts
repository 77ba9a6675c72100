// The Node platform: Dawn through the `webgpu` package, and files through positional reads.
// This is the only module in src/ with Node-only imports.
import { mkdir, open as fsOpen, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { homedir, totalmem } from 'node:os';
import { join } from 'node:path';
import { create, globals } from 'webgpu';
import { setPlatform, type Platform, type TextStore } from './platform.ts';
import { checkRange, type ByteSource } from './source.ts';

Object.assign(globalThis, globals);

// Dawn segfaults if the object returned by create() is garbage-collected while work runs:
// keep it alive for the whole process.
let dawn: GPU | undefined;

class FileSource implements ByteSource {
  constructor(
    readonly name: string,
    readonly size: number,
    private readonly fh: import('node:fs/promises').FileHandle,
  ) {}
  async read(offset: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    await this.readInto(offset, out);
    return out;
  }
  async readInto(offset: number, target: Uint8Array): Promise<void> {
    checkRange(this, offset, target.length);
    let done = 0;
    while (done < target.length) {
      // pread takes at most 2 GiB per call.
      const n = Math.min(target.length - done, 2 ** 30);
      const { bytesRead } = await this.fh.read(target, done, n, offset + done);
      if (bytesRead === 0) throw new Error(`${this.name}: unexpected end of file at byte ${offset + done}`);
      done += bytesRead;
    }
  }
  async close(): Promise<void> {
    await this.fh.close();
  }
}

// Dawn's Node binding learns that GPU work finished by polling from back-to-back setImmediate
// callbacks, which keeps a core busy for as long as any GPU promise is pending. On a CPU adapter
// that core is one the driver's threads need: on lavapipe (2 cores) a 3×3 conv took 1.6-1.8× as
// long while the main thread polled. So while GPU promises are pending, one loop naps (a blocking
// Atomics.wait, no CPU) between event-loop turns that let Dawn poll once; naps start short for
// quick waits and grow to MAX_NAP_MS. I/O and timers still run on every turn.
const MAX_NAP_MS = 1;
const napCell = new Int32Array(new SharedArrayBuffer(4));
let open = 0;
let nap = 0;
let napping = false;

async function napWhileOpen(): Promise<void> {
  napping = true;
  while (open > 0) {
    await new Promise((r) => setImmediate(r));
    if (open === 0) break;
    Atomics.wait(napCell, 0, 0, nap);
    nap = Math.min(MAX_NAP_MS, nap * 2);
  }
  napping = false;
}

function settle<T>(pending: Promise<T>): Promise<T> {
  nap = 0.02;
  open++;
  // One loop at a time: a loop about to see open == 0 may still be waiting for its turn.
  if (!napping) void napWhileOpen();
  const done = () => void open--;
  pending.then(done, done);
  return pending;
}

/**
 * Persistent entries as files in $DICEPTION_CACHE_DIR, else the user's cache folder
 * ($XDG_CACHE_HOME or ~/.cache, %LOCALAPPDATA% on Windows) under diception/.
 */
function fileStore(): TextStore {
  const env = process.env;
  const base = env.XDG_CACHE_HOME || (process.platform === 'win32' && env.LOCALAPPDATA) || join(homedir(), '.cache');
  const dir = env.DICEPTION_CACHE_DIR || join(base, 'diception');
  const file = (name: string) => join(dir, `${name.replace(/[^\w.-]+/g, '_')}.json`);
  return {
    location: dir,
    async get(name) {
      try {
        return await readFile(file(name), 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new Error(`${file(name)}: ${(e as Error).message}`);
      }
    },
    async set(name, text) {
      await mkdir(dir, { recursive: true });
      // Write then rename: a concurrent reader sees the old file or the new one, never half.
      const tmp = `${file(name)}.${process.pid}.tmp`;
      await writeFile(tmp, text);
      await rename(tmp, file(name));
    },
  };
}

export const nodePlatform: Platform = {
  name: 'node',
  gpu() {
    if (!dawn) {
      process.env.XDG_RUNTIME_DIR ??= '/tmp';
      // Dawn rounds timestamps to ~100 µs unless told otherwise; the profiler needs real ones.
      // allow_unsafe_apis: Dawn lists experimental features (chromium-experimental-subgroup-matrix,
      // for the cooperative-matrix matmul) only with it.
      dawn = create(['disable-dawn-features=timestamp_quantization', 'enable-dawn-features=allow_unsafe_apis']) as GPU;
    }
    return dawn;
  },
  async open(path) {
    let size: number;
    try {
      const st = await stat(path);
      if (!st.isFile()) throw new Error(`${path}: not a regular file`);
      size = st.size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${path}: file not found`);
      throw e;
    }
    return new FileSource(path, size, await fsOpen(path, 'r'));
  },
  join,
  get store() {
    return fileStore(); // read per use: the folder follows $DICEPTION_CACHE_DIR as it is now
  },
  memoryBytes() {
    // A container's memory limit (cgroup) where one is set below the machine's RAM.
    const limit = process.constrainedMemory?.() ?? 0;
    return limit > 0 ? Math.min(limit, totalmem()) : totalmem();
  },
  settle,
  async exists(path) {
    try {
      await stat(path);
      return true;
    } catch {
      return false;
    }
  },
};

setPlatform(nodePlatform);
