// A state dict on disk, whatever its container: one safetensors file, a sharded checkpoint
// (`*.safetensors.index.json`), a PyTorch .pth (see pth/), or an overlay of several. Tensors
// are read one at a time and streamed to the GPU; names stay upstream's so a mismatch is obvious.
import type { Gpu } from './device.ts';
import { bf16ArrayToF32, f16ArrayToF32, f32ArrayToF16 } from './f16.ts';
import { platform } from './platform.ts';
import { SafetensorsFile, type TensorEntry } from './safetensors.ts';
import type { ByteSource } from './source.ts';
import { empty, numel, type DType, type Tensor } from './tensor.ts';

export interface WeightReader {
  /** Where the weights came from, for messages. */
  readonly name: string;
  names(): string[];
  has(name: string): boolean;
  /** Throws naming the file and tensor when absent. */
  entry(name: string): TensorEntry;
}

/** A reader over a fixed name -> entry map (what every container format resolves to). */
export function mapReader(name: string, entries: ReadonlyMap<string, TensorEntry>): WeightReader {
  return {
    name,
    names: () => [...entries.keys()],
    has: (n) => entries.has(n),
    entry: (n) => entries.get(n) ?? missing(name, n),
  };
}

export function safetensorsReader(f: SafetensorsFile): WeightReader {
  return mapReader(f.source.name, f.entries);
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
    names: () => [...new Set(readers.flatMap((r) => r.names()))],
    has: (n) => find(n) !== undefined,
    entry: (n) => (find(n) ?? missing(readers.map((r) => r.name).join(' + '), n)).entry(n),
  };
}

/** The sub-dict under `prefix` (e.g. 'transformer.'), with the prefix removed from names. */
export function prefixed(r: WeightReader, prefix: string): WeightReader {
  return {
    name: `${r.name}[${prefix}]`,
    names: () => r.names().filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length)),
    has: (n) => r.has(prefix + n),
    entry: (n) => r.entry(prefix + n),
  };
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
  return mapReader(path, entries);
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

/** Reads a tensor as f32 values (F32, F16, BF16 converted). */
export async function readF32(e: TensorEntry): Promise<Float32Array> {
  const raw = await e.source.read(e.offset, e.byteLength);
  // Copy to an aligned buffer: the typed-array views below need aligned offsets.
  const buf = raw.byteOffset % 4 === 0 ? raw : raw.slice();
  switch (e.dtype) {
    case 'F32':
      return new Float32Array(buf.buffer, buf.byteOffset, e.byteLength / 4).slice();
    case 'F16':
      return f16ArrayToF32(new Uint16Array(buf.buffer, buf.byteOffset, e.byteLength / 2));
    case 'BF16':
      return bf16ArrayToF32(new Uint16Array(buf.buffer, buf.byteOffset, e.byteLength / 2));
    default:
      throw new Error(`${e.source.name}: tensor '${e.name}' is ${e.dtype}; expected a floating-point tensor (F32, F16 or BF16)`);
  }
}

/**
 * Uploads one tensor to the GPU in `dtype`, checking its shape. F16 -> f16 uploads the bytes
 * unchanged; other combinations convert on the CPU one tensor at a time.
 */
export async function uploadWeight(gpu: Gpu, r: WeightReader, name: string, dtype: DType, expectShape?: readonly number[]): Promise<Tensor> {
  const e = r.entry(name);
  if (expectShape && (expectShape.length !== e.shape.length || expectShape.some((d, i) => d !== e.shape[i]))) {
    throw new Error(`${e.source.name}: tensor '${name}' has shape [${e.shape}], expected [${expectShape}]`);
  }
  const t = empty(gpu, e.shape, dtype, name);
  let bytes: Uint8Array;
  if (dtype === 'f16' && e.dtype === 'F16') {
    bytes = await e.source.read(e.offset, e.byteLength);
  } else {
    const f = await readF32(e);
    const out = dtype === 'f32' ? f : f32ArrayToF16(f);
    bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
  if (bytes.byteLength !== numel(e.shape) * (dtype === 'f32' ? 4 : 2)) throw new Error(`${name}: internal size mismatch`);
  gpu.recorder.write(t.buffer, t.offset, bytes);
  return t;
}
