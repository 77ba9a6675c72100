// Issue 21's acceptance run: `diception conformance <tiny> --only transformer,pipeline --weights q8`
// passes the per-output bounds it states (transformer output ≤ 3e-2), and says which weights were int8.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';
import { Q8_TOLERANCE } from '../../tools/conformance/index.ts';
import { describeFixtures, TINY } from '../helpers.ts';

describeFixtures('conformance --weights q8', () => {
  it('transformer and pipeline goldens pass their q8 bounds', () => {
    const bin = resolve(import.meta.dirname, '../../tools/bin.js');
    const r = spawnSync(process.execPath, [bin, 'conformance', TINY, '--only', 'transformer,pipeline', '--weights', 'q8', '--json'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ weights: 'q8', failed: 0, missing: 0 });
    const rows = Object.fromEntries(report.lines.map((l: { golden: string; tensor: string }) => [`${l.golden}/${l.tensor}`, l]));
    expect(Object.keys(rows).sort()).toEqual(
      ['transformer/output', 'transformer/temb', 'transformer/block0_hidden', 'transformer/block0_context', ...['latents', 'image'].flatMap((t) => [`pipeline/${t}_A`, `pipeline/${t}_B`])].sort(),
    );
    for (const [name, tol] of Object.entries(Q8_TOLERANCE)) expect(rows[name], name).toMatchObject({ status: 'PASS', tol });
    expect(Q8_TOLERANCE['transformer/output']).toBeLessThanOrEqual(3e-2);
    expect(rows['transformer/output'].note).toMatch(/^25 block linears in int8 \(group 64, quantised at load\)/);
  });
});
