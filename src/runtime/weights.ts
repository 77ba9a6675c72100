// A state dict on disk, whatever its container: one safetensors file, a sharded checkpoint
// (`*.safetensors.index.json`), a PyTorch .pth (see pth/), or an overlay of several. Tensors
// are read one at a time and streamed to the GPU; names stay upstream's so a mismatch is obvious.
import type { Gpu } from './device.ts';
import { bf16ArrayToF32, F16_OVERFLOW, f16ArrayToF32, f32ArrayToF16, maxFiniteAbs } from './f16.ts';
import { platform } from './platform.ts';
import { SafetensorsFile, type TensorEntry } from './safetensors.ts';
import { readInto, type ByteSource } from './source.ts';
import { empty, numel, type DType, type Tensor } from './tensor.ts';

export interface WeightReader {
  /** Where the weights came from, for messages. */
  readonly name: string;
  names(): string[];
  has(name: string): boolean;
  /** Throws naming the file and tensor when absent. */
  entry(name: string): TensorEntry;
  /** Closes the files behind it (entries are unreadable afterwards). */
  close?(): Promise<void>;
  /** The file's safetensors `__metadata__` (an overlay's: every layer's, later layers winning). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** A reader over a fixed name -> entry map (what every container format resolves to). */
export function mapReader(name: string, entries: ReadonlyMap<string, TensorEntry>, sources: readonly ByteSource[] = [], metadata?: Record<string, string>): WeightReader {
  return {
    name,
    metadata,
    names: () => [...entries.keys()],
    has: (n) => entries.has(n),
    entry: (n) => entries.get(n) ?? missing(name, n),
    close: async () => void (await Promise.all(sources.map((s) => s.close?.()))),
  };
}

export function safetensorsReader(f: SafetensorsFile): WeightReader {
  return mapReader(f.source.name, f.entries, [f.source], f.metadata);
}

function missing(where: string, name: string): never {
  throw new Error(`${where}: tensor '${name}' not found`);
}

/** Several readers as one; later readers win (the DICEPTION .pth overrides SD3's transformer). */
export function overlay(...readers: WeightReader[]): WeightReader {
  const find = (n: string) => {
    for (let i = readers.length - 1; i >= 0; i--) if (readers[i].has(n)) return readers[i];
  };
  return {
    name: readers.map((r) => r.name).join(' + '),
    metadata: Object.assign({}, ...readers.map((r) => r.metadata)),
    names: () => [...new Set(readers.flatMap((r) => r.names()))],
    has: (n) => find(n) !== undefined,
    entry: (n) => (find(n) ?? missing(readers.map((r) => r.name).join(' + '), n)).entry(n),
    close: async () => void (await Promise.all(readers.map((r) => r.close?.()))),
  };
}

/** The sub-dict under `prefix` (e.g. 'transformer.'), with the prefix removed from names. */
export function prefixed(r: WeightReader, prefix: string): WeightReader {
  return {
    name: `${r.name}[${prefix}]`,
    metadata: r.metadata,
    names: () => r.names().filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length)),
    has: (n) => r.has(prefix + n),
    entry: (n) => r.entry(prefix + n),
    close: () => r.close?.() ?? Promise.resolve(),
  };
}

/**
 * Runs `build` (a model load that keeps `r`), closing `r` if it throws: a load that fails half
 * way must not leave the file handles to the garbage collector.
 */
export async function closeOnError<T>(r: Pick<WeightReader, 'close'>, build: () => Promise<T>): Promise<T> {
  try {
    return await build();
  } catch (e) {
    await r.close?.();
    throw e;
  }
}

export async function readJson<T = Record<string, unknown>>(path: string): Promise<T> {
  const src = await platform().open(path);
  try {
    const text = new TextDecoder().decode(await src.read(0, src.size));
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
    }
  } finally {
    await src.close?.();
  }
}

/** Runs `use` on an opened file, closing the file if it throws (no leaked handles on bad files). */
async function withSource<T>(path: string, use: (src: ByteSource) => Promise<T>): Promise<T> {
  const src = await platform().open(path);
  try {
    return await use(src);
  } catch (e) {
    await src.close?.();
    throw e;
  }
}

/** A sharded checkpoint: `weight_map` (tensor -> shard file beside the index) is authoritative. */
async function openSharded(path: string): Promise<WeightReader> {
  const index = await readJson<{ weight_map?: unknown }>(path);
  const map = index.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new Error(`${path}: no "weight_map" object in the shard index`);
  const dir = path.slice(0, Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
  const shards = new Map<string, SafetensorsFile>();
  const entries = new Map<string, TensorEntry>();
  const reader = mapReader(path, entries, []);
  const close = () => Promise.all([...shards.values()].map((f) => f.source.close?.()));
  try {
    for (const [name, shard] of Object.entries(map as Record<string, unknown>)) {
      // Shards are plain file names beside the index; anything else could reach outside it.
      if (typeof shard !== 'string' || !/^[^/\\]+$/.test(shard) || shard === '..' || shard === '.') {
        throw new Error(`${path}: tensor '${name}' maps to ${JSON.stringify(shard)}, not a shard file name`);
      }
      let f = shards.get(shard);
      if (!f) {
        try {
          f = await withSource(dir + shard, SafetensorsFile.open);
        } catch (e) {
          throw new Error(`${path}: shard '${shard}' (holding '${name}'): ${(e as Error).message}`);
        }
        shards.set(shard, f);
      }
      const e = f.entries.get(name);
      if (!e) throw new Error(`${dir + shard}: tensor '${name}' listed in ${path} is not in this shard`);
      entries.set(name, e);
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { ...reader, close: async () => void (await close()) };
}

/** Opens `.safetensors`, `.safetensors.index.json` (shards beside it) or `.pth`. */
export async function openWeights(path: string): Promise<WeightReader> {
  if (path.endsWith('.index.json')) return openSharded(path);
  if (path.endsWith('.pth') || path.endsWith('.pt') || path.endsWith('.bin')) {
    const { openPth } = await import('./pth/index.ts');
    return withSource(path, openPth);
  }
  return safetensorsReader(await withSource(path, SafetensorsFile.open));
}

/** A tensor's bytes as stored (little-endian), for integer tensors (I64 ids, U8 masks...). */
export async function readRaw(e: TensorEntry): Promise<Uint8Array> {
  // A copy at offset 0, so callers can view it as any typed array.
  return (await e.source.read(e.offset, e.byteLength)).slice();
}

/**
 * Bytes read per step when converting or uploading, so memory never holds a tensor twice.
 * A multiple of 4 (chunks start 4-byte aligned in the GPU buffer); tests lower it.
 */
export const READ_CHUNK = { bytes: 16 * 2 ** 20 };

function floatSize(e: TensorEntry): 2 | 4 {
  if (e.dtype === 'F32') return 4;
  if (e.dtype === 'F16' || e.dtype === 'BF16') return 2;
  throw new Error(`${e.source.name}: tensor '${e.name}' is ${e.dtype}; expected a floating-point tensor (F32, F16 or BF16)`);
}

/**
 * Visits a float tensor in chunks of raw bytes, read into one reused buffer (so reading
 * allocates nothing per chunk). `visit` must be done with the bytes before it returns; it
 * returns false to stop early.
 */
async function forEachChunk(e: TensorEntry, visit: (start: number, count: number, raw: Uint8Array) => boolean | void): Promise<void> {
  const size = floatSize(e);
  const n = e.byteLength / size;
  const per = READ_CHUNK.bytes / size;
  const scratch = new Uint8Array(Math.min(READ_CHUNK.bytes, e.byteLength));
  for (let start = 0; start < n; start += per) {
    const count = Math.min(per, n - start);
    const raw = scratch.subarray(0, count * size);
    await readInto(e.source, e.offset + start * size, raw);
    if (visit(start, count, raw) === false) return;
  }
}

/** Converts one chunk of `e` (raw bytes at offset 0 of their buffer) to f32 into `out`. */
function chunkToF32(e: TensorEntry, raw: Uint8Array, out: Float32Array): void {
  if (e.dtype === 'F32') out.set(new Float32Array(raw.buffer, raw.byteOffset, out.length));
  else if (e.dtype === 'F16') f16ArrayToF32(new Uint16Array(raw.buffer, raw.byteOffset, out.length), out);
  else bf16ArrayToF32(new Uint16Array(raw.buffer, raw.byteOffset, out.length), out);
}

/** Reads a tensor as f32 values (F32, F16, BF16 converted); memory: the result plus one chunk. */
export async function readF32(e: TensorEntry): Promise<Float32Array> {
  const out = new Float32Array(e.byteLength / floatSize(e));
  // F32 goes straight into the result.
  if (e.dtype === 'F32') await readInto(e.source, e.offset, new Uint8Array(out.buffer));
  else await forEachChunk(e, (start, count, raw) => chunkToF32(e, raw, out.subarray(start, start + count)));
  return out;
}

/** A tensor an f16 load kept in f32 because f16 cannot hold its values. */
export interface KeptF32 {
  tensor: string;
  file: string;
  max_abs: number;
}

const keptF32 = new WeakMap<Gpu, KeptF32[]>();

/** Every tensor kept in f32 on `gpu` so far (for `--json` summaries and doctor). */
export function tensorsKeptF32(gpu: Gpu): readonly KeptF32[] {
  return keptF32.get(gpu) ?? [];
}

/**
 * The dtype a weight converted from f32 values is stored in: `dtype`, except that a tensor
 * with a finite value beyond f16's range stays f32 (and is recorded) where f16 would make it
 * ±Inf. The reference runs in bf16, whose range is f32's, so such a checkpoint is valid.
 */
export function rangeSafeDtype(gpu: Gpu, tensor: string, file: string, values: Float32Array, dtype: DType): DType {
  if (dtype !== 'f16') return dtype;
  const max = maxFiniteAbs(values);
  if (max < F16_OVERFLOW) return dtype;
  keepF32(gpu, { tensor, file, max_abs: max });
  return 'f32';
}

function keepF32(gpu: Gpu, k: KeptF32): void {
  const list = keptF32.get(gpu) ?? [];
  if (!list.some((x) => x.tensor === k.tensor && x.file === k.file)) list.push(k);
  keptF32.set(gpu, list);
}

/**
 * Uploads one tensor to the GPU in `dtype`, checking its shape. F16 -> f16 uploads the bytes
 * unchanged; other combinations convert on the CPU. Either way a chunk at a time, so the
 * CPU never holds more than one chunk of a tensor. A BF16/F32 tensor asked for in f16 whose
 * values overflow f16 is uploaded in f32 instead (see rangeSafeDtype); the caller's kernels
 * take each binding's dtype from the tensor.
 */
export async function uploadWeight(gpu: Gpu, r: WeightReader, name: string, dtype: DType, expectShape?: readonly number[]): Promise<Tensor> {
  const e = r.entry(name);
  if (expectShape && (expectShape.length !== e.shape.length || expectShape.some((d, i) => d !== e.shape[i]))) {
    throw new Error(`${e.source.name}: tensor '${name}' has shape [${e.shape}], expected [${expectShape}]`);
  }
  floatSize(e); // refuses integer tensors before a GPU buffer is made
  const converted = await upload(gpu, e, name, dtype);
  if (converted.t) return converted.t;
  // Out of f16's range part way: rare enough that reading the tensor again costs little.
  const { t, maxAbs } = await upload(gpu, e, name, 'f32');
  keepF32(gpu, { tensor: name, file: e.source.name, max_abs: maxAbs });
  return t!;
}

/**
 * The upload itself, with the largest finite |value| converted. Converting to f16 stops at the
 * first chunk f16 cannot hold, returning no tensor (nothing left allocated).
 */
async function upload(gpu: Gpu, e: TensorEntry, name: string, dtype: DType): Promise<{ t?: Tensor; maxAbs: number }> {
  const outSize = dtype === 'f32' ? 4 : 2;
  const same = (dtype === 'f16' && e.dtype === 'F16') || (dtype === 'f32' && e.dtype === 'F32');
  // Conversion scratch, reused across chunks.
  const f32 = same ? undefined : new Float32Array(Math.min(READ_CHUNK.bytes / 2, numel(e.shape)));
  const f16 = dtype === 'f16' && f32 ? new Uint16Array(f32.length) : undefined;
  const t = empty(gpu, e.shape, dtype, name);
  let maxAbs = 0;
  // writeBuffer copies at call time, so the scratch buffers are free again after each chunk.
  await forEachChunk(e, (start, count, raw) => {
    let bytes = raw;
    if (f32) {
      const f = f32.subarray(0, count);
      chunkToF32(e, raw, f);
      maxAbs = Math.max(maxAbs, maxFiniteAbs(f));
      if (f16 && maxAbs >= F16_OVERFLOW) return false;
      const out = f16 ? f32ArrayToF16(f, f16.subarray(0, count)) : f;
      bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    }
    gpu.recorder.write(t.buffer, t.offset + start * outSize, bytes);
  });
  if (f16 && maxAbs >= F16_OVERFLOW) {
    t.dispose();
    return { maxAbs };
  }
  return { t, maxAbs };
}
