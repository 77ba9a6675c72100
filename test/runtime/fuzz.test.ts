// The fuzzer (tools/fuzz.ts) in CI: every input format the engine parses, damaged 200 ways
// each, must be read or refused with a clear Error, each case within its time limit.
import { describe, expect, it } from 'vitest';
import { classify } from '../../tools/fuzz/case.ts';
import { FORMATS } from '../../tools/fuzz/formats.ts';
import { fuzz } from '../../tools/fuzz.ts';

describe('fuzzing every input format', () => {
  it(`${FORMATS.length * 200} cases: no crash, no hang`, { timeout: 300_000 }, async () => {
    const s = await fuzz({ cases: FORMATS.length * 200, seed: 1 });
    expect(s.failures, JSON.stringify(s.failures, null, 1)).toEqual([]);
    expect([s.crashes, s.hangs, s.cases]).toEqual([0, 0, FORMATS.length * 200]);
    // Each format must see both outcomes, or the mutations are not reaching its checks (or
    // every damaged file is refused before the interesting code runs).
    for (const [name, t] of Object.entries(s.by_format)) {
      expect(t.refused, name).toBeGreaterThan(10);
      expect(t.ok, name).toBeGreaterThan(0);
    }
  });

  it('classifies by the documented rule', () => {
    expect(classify(new Error('x.pth: not a valid zip archive')).outcome).toBe('refused');
    class ProjectError extends Error {}
    expect(classify(new ProjectError('clear')).outcome).toBe('refused');
    for (const e of [new TypeError("Cannot read properties of undefined (reading 'x')"), new RangeError('Invalid typed array length: -1'), new SyntaxError('Unexpected token'), 'a string', new Error('')]) {
      expect(classify(e).outcome, String(e)).toBe('crash');
    }
  });

  it('a case that does not answer in time is a hang, and the next case gets a fresh worker', { timeout: 60_000 }, async () => {
    const s = await fuzz({ cases: 2, seed: 1, timeoutMs: 1 });
    expect(s.hangs).toBe(2);
    expect(s.failures.map((f) => [f.index, f.outcome])).toEqual([[0, 'hang'], [1, 'hang']]);
  });
});
