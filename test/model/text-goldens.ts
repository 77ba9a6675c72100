// Shared by the text-encoder golden tests: runs the `text_encoders` conformance runner on the
// tiny fixture and checks every output against the golden at the precision's tolerance.
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { setAutotune } from '../../src/kernels/registry.ts';
import type { DeviceOptions } from '../../src/runtime/device.ts';
import { openWeights, readF32, readJson } from '../../src/runtime/weights.ts';
import { TOLERANCE, compare, formatLine } from '../../tools/conformance/index.ts';
import { run, T5_NOTE } from '../../tools/conformance/text_encoders.ts';
import type { GoldenContext, Output, Precision } from '../../tools/conformance/types.ts';
import { describeFixtures, device, TINY } from '../helpers.ts';

// Autotuning times every matmul variant on every new shape (minutes under load for these many
// tiny shapes); the first supported variant keeps the tests fast and deterministic.
setAutotune(false);

export function describeTextGoldens(name: string, precision: Precision, opts: DeviceOptions = {}): void {
  describeFixtures(`text encoders vs upstream goldens (tiny, ${name})`, () => {
    let outputs: Output[];
    let ctx: GoldenContext;
    beforeAll(async () => {
      const manifest = await readJson<{ goldens: Record<string, GoldenContext['manifest']> }>(join(TINY, 'golden/manifest.json'));
      const gpu = await device(opts);
      ctx = { dir: TINY, gpu, precision, manifest: manifest.goldens.text_encoders, golden: await openWeights(join(TINY, 'golden/text_encoders.safetensors')) };
      outputs = await run(ctx);
    });
    afterAll(() => ctx?.golden?.close?.());

    it('covers every golden tensor of text_encoders', () => {
      expect(outputs.map((o) => o.tensor).sort()).toEqual(Object.keys(ctx.manifest.tensors!).sort());
    });

    it('marks the T5 rows as run on synthetic ids, in the printed line too', () => {
      expect(outputs.filter((o) => o.note === T5_NOTE).map((o) => o.tensor).sort()).toEqual(['t5_input_ids', 't5_last_hidden']);
      expect(formatLine({ golden: 'text_encoders', tensor: 't5_input_ids', status: 'PASS', max_abs: 0, rel_l2: 0, tol: 0, note: T5_NOTE })).toMatch(/PASS {2}t5 ids: synthetic \(no upstream vocabulary\)$/);
    });

    it(`every tensor within rel_l2 ${TOLERANCE[precision]} (ids exact)`, async () => {
      const failures: string[] = [];
      for (const o of outputs) {
        const expected = o.expected ?? (await readF32(ctx.golden!.entry(o.tensor)));
        const c = compare(o.ours, expected);
        const ok = o.exact ? c.max_abs === 0 : c.rel_l2 <= TOLERANCE[precision];
        if (!ok) failures.push(`${o.tensor}: rel_l2 ${c.rel_l2.toExponential(3)}, max_abs ${c.max_abs.toExponential(3)}`);
      }
      expect(failures).toEqual([]);
    });
  });
}
