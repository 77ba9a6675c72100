// Runs one golden through the conformance command and fails listing every non-passing tensor.
import { expect } from 'vitest';
import { conformance, formatLine } from '../../tools/conformance/index.ts';
import { TINY } from '../helpers.ts';

/** The precisions every model golden is checked in; f16-packed = f16 weights on an adapter without shader-f16. */
export const MODEL_PRECISIONS = [
  { name: 'f32', precision: 'f32', device: {} },
  { name: 'f16', precision: 'f16', device: {} },
  { name: 'f16-packed (no shader-f16)', precision: 'f16', device: { disableF16: true } },
] as const;

export async function expectGoldenPasses(golden: string, p: (typeof MODEL_PRECISIONS)[number], tensors: string[]): Promise<void> {
  const lines = await conformance(TINY, { only: [golden], precision: p.precision, device: p.device });
  expect(lines.filter((l) => l.status !== 'PASS').map(formatLine)).toEqual([]);
  expect(lines.map((l) => l.tensor).sort()).toEqual([...tensors].sort());
}
