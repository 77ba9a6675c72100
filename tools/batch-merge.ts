// Sharded batch runs: each shard writes <save_path>/shards/<k>-of-<n>.json naming every sample
// it owns and the files that hold its results; `diception batch-merge` checks that every shard
// finished and every file is still there, then writes one <save_path>/results.json.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { ensureWritableDir, writeAtomic } from './image.ts';
import { processStreams, type Streams } from './progress.ts';
import type { Shard } from './shard.ts';

export interface ManifestSample {
  index: number;
  input: string;
  caption: string;
  /** relative to save_path */
  outputs: string[];
}

export interface Manifest {
  format: 'diception-shard/1';
  input: string;
  total: number;
  shard: Shard;
  samples: ManifestSample[];
}

const shardsDir = (savePath: string) => join(savePath, 'shards');
const encode = (v: unknown) => new TextEncoder().encode(`${JSON.stringify(v, null, 2)}\n`);

/** Written last, after every output of the shard exists: its presence means the shard finished. */
export async function writeManifest(savePath: string, input: string, total: number, shard: Shard, samples: { index: number; inputPath: string; caption: string; files: string[] }[]): Promise<string> {
  const manifest: Manifest = {
    format: 'diception-shard/1', input: resolve(input), total, shard,
    samples: samples.map((s) => ({ index: s.index, input: s.inputPath, caption: s.caption, outputs: s.files.map((f) => relative(savePath, f)) })),
  };
  await ensureWritableDir(shardsDir(savePath), '--save_path');
  const path = join(shardsDir(savePath), `${shard.k}-of-${shard.n}.json`);
  await writeAtomic(path, encode(manifest));
  return path;
}

export function registerBatchMerge(program: Command, io: Streams = processStreams): void {
  program
    .command('batch-merge')
    .description('check that every shard of a `batch --shard` run finished and its files exist, then write <save_path>/results.json')
    .option('--save_path <dir>', 'the --save_path every shard used', './batch_results')
    .option('--json', 'print the merged summary as JSON')
    .action((o) => batchMerge(String(o.save_path), Boolean(o.json), io));
}

async function readManifests(savePath: string): Promise<Manifest[]> {
  const dir = shardsDir(savePath);
  let names: string[];
  try {
    names = (await readdir(dir)).filter((f) => /^\d+-of-\d+\.json$/.test(f));
  } catch {
    names = [];
  }
  if (!names.length) throw new Error(`batch-merge: no shard manifests in ${dir} (run \`diception batch --shard ...\` with --save_path ${savePath} first)`);
  return Promise.all(names.map(async (f) => {
    const m = JSON.parse(await readFile(join(dir, f), 'utf8')) as Manifest;
    if (m?.format !== 'diception-shard/1' || !Array.isArray(m.samples)) throw new Error(`batch-merge: ${join(dir, f)} is not a shard manifest`);
    return m;
  }));
}

/** What is missing for a complete run: shards without a manifest, samples no shard owns, deleted files. */
export function missingParts(savePath: string, manifests: Manifest[]): string[] {
  const [first] = manifests;
  for (const m of manifests) {
    if (m.shard.n !== first.shard.n || m.input !== first.input || m.total !== first.total) {
      throw new Error(`batch-merge: shard ${m.shard.k}/${m.shard.n} (${m.input}, ${m.total} samples) and shard ${first.shard.k}/${first.shard.n} (${first.input}, ${first.total} samples) belong to different runs; use one --save_path per run`);
    }
  }
  const missing: string[] = [];
  const have = new Set(manifests.map((m) => m.shard.k));
  for (let k = 0; k < first.shard.n; k++) if (!have.has(k)) missing.push(`shard ${k}/${first.shard.n}: no manifest (not run, or not finished)`);
  const owned = new Set<number>();
  for (const m of manifests) {
    for (const s of m.samples) {
      owned.add(s.index);
      for (const f of s.outputs) if (!existsSync(join(savePath, f))) missing.push(`${f} (sample ${s.index}, shard ${m.shard.k}/${m.shard.n})`);
    }
  }
  const unowned = [...Array(first.total).keys()].filter((i) => !owned.has(i) && have.has(i % first.shard.n));
  if (unowned.length) missing.push(`samples ${unowned.join(', ')}: in no manifest`);
  return missing;
}

export async function batchMerge(savePath: string, json: boolean, io: Streams): Promise<void> {
  const manifests = await readManifests(savePath);
  const missing = missingParts(savePath, manifests);
  if (missing.length) {
    for (const line of missing) io.err(`missing: ${line}\n`);
    throw new Error(`batch-merge: ${missing.length} part(s) missing in ${savePath}; rerun those shards (finished samples are skipped)`);
  }
  const [first] = manifests;
  const samples = manifests.flatMap((m) => m.samples).sort((a, b) => a.index - b.index);
  const results = { input: first.input, total: first.total, shards: first.shard.n, samples };
  const path = join(savePath, 'results.json');
  await writeAtomic(path, encode(results));
  if (json) io.out(`${JSON.stringify({ results: path, shards: first.shard.n, samples: samples.length })}\n`);
  else io.out(`All ${first.shard.n} shards complete: ${samples.length} samples. Results saved to: ${path}\n`);
}
