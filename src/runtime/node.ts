// The Node platform: Dawn through the `webgpu` package, and files through positional reads.
// This is the only module in src/ with Node-only imports.
import { open as fsOpen, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { create, globals } from 'webgpu';
import { setPlatform, type Platform } from './platform.ts';
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

export const nodePlatform: Platform = {
  name: 'node',
  gpu() {
    if (!dawn) {
      process.env.XDG_RUNTIME_DIR ??= '/tmp';
      // Dawn rounds timestamps to ~100 µs unless told otherwise; the profiler needs real ones.
      dawn = create(['disable-dawn-features=timestamp_quantization']) as GPU;
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
