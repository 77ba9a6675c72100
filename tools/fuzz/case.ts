// One fuzz case: which format, its damaged files (from the case's seed), and how the engine's
// answer is classified.
//
// The rule: the engine must either accept the input (ok) or refuse it with a clear error
// (refused): an Error whose class is Error itself or one the project defines, with a message.
// Anything else is a crash: a thrown non-Error, an Error of a built-in engine class (TypeError,
// RangeError, SyntaxError, ReferenceError, ...: these come from code that met a value it did not
// check, e.g. "Cannot read properties of undefined" or "Invalid typed array length", never from a
// deliberate check), stack overflow, out-of-memory (the worker dies). A case that does not answer
// within the time limit is a hang.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FORMATS, type Format } from './formats.ts';
import { Mutator } from './mutator.ts';

export type Outcome = 'ok' | 'refused' | 'crash' | 'hang';

export interface CaseResult {
  index: number;
  format: string;
  outcome: Outcome;
  /** The error's first line (refused, crash). */
  message?: string;
}

const ENGINE_ERRORS: readonly (new () => Error)[] = [TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError];

/** The format of case `index` (round robin, so every format gets its share). */
export function formatOf(index: number): Format {
  return FORMATS[index % FORMATS.length];
}

/** The mutation seed of case `index` in a run seeded `seed`. */
export function caseSeed(seed: number, index: number): number {
  return (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
}

export function classify(e: unknown): { outcome: 'refused' | 'crash'; message: string } {
  if (!(e instanceof Error)) return { outcome: 'crash', message: `non-Error thrown: ${String(e)}` };
  const message = `${e.name}: ${e.message.split('\n')[0]}`;
  if (ENGINE_ERRORS.some((c) => e.constructor === c)) return { outcome: 'crash', message };
  if (!e.message) return { outcome: 'crash', message: `${e.name} with no message` };
  return { outcome: 'refused', message };
}

/** Writes case `index`'s files under `dir` (emptied first) and runs its format's reader there. */
export async function runCase(dir: string, seed: number, index: number): Promise<CaseResult> {
  const format = formatOf(index);
  await rm(dir, { recursive: true, force: true });
  const files = format.make(new Mutator(caseSeed(seed, index)));
  for (const [name, data] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), data);
  }
  try {
    await format.run((name) => join(dir, name));
    return { index, format: format.name, outcome: 'ok' };
  } catch (e) {
    return { index, format: format.name, ...classify(e) };
  }
}
