// Multi-head attention without a score matrix (shaders/attention.wgsl), and the choice of
// variant. Q/K/V are token-major with heads interleaved in features, as Linear layers emit them.
import type { Capabilities, Gpu } from '../runtime/device.ts';
import { BYTES, empty, type DType, type Tensor } from '../runtime/tensor.ts';
import source from '../../shaders/attention.wgsl';
import { kernelChoice, kernelSource, registerFamily, variantsOf } from './registry.ts';
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
  /** Force a variant (tests, bench); default: the registry's forced choice, else chooseAttention(). */
  variant?: AttentionVariant;
}

/**
 * naive: a thread per query row. blocked: a thread per QR query rows, keys in blocks (K/V rows
 * shared through subgroup shuffles where there are subgroups); for CPU adapters. tiled: flash
 * tiles in workgroup memory. subgroup: tiled with subgroup row reductions.
 */
export type AttentionVariant = 'naive' | 'blocked' | 'tiled' | 'subgroup';

/** Threads per workgroup and keys per tile of the tiled variants (WG, BK in the shader). */
const WG = 64;
const BK = 32;
/** Query rows per thread of the blocked variant (QR in the shader): each K/V load serves both. */
const QR = 2;

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

/**
 * Tile geometry of the tiled variants: c4 = vec4s of D per chunk through workgroup memory,
 * bq = query rows per workgroup (the most whose tiles fit the adapter's workgroup memory).
 */
function tiles(gpu: Gpu, d4: number): { c4: number; bq: number } {
  const c4 = chunkOf(d4, 16);
  const bytes = (bq: number) => 16 * (bq * c4 + BK * c4 + bq * d4) + 4 * bq * BK + 4 * WG + 4;
  const bq = [16, 8, 4, 2].find((n) => bytes(n) <= gpu.caps.maxWorkgroupStorage) ?? 2;
  return { c4, bq };
}

export interface AttentionShape {
  batch: number;
  tq: number;
  tk: number;
  heads: number;
  headDim: number;
}

// In the registry so that `--kernel attention=tiled` and overrides reach this family too.
registerFamily('attention', [
  { name: 'naive', family: 'attention', supports: () => true },
  { name: 'blocked', family: 'attention', supports: () => true },
  { name: 'tiled', family: 'attention', supports: () => true },
  // The subgroup variant reduces rows over at least 4 lanes of one subgroup.
  { name: 'subgroup', family: 'attention', supports: (c: Capabilities) => subgroupsOf(c, 4) },
]);

/** The variants this adapter can run. */
export function attentionVariants(gpu: Gpu): AttentionVariant[] {
  return variantsOf('attention').filter((v) => v.supports(gpu.caps)).map((v) => v.name as AttentionVariant);
}

/**
 * The variant to use for a shape on this adapter (the one place that decides). CPU adapters
 * (lavapipe, SwiftShader) get `blocked`: it has no barriers (llvmpipe compiles shaders with
 * barriers in loops as coroutines, taking tens of seconds per pipeline; caches gain nothing
 * there), and on llvmpipe it runs 5-7× faster than `naive` in f32, 4-6× in f16 (`bench --compare
 * attention=naive,blocked`); its pipelines still build in seconds (D 64 as fast as naive's, D 512
 * about 4× slower).
 */
export function chooseAttention(gpu: Gpu, s: AttentionShape): AttentionVariant {
  void s;
  const { caps } = gpu;
  if (caps.isFallback || /llvmpipe|lavapipe|swiftshader/i.test(`${caps.adapterName} ${caps.architecture}`)) return 'blocked';
  return attentionVariants(gpu).includes('subgroup') ? 'subgroup' : 'tiled';
}

function check(op: string, cond: boolean, msg: string): void {
  if (!cond) throw new Error(`${op}: ${msg}`);
}

/** Largest divisor of n that is <= cap (the D chunk streamed through workgroup memory). */
function chunkOf(n: number, cap: number): number {
  for (let c = Math.min(n, cap); c > 1; c--) if (n % c === 0) return c;
  return 1;
}

/**
 * A binding of elements [start, start+count) of t. Offsets must be 256-byte aligned, so the
 * binding starts at the aligned byte below and the shader skips `skip` elements.
 */
function subBinding(gpu: Gpu, t: Tensor, start: number, count: number): { binding: GPUBufferBinding; skip: number } {
  const whole = t.binding();
  const align = gpu.caps.minStorageOffsetAlignment;
  const bytes = BYTES[t.dtype];
  const first = t.offset + start * bytes;
  const offset = Math.floor(first / align) * align;
  const size = Math.ceil((first - offset + count * bytes) / 16) * 16;
  return { binding: { buffer: whole.buffer, offset, size: Math.min(size, t.buffer.size - offset) }, skip: (first - offset) / bytes };
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
  const outDtype = o.outDtype ?? (q.dtype === 'f16' && !gpu.caps.f16 ? 'f32' : q.dtype);
  check(op, outDtype === 'f32' || gpu.caps.f16, 'f16 output needs shader-f16 on this adapter (ask for outDtype f32)');
  const variant = o.variant ?? (kernelChoice('attention', gpu) as AttentionVariant | undefined) ?? chooseAttention(gpu, { batch, tq, tk, heads, headDim });
  check(op, attentionVariants(gpu).includes(variant), `variant '${variant}' is not available on this adapter`);

  const d4 = headDim / 4;
  const blocked = variant === 'blocked';
  const { c4, bq } = tiles(gpu, d4);
  const geo = blockedGeometry(gpu, d4);
  // tiled rows are reduced over WG/bq threads: in one subgroup when every subgroup is that wide.
  const subgroups = blocked ? geo.subgroups : variant === 'subgroup' && WG / bq <= gpu.caps.subgroupMinSize;
  const kernel = await gpu.pipelines.get({
    name: 'attention',
    ...kernelSource('attention', source, gpu),
    bindings: [
      { name: 'q', dtype: q.dtype, vec: 4 },
      { name: 'k', dtype: k.dtype, vec: 4 },
      { name: 'v', dtype: v.dtype, vec: 4 },
      ...(bias ? [{ name: 'bias', dtype: bias.dtype }] : []),
      { name: 'out', dtype: outDtype, access: 'read_write' as const, vec: 4 as const },
    ],
    uniforms: true,
    defines: {
      D4: d4,
      C4: blocked ? geo.c4 : c4,
      BQ: bq,
      NAIVE: variant === 'naive',
      BLOCKED: blocked,
      TILED: variant === 'tiled' || variant === 'subgroup',
      KB: geo.kb,
      QR,
      Q_RESIDENT: c4 === d4,
      BIAS: Boolean(bias),
      SUBGROUPS: subgroups,
    },
  });
  const out = empty(gpu, [batch, tq, hd], outDtype);
  const scale = o.scale ?? 1 / Math.sqrt(headDim);
  const perGroup = variant === 'naive' ? WG : blocked ? WG * QR : bq;

  // Bands: as many whole batch items per dispatch as the binding limit allows; a batch item
  // too large for one binding goes in bands of query rows. Each band needs all of its item's K/V.
  // The 256 bytes of slack cover the aligned-down start of a sub-binding.
  const limit = gpu.caps.maxStorageBinding - gpu.caps.minStorageOffsetAlignment;
  const rowBytes = hd * Math.max(BYTES[q.dtype], BYTES[outDtype]);
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
      const qs = subBinding(gpu, q, (b0 * tq + r0) * hd, nb * rows * hd);
      const os = subBinding(gpu, out, (b0 * tq + r0) * hd, nb * rows * hd);
      const ks = subBinding(gpu, k, b0 * tk * hd, nb * tk * hd);
      const vs = subBinding(gpu, v, b0 * tk * hd, nb * tk * hd);
      u32.set([rows, tk, heads, r0, qs.skip, ks.skip, vs.skip, os.skip]);
      f32[8] = scale;
      u32.set([o.causal ? 1 : 0, tq, 0], 9);
      const bindings = [qs.binding, ks.binding, vs.binding, ...(bias ? [bias] : []), os.binding];
      gpu.recorder.dispatch(kernel, bindings, u, [Math.ceil(rows / perGroup), heads, nb], `attention ${variant}`);
    }
  }
  return out;
}
