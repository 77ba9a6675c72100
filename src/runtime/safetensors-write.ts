// Our safetensors writer (the reader is safetensors.ts): the file as a list of byte chunks —
// header, then each tensor's bytes — so a caller streams it to disk or a Blob without one
// large copy. The header is space-padded to 8 bytes so tensor data stays aligned.
import { ST_BYTES, type StDType } from './safetensors.ts';

export interface TensorToWrite {
  name: string;
  dtype: Extract<StDType, 'F32' | 'F16' | 'I32'>;
  shape: readonly number[];
  /** F32: Float32Array; F16: raw half bits; I32: Int32Array. */
  data: Float32Array | Uint16Array | Int32Array;
}

export function encodeSafetensors(tensors: readonly TensorToWrite[], metadata: Record<string, string> = {}): Uint8Array[] {
  const header: Record<string, unknown> = Object.keys(metadata).length ? { __metadata__: metadata } : {};
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__' || t.name in header) throw new Error(`encodeSafetensors: duplicate or reserved tensor name '${t.name}'`);
    const bytes = t.shape.reduce((a, b) => a * b, 1) * ST_BYTES[t.dtype];
    if (t.data.byteLength !== bytes) {
      throw new Error(`encodeSafetensors: tensor '${t.name}' has ${t.data.byteLength} bytes of data, but [${t.shape}] × ${t.dtype} needs ${bytes}`);
    }
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    chunks.push(new Uint8Array(t.data.buffer, t.data.byteOffset, bytes));
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((new TextEncoder().encode(json).byteLength) % 8)) % 8);
  const jsonBytes = new TextEncoder().encode(json);
  const head = new Uint8Array(8 + jsonBytes.byteLength);
  new DataView(head.buffer).setBigUint64(0, BigInt(jsonBytes.byteLength), true);
  head.set(jsonBytes, 8);
  return [head, ...chunks];
}
