// Test order: vitest's own (failed, then longest, from its cache; a fresh clone has none), except
// that the files known to take many minutes start first, so they overlap the rest of the suite
// instead of running alone at its end.
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** Paths relative to the repository root, longest first. */
const LONG = ['test/serve/real-model.test.ts'];

export class LongFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = LONG.findIndex((p) => f.moduleId.endsWith(`/${p}`));
      return i < 0 ? LONG.length : i;
    };
    return sorted.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map(({ f }) => f);
  }
}
