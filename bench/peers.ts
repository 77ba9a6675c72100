// `npm run bench -- peers [--quick]`: the same matmul, conv and attention work on the same
// adapter, in one process, by our kernels and by TensorFlow.js's WebGPU backend (4.22); and by
// numpy on the CPU where python3 has it. Peer rows carry `ratio` = our speed ÷ the peer's (ours
// and TF.js timed in the same shuffled rounds; numpy in its own process, after).
// All f32 (what tfjs computes in). tfjs gets its own device on the same adapter through
// navigator.gpu, which must exist before tfjs is imported.
import { spawnSync } from 'node:child_process';
import { attention } from '../src/kernels/attention.ts';
import { conv2d, disposeConv2d, prepareConv2d } from '../src/kernels/conv2d.ts';
import { linear } from '../src/kernels/matmul.ts';
import type { Gpu } from '../src/runtime/device.ts';
import { platform } from '../src/runtime/platform.ts';
import { Rng } from '../src/runtime/random.ts';
import { fromArray, type Tensor } from '../src/runtime/tensor.ts';
import { interleavedRounds, MIN_ROUNDS, ratioCI } from '../src/kernels/timing-stats.ts';
import { flopsRow, round, timeOnce, timingOf, type BenchResult, type Timing } from './harness.ts';
import { roofline } from './roofline.ts';
import type { BenchOptions } from './run.ts';

type Tf = typeof import('@tensorflow/tfjs-core');
type TfTensor = import('@tensorflow/tfjs-core').Tensor;

interface Case {
  op: string;
  shape: string;
  flops: number;
  /** Our op on fresh inputs; returns a run function and a cleanup. */
  ours(gpu: Gpu): { run: () => Promise<Tensor>; done: () => void };
  tfjs(tf: Tf): { run: () => TfTensor; done: () => void };
  /** numpy expression over arrays the script makes (see numpyRows), or undefined. */
  numpy?: { setup: string; expr: string };
}

const uniform = (n: number, seed: number) => new Rng(seed).uniformArray(n, -1, 1);

function matmulCase(label: string, M: number, N: number, K: number): Case {
  return {
    op: `linear (${label})`,
    shape: `${M}x${N}x${K}`,
    flops: 2 * M * N * K,
    ours: (gpu) => {
      const x = fromArray(gpu, uniform(M * K, 1), [M, K]);
      const w = fromArray(gpu, uniform(N * K, 2), [N, K]);
      return { run: () => linear(gpu, x, w), done: () => [x, w].forEach((t) => t.dispose()) };
    },
    tfjs: (tf) => {
      const x = tf.tensor2d(uniform(M * K, 1), [M, K]);
      const w = tf.tensor2d(uniform(N * K, 2), [N, K]);
      return { run: () => tf.matMul(x, w, false, true), done: () => tf.dispose([x, w]) };
    },
    numpy: { setup: `x = r.random((${M}, ${K}), dtype=np.float32); w = r.random((${N}, ${K}), dtype=np.float32)`, expr: 'x @ w.T' },
  };
}

function convCase(side: number, c: number): Case {
  return {
    op: 'conv2d 3x3 (VAE decoder)',
    shape: `1x${side}x${side}x${c}->${c}`,
    flops: 2 * side * side * c * c * 9,
    ours: (gpu) => {
      const w = prepareConv2d(gpu, uniform(c * c * 9, 3), [c, c, 3, 3], new Float32Array(c), 'f32');
      const x = fromArray(gpu, uniform(side * side * c, 4), [1, side, side, c]);
      return { run: () => conv2d(gpu, x, w), done: () => (disposeConv2d(w), x.dispose()) };
    },
    tfjs: (tf) => {
      const w = tf.tensor4d(uniform(9 * c * c, 3), [3, 3, c, c]);
      const b = tf.zeros([c]) as import('@tensorflow/tfjs-core').Tensor1D;
      const x = tf.tensor4d(uniform(side * side * c, 4), [1, side, side, c]);
      // fused conv+bias, as ours has the bias fused.
      return { run: () => tf.fused.conv2d({ x, filter: w, strides: 1, pad: 'same', bias: b }), done: () => tf.dispose([w, b, x]) };
    },
  };
}

function attentionCase(T: number, H: number, D: number): Case {
  const scale = 1 / Math.sqrt(D);
  return {
    op: 'attention (MMDiT heads)',
    shape: `B1 T${T} H${H}x${D}`,
    flops: 4 * H * T * T * D,
    ours: (gpu) => {
      const [q, k, v] = [5, 6, 7].map((s) => fromArray(gpu, uniform(T * H * D, s), [1, T, H * D]));
      return { run: () => attention(gpu, q, k, v, { heads: H }), done: () => [q, k, v].forEach((t) => t.dispose()) };
    },
    // tfjs has no fused attention: scores, softmax, weighted sum over head-major [H, T, D].
    tfjs: (tf) => {
      const [q, k, v] = [5, 6, 7].map((s) => tf.transpose(tf.tensor3d(uniform(T * H * D, s), [T, H, D]), [1, 0, 2]));
      const run = () => tf.tidy(() => tf.matMul(tf.softmax(tf.mul(tf.matMul(q, k, false, true), scale)), v));
      return { run, done: () => tf.dispose([q, k, v]) };
    },
    numpy: {
      setup: `q, k, v = (r.random((${H}, ${T}, ${D}), dtype=np.float32) for _ in range(3))`,
      expr: `(lambda s: (lambda e: (e / e.sum(-1, keepdims=True)) @ v)(np.exp(s - s.max(-1, keepdims=True))))((q @ k.transpose(0, 2, 1)) * ${scale})`,
    },
  };
}

function cases(quick: boolean): Case[] {
  return quick
    ? [matmulCase('cube', 512, 512, 512), matmulCase('DICEPTION qkv, 1/4 of the image tokens', 576, 1536, 1536), convCase(48, 128), attentionCase(512, 4, 64)]
    : [matmulCase('cube', 1024, 1024, 1024), matmulCase('DICEPTION qkv, image tokens', 2304, 1536, 1536), convCase(96, 128), attentionCase(1024, 4, 64)];
}

/** TensorFlow.js on its WebGPU backend, on the adapter our platform exposes. */
async function loadTfjs(gpu: Gpu): Promise<{ tf: Tf; wait: () => Promise<void> }> {
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: platform().gpu() }, configurable: true, writable: true });
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('bench peers: the tfjs WebGPU backend did not initialise on this adapter');
  await tf.ready();
  const backend = tf.backend() as unknown as { commandEncoder: GPUCommandEncoder | null; endComputePassEncoder(): void; submitQueue(): void; device: GPUDevice };
  return {
    tf,
    // What tfjs does before a read: close the open compute pass, submit the batch. Then the wait
    // ours uses (settle: no busy polling in Node), so that the rounds compare the kernels.
    wait: async () => {
      if (backend.commandEncoder) {
        backend.endComputePassEncoder();
        backend.submitQueue();
      }
      await gpu.settle(backend.device.queue.onSubmittedWorkDone());
    },
  };
}

/** numpy's median ms per case (undefined where python3 or numpy is missing), and its BLAS. */
function numpyTimes(list: Case[]): { ms: (number | undefined)[]; blas: string } | { error: string } {
  const script = [
    'import json, time, numpy as np',
    'r = np.random.default_rng(1)',
    'def med(f):',
    '  f(); ts = []',
    '  for _ in range(5):',
    '    t0 = time.perf_counter(); f(); ts.append((time.perf_counter() - t0) * 1e3)',
    '  return sorted(ts)[2]',
    'out = []',
    ...list.map((c) => (c.numpy ? `${c.numpy.setup}\nout.append(med(lambda: ${c.numpy.expr}))` : 'out.append(None)')),
    'try:\n  blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]\nexcept Exception:\n  blas = "unknown BLAS"',
    'print(json.dumps({"ms": out, "blas": blas}))',
  ].join('\n');
  const p = spawnSync('python3', ['-c', script], { encoding: 'utf8', timeout: 120_000 });
  if (p.status !== 0) return { error: p.error?.message ?? p.stderr.trim().split('\n').pop() ?? `python3 exited ${p.status}` };
  const r = JSON.parse(p.stdout) as { ms: (number | null)[]; blas: string };
  return { ms: r.ms.map((m) => m ?? undefined), blas: r.blas };
}

export async function benchPeers(gpu: Gpu, o: BenchOptions): Promise<BenchResult[]> {
  const list = cases(Boolean(o.quick));
  const peak = (await roofline(gpu)).gflops;
  const { tf, wait } = await loadTfjs(gpu);
  const results: BenchResult[] = [];
  const row = (c: Case, variant: string, t: Timing, extra: Partial<BenchResult> = {}): BenchResult => {
    return { ...flopsRow(gpu, { op: c.op, variant, shape: c.shape, dtype: 'f32' }, t, c.flops, peak), ...extra };
  };
  const oursMs: number[] = [];
  for (const c of list) {
    // Ours and TF.js alternate in shuffled rounds: the ratio is the median of per-round ratios,
    // so a slowdown of the shared machine that hits a whole round cancels out.
    const ours = c.ours(gpu);
    const peer = c.tfjs(tf);
    let last: TfTensor | undefined;
    const runs = [
      () => timeOnce(async () => (await ours.run()).dispose(), () => gpu.sync('bench')),
      () =>
        timeOnce(async () => {
          last?.dispose();
          last = peer.run();
        }, wait),
    ];
    const [mine, theirs] = await interleavedRounds(2, (i) => runs[i](), { rounds: MIN_ROUNDS, warmup: 1 });
    last?.dispose();
    ours.done();
    peer.done();
    const t = timingOf(mine);
    oursMs.push(t.median);
    results.push(row(c, 'ours', t));
    // Peer time ÷ our time per round = our speed ÷ the peer's.
    const r = ratioCI(mine, theirs);
    const ci = `${round(r.lo)}, ${round(r.hi)}`;
    results.push(row(c, 'tfjs-webgpu 4.22', timingOf(theirs), { ratio: round(r.ratio), note: `ratio: median of ${mine.length} interleaved rounds, 95% CI [${ci}]` }));
  }
  const np = numpyTimes(list);
  if ('error' in np) {
    results.push({ op: 'native_cpu', variant: 'numpy', shape: '', dtype: 'f32', ms_median: 0, runs: 0, note: `skipped: ${np.error}`, adapter: gpu.caps.adapterName });
  } else {
    list.forEach((c, i) => {
      const ms = np.ms[i];
      if (ms === undefined) return;
      const t = { median: ms, runs: 5 };
      const r = row(c, `native_cpu numpy/${np.blas}`, t, { ratio: round(ms / oursMs[i]) });
      delete r.pct_of_peak; // the CPU's own peak, not the adapter's
      results.push(r);
    });
  }
  return results;
}
