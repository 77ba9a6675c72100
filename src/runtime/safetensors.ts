// Our own safetensors reader: an 8-byte little-endian header length, a JSON header mapping
// names to {dtype, shape, data_offsets} relative to the end of the header, then raw data.
// The header is validated in full before any tensor is read; tensors are read lazily, one at
// a time, by positional reads.
import type { ByteSource } from './source.ts';

export type StDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const ST_BYTES: Record<StDType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** Headers above this are refused (real ones are well under 1 MiB even for T5-XXL shards). */
const MAX_HEADER = 100 * 2 ** 20;

export interface TensorEntry {
  name: string;
  dtype: StDType;
  shape: number[];
  /** Absolute byte offset of the tensor's data in the source. */
  offset: number;
  byteLength: number;
  source: ByteSource;
}

export class SafetensorsFile {
  private constructor(
    readonly source: ByteSource,
    readonly entries: Map<string, TensorEntry>,
    readonly metadata: Record<string, string>,
  ) {}

  static async open(source: ByteSource): Promise<SafetensorsFile> {
    const file = source.name;
    const bad = (what: string) => new Error(`${file}: not a valid safetensors file: ${what}`);
    if (source.size < 8) throw bad(`only ${source.size} bytes (a header length needs 8)`);
    const lenBytes = await source.read(0, 8);
    const len = Number(new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true));
    if (len < 2 || len > MAX_HEADER) throw bad(`header length ${len} is outside 2..${MAX_HEADER} bytes`);
    if (8 + len > source.size) throw bad(`header of ${len} bytes runs past the end of the file (${source.size} bytes): truncated`);
    let header: unknown;
    try {
      header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await source.read(8, len)));
    } catch (e) {
      throw bad(`header is not well-formed JSON (${(e as Error).message})`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad('header is not a JSON object');
    const dataStart = 8 + len;
    const dataSize = source.size - dataStart;
    const entries = new Map<string, TensorEntry>();
    let metadata: Record<string, string> = {};
    for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') {
        if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || !Object.values(raw).every((v) => typeof v === 'string')) {
          throw bad('__metadata__ is not an object of strings');
        }
        metadata = raw as Record<string, string>;
        continue;
      }
      const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const where = `tensor '${name}'`;
      if (typeof t !== 'object' || t === null || Array.isArray(t)) throw bad(`${where} is not an object`);
      // hasOwn, not `in`: 'toString' is not a dtype.
      if (typeof t.dtype !== 'string' || !Object.hasOwn(ST_BYTES, t.dtype)) throw bad(`${where} has unknown dtype ${JSON.stringify(t.dtype)}`);
      if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw bad(`${where} has an invalid shape ${JSON.stringify(t.shape)}`);
      }
      const off = t.data_offsets;
      if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[1] < off[0]) {
        throw bad(`${where} has invalid data_offsets ${JSON.stringify(off)}`);
      }
      const dtype = t.dtype as StDType;
      const shape = t.shape as number[];
      const expected = shape.reduce((a, b) => a * b, 1) * ST_BYTES[dtype];
      if (off[1] - off[0] !== expected) {
        throw bad(`${where}: shape [${shape}] × ${dtype} is ${expected} bytes but data_offsets span ${off[1] - off[0]}`);
      }
      if (off[1] > dataSize) {
        throw bad(`${where}: data ends at byte ${off[1]} of the data section, but only ${dataSize} bytes follow the header: truncated`);
      }
      entries.set(name, { name, dtype, shape, offset: dataStart + off[0], byteLength: expected, source });
    }
    // Tensors must tile the data section without overlap.
    const sorted = [...entries.values()].sort((a, b) => a.offset - b.offset);
    let end = dataStart;
    let prev = 'the start of the data';
    for (const e of sorted) {
      if (e.offset < end) throw bad(`tensor '${e.name}' overlaps ${prev} (starts at data byte ${e.offset - dataStart}, before byte ${end - dataStart})`);
      if (e.offset > end) throw bad(`gap of ${e.offset - end} bytes between ${prev} and tensor '${e.name}'`);
      end = e.offset + e.byteLength;
      prev = `tensor '${e.name}'`;
    }
    if (end !== source.size) throw bad(`${source.size - end} unexplained bytes after the last tensor`);
    return new SafetensorsFile(source, entries, metadata);
  }
}
