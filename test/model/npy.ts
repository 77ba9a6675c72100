// Reads back the .npy files the commands write (format 1.0, '<f2'), checking the header.
import { f16BitsToF32 } from '../../src/runtime/f16.ts';

export interface Npy {
  header: string;
  dataOffset: number;
  shape: number[];
  values: Float32Array;
}

export function parseNpy(bytes: Uint8Array): Npy {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (!magic.every((b, i) => bytes[i] === b)) throw new Error('not a .npy file (bad magic)');
  if (bytes[6] !== 1 || bytes[7] !== 0) throw new Error(`npy version ${bytes[6]}.${bytes[7]}, expected 1.0`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = view.getUint16(8, true);
  const header = new TextDecoder().decode(bytes.subarray(10, 10 + len));
  const m = /'descr': '<f2', 'fortran_order': False, 'shape': \(([\d, ]*)\)/.exec(header);
  if (!m) throw new Error(`unexpected npy header: ${header}`);
  const shape = m[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const dataOffset = 10 + len;
  const count = shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== dataOffset + 2 * count) throw new Error(`npy holds ${bytes.length - dataOffset} data bytes, shape needs ${2 * count}`);
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = f16BitsToF32(view.getUint16(dataOffset + 2 * i, true));
  return { header, dataOffset, shape, values };
}
