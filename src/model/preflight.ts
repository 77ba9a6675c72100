// Memory preflight: before any work, the peak GPU memory of a request (what is resident plus the
// activations of its largest stage, at this batch and image size) against the adapter's limits,
// so a batch that cannot fit is refused in milliseconds with the largest batch that does, not
// after an hour of denoising. The activation terms follow what the pipeline allocates from the
// buffer pool (the accounting `bench memory` replays: runtime/pool.ts, model/replay.ts), and
// test/model/pipeline-memory.test.ts holds them against a replayed run.
//
// WebGPU reports no total memory. The budget is --max-gpu-memory / `maxGpuMemory` when given;
// else, on a CPU adapter (lavapipe, SwiftShader), 75% of the machine's RAM, which is that
// adapter's memory; else (a real GPU) no total is checked up front, only the per-buffer limit
// and the u32 index range, which WebGPU does report.
import { MAX_INDEXED } from '../kernels/bands.ts';
import { OVER_INPUT_CHUNKS } from '../kernels/conv1x1-over-input.ts';
import { isCpuAdapter, type Capabilities, type Gpu } from '../runtime/device.ts';
import { platform } from '../runtime/platform.ts';
import { sizeClass } from '../runtime/pool.ts';
import { numel } from '../runtime/tensor.ts';
import type { MMDiTConfig } from './mmdit-config.ts';
import type { VaeConfig } from './param-lists.ts';

/** Prompt tokens (CLIP 77 + T5 256) and point slots, fixed in every DICEPTION request. */
const PROMPT = 77 + 256;
const PROMPT_TOKENS = PROMPT + 5;
/** The share of RAM a CPU adapter may use: the rest is the process's own (weights as read, JS heap). */
const RAM_SHARE = 0.75;

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

/** A request the adapter cannot hold; `fits` is the largest batch that can (0: not one image). */
export class MemoryRefusal extends Error {
  constructor(
    message: string,
    readonly fits: number,
  ) {
    super(message);
    this.name = 'MemoryRefusal';
  }
}

/** The model's shapes that set its activations, and bytes per activation element (2 where shaders store f16, else 4). */
export interface ModelShapes {
  vae: VaeConfig;
  mmdit: MMDiTConfig;
  vaeAct: number;
  mmditAct: number;
}

/** One request: `batch` images at `side`², with classifier-free guidance or not. */
export interface RequestShape {
  batch: number;
  side: number;
  guidance: boolean;
}

/** One activation tensor: what it is, its shape and its size on the GPU. */
export interface Activation {
  what: string;
  shape: number[];
  bytes: number;
}

/** Activation bytes per stage, and the largest single tensors (each must fit one buffer). */
export interface ActivationEstimate {
  stages: { encode: number; denoise: number; decode: number };
  largest: Activation[];
}

/**
 * One ResnetBlock's most bytes alive at once (vae.ts ResnetBlock.forward): x, its normalised
 * copy and conv1's output; x, its 1×1 shortcut and conv1's output where channels widen; where
 * they narrow, x (whose buffer then takes the shortcut), conv1's output and the shortcut's
 * scratch (1/OVER_INPUT_CHUNKS of it).
 */
function resnetPeak(cIn: number, cOut: number, pixels: number, bytes: (elements: number) => number): number {
  if (cIn === cOut) return 3 * bytes(cOut * pixels);
  if (cIn > cOut) return bytes(cIn * pixels) + bytes(cOut * pixels) + bytes((cOut * pixels) / OVER_INPUT_CHUNKS);
  return bytes(cIn * pixels) + 2 * bytes(cOut * pixels);
}

/**
 * The VAE's most bytes alive at once in encode and in decode, walking its levels as vae.ts does:
 * per level the first ResnetBlock (the one that changes channels) and the 2× resampling conv,
 * which holds its input and output. The decoder's upsampling is fused into that conv, so the map
 * entering a level has the previous level's channels at the new resolution.
 */
function vaePeaks(vae: VaeConfig, side: number, bytes: (elements: number) => number): { encode: number; decode: number } {
  const ch = vae.block_out_channels;
  const n = ch.length;
  let encode = 0;
  let decode = 0;
  for (let i = 0; i < n; i++) {
    const r = side / 2 ** i;
    encode = Math.max(encode, resnetPeak(ch[Math.max(0, i - 1)], ch[i], r * r, bytes));
    if (i < n - 1) encode = Math.max(encode, bytes(ch[i] * r * r) + bytes((ch[i] * r * r) / 4));
    // Decoder level j = n−1−i runs at this resolution with channels ch[i], entered from ch[i+1].
    decode = Math.max(decode, resnetPeak(ch[Math.min(n - 1, i + 1)], ch[i], r * r, bytes));
    if (i < n - 1) decode = Math.max(decode, bytes(ch[i + 1] * r * r) + bytes((ch[i + 1] * r * r) / 4));
  }
  return { encode, decode };
}

/**
 * Peak activation bytes of each stage, as the pool holds them: each tensor one buffer rounded up
 * to its size class, and freed buffers stay cached (so a stage holds the most of each size it had
 * alive at once, and what the last stage left cached):
 * - VAE: see vaePeaks. Encode also holds the f32 input image and its noise; what it leaves
 *   cached (the input image, the lowest level's maps: mid-block attention holds six) stays
 *   through denoising.
 * - MMDiT, per row (rows = batch, ×2 with guidance), T = Tx image + Tc context tokens, width C:
 *   the f32 streams x and c with their next values (2 each), the normalised streams and the
 *   per-stream projections (2 of each width in act), q, k, v and the attention output (4 of
 *   T·C), and the MLP hidden state (4C per token of each stream); plus the latents the loop
 *   holds and the position-table crop a new latent size adds.
 */
export function estimateActivations(m: ModelShapes, r: RequestShape): ActivationEstimate {
  const { vae, mmdit } = m;
  const B = r.batch;
  const rows = r.guidance ? 2 * B : B;
  const ch = vae.block_out_channels;
  const lat = r.side / 2 ** (ch.length - 1);
  const latentF32 = (n: number) => sizeClass(n * vae.latent_channels * lat * lat * 4);
  const image = sizeClass(B * 3 * r.side * r.side * 4);
  const vaeAct = (elements: number) => sizeClass(B * elements * m.vaeAct);
  const v = vaePeaks(vae, r.side, vaeAct);
  const lowest = 6 * vaeAct(ch[ch.length - 1] * lat * lat);

  const grid = lat / mmdit.patchSize;
  const tx = 2 * grid * grid;
  const tc = PROMPT_TOKENS;
  const C = mmdit.hidden;
  const ff = 4 * C;
  const t = (tokens: number, width: number, bytes: number) => sizeClass(rows * tokens * width * bytes);
  const a = m.mmditAct;
  const blocks =
    2 * (t(tx, C, 4) + t(tc, C, 4)) + 2 * (t(tx, C, a) + t(tc, C, a)) + 4 * t(tx + tc, C, a) + t(tx, ff, a) + t(tc, ff, a);
  // The loop's latents, the position crop, the prompt embeddings of both halves (guidance) and their projection.
  const loop = latentF32(rows) + 2 * latentF32(B) + sizeClass((tx / 2) * C * 4) + (r.guidance ? t(PROMPT, mmdit.jointAttentionDim, a) : 0) + t(PROMPT, C, 4);

  // Norm statistics, point embeddings and other small buffers: within 1% + 1 MiB on the demo and SD3 sizes.
  const small = (bytes: number) => Math.ceil(1.01 * bytes) + 2 ** 20;
  const stages = {
    encode: small(v.encode + image + latentF32(B)),
    denoise: small(blocks + loop + image + lowest),
    decode: small(v.decode + latentF32(B)),
  };
  const w = widestVaeMap(vae, r.side);
  const map = [B, w.c, w.res, w.res];
  const largest: Activation[] = [
    { what: 'the VAE feature map', shape: map, bytes: numel(map) * m.vaeAct },
    { what: 'the MMDiT MLP hidden state', shape: [rows, tx + tc, ff], bytes: rows * (tx + tc) * ff * a },
  ];
  return { stages, largest };
}

/** The VAE's widest feature map per image, [channels, res] (see vaePeaks for the channels at each level). */
function widestVaeMap(vae: VaeConfig, side: number): { c: number; res: number } {
  const ch = vae.block_out_channels;
  let best = { c: 0, res: 0 };
  for (let i = 0; i < ch.length; i++) {
    const res = side / 2 ** i;
    const c = Math.max(ch[i], ch[Math.max(0, i - 1)], i < ch.length - 1 ? ch[i + 1] : 0);
    if (c * res * res > best.c * best.res ** 2) best = { c, res };
  }
  return best;
}

/** Total GPU memory a request may use, and where that number comes from (for messages). */
export interface MemoryBudget {
  bytes: number;
  source: string;
}

/**
 * The budget checked up front: `maxGpuMemory` (bytes) when given; on a CPU adapter a share of the
 * RAM the platform reports; undefined on a GPU, whose total memory WebGPU does not report.
 */
export function memoryBudget(gpu: Gpu, maxGpuMemory?: number): MemoryBudget | undefined {
  if (maxGpuMemory !== undefined) return { bytes: maxGpuMemory, source: '--max-gpu-memory' };
  const ram = isCpuAdapter(gpu.caps) ? platform().memoryBytes?.() : undefined;
  if (!ram) return undefined;
  return { bytes: Math.floor(RAM_SHARE * ram), source: `${RAM_SHARE * 100}% of this machine's ${mib(ram)} of RAM, a CPU adapter's memory; set --max-gpu-memory to change it` };
}

/** The request's estimated peak: resident bytes plus its largest stage's activations. */
export function estimatePeak(m: ModelShapes, r: RequestShape, resident: number): { bytes: number; stage: string } {
  const s = estimateActivations(m, r).stages;
  const [stage, act] = Object.entries(s).reduce((best, e) => (e[1] > best[1] ? e : best));
  return { bytes: resident + act, stage };
}

/** Why a request does not fit (undefined when it does): one buffer, the u32 index range, or the budget. */
function problem(caps: Pick<Capabilities, 'adapterName' | 'maxBufferSize'>, budget: MemoryBudget | undefined, m: ModelShapes, r: RequestShape, resident: number): string | undefined {
  const { largest } = estimateActivations(m, r);
  const over = largest.find((a) => a.bytes > caps.maxBufferSize || numel(a.shape) > MAX_INDEXED);
  if (over) {
    const elements = numel(over.shape) > MAX_INDEXED;
    return `${over.what} [${over.shape}] needs ${mib(over.bytes)}${elements ? ' (over 2³² elements, past the kernels\' u32 indices)' : ''}, but this adapter's (${caps.adapterName}) largest GPU buffer is ${mib(caps.maxBufferSize)}`;
  }
  const peak = estimatePeak(m, r, resident);
  if (budget && peak.bytes > budget.bytes) {
    return `the estimated peak is ${mib(peak.bytes)} (${mib(resident)} of weights, the rest in ${peak.stage}), over the ${mib(budget.bytes)} budget (${budget.source})`;
  }
  return undefined;
}

/**
 * Refuses a request that cannot fit, naming the largest batch that does. Costs a few arithmetic
 * passes (a binary search over the batch), no GPU work. `resident`: the bytes that stay on the
 * GPU through the request (the weights, including any not uploaded yet).
 */
export function preflight(caps: Pick<Capabilities, 'adapterName' | 'maxBufferSize'>, budget: MemoryBudget | undefined, m: ModelShapes, r: RequestShape, resident: number): void {
  const why = problem(caps, budget, m, r, resident);
  if (!why) return;
  // Every term grows with the batch, so the batches that fit are 1..fits.
  let lo = 0;
  let hi = r.batch - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (problem(caps, budget, m, { ...r, batch: mid }, resident)) hi = mid - 1;
    else lo = mid;
  }
  const fits = lo;
  const advice = fits >= 1 ? `the largest batch that fits is ${fits} (--batch_size ${fits})` : 'not even one image fits';
  throw new MemoryRefusal(`batch of ${r.batch} at ${r.side}²: ${why}; ${advice}`, fits);
}
