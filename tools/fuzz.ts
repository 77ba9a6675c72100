// `diception fuzz [--cases N] [--seed S] [--case I] [--json]`: damages every input format the
// engine parses (tools/fuzz/formats.ts) and runs each case in a worker thread under a time limit;
// a case that neither works nor fails with a clear error (tools/fuzz/case.ts) is a crash, one
// that does not answer is a hang. Ends with one JSON line; a crash or hang exits 1.
import { rm } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type { Command } from 'commander';
import { formatOf, type CaseResult, type Outcome } from './fuzz/case.ts';
import { FORMATS } from './fuzz/formats.ts';

export interface FuzzOptions {
  cases: number;
  seed: number;
  /** Runs only this case (a replay). */
  only?: number;
  /** Per-case limit. */
  timeoutMs?: number;
  /** Heap limit of the worker: a parser that allocates without bound dies here, not the machine. */
  heapMb?: number;
  onResult?: (r: CaseResult) => void;
}

type Tally = Record<'ok' | 'refused' | 'crashes' | 'hangs', number>;

export interface FuzzSummary extends Tally {
  cases: number;
  seed: number;
  by_format: Record<string, Tally>;
  /** Every crash and hang (capped at 50), each replayable with --seed and --case. */
  failures: CaseResult[];
}

const KEY: Record<Outcome, keyof Tally> = { ok: 'ok', refused: 'refused', crash: 'crashes', hang: 'hangs' };
const zero = (): Tally => ({ ok: 0, refused: 0, crashes: 0, hangs: 0 });

/** A worker thread that has said it is ready, with a way to ask it for one case. */
class CaseWorker {
  private constructor(
    private readonly worker: Worker,
    private readonly root: string,
  ) {}

  static start(seed: number, heapMb: number): Promise<CaseWorker> {
    const worker = new Worker(new URL('./fuzz/worker.js', import.meta.url), { workerData: { seed }, resourceLimits: { maxOldGenerationSizeMb: heapMb } });
    return new Promise((resolve, reject) => {
      worker.once('message', (m: { ready: string }) => resolve(new CaseWorker(worker, m.ready)));
      worker.once('error', reject);
    });
  }

  /** The case's result; a crash when the worker dies, a hang when it does not answer in time. */
  run(index: number, timeoutMs: number): Promise<CaseResult> {
    const format = formatOf(index).name;
    return new Promise((resolve) => {
      const done = (r: CaseResult) => {
        clearTimeout(timer);
        this.worker.removeAllListeners('message').removeAllListeners('error').removeAllListeners('exit');
        resolve(r);
      };
      const timer = setTimeout(() => done({ index, format, outcome: 'hang', message: `no answer in ${timeoutMs} ms` }), timeoutMs);
      this.worker.once('message', done);
      // Out of memory, a native failure: the worker is gone.
      this.worker.once('error', (e: Error) => done({ index, format, outcome: 'crash', message: `worker died: ${e.name}: ${e.message}` }));
      this.worker.once('exit', (code) => done({ index, format, outcome: 'crash', message: `worker exited with code ${code}` }));
      this.worker.postMessage(index);
    });
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
    await rm(this.root, { recursive: true, force: true });
  }
}

export async function fuzz(o: FuzzOptions): Promise<FuzzSummary> {
  const timeoutMs = o.timeoutMs ?? 2000;
  const heapMb = o.heapMb ?? 1024;
  const summary: FuzzSummary = { cases: 0, ...zero(), seed: o.seed, by_format: Object.fromEntries(FORMATS.map((f) => [f.name, zero()])), failures: [] };
  const indices = o.only !== undefined ? [o.only] : Array.from({ length: o.cases }, (_, i) => i);
  let worker = await CaseWorker.start(o.seed, heapMb);
  try {
    for (const i of indices) {
      const r = await worker.run(i, timeoutMs);
      if (r.outcome === 'hang' || r.outcome === 'crash') {
        // A hung or dead worker is replaced; its temp folder goes with it.
        await worker.stop();
        worker = await CaseWorker.start(o.seed, heapMb);
        if (summary.failures.length < 50) summary.failures.push(r);
      }
      summary.cases++;
      summary[KEY[r.outcome]]++;
      summary.by_format[r.format][KEY[r.outcome]]++;
      o.onResult?.(r);
    }
  } finally {
    await worker.stop();
  }
  return summary;
}

function count(value: string, flag: string, min: number): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${flag}: expected an integer ≥ ${min}, got '${value}'`);
  return n;
}

export function registerFuzz(program: Command): void {
  program
    .command('fuzz')
    .description('damage every input format the engine parses and check each is read or refused with a clear error')
    .option('--cases <n>', 'number of cases', '2000')
    .option('--seed <s>', 'seed of the run (a crash prints the seed and case to replay it)', '1')
    .option('--case <i>', 'run only case i of the seeded run (a replay)')
    .option('--timeout <ms>', 'per-case time limit', '2000')
    .option('--json', 'print only the final JSON line')
    .action(async (o: { cases: string; seed: string; case?: string; timeout: string; json?: boolean }) => {
      const seed = count(o.seed, '--seed', 0);
      const s = await fuzz({
        cases: count(o.cases, '--cases', 1),
        seed,
        only: o.case === undefined ? undefined : count(o.case, '--case', 0),
        timeoutMs: count(o.timeout, '--timeout', 1),
        onResult: (r) => {
          if (r.outcome === 'crash' || r.outcome === 'hang') {
            console.error(`fuzz: ${r.outcome} in case ${r.index} (${r.format}): ${r.message}; replay: diception fuzz --seed ${seed} --case ${r.index}`);
          }
        },
      });
      const { failures, ...line } = s;
      console.log(JSON.stringify(o.json ? s : line));
      if (s.crashes || s.hangs) process.exitCode = 1;
    });
}
