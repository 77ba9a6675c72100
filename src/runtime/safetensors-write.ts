// Writing safetensors: the header is computed from names, dtypes and shapes alone, so a
// converter can stream tensor data after it (constant memory) and small files (prompt caches,
// generated test models) can be built in memory.
import { ST_BYTES, type StDType } from './safetensors.ts';

export interface TensorSpec {
  name: string;
  dtype: StDType;
  shape: readonly number[];
}

/** The 8-byte length + JSON header (space-padded to 8 bytes), tensors laid out in the given order. */
export function safetensorsHeader(specs: readonly TensorSpec[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const s of specs) {
    if (Object.hasOwn(header, s.name)) throw new Error(`safetensors: duplicate tensor name '${s.name}'`);
    const bytes = s.shape.reduce((a, b) => a * b, 1) * ST_BYTES[s.dtype];
    header[s.name] = { dtype: s.dtype, shape: s.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20, 8);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}

export interface TensorData extends TensorSpec {
  /** Raw little-endian bytes in `dtype`. */
  data: Uint8Array;
}

/** A whole safetensors file in memory (for small files). */
export function serializeSafetensors(tensors: readonly TensorData[], metadata?: Record<string, string>): Uint8Array {
  const head = safetensorsHeader(tensors, metadata);
  const total = head.length + tensors.reduce((a, t) => a + t.data.byteLength, 0);
  const out = new Uint8Array(total);
  out.set(head, 0);
  let at = head.length;
  for (const t of tensors) {
    const expected = t.shape.reduce((a, b) => a * b, 1) * ST_BYTES[t.dtype];
    if (t.data.byteLength !== expected) throw new Error(`safetensors: '${t.name}' has ${t.data.byteLength} bytes, shape × dtype needs ${expected}`);
    out.set(t.data, at);
    at += t.data.byteLength;
  }
  return out;
}

/** f32 values as safetensors F32 bytes. */
export function f32Bytes(v: Float32Array): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}
