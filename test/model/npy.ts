// Reads back the .npy files the commands write (format 1.0, '<f2'), checking the header; writes
// .npy files of other dtypes as numpy does, for the readers' tests.
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

/** A .npy file as numpy writes it (format `version`, little-endian `descr`). */
export function npyBytes(descr: string, shape: number[], values: ArrayLike<number>, version = 1): Uint8Array {
  const header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }\n`;
  const pre = version === 1 ? 10 : 12;
  const size = Number(descr.slice(2));
  const out = new Uint8Array(pre + header.length + values.length * size);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[pre + i] = header.charCodeAt(i);
  for (let i = 0; i < values.length; i++) {
    const o = pre + header.length + i * size;
    if (descr === '<f4') view.setFloat32(o, values[i], true);
    else if (descr === '<f8') view.setFloat64(o, values[i], true);
    else if (descr === '<u2') view.setUint16(o, values[i], true);
    else view.setUint8(o, values[i]);
  }
  return out;
}
