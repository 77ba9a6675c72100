// readNpy: the dtypes and layouts `evaluate` accepts, and clear errors for the rest.
import { describe, expect, it } from 'vitest';
import { readNpy } from '../../src/model/npy.ts';
import { encodeNpyF16 } from '../../src/model/postprocess.ts';
import { npyBytes } from './npy.ts';

describe('readNpy', () => {
  it('reads float16 (as --save_npy writes), float32, float64, uint8 and uint16, format 1 and 2', () => {
    expect(readNpy(encodeNpyF16(Float32Array.of(0.5, -2, 3), [3]), 'a')).toEqual({ shape: [3], data: Float32Array.of(0.5, -2, 3) });
    expect(readNpy(npyBytes('<f4', [2, 2], [0.25, 1, -1, 7]), 'b')).toEqual({ shape: [2, 2], data: Float32Array.of(0.25, 1, -1, 7) });
    expect(readNpy(npyBytes('<f8', [1, 2], [1.5, 2.5], 2), 'c').data).toEqual(Float32Array.of(1.5, 2.5));
    expect(readNpy(npyBytes('|u1', [2], [3, 255]), 'd').data).toEqual(Float32Array.of(3, 255));
    expect(readNpy(npyBytes('<u2', [2], [3, 65535]), 'e').data).toEqual(Float32Array.of(3, 65535));
  });

  it('names the file and the problem', () => {
    expect(() => readNpy(new Uint8Array(20), 'x.npy')).toThrow(/^x\.npy: not a \.npy file/);
    expect(() => readNpy(npyBytes('<i8', [1], []), 'x.npy')).toThrow(/^x\.npy: dtype '<i8' is not supported/);
    expect(() => readNpy(npyBytes('<f4', [4], [1, 2]), 'x.npy')).toThrow(/^x\.npy: holds 8 data bytes, shape \(4\) of <f4 needs 16/);
    const fortran = npyBytes('<f4', [1], [1]);
    fortran.set(new TextEncoder().encode("'fortran_order': True "), 10 + "{'descr': '<f4', ".length);
    expect(() => readNpy(fortran, 'x.npy')).toThrow(/Fortran-order arrays are not supported/);
  });
});
