// Reading .npy arrays (numpy's format 1.0–3.0, C order, little-endian floats or unsigned ints),
// as --save_npy writes them and as datasets ship ground truth.
import { f16BitsToF32 } from '../runtime/f16.ts';

export interface NpyArray {
  shape: number[];
  data: Float32Array;
}

const READERS: Record<string, [number, (v: DataView, o: number) => number]> = {
  '<f2': [2, (v, o) => f16BitsToF32(v.getUint16(o, true))],
  '<f4': [4, (v, o) => v.getFloat32(o, true)],
  '<f8': [8, (v, o) => v.getFloat64(o, true)],
  '|u1': [1, (v, o) => v.getUint8(o)],
  '<u2': [2, (v, o) => v.getUint16(o, true)],
};

export function readNpy(bytes: Uint8Array, what: string): NpyArray {
  const fail = (why: string): never => {
    throw new Error(`${what}: ${why}`);
  };
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 12 || !magic.every((b, i) => bytes[i] === b)) fail('not a .npy file (no \\x93NUMPY magic)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  if (major < 1 || major > 3) fail(`.npy format version ${major} is not supported (1 to 3 are)`);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || shapeText === undefined) fail(`unreadable .npy header ${JSON.stringify(header.trim())}`);
  if (/'fortran_order':\s*True/.test(header)) fail('Fortran-order arrays are not supported; save with np.ascontiguousarray');
  const reader = READERS[descr!];
  if (!reader) fail(`dtype '${descr}' is not supported; use float16, float32, float64, uint8 or uint16`);
  const shape = shapeText!.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const [size, read] = reader!;
  const offset = start + headerLen;
  if (bytes.length < offset + count * size) fail(`holds ${bytes.length - offset} data bytes, shape (${shape.join(', ')}) of ${descr} needs ${count * size}`);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = read(view, offset + i * size);
  return { shape, data };
}
