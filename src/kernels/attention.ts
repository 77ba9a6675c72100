// Multi-head attention without a score matrix (shaders/attention.wgsl), and the choice of
// variant. Q/K/V are token-major with heads interleaved in features, as Linear layers emit them.
import { isCpuAdapter, type Capabilities, type Gpu } from '../runtime/device.ts';
import { BYTES, empty, type DType, type Tensor } from '../runtime/tensor.ts';
import source from '../../shaders/attention.wgsl';
import { unrolledDefines } from './attention-unrolled.ts';
import { bindingWindow, writable } from './bands.ts';
import { runVariant, sizeClass } from './choice.ts';
import { kernelSource, registerFamily, variantsOf, type Variant } from './registry.ts';
import { subgroupsOf } from './types.ts';

export interface AttentionOptions {
  heads: number;
  /** Query i attends to keys 0..i (top-left aligned when Tq ≠ Tk), as in CLIP's text encoder. */
  causal?: boolean;
  /** Additive bias [heads, Tq, Tk] shared over the batch (T5 relative position bias). */
  bias?: Tensor;
  /** Score scale; default 1/sqrt(headDim) (T5 uses 1). */
  scale?: number;
  outDtype?: DType;
  /** Force a variant (tests, bench); default: the registry's choice (`--kernel attention=…`, else autotuned). */
  variant?: AttentionVariant;
}

/**
 * naive: a thread per query row. blocked: a thread per QR query rows, keys in blocks (K/V rows
 * shared through subgroup shuffles where there are subgroups); for CPU adapters. register-q4:
 * blocked's scheme with 4 rows per thread, written out in straight lines for the head dim
 * (attention-unrolled.ts; heads up to 128). tiled: flash tiles in workgroup memory.
 * subgroup: tiled with subgroup row reductions.
 */
export type AttentionVariant = 'naive' | 'blocked' | 'register-q4' | 'tiled' | 'subgroup';

/** Query rows per thread of the blocked variant (QR in the shader): each K/V load serves both. */
const QR = 2;

/**
 * Query rows per thread of the register (UNROLLED) variants. On 2026-12-01 (1024 tokens × 4 heads
 * of 64, llvmpipe, load 40) 2 rows ran in 0.81× blocked's time, 4 in 0.63×, 8 in 0.69×: 8 rows
 * spill more than they save, so only 4 is registered.
 */
const UNROLLED_QR: Partial<Record<AttentionVariant, number>> = { 'register-q4': 4 };

/**
 * The register variants write every vec4 of D out (straight-line code grows with D·QR·KB), so
 * they take head dims up to this; larger heads (the VAE's 512) use `blocked`.
 */
const UNROLLED_MAX_D = 128;

/** Whether `variant` handles heads of `headDim` (all but the register variants handle any). */
export function attentionFits(variant: AttentionVariant, headDim: number): boolean {
  return !UNROLLED_QR[variant] || headDim <= UNROLLED_MAX_D;
}

/**
 * Geometry of the blocked variant: kb = keys per block (KB), c4 = vec4s of D per unrolled chunk
 * (C4). With subgroups of at least 4 lanes a block is one key per lane (at most 8, which keeps
 * the unrolled code small) in chunks of at most 8 vec4s; without, every thread loads 4 keys
 * itself, in chunks of at most 16 vec4s. Measured on llvmpipe (D 64 and 512): these keep a
 * pipeline build to seconds; the other chunk size runs 10-50% slower or builds 2-8× longer.
 */
function blockedGeometry(gpu: Gpu, d4: number): { kb: number; c4: number; subgroups: boolean } {
  const subgroups = subgroupsOf(gpu.caps, 4);
  if (subgroups) return { kb: Math.min(8, gpu.caps.subgroupMinSize), c4: chunkOf(d4, 8), subgroups };
  return { kb: 4, c4: chunkOf(d4, 16), subgroups };
}

/** Threads per query row of the tiled variants (TPR): row reductions fit subgroups of 4 (SwiftShader's). */
const TPR = 4;

/**
 * Tiles of the tiled variants, largest first: [bq query rows per workgroup, bk keys per tile,
 * most vec4s of D per chunk]. The first whose workgroup memory fits the adapter is used; GPUs
 * (≥ 16 KiB) get 8-16 rows × 32 keys for D 64. The smallest ones also keep a pipeline build
 * on llvmpipe to seconds (the largest: ~15 s of CPU), which is how the tests run them.
 */
const TILES = [
  [16, 32, 16],
  [8, 32, 16],
  [4, 32, 16],
  [4, 16, 8],
  [4, 8, 4],
  [2, 8, 4],
] as const;

interface Tiles {
  bq: number;
  bk: number;
  c4: number;
}

/** Bytes of workgroup memory the tiled shader declares for these tiles (qs, kv, os, ps, red/slots). */
const tileBytes = (t: Tiles, d4: number) => 16 * (t.bq * t.c4 + t.bk * t.c4 + t.bq * d4) + 4 * t.bq * t.bk + 4 * t.bq * TPR + 4;

function tiles(gpu: Gpu, d4: number): Tiles {
  const { maxWorkgroupStorage, maxInvocations } = gpu.caps;
  for (const [bq, bk, cap] of TILES) {
    const t = { bq, bk, c4: chunkOf(d4, cap) };
    if (tileBytes(t, d4) <= maxWorkgroupStorage && bq * TPR <= maxInvocations) return t;
  }
  throw new Error(`attention: head dim ${4 * d4} needs more than the adapter's ${maxWorkgroupStorage} bytes of workgroup memory for the tiled variants`);
}

export interface AttentionShape {
  batch: number;
  tq: number;
  tk: number;
  heads: number;
  headDim: number;
}

const any = () => true;

// In preference order (the first eligible one wins where autotuning is off).
registerFamily('attention', [
  // Row reductions over TPR lanes of one subgroup.
  { name: 'subgroup', family: 'attention', supports: (c: Capabilities) => subgroupsOf(c, TPR), needs: ['subgroups'], workgroupMemory: true },
  { name: 'tiled', family: 'attention', supports: any, needs: [], workgroupMemory: true },
  // Shares K/V rows by subgroup shuffles where there are subgroups, loads them per thread where not.
  { name: 'register-q4', family: 'attention', supports: any, needs: [], workgroupMemory: false },
  { name: 'blocked', family: 'attention', supports: any, needs: [], workgroupMemory: false },
  { name: 'naive', family: 'attention', supports: any, needs: [], workgroupMemory: false, autotune: false },
]);

/** The variants this adapter can run. */
export function attentionVariants(gpu: Gpu): AttentionVariant[] {
  return variantsOf('attention').filter((v) => v.supports(gpu.caps)).map((v) => v.name as AttentionVariant);
}

/**
 * Whether a variant may be chosen automatically here. CPU adapters (lavapipe, SwiftShader) get
 * the ones without barriers (llvmpipe compiles shaders with barriers in loops as coroutines,
 * taking tens of seconds per pipeline; caches gain nothing there), first `register-q4` (where the
 * head dim allows): on 2026-12-01 it ran in 0.63× the time of `blocked` at 1024 tokens × 4 heads
 * of 64 (`bench --compare attention=blocked,register-q4`, 95% CI 0.54-0.72, load 40), and
 * `blocked` runs 5-7× faster than `naive` in f32, 4-6× in f16.
 */
function eligible(gpu: Gpu, v: Variant): boolean {
  // On CPU adapters llvmpipe compiles barriers in loops as coroutines: workgroup-memory
  // variants take tens of seconds per pipeline.
  return !(isCpuAdapter(gpu.caps) && v.workgroupMemory);
}

function check(op: string, cond: boolean, msg: string): void {
  if (!cond) throw new Error(`${op}: ${msg}`);
}

/** Largest divisor of n that is <= cap (the D chunk streamed through workgroup memory). */
function chunkOf(n: number, cap: number): number {
  for (let c = Math.min(n, cap); c > 1; c--) if (n % c === 0) return c;
  return 1;
}

interface Problem extends AttentionShape {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  bias?: Tensor;
  out: Tensor;
  causal: boolean;
  scale: number;
}

export async function attention(gpu: Gpu, q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions): Promise<Tensor> {
  const op = 'attention';
  const { heads } = o;
  check(op, q.shape.length === 3, `q must be [B, Tq, heads·D], got [${q.shape}]`);
  check(op, k.shape.length === 3, `k must be [B, Tk, heads·D], got [${k.shape}]`);
  check(op, v.shape.length === 3, `v must be [B, Tk, heads·D], got [${v.shape}]`);
  const [batch, tq, hd] = q.shape;
  const tk = k.shape[1];
  check(op, Number.isInteger(heads) && heads > 0 && hd % heads === 0, `q features ${hd} are not a multiple of heads ${heads}`);
  const headDim = hd / heads;
  check(op, headDim % 4 === 0, `head dim ${headDim} must be a multiple of 4`);
  check(op, k.shape[0] === batch && k.shape[2] === hd, `k is [${k.shape}], expected [${batch}, Tk, ${hd}]`);
  check(op, v.shape[0] === batch && v.shape[1] === tk && v.shape[2] === hd, `v is [${v.shape}], expected [${k.shape}] like k`);
  check(op, tq > 0 && tk > 0, `empty sequence (Tq ${tq}, Tk ${tk})`);
  const bias = o.bias;
  if (bias) {
    const want = [heads, tq, tk];
    check(op, bias.shape.length === 3 && bias.shape.every((d, i) => d === want[i]), `bias is [${bias.shape}], expected [${want}]`);
    check(op, bias.byteLength <= gpu.caps.maxStorageBinding, `bias of ${bias.byteLength} bytes exceeds the storage binding limit`);
  }
  const outDtype = o.outDtype ?? writable(gpu, q.dtype);
  check(op, outDtype === 'f32' || gpu.caps.f16, 'f16 output needs shader-f16 on this adapter (ask for outDtype f32)');
  const forced = o.variant && variantsOf('attention').find((x) => x.name === o.variant);
  if (o.variant) check(op, Boolean(forced && forced.supports(gpu.caps)), `variant '${o.variant}' is not available on this adapter`);
  const out = empty(gpu, [batch, tq, hd], outDtype);
  const p: Problem = { batch, tq, tk, heads, headDim, q, k, v, bias, out, causal: Boolean(o.causal), scale: o.scale ?? 1 / Math.sqrt(headDim) };
  const shapeClass = `${q.dtype}.${k.dtype}->${outDtype} H${heads}×${headDim} Tq~${sizeClass(tq)} Tk~${sizeClass(tk)}${p.causal ? ' causal' : ''}${bias ? ' bias' : ''}`;
  const run = (c: Variant) => record(gpu, p, c.name as AttentionVariant);
  if (forced) {
    await run(forced).catch((e) => {
      out.dispose();
      throw e;
    });
  } else {
    await runVariant(gpu, 'attention', shapeClass, run, { eligible: (c) => eligible(gpu, c) && attentionFits(c.name as AttentionVariant, headDim), outputs: [out] });
  }
  return out;
}

/** Records the dispatches of `p` with one variant (writing p.out). */
async function record(gpu: Gpu, p: Problem, variant: AttentionVariant): Promise<void> {
  const op = 'attention';
  const { batch, tq, tk, heads, headDim, q, k, v, bias, out } = p;
  const hd = heads * headDim;
  const d4 = headDim / 4;
  const unrolledQr = UNROLLED_QR[variant] ?? 0;
  const blocked = variant === 'blocked' || unrolledQr > 0; // the register variants are BLOCKED + UNROLLED
  check(op, attentionFits(variant, headDim), `variant '${variant}' takes head dims up to ${UNROLLED_MAX_D}, got ${headDim}`);
  const tiled = variant === 'tiled' || variant === 'subgroup';
  // Only the chosen variant's geometry: an adapter may lack the memory for another's tiles.
  const tile = tiled ? tiles(gpu, d4) : { bq: 1, bk: 1, c4: 1 };
  const geo = blockedGeometry(gpu, d4);
  const kernel = await gpu.pipelines.get({
    name: 'attention',
    ...kernelSource('attention', source, gpu),
    bindings: [
      { name: 'q', dtype: q.dtype, vec: 4 },
      { name: 'k', dtype: k.dtype, vec: 4 },
      { name: 'v', dtype: v.dtype, vec: 4 },
      ...(bias ? [{ name: 'bias', dtype: bias.dtype }] : []),
      { name: 'out', dtype: out.dtype, access: 'read_write' as const, vec: 4 as const },
    ],
    uniforms: true,
    defines: {
      D4: d4,
      C4: blocked ? geo.c4 : tile.c4,
      BQ: tile.bq,
      BK: tile.bk,
      TPR,
      NAIVE: variant === 'naive',
      BLOCKED: blocked,
      TILED: tiled,
      KB: geo.kb,
      QR: unrolledQr || QR,
      UNROLLED: unrolledQr > 0,
      ...(unrolledQr ? unrolledDefines({ qr: unrolledQr, kb: geo.kb, d4, subgroups: geo.subgroups }) : {}),
      Q_RESIDENT: tile.c4 === d4,
      BIAS: Boolean(bias),
      SUBGROUPS: blocked ? geo.subgroups : variant === 'subgroup',
    },
  });
  const perGroup = variant === 'naive' ? 64 : blocked ? 64 * (unrolledQr || QR) : tile.bq;

  // Bands: as many whole batch items per dispatch as the binding limit allows; a batch item
  // too large for one binding goes in bands of query rows. Each band needs all of its item's K/V.
  // The 256 bytes of slack cover the aligned-down start of a binding window.
  const limit = gpu.caps.maxStorageBinding - gpu.caps.minStorageOffsetAlignment;
  const rowBytes = hd * Math.max(BYTES[q.dtype], BYTES[out.dtype]);
  const kvBytes = tk * hd * Math.max(BYTES[k.dtype], BYTES[v.dtype]);
  check(
    op,
    kvBytes <= limit,
    `k/v of one batch item (${kvBytes} bytes) exceed the ${gpu.caps.maxStorageBinding}-byte storage binding limit`,
  );
  const maxRows = Math.min(Math.floor(limit / rowBytes), gpu.caps.maxWorkgroupsPerDim * perGroup);
  check(op, maxRows >= 1, `one query row (${rowBytes} bytes) exceeds the storage binding limit`);
  const itemsPer = tq <= maxRows ? Math.max(1, Math.min(Math.floor(limit / (tq * rowBytes)), Math.floor(limit / kvBytes), gpu.caps.maxWorkgroupsPerDim)) : 1;
  const rowsPer = Math.min(tq, maxRows);
  const u = new ArrayBuffer(48);
  const u32 = new Uint32Array(u);
  const f32 = new Float32Array(u);
  for (let b0 = 0; b0 < batch; b0 += itemsPer) {
    const nb = Math.min(itemsPer, batch - b0);
    for (let r0 = 0; r0 < tq; r0 += rowsPer) {
      const rows = Math.min(rowsPer, tq - r0);
      const qs = bindingWindow(q, (b0 * tq + r0) * hd, nb * rows * hd);
      const os = bindingWindow(out, (b0 * tq + r0) * hd, nb * rows * hd);
      const ks = bindingWindow(k, b0 * tk * hd, nb * tk * hd);
      const vs = bindingWindow(v, b0 * tk * hd, nb * tk * hd);
      u32.set([rows, tk, heads, r0, qs.shift, ks.shift, vs.shift, os.shift]);
      f32[8] = p.scale;
      u32.set([p.causal ? 1 : 0, tq, 0], 9);
      const bindings = [qs.binding, ks.binding, vs.binding, ...(bias ? [bias.binding()] : []), os.binding];
      gpu.recorder.dispatch(kernel, bindings, u, [Math.ceil(rows / perGroup), heads, nb], `attention ${variant}`);
    }
  }
}
