// `npx tsx bench/versus.ts <ref> [--rounds N] [--out file.json] [--script bench/x.ts] -- <args>`:
// one bench command (`diception bench <args> --out …`), or one script of this checkout's bench/
// (`<script> <args> --out …`, copied into the older tree), on an older commit and on this
// checkout, interleaved in the same minutes.
//
// This machine's speed drifts 2-3× between hours (the same code, the same loop), so a figure
// recorded on another day cannot judge a speed-up. Each round runs both versions, in alternating
// order (ABBA), each in its own process; the older one from a temporary git worktree sharing this
// checkout's node_modules. The JSON keeps every row of every run, tagged with its version and
// round, after per op the medians over rounds and the median of (older ms ÷ this ms): > 1 means
// this checkout is faster.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BenchResult } from './harness.ts';
import { summarize, type VersusRow } from './versus-summary.ts';

const here = resolve(import.meta.dirname, '..');
const git = (...args: string[]) => execFileSync('git', ['-C', here, ...args], { encoding: 'utf8' }).trim();

function parseArgs(argv: string[]) {
  const dash = argv.indexOf('--');
  if (dash < 1) throw new Error('usage: bench/versus.ts <ref> [--rounds N] [--out file.json] [--script bench/x.ts] -- <args>');
  const own = argv.slice(0, dash);
  const flag = (name: string) => {
    const i = own.indexOf(name);
    return i < 0 ? undefined : own[i + 1];
  };
  const rounds = Number(flag('--rounds') ?? 3);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: expected a positive integer, got '${flag('--rounds')}'`);
  const script = flag('--script');
  if (script !== undefined && !/^bench\/[\w.-]+\.ts$/.test(script)) throw new Error(`--script: expected a file of bench/ such as bench/block-profile.ts, got '${script}'`);
  return { ref: own[0], rounds, out: flag('--out'), script, bench: argv.slice(dash + 1) };
}

/** Runs `bench <args> --out <tmp>` (or the script) in `tree` and returns its [header, ...rows]. */
function runBench(tree: string, script: string | undefined, args: string[], tmp: string): [Record<string, unknown>, ...BenchResult[]] {
  const file = join(tmp, 'run.json');
  // A script runs as tools/bin.js runs the CLI: TypeScript through tsx, WGSL imports as text.
  const command = script ? ['--import', 'tsx', '--loader', './tools/wgsl-hook.js', script] : ['tools/bin.js', 'bench'];
  const r = spawnSync(process.execPath, [...command, ...args, '--out', file], { cwd: tree, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`bench in ${tree} exited with ${r.status ?? r.signal}`);
  return JSON.parse(readFileSync(file, 'utf8'));
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  const older = git('rev-parse', '--verify', `${o.ref}^{commit}`);
  const head = git('rev-parse', 'HEAD');
  const tmp = mkdtempSync(join(tmpdir(), 'bench-versus-'));
  const tree = join(tmp, 'older');
  git('worktree', 'add', '--detach', tree, older);
  const started = { date: new Date().toISOString(), loadavg: loadavg() };
  const rows: VersusRow[] = [];
  try {
    symlinkSync(join(here, 'node_modules'), join(tree, 'node_modules'));
    if (o.script) copyFileSync(join(here, o.script), join(tree, o.script));
    for (let round = 0; round < o.rounds; round++) {
      const order = round % 2 === 0 ? (['older', 'this'] as const) : (['this', 'older'] as const);
      for (const version of order) {
        console.error(`round ${round + 1}/${o.rounds}: ${version}`);
        const [, ...got] = runBench(version === 'older' ? tree : here, o.script, o.bench, tmp);
        rows.push(...got.map((row) => ({ ...row, version, round })));
      }
    }
  } finally {
    git('worktree', 'remove', '--force', tree);
    rmSync(tmp, { recursive: true, force: true });
  }
  const summary = summarize(rows, o.rounds);
  const header = {
    date: started.date,
    ended: new Date().toISOString(),
    bench: o.script ? `${o.script} ${o.bench.join(' ')}` : o.bench.join(' '),
    older,
    this: head,
    rounds: o.rounds,
    loadavg_start: started.loadavg.map((x) => Number(x.toFixed(2))),
    loadavg_end: loadavg().map((x) => Number(x.toFixed(2))),
  };
  for (const s of summary) {
    const which = [s.variant, s.shape, s.dtype].filter(Boolean).join(', ');
    console.log(`${s.op} [${which}]: ${s.ratio ?? s.ms_median}${s.per_round ? ` (rounds: ${s.per_round.join(', ')})` : ' ms'}`);
  }
  if (o.out) writeFileSync(o.out, JSON.stringify([header, ...summary, ...rows], null, 1) + '\n');
}

main();
