// Which part of a batch list this process runs: `--shard k/n` by hand, or `--shard auto` from
// the scheduler that started it (Kubernetes Indexed Jobs, Slurm job arrays), so one manifest
// can launch every shard unchanged.

export interface Shard {
  k: number;
  n: number;
}

/** `k/n` with 0 <= k < n. */
export function parseShard(spec: string | undefined): Shard {
  if (spec === undefined) return { k: 0, n: 1 };
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(spec);
  const k = Number(m?.[1]);
  const n = Number(m?.[2]);
  if (!m || n < 1 || k >= n) throw new Error(`--shard: '${spec}' is not k/n with 0 <= k < n, e.g. 0/4 ... 3/4, or auto`);
  return { k, n };
}

type Env = Record<string, string | undefined>;

function whole(env: Env, name: string, min = 0): number {
  const text = env[name] ?? '';
  if (!/^\s*\d+\s*$/.test(text) || Number(text) < min) throw new Error(`--shard auto: ${name}='${text}' is not a whole number >= ${min}`);
  return Number(text);
}

/**
 * `--shard` as given, or for `auto` from the environment:
 * - Slurm arrays: k = SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN, n = SLURM_ARRAY_TASK_COUNT
 *   (an array must be contiguous with step 1, e.g. --array=0-3 or 1-4);
 * - Kubernetes Indexed Jobs: k = JOB_COMPLETION_INDEX, n = `shards` (--shards / DICEPTION_SHARDS,
 *   since Kubernetes does not tell a pod the completion count).
 */
export function resolveShard(spec: string | undefined, shards: string | undefined, env: Env = process.env): Shard & { source: string } {
  if (spec !== 'auto') {
    if (shards !== undefined) throw new Error('--shards goes with --shard auto (with --shard k/n, n is the count)');
    return { ...parseShard(spec), source: spec === undefined ? 'all' : '--shard' };
  }
  let shard: Shard & { source: string };
  if (env.SLURM_ARRAY_TASK_ID !== undefined) {
    const min = env.SLURM_ARRAY_TASK_MIN === undefined ? 0 : whole(env, 'SLURM_ARRAY_TASK_MIN');
    const n = shards === undefined ? whole(env, 'SLURM_ARRAY_TASK_COUNT', 1) : count(shards);
    shard = { k: whole(env, 'SLURM_ARRAY_TASK_ID') - min, n, source: 'Slurm array' };
  } else if (env.JOB_COMPLETION_INDEX !== undefined) {
    if (shards === undefined) throw new Error('--shard auto: JOB_COMPLETION_INDEX is set but not the shard count; give --shards N (the Job\'s completions) or DICEPTION_SHARDS');
    shard = { k: whole(env, 'JOB_COMPLETION_INDEX'), n: count(shards), source: 'Kubernetes Indexed Job' };
  } else {
    throw new Error('--shard auto: no scheduler found (neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set); give --shard k/n');
  }
  if (shard.k < 0 || shard.k >= shard.n) throw new Error(`--shard auto (${shard.source}): shard ${shard.k} is outside 0..${shard.n - 1}; the array must be contiguous with step 1`);
  return shard;
}

function count(text: string): number {
  if (!/^\s*\d+\s*$/.test(text) || Number(text) < 1) throw new Error(`--shards: '${text}' is not a whole number >= 1`);
  return Number(text);
}
