// Matrix products: `linear` (x·Wᵀ with a fused bias/activation/gated-residual epilogue) and
// batched `matmul`. Variants come from one template (shaders/matmul.wgsl); the registry picks
// one. Operands above the storage-binding limit are split into bands of rows and columns.
// `linear` also takes 8-bit weights (q8.ts), dequantised in the load path of the register and
// workgroup-memory kernels (not the subgroup-matrix ones).
import type { Capabilities, Gpu, SubgroupMatrixConfig } from '../runtime/device.ts';
import { q8Groups, q8Words } from '../runtime/q8.ts';
import { BYTES, empty, type DType, type StorageDType, type Tensor } from '../runtime/tensor.ts';
import source from '../../shaders/matmul.wgsl';
import { ACTIVATION_WGSL } from './activation.ts';
import { bindingWindow } from './bands.ts';
import { isQ8, type LinearWeight } from './q8.ts';
import { chooseVariant, kernelSource, registerFamily, type Variant } from './registry.ts';
import { subgroupsOf, type Activation, type Chunk } from './types.ts';

export interface MatmulVariant extends Variant {
  /** Outputs per invocation: rows × columns. */
  tm: number;
  tn: number;
  /** Invocations per workgroup, side by side along N (they share the block's rows). */
  wg: number;
  /** vec4 loads along K where K % 4 == 0 (the naive baseline reads scalars). */
  vec: boolean;
  /** The bench baseline: one output per invocation, scalar loads (tm = tn = 1). */
  naive?: boolean;
  /** A's rows are loaded once per subgroup (lane j: rows j, j+8, …) and shuffled to every lane (subgroups of ≥ 8). */
  subgroups?: boolean;
  /**
   * f16 a and b (TRANS_B, K % 8 == 0) bound as vec4<u32> words: one load per lane brings 8 halves
   * of a row (WORDS), where a vec4<f16> load brings 4; the K loop then takes 8 per trip.
   */
  words?: boolean;
  /** Products in f16 (accumulation stays f32). */
  f16Math?: boolean;
  /**
   * Workgroup-memory tiling (the WGMEM kernel): a workgroup computes a bm×bn block of C through
   * bk-deep slices staged in workgroup memory; each of its (bn/tn)·(bm/tm) invocations owns tm×tn
   * outputs (tm, tn multiples of 4). `wg` is then the invocation count.
   */
  tile?: { bm: number; bn: number; bk: number };
  /**
   * Cooperative matrices (the SUBGROUP_MATRIX kernel) with products in this component type and
   * f32 results, in the first shape the adapter lists for them; tm, tn, wg are then unused.
   */
  subgroupMatrix?: 'f16' | 'f32';
}

const any = () => true;
const sg8 = (c: Capabilities) => subgroupsOf(c, 8);
const SUBGROUPS = ['subgroups'];
const F16 = ['shader-f16'];

/** A workgroup-memory variant: needs its invocations and tiles to fit the adapter's limits. */
function tiled(name: string, bm: number, bn: number, tm: number, tn: number, f16Math = false): MatmulVariant {
  const bk = 16;
  const wg = (bm / tm) * (bn / tn);
  const bytes = (bm + bn) * bk * (f16Math ? 2 : 4);
  const fits = (c: Capabilities) => c.maxInvocations >= wg && c.maxWorkgroupStorage >= bytes && (!f16Math || c.f16);
  return { name, family: 'matmul', tm, tn, wg, vec: true, tile: { bm, bn, bk }, f16Math, supports: fits, needs: f16Math ? F16 : [], workgroupMemory: true };
}

/** The adapter's subgroup-matrix shape for `component` products with f32 results, if any. */
function matrixConfig(c: Capabilities, component: 'f16' | 'f32'): SubgroupMatrixConfig | undefined {
  return c.subgroupMatrixConfigs.find((m) => m.componentType === component && m.resultComponentType === 'f32');
}

const SUBGROUP_MATRIX_FEATURE = 'chromium-experimental-subgroup-matrix' as GPUFeatureName;

/**
 * The SM_KERNEL defines: the first adapter shape for `component`, 4 subgroups of the largest
 * size. The builtins (SUBGROUP_MATRIX) where the device has the feature, which is whenever the
 * adapter lists configs; else the shader's plain-WGSL stand-ins, which tests run with the
 * configs of a pretend adapter.
 */
export function subgroupMatrixDefines(gpu: Pick<Gpu, 'caps' | 'device'>, component: 'f16' | 'f32'): Record<string, string | number | boolean> {
  const m = matrixConfig(gpu.caps, component);
  if (!m) throw new Error(`matmul: the adapter lists no ${component} subgroup-matrix shape with f32 results`);
  const builtins = gpu.device.features.has(SUBGROUP_MATRIX_FEATURE);
  return { SM_KERNEL: true, SUBGROUP_MATRIX: builtins, SM_M: m.M, SM_N: m.N, SM_K: m.K, SM_T: m.componentType, WG: 4 * gpu.caps.subgroupMaxSize };
}

/** A cooperative-matrix variant: 2×2 subgroups of 2×2 result matrices, 2·K-deep slices. */
function subgroupMatrix(name: string, component: 'f16' | 'f32'): MatmulVariant {
  const f16Math = component === 'f16';
  const fits = (c: Capabilities) => {
    const m = matrixConfig(c, component);
    // The workgroup is 4 subgroups of the largest size: unknown size, no variant.
    if (!m || !c.subgroups || !c.subgroupMaxSize || (f16Math && !c.f16)) return false;
    const wg = 4 * c.subgroupMaxSize;
    const bytes = 8 * m.K * (m.M + m.N) * (f16Math ? 2 : 4) + 16 * m.M * m.N * 4;
    return wg <= c.maxInvocations && wg <= c.maxWorkgroupSizeX && bytes <= c.maxWorkgroupStorage;
  };
  const needs = ['subgroups', 'chromium-experimental-subgroup-matrix', ...(f16Math ? F16 : [])];
  return { name, family: 'matmul', tm: 0, tn: 0, wg: 0, vec: false, subgroupMatrix: component, f16Math, supports: fits, needs, workgroupMemory: true };
}

/**
 * In preference order (the first supported one wins when autotuning is off, as on CPU
 * adapters). The workgroup-memory variants come last: on lavapipe barriers make them slower
 * than register blocking, on GPUs they are what autotuning should find.
 */
export const MATMUL_VARIANTS: MatmulVariant[] = registerFamily('matmul', (<MatmulVariant[]>[
  // Workgroups of 8 suit lavapipe (one SIMD batch per workgroup); GPUs want 64 or more.
  // 16 rows per block: ~1.4× the 8-row variants on lavapipe (half the B loads per product);
  // 24 or 32 rows spill and run 3× slower there.
  // f16 operands as vec4<u32> words: 0.79× the time of subgroup-16x4-wg64 at 4946x1536x1536
  // on lavapipe (shaders/README.md); f32 operands run as subgroup-16x4-wg64.
  { name: 'subgroup-16x4-wg64-w8', family: 'matmul', tm: 16, tn: 4, wg: 64, vec: true, subgroups: true, words: true, supports: sg8, needs: SUBGROUPS },
  { name: 'subgroup-16x4-wg64', family: 'matmul', tm: 16, tn: 4, wg: 64, vec: true, subgroups: true, supports: sg8, needs: SUBGROUPS },
  { name: 'subgroup-16x4', family: 'matmul', tm: 16, tn: 4, wg: 8, vec: true, subgroups: true, supports: sg8, needs: SUBGROUPS },
  { name: 'subgroup-8x4', family: 'matmul', tm: 8, tn: 4, wg: 8, vec: true, subgroups: true, supports: sg8, needs: SUBGROUPS },
  { name: 'subgroup-8x4-wg64', family: 'matmul', tm: 8, tn: 4, wg: 64, vec: true, subgroups: true, supports: sg8, needs: SUBGROUPS },
  { name: 'tiled-8x4', family: 'matmul', tm: 8, tn: 4, wg: 8, vec: true, supports: any, needs: [] },
  { name: 'tiled-4x4', family: 'matmul', tm: 4, tn: 4, wg: 8, vec: true, supports: any, needs: [] },
  { name: 'tiled-4x8', family: 'matmul', tm: 4, tn: 8, wg: 8, vec: true, supports: any, needs: [] },
  { name: 'tiled-8x4-wg64', family: 'matmul', tm: 8, tn: 4, wg: 64, vec: true, supports: any, needs: [] },
  { name: 'tiled-8x4-f16', family: 'matmul', tm: 8, tn: 4, wg: 8, vec: true, f16Math: true, supports: (c) => c.f16, needs: F16 },
  { name: 'naive', family: 'matmul', tm: 1, tn: 1, wg: 64, vec: false, naive: true, supports: any, autotune: false, needs: [] },
  // 256 invocations each (SwiftShader's limit), tiles of 8-16 KiB (WebGPU guarantees 16 KiB).
  tiled('wgmem-64x64', 64, 64, 4, 4),
  tiled('wgmem-128x64', 128, 64, 8, 4),
  tiled('wgmem-128x128', 128, 128, 8, 8),
  tiled('wgmem-64x64-f16', 64, 64, 4, 4, true),
  // Only where the adapter lists subgroupMatrixConfigs (tests run them on pretend configs, with
  // the shader's stand-ins for the builtins).
  subgroupMatrix('subgroup-matrix-f16', 'f16'),
  subgroupMatrix('subgroup-matrix', 'f32'),
]).map((v) => ({ workgroupMemory: false, ...v })));

export interface LinearOptions {
  act?: Activation;
  /** out = residual + (gate ? gate ⊙ y : y), residual shaped like the output. */
  residual?: Tensor;
  /** Per-sample gate: a Chunk of a [B, chunks·N] tensor, or a [B, N] tensor. Needs residual. */
  gate?: Chunk | Tensor;
  outDtype?: DType;
}

export interface MatmulOptions {
  /** b is [B?, N, K] instead of [B?, K, N]. */
  transB?: boolean;
  outDtype?: DType;
}

interface Gate {
  tensor: Tensor;
  stride: number;
  offset: number;
  rowsPerSample: number;
}

/** One (batched) product with its epilogue; everything the dispatch plan needs. */
interface Problem {
  op: string;
  a: Tensor;
  /** The weight's words when q8 is set. */
  b: Tensor<StorageDType>;
  /** B is an 8-bit weight [N, K] (transB): its scales and group size. */
  q8?: { scales: Tensor; group: number };
  out: Tensor;
  batch: number;
  M: number;
  N: number;
  K: number;
  transB: boolean;
  bias?: Tensor;
  act: Activation;
  residual?: Tensor;
  gate?: Gate;
}


/**
 * y = act(x·Wᵀ + bias), then the optional gated residual. x [..., K], w [N, K] -> [..., N].
 * w may be an 8-bit weight (Q8Weight): the products then use its dequantised values.
 */
export async function linear(gpu: Gpu, x: Tensor, w: LinearWeight, bias?: Tensor, o: LinearOptions = {}): Promise<Tensor> {
  const op = 'linear';
  if (w.shape.length !== 2) throw new Error(`${op}: weight must be [N, K], got [${w.shape}]`);
  const [N, K] = w.shape;
  if (x.shape.length < 1 || x.shape[x.shape.length - 1] !== K) {
    throw new Error(`${op}: input [${x.shape}] must end in K=${K} (weight [${w.shape}])`);
  }
  const M = x.numel / K;
  if (bias && bias.numel !== N) throw new Error(`${op}: bias [${bias.shape}] must have N=${N} elements`);
  const outShape = [...x.shape.slice(0, -1), N];
  if (o.residual && o.residual.numel !== M * N) {
    throw new Error(`${op}: residual [${o.residual.shape}] must match the output [${outShape}]`);
  }
  if (o.gate && !o.residual) throw new Error(`${op}: a gate needs a residual`);
  const out = empty(gpu, outShape, outDtypeFor(gpu, op, x.dtype, o.outDtype));
  await run(gpu, {
    op,
    a: x,
    b: isQ8(w) ? w.data : w,
    q8: isQ8(w) ? { scales: w.scales, group: w.group } : undefined,
    out,
    batch: 1,
    M,
    N,
    K,
    transB: true,
    bias,
    act: o.act ?? 'none',
    residual: o.residual,
    gate: o.gate && gateOf(op, o.gate, M, N),
  });
  return out;
}

/** a [B?, M, K] · b [B?, K, N] (or b [B?, N, K] with transB) -> [B?, M, N]. */
export async function matmul(gpu: Gpu, a: Tensor, b: Tensor, o: MatmulOptions = {}): Promise<Tensor> {
  const op = 'matmul';
  const transB = o.transB ?? false;
  if (a.shape.length < 2 || a.shape.length > 3) throw new Error(`${op}: a must be [M, K] or [B, M, K], got [${a.shape}]`);
  if (b.shape.length !== a.shape.length) throw new Error(`${op}: b [${b.shape}] must have the rank of a [${a.shape}]`);
  const batch = a.shape.length === 3 ? a.shape[0] : 1;
  if (b.shape.length === 3 && b.shape[0] !== batch) throw new Error(`${op}: batch of b [${b.shape}] differs from a [${a.shape}]`);
  const [M, K] = a.shape.slice(-2);
  const [b0, b1] = b.shape.slice(-2);
  const [Kb, N] = transB ? [b1, b0] : [b0, b1];
  if (Kb !== K) throw new Error(`${op}: b [${b.shape}] must have K=${K} ${transB ? 'columns (transB)' : 'rows'} (a [${a.shape}])`);
  const out = empty(gpu, [...a.shape.slice(0, -2), M, N], outDtypeFor(gpu, op, a.dtype, o.outDtype));
  await run(gpu, { op, a, b, out, batch, M, N, K, transB, act: 'none' });
  return out;
}

function outDtypeFor(gpu: Gpu, op: string, input: DType, want?: DType): DType {
  // Without shader-f16, f16 tensors are packed u32 that cannot be written element-wise.
  const dtype = want ?? (input === 'f16' && gpu.caps.f16 ? 'f16' : 'f32');
  if (dtype === 'f16' && !gpu.caps.f16) throw new Error(`${op}: outDtype f16 needs shader-f16, which this adapter lacks (use f32)`);
  return dtype;
}

function gateOf(op: string, g: Chunk | Tensor, M: number, N: number): Gate {
  const { tensor, chunk, chunks } = 'chunks' in g ? g : { tensor: g, chunk: 0, chunks: 1 };
  const stride = chunks * N;
  if (!Number.isInteger(chunk) || chunk < 0 || chunk >= chunks) throw new Error(`${op}: gate chunk ${chunk} outside 0..${chunks - 1}`);
  if (tensor.numel % stride !== 0) throw new Error(`${op}: gate [${tensor.shape}] must be [B, ${chunks}·${N}]`);
  const samples = tensor.numel / stride;
  if (M % samples !== 0) throw new Error(`${op}: ${M} rows do not split evenly into ${samples} gate samples`);
  return { tensor, stride, offset: chunk * N, rowsPerSample: M / samples };
}

// ---- dispatch plan -------------------------------------------------------------------------

interface Band {
  z0: number;
  zc: number;
  m0: number;
  mb: number;
  n0: number;
  nb: number;
}

/** Splits the problem so every binding fits the limit and every grid dimension ≤ the max. */
function bands(gpu: Gpu, p: Problem, v: MatmulVariant): Band[] {
  const { batch, M, N, K } = p;
  const maxWg = gpu.caps.maxWorkgroupsPerDim;
  // Room for the alignment slack and the 16-byte rounding of a binding window (bands.ts).
  const budget = gpu.caps.maxStorageBinding - gpu.caps.minStorageOffsetAlignment - 16;
  const sz = (t: Tensor<StorageDType> | undefined) => (t ? t.byteLength : 0);
  const fits = Math.max(sz(p.a), sz(p.b), sz(p.out), sz(p.residual)) <= budget;
  const rowBytes = Math.max(K * BYTES[p.a.dtype], N * BYTES[p.out.dtype]);
  // A q8 row's scales take fewer bytes than its words: bands of N rows split both alike.
  const colBytes = p.q8 ? q8Words(K) * 4 : K * BYTES[p.b.dtype];
  if (rowBytes > budget || (p.transB && colBytes > budget)) {
    throw new Error(`${p.op}: one row of K=${K}, N=${N} exceeds the ${gpu.caps.maxStorageBinding}-byte binding limit`);
  }
  if (!p.transB && !fits && K * N * BYTES[p.b.dtype] > budget) {
    throw new Error(
      `${p.op}: b [${p.b.shape}] exceeds the ${gpu.caps.maxStorageBinding}-byte binding limit; pass it as [N, K] with transB (split along N)`,
    );
  }
  const zc = fits ? Math.min(batch, maxWg) : 1;
  const [rows, cols] = blockOf(gpu.caps, v);
  const mMax = Math.min(fits ? M : Math.floor(budget / rowBytes), maxWg * rows);
  const nMax = Math.min(fits || !p.transB ? N : Math.floor(budget / colBytes), maxWg * cols);
  const out: Band[] = [];
  for (let z0 = 0; z0 < batch; z0 += zc) {
    for (let m0 = 0; m0 < M; m0 += mMax) {
      for (let n0 = 0; n0 < N; n0 += nMax) {
        out.push({ z0, zc: Math.min(zc, batch - z0), m0, mb: Math.min(mMax, M - m0), n0, nb: Math.min(nMax, N - n0) });
      }
    }
  }
  return out;
}

/** Rows and columns of C one workgroup computes. */
function blockOf(caps: Capabilities, v: MatmulVariant): [number, number] {
  const m = v.subgroupMatrix && matrixConfig(caps, v.subgroupMatrix);
  if (m) return [4 * m.M, 4 * m.N];
  return v.tile ? [v.tile.bm, v.tile.bn] : [v.tm, v.wg * v.tn];
}

/** Whether a and b bind as vec4<u32> words (the register kernel's WORDS). */
function words(p: Problem, v: MatmulVariant): boolean {
  return Boolean(v.words) && p.transB && !p.q8 && p.K % 8 === 0 && p.a.dtype === 'f16' && p.b.dtype === 'f16';
}
function vecA(p: Problem, v: MatmulVariant): boolean {
  return v.vec && p.K % 4 === 0 && !words(p, v);
}
function vecB(p: Problem, v: MatmulVariant): boolean {
  return v.vec && p.transB && p.K % 4 === 0 && !p.q8 && !words(p, v);
}

function kernelFor(gpu: Gpu, p: Problem, v: MatmulVariant) {
  const defines: Record<string, string | number | boolean> = {
    TM: v.tm,
    TN: v.tn,
    SGR: Math.max(1, Math.ceil(v.tm / 8)),
    WORDS: words(p, v),
    WG: v.wg,
    REGISTER: !v.tile && !v.subgroupMatrix,
    WGMEM: Boolean(v.tile),
    BM: v.tile?.bm ?? 0,
    BN: v.tile?.bn ?? 0,
    BK: v.tile?.bk ?? 0,
    WG_X: v.tile ? v.tile.bn / v.tn : 0,
    WG_Y: v.tile ? v.tile.bm / v.tm : 0,
    NAIVE: Boolean(v.naive),
    SUBGROUPS: Boolean(v.subgroups),
    TN8: v.tn === 8,
    MATH: v.f16Math ? 'f16' : 'f32',
    F16_MATH: Boolean(v.f16Math),
    VEC_A: vecA(p, v),
    VEC_B: vecB(p, v),
    TRANS_B: p.transB,
    BIAS: Boolean(p.bias),
    ACT: p.act !== 'none',
    RESIDUAL: Boolean(p.residual),
    GATE: Boolean(p.gate),
    Q8: Boolean(p.q8),
    GROUP: p.q8?.group ?? 0,
    PACKED_4X8: Boolean(p.q8) && gpu.caps.packed4x8,
  };
  if (p.act !== 'none') defines.ACT_FN = `act_${p.act}`;
  if (v.subgroupMatrix) Object.assign(defines, subgroupMatrixDefines(gpu, v.subgroupMatrix));
  const bindings = [
    { name: 'a', dtype: words(p, v) ? 'u32' : p.a.dtype, vec: vecA(p, v) || words(p, v) ? 4 : 1 },
    { name: 'b', dtype: words(p, v) ? 'u32' : p.b.dtype, vec: vecB(p, v) || words(p, v) ? 4 : 1 },
    ...(p.q8 ? [{ name: 'scales', dtype: p.q8.scales.dtype }] : []),
    ...(p.bias ? [{ name: 'bias', dtype: p.bias.dtype }] : []),
    ...(p.residual ? [{ name: 'residual', dtype: p.residual.dtype }] : []),
    ...(p.gate ? [{ name: 'gate', dtype: p.gate.tensor.dtype }] : []),
    { name: 'out', dtype: p.out.dtype, access: 'read_write' },
  ] as const;
  const k = kernelSource('matmul', source, gpu);
  return gpu.pipelines.get({ name: 'matmul', source: withActivations(k.source), file: k.file, bindings: [...bindings], uniforms: true, defines });
}

/**
 * The source with the shared activation library appended (the epilogue's act_* functions, also
 * for overrides). Kept per source: a fresh concatenation on every dispatch would make each
 * pipeline-cache lookup hash ~7 KB of new text.
 */
const sourcesWithActivations = new Map<string, string>();
function withActivations(src: string): string {
  let s = sourcesWithActivations.get(src);
  if (s === undefined) sourcesWithActivations.set(src, (s = `${src}\n${ACTIVATION_WGSL}`));
  return s;
}

/** Records the dispatches of `p` with variant `v`; `maxRows` limits M (autotune timing). */
async function record(gpu: Gpu, p: Problem, v: MatmulVariant, maxRows = Infinity): Promise<void> {
  const kernel = await kernelFor(gpu, p, v);
  const { M, N, K } = p;
  for (const band of bands(gpu, p, v)) {
    if (band.m0 >= maxRows) break;
    const mb = Math.min(band.mb, maxRows - band.m0);
    const zRows = (band.zc - 1) * M + mb;
    const a = bindingWindow(p.a, band.z0 * M * K + band.m0 * K, zRows * K);
    const b = p.q8
      ? bindingWindow(p.b, band.n0 * q8Words(K), band.nb * q8Words(K))
      : p.transB
        ? bindingWindow(p.b, band.z0 * N * K + band.n0 * K, ((band.zc - 1) * N + band.nb) * K)
        : bindingWindow(p.b, band.z0 * K * N, band.zc * K * N);
    const groups = p.q8 && q8Groups(K, p.q8.group);
    const s = p.q8 && groups && bindingWindow(p.q8.scales, band.n0 * groups, band.nb * groups);
    const out = bindingWindow(p.out, band.z0 * M * N + band.m0 * N, zRows * N);
    const res = p.residual && bindingWindow(p.residual, band.m0 * N, mb * N);
    const g = p.gate;
    const u = new Uint32Array([
      mb, band.nb, K, N,
      a.shift, b.shift, out.shift, res?.shift ?? 0,
      M * K, N * K, M * N, band.n0,
      band.m0, g?.rowsPerSample ?? 1, g?.stride ?? 0, g?.offset ?? 0,
      s ? s.shift : 0,
    ]);
    const bindings = [a.binding, b.binding];
    if (s) bindings.push(s.binding);
    if (p.bias) bindings.push(p.bias.binding());
    if (res) bindings.push(res.binding);
    if (g) bindings.push(g.tensor.binding());
    bindings.push(out.binding);
    const [rows, cols] = blockOf(gpu.caps, v);
    const grid: [number, number, number] = [Math.ceil(band.nb / cols), Math.ceil(mb / rows), band.zc];
    gpu.recorder.dispatch(kernel, bindings, u, grid, `${p.op} ${v.name}`);
  }
}

function shapeClass(p: Problem): string {
  const rows = Math.min(2 ** Math.ceil(Math.log2(p.M)), 4096);
  const b = p.q8 ? `q8g${p.q8.group}` : p.b.dtype;
  return `${p.transB ? 'nt' : 'nn'} ${p.a.dtype}.${b}->${p.out.dtype} M~${rows} N${p.N} K${p.K}`;
}

/** Whether `v` can load the problem's B (the subgroup-matrix kernels have no q8 path). */
function readsB(p: Problem, v: MatmulVariant): boolean {
  return !p.q8 || !v.subgroupMatrix;
}

/** Rows used when timing variants: enough to fill the device, few enough to stay cheap. */
const TUNE_ROWS = 512;

async function run(gpu: Gpu, p: Problem): Promise<void> {
  const v = await chooseVariant<MatmulVariant>(
    gpu,
    'matmul',
    shapeClass(p),
    async (cand) => {
      await gpu.sync(p.op);
      const t0 = performance.now();
      await record(gpu, p, cand, TUNE_ROWS);
      await gpu.sync(p.op);
      return performance.now() - t0;
    },
    // f16 products are only for f16 operands: on f32 ones they would cost the f32 path its accuracy
    // (q8 weights count as f16: 8 bits times an f16 scale). The subgroup-matrix kernels read no q8.
    (cand) => (!cand.f16Math || (p.a.dtype === 'f16' && (p.b.dtype === 'f16' || Boolean(p.q8)))) && readsB(p, cand),
  );
  if (!readsB(p, v)) throw new Error(`${p.op}: variant '${v.name}' cannot read 8-bit (q8) weights; use a register or workgroup-memory variant`);
  await record(gpu, p, v);
}
