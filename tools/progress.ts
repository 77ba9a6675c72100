// What the commands print: a progress bar per pipeline stage on stderr (cli-progress), or
// nothing (--quiet), or one JSON document on stdout at the end (--json) for scripts.
import cliProgress from 'cli-progress';
import type { ProgressFn, StageTiming } from '../src/model/pipeline-types.ts';

export interface Output {
  /** a line for people (suppressed by --quiet and --json) */
  info(line: string): void;
  progress: ProgressFn;
  /** the final summary: printed as JSON with --json, else as `lines` */
  finish(summary: object, lines: string[]): void;
}

/** Where the lines go; tests pass their own. */
export interface Streams {
  out(text: string): void;
  err(text: string): void;
  /** the terminal the bars draw on (stderr when it is one); absent: no bars */
  terminal?: NodeJS.WritableStream;
}

export const processStreams: Streams = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  terminal: process.stderr.isTTY ? process.stderr : undefined,
};

export function makeOutput(mode: { quiet?: boolean; json?: boolean }, io: Streams = processStreams): Output {
  const silent = Boolean(mode.quiet || mode.json);
  const bars = !silent && io.terminal ? new cliProgress.MultiBar(
    { format: '{stage} [{bar}] {value}/{total} | {duration_formatted} | {rate} it/s', hideCursor: true, clearOnComplete: false, stopOnComplete: false, stream: io.terminal },
    cliProgress.Presets.shades_classic,
  ) : undefined;
  const byStage = new Map<string, cliProgress.SingleBar>();
  const started = new Map<string, number>();
  return {
    info(line) {
      if (silent) return;
      if (bars) bars.log(`${line}\n`);
      else io.err(`${line}\n`);
    },
    progress(stage, done, total) {
      if (!bars) return;
      let bar = byStage.get(stage);
      if (!bar) {
        byStage.set(stage, (bar = bars.create(total, 0, { stage: stage.padEnd(8), rate: '-' })));
        started.set(stage, performance.now());
      }
      bar.setTotal(total);
      const secs = (performance.now() - (started.get(stage) ?? performance.now())) / 1000;
      bar.update(done, { rate: secs > 0 ? (done / secs).toFixed(2) : '-' });
    },
    finish(summary, lines) {
      bars?.stop();
      if (mode.json) io.out(`${JSON.stringify(summary, null, 2)}\n`);
      else if (!mode.quiet) for (const l of lines) io.out(`${l}\n`);
    },
  };
}

/** One line per pipeline stage: time and the most GPU memory held during it. */
export function stageSummary(timings: readonly StageTiming[]): string[] {
  const byStage = new Map<string, { ms: number; peak: number }>();
  for (const t of timings) {
    const s = byStage.get(t.stage) ?? { ms: 0, peak: 0 };
    s.ms += t.ms;
    s.peak = Math.max(s.peak, t.peakBytes ?? 0);
    byStage.set(t.stage, s);
  }
  const total = [...byStage.values()].reduce((a, s) => a + s.ms, 0);
  return [
    'stage      time       peak GPU memory',
    ...[...byStage].map(([stage, s]) => `${stage.padEnd(10)} ${(s.ms / 1000).toFixed(2).padStart(7)} s  ${(s.peak / 2 ** 20).toFixed(0).padStart(7)} MiB`),
    `${'total'.padEnd(10)} ${(total / 1000).toFixed(2).padStart(7)} s`,
  ];
}
