// Memory while loading weights: writes a large synthetic safetensors file (sparse, so it costs no
// disk time), reads every tensor through openWeights + readF32 one at a time, and reports how far
// JS memory (heap + ArrayBuffers) and RSS rose above where they started. Loading must stay far
// below the file size: tensors are read one at a time, never the whole file.
//   npx tsx bench/weights-memory.ts [GiB=4] [dir=os.tmpdir()]
// test/runtime/weights-memory.test.ts runs the same measurement on a 200 MB file in CI.
import { open, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { f32ToF16Bits } from '../src/runtime/f16.ts';
import '../src/runtime/node.ts';
import { safetensorsHeader, type TensorSpec } from '../src/runtime/safetensors-write.ts';
import { openWeights, readF32 } from '../src/runtime/weights.ts';

export interface MemoryFigures {
  fileBytes: number;
  tensors: number;
  largestTensorBytes: number;
  /** Peak rise of heapUsed + arrayBuffers over the starting point. */
  jsGrowth: number;
  rssGrowth: number;
  seconds: number;
  /** CPU seconds (user + system): wall time is meaningless on a shared machine. */
  cpuSeconds: number;
}

/** A marker value at the start of tensor i, checked on read (proves the offsets, not just sizes). */
const marker = (i: number) => i + 1;

/**
 * Writes `totalBytes` of F16/BF16/F32 tensors of at most `tensorBytes` each (plus one of
 * `bigBytes`, like T5's embedding), then reads them all back one at a time.
 */
export async function measureWeightMemory(dir: string, totalBytes: number, tensorBytes: number, bigBytes = tensorBytes): Promise<MemoryFigures> {
  const dtypes = ['F16', 'BF16', 'F32'] as const;
  const specs: TensorSpec[] = [];
  for (let used = 0, i = 0; used < totalBytes; i++) {
    const dtype = dtypes[i % 3];
    const size = dtype === 'F32' ? 4 : 2;
    const bytes = Math.min(i === 0 ? bigBytes : tensorBytes, totalBytes - used);
    const cols = 1024;
    const rows = Math.max(1, Math.floor(bytes / size / cols));
    specs.push({ name: `blocks.${i}.weight`, dtype, shape: [rows, cols] });
    used += rows * cols * size;
  }
  const header = safetensorsHeader(specs);
  const path = join(dir, 'synthetic.safetensors');
  const fh = await open(path, 'w');
  let pos = header.length;
  await fh.write(header, 0, header.length, 0);
  // Only the markers are written: the rest of the file is a hole that reads as zeros.
  for (const [i, s] of specs.entries()) {
    const v = new Float32Array([marker(i)]);
    const b = s.dtype === 'F32' ? new Uint8Array(v.buffer) : new Uint8Array(new Uint16Array([s.dtype === 'F16' ? f32ToF16Bits(marker(i)) : new Uint32Array(v.buffer)[0] >>> 16]).buffer);
    await fh.write(b, 0, b.length, pos);
    pos += s.shape[0] * s.shape[1] * (s.dtype === 'F32' ? 4 : 2);
  }
  await fh.truncate(pos);
  await fh.close();

  const start = process.memoryUsage();
  const js = (m: NodeJS.MemoryUsage) => m.heapUsed + m.arrayBuffers;
  let peakJs = 0;
  let peakRss = 0;
  let largest = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const r = await openWeights(path);
  for (const [i, s] of specs.entries()) {
    const e = r.entry(s.name);
    const v = await readF32(e);
    if (v[0] !== marker(i) || v[v.length - 1] !== 0) throw new Error(`${s.name}: read ${v[0]}, expected the marker ${marker(i)}`);
    const m = process.memoryUsage();
    peakJs = Math.max(peakJs, js(m) - js(start));
    peakRss = Math.max(peakRss, m.rss - start.rss);
    largest = Math.max(largest, e.byteLength);
  }
  await r.close?.();
  return { fileBytes: pos, tensors: specs.length, largestTensorBytes: largest, jsGrowth: peakJs, rssGrowth: peakRss, seconds: (performance.now() - t0) / 1000, cpuSeconds: ((c) => (c.user + c.system) / 1e6)(process.cpuUsage(cpu0)) };
}

const MiB = 2 ** 20;

if (import.meta.url === `file://${process.argv[1]}`) {
  const gib = Number(process.argv[2] ?? 4);
  const dir = await mkdtemp(join(process.argv[3] ?? tmpdir(), 'weights-memory-'));
  try {
    // 64 MiB tensors like a transformer's linear layers, and one T5-embedding-sized one.
    const f = await measureWeightMemory(dir, gib * 1024 * MiB, 64 * MiB, 263 * MiB);
    console.log(
      `file ${(f.fileBytes / MiB).toFixed(0)} MiB, ${f.tensors} tensors (largest ${(f.largestTensorBytes / MiB).toFixed(0)} MiB) read in ${f.seconds.toFixed(1)} s (${f.cpuSeconds.toFixed(1)} s CPU); ` +
        `peak growth: JS heap+ArrayBuffers ${(f.jsGrowth / MiB).toFixed(0)} MiB, RSS ${(f.rssGrowth / MiB).toFixed(0)} MiB`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
