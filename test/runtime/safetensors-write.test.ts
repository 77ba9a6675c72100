import { expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/runtime/safetensors.ts';
import { f32Bytes, serializeSafetensors } from '../../src/runtime/safetensors-write.ts';
import { MemorySource } from '../../src/runtime/source.ts';
import { readF32, safetensorsReader } from '../../src/runtime/weights.ts';

it('round-trips tensors through the writer and the reader', async () => {
  const a = Float32Array.from([1, -2.5, 3e-8, 4]);
  const b = new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 0x00, 0x00]); // f16 1, -2, 0
  const bytes = serializeSafetensors(
    [
      { name: 'a', dtype: 'F32', shape: [2, 2], data: f32Bytes(a) },
      { name: 'b.half', dtype: 'F16', shape: [3], data: b },
    ],
    { format: 'pt' },
  );
  const f = await SafetensorsFile.open(new MemorySource('mem', bytes));
  expect(f.metadata).toEqual({ format: 'pt' });
  const r = safetensorsReader(f);
  expect(Array.from(await readF32(r.entry('a')))).toEqual(Array.from(a));
  expect(Array.from(await readF32(r.entry('b.half')))).toEqual([1, -2, 0]);
  expect(() => serializeSafetensors([{ name: 'x', dtype: 'F32', shape: [3], data: new Uint8Array(8) }])).toThrow(/'x' has 8 bytes/);
});
