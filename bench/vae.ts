// SD3's VAE at the real widths (block_out_channels [128, 256, 512, 512], 2 layers, 32 groups;
// random weights) on this adapter:
//  - conv:   3×3 conv GFLOP/s at the decoder's four resolutions (96², 192², 384², 768² with
//            512, 512, 256, 128 channels), timed on a full-width strip of rows (same per-pixel
//            work; a whole 768² map takes minutes on a CPU adapter);
//  - norm+conv: at the same strips, GroupNorm+SiLU as its own pass then the conv, against the
//            conv applying them as it reads (inNorm), in interleaved rounds (ratio with a 95%
//            interval: the time a resnet's fused conv1 costs or saves on this adapter);
//  - memory: peak GPU memory (gpu.pool.peakBytes, weights included) of a 768² encode and decode,
//            from the real allocation sequence with kernel execution skipped: every dispatch's
//            bindings are still checked against the binding limit, so this also proves the
//            full-size run fits e.g. lavapipe's 128 MiB;
//  - e2e:    encode and decode executed at 64², or (--full) at 768², timed once after a
//            warm-up at 64² (so compilation is not counted).
import { conv2d, disposeConv2d, prepareConv2d, type Conv2dWeight } from '../src/kernels/conv2d.ts';
import { groupNorm, groupNormAffine, type GroupNormParams } from '../src/kernels/groupnorm.ts';
import { interleavedRounds, ratioCI } from '../src/kernels/timing-stats.ts';
import { setNormFusion, Vae, type VaeConfig } from '../src/model/vae.ts';
import { vaeParams } from '../src/model/param-lists.ts';
import type { Gpu } from '../src/runtime/device.ts';
import { f32ArrayToF16 } from '../src/runtime/f16.ts';
import { Rng } from '../src/runtime/random.ts';
import { serializeSafetensors } from '../src/runtime/safetensors-write.ts';
import { SafetensorsFile } from '../src/runtime/safetensors.ts';
import { MemorySource } from '../src/runtime/source.ts';
import { fromArray, type DType, type Tensor } from '../src/runtime/tensor.ts';
import { safetensorsReader } from '../src/runtime/weights.ts';
import { SD3_VAE } from './sd3.ts';


export interface VaeBenchOptions {
  /** Image size of the memory measurement (default 768). */
  size?: number;
  /** Image size of the executed encode/decode (default 64). */
  e2eSize?: number;
  dtypes?: DType[];
  /** FLOPs per timed conv strip (default 2e9). */
  convFlops?: number;
}

/** A random-weight VAE of `config` (F16 like the real file), built in memory. */
export async function randomVae(gpu: Gpu, config: VaeConfig, dtype: DType, seed = 1): Promise<Vae> {
  const rng = new Rng(seed);
  const tensors = vaeParams(config).map((p) => {
    const n = p.shape.reduce((a, b) => a * b, 1);
    // Unit norm gains, small biases, uniform weights with variance 1/fan-in.
    const bound = p.shape.length === 1 ? 0.02 : Math.sqrt(3 / (n / p.shape[0]));
    const v = p.shape.length === 1 && p.name.endsWith('weight') ? new Float32Array(n).fill(1) : rng.uniformArray(n, -bound, bound);
    return { name: p.name, dtype: 'F16' as const, shape: p.shape, data: new Uint8Array(f32ArrayToF16(v).buffer) };
  });
  const file = await SafetensorsFile.open(new MemorySource('random SD3 VAE', serializeSafetensors(tensors)));
  return Vae.fromWeights(gpu, config, safetensorsReader(file), dtype);
}

async function medianMs(gpu: Gpu, runs: number, f: () => Promise<Tensor | void>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const t0 = performance.now();
    const out = await f();
    await gpu.sync('bench');
    if (i > 0) times.push(performance.now() - t0); // the first run compiles and warms up
    out?.dispose();
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** GroupNorm+SiLU then conv: a separate (in place) pass against the conv's fused read, interleaved. */
async function normConvRow(gpu: Gpu, x: Tensor, w: Conv2dWeight, rounds: number) {
  const c = x.shape[3];
  const p: GroupNormParams = { gamma: fromArray(gpu, new Float32Array(c).fill(1), [c]), beta: fromArray(gpu, new Float32Array(c), [c]), groups: SD3_VAE.norm_num_groups, eps: 1e-6 };
  // The separate pass normalises in place, as the VAE does, a fresh map of x's shape made untimed.
  const copy = () => fromArray(gpu, new Rng(2).uniformArray(x.numel), x.shape, x.dtype);
  const runs = [
    async (h: Tensor) => (await conv2d(gpu, await groupNorm(gpu, h, p, { silu: true, inPlace: true }), w)).dispose(),
    async () => {
      const aff = await groupNormAffine(gpu, x, p);
      (await conv2d(gpu, x, w, { inNorm: aff })).dispose();
      aff.dispose();
    },
  ];
  const samples = await interleavedRounds(
    2,
    async (i) => {
      const h = copy();
      await gpu.sync('bench');
      const t0 = performance.now();
      await runs[i](h);
      await gpu.sync('bench');
      h.dispose();
      return performance.now() - t0;
    },
    { rounds, warmup: 1 },
  );
  p.gamma.dispose();
  p.beta.dispose();
  const med = (a: number[]) => [...a].sort((u, v) => u - v)[Math.floor(a.length / 2)];
  const r = ratioCI(samples[0], samples[1]);
  return { separateMs: +med(samples[0]).toFixed(1), fusedMs: +med(samples[1]).toFixed(1), fusedOverSeparate: +r.ratio.toFixed(3), ci: [+r.lo.toFixed(3), +r.hi.toFixed(3)], verdict: r.verdict, rounds: samples[0].length };
}

/** normRounds > 0: also the GroupNorm+SiLU rows (separate pass against fused), in that many rounds. */
export async function benchConvs(gpu: Gpu, dtypes: DType[], flops: number, normRounds = 0) {
  const shapes = [
    [96, 512],
    [192, 512],
    [384, 256],
    [768, 128],
  ];
  const rows = [];
  for (const dtype of dtypes) {
    for (const [side, c] of shapes) {
      const perRow = 2 * side * c * c * 9;
      const h = Math.max(1, Math.min(side, Math.round(flops / perRow)));
      const rng = new Rng(side);
      const w = prepareConv2d(gpu, rng.uniformArray(c * c * 9, -0.02, 0.02), [c, c, 3, 3], new Float32Array(c), dtype);
      const x = fromArray(gpu, rng.uniformArray(h * side * c), [1, h, side, c], dtype);
      const ms = await medianMs(gpu, 2, () => conv2d(gpu, x, w));
      const norm = normRounds > 0 ? await normConvRow(gpu, x, w, normRounds) : undefined;
      rows.push({ op: 'conv2d 3x3', resolution: `${side}²`, channels: `${c}->${c}`, strip: `${h}x${side}`, dtype, ms: +ms.toFixed(1), gflops: +((perRow * h) / ms / 1e6).toFixed(2), norm });
      x.dispose();
      disposeConv2d(w);
    }
  }
  return rows;
}

async function benchMemory(gpu: Gpu, vae: Vae, size: number) {
  const lat = size / 8;
  const image = fromArray(gpu, new Float32Array(3 * size * size), [1, 3, size, size]);
  const latent = fromArray(gpu, new Float32Array(16 * lat * lat), [1, 16, lat, lat]);
  const out: Record<string, number> = { weightsBytes: gpu.pool.liveBytes - image.byteLength - latent.byteLength };
  for (const [name, run] of [
    ['encode', async () => Object.values(await vae.encode(image)).forEach((t) => t.dispose())],
    ['decode', async () => (await vae.decode(latent)).dispose()],
  ] as const) {
    gpu.pool.trim();
    gpu.pool.resetPeak();
    const before = gpu.recorder.dispatched;
    await gpu.recorder.dryRun(run);
    out[`${name}PeakBytes`] = gpu.pool.peakBytes;
    out[`${name}Dispatches`] = gpu.recorder.dispatched - before;
  }
  image.dispose();
  latent.dispose();
  gpu.pool.trim();
  return out;
}

/**
 * Encode and decode executed once at `size`², after an untimed run at min(64, size)² that
 * compiles the same kernels (so a 768² run is not executed twice). Peaks include the weights.
 * `encode` false: the decode alone (its fields only).
 */
export async function benchE2e(gpu: Gpu, vae: Vae, size: number, encode = true) {
  const once = async (side: number) => {
    const lat = side / 8;
    const image = fromArray(gpu, new Rng(3).uniformArray(3 * side * side), [1, 3, side, side]);
    const latent = fromArray(gpu, new Rng(4).normal(16 * lat * lat), [1, 16, lat, lat]);
    const timed = async (f: () => Promise<Tensor | void>) => {
      gpu.pool.resetPeak();
      const t0 = performance.now();
      (await f())?.dispose();
      await gpu.sync('bench');
      return { ms: Math.round(performance.now() - t0), peakBytes: gpu.pool.peakBytes };
    };
    const enc = encode ? await timed(async () => Object.values(await vae.encode(image)).forEach((t) => t.dispose())) : undefined;
    if (enc && side > 64) console.error(`bench vae: encode ${side}²: ${enc.ms} ms; decoding…`); // long runs show progress
    const decode = await timed(() => vae.decode(latent));
    image.dispose();
    latent.dispose();
    return { size: `${side}x${side}`, encodeMs: enc?.ms, decodeMs: decode.ms, encodePeakBytes: enc?.peakBytes, decodePeakBytes: decode.peakBytes };
  };
  await once(Math.min(64, size));
  if (size > 64) console.error(`bench vae: ${encode ? 'encoding' : 'decoding'} ${size}²…`);
  return once(size);
}

export async function benchVae(gpu: Gpu, o: VaeBenchOptions = {}) {
  const dtypes = (o.dtypes ?? ['f32', 'f16']).filter((d) => d === 'f32' || gpu.caps.f16);
  const result = {
    adapter: gpu.caps.adapterName,
    maxStorageBinding: gpu.caps.maxStorageBinding,
    convs: await benchConvs(gpu, dtypes, o.convFlops ?? 2e9, 6),
    runs: [] as Record<string, unknown>[],
  };
  for (const dtype of dtypes) {
    const vae = await randomVae(gpu, SD3_VAE, dtype);
    const memory = await benchMemory(gpu, vae, o.size ?? 768);
    // The same with GroupNorm+SiLU fused into the resnets' conv1 (the default off CPU adapters).
    setNormFusion(gpu, true);
    const fused = await benchMemory(gpu, vae, o.size ?? 768);
    setNormFusion(gpu, undefined);
    const e2e = await benchE2e(gpu, vae, o.e2eSize ?? 64);
    result.runs.push({ precision: dtype, activations: vae.act, memorySize: `${o.size ?? 768}x${o.size ?? 768}`, ...memory, fused, e2e });
    vae.dispose();
    gpu.pool.trim();
  }
  return result;
}
