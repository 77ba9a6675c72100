// Elementwise maps: binary ops with trailing-block broadcasting (bias adds), affine scaling,
// the sampler's Euler step and CFG combine, and T5's gated GELU. All run in bands
// so operands may exceed the storage-binding limit.
import type { Gpu } from '../runtime/device.ts';
import { empty, type DType, type Tensor } from '../runtime/tensor.ts';
import source from '../../shaders/elementwise.wgsl';
import activations from '../../shaders/activation.wgsl';
import { bandItems, bands, bindingWindow, writable } from './bands.ts';
import { runVariant, sizeClass } from './choice.ts';
import { grid1d } from './grid.ts';
import { kernelSource, registerFamily, type Variant } from './registry.ts';

// One variant: four consecutive elements per invocation, no workgroup memory.
registerFamily('elementwise', [{ name: 'x4', family: 'elementwise', supports: () => true, needs: [], workgroupMemory: false }]);

export interface MapArgs {
  /** Names the operation in errors and dispatch labels. */
  op: string;
  /** WGSL expression in x, y, params.alpha, params.beta (see shaders/elementwise.wgsl). */
  expr: string;
  a: Tensor;
  /** Same numel as the output (read from element `bStart` on), or a block tiling it. */
  b?: Tensor;
  bStart?: number;
  alpha?: number;
  beta?: number;
  /** Output shape (default a's); its elements are a's first elements. */
  shape?: readonly number[];
  outDtype?: DType;
}

/** Runs one elementwise map (any expression; the public ops below are the vocabulary). */
export async function map(gpu: Gpu, m: MapArgs): Promise<Tensor> {
  const { op, a, b } = m;
  const shape = m.shape ?? a.shape;
  const n = shape.reduce((x, y) => x * y, 1);
  const outDtype = m.outDtype ?? writable(gpu, a.dtype);
  const bStart = m.bStart ?? 0;
  const tiled = b !== undefined && b.numel - bStart !== n;
  if (b && tiled && (bStart !== 0 || b.numel > n || n % b.numel !== 0)) {
    throw new Error(`${op}: shapes [${a.shape}] and [${b.shape}] do not broadcast (b must match a or tile its trailing block)`);
  }
  const out = empty(gpu, shape, outDtype);
  const record = async (v: Variant) => {
    const k = kernelSource('elementwise', source, gpu);
    const kernel = await gpu.pipelines.get({
      name: 'elementwise',
      // The activations come from the shared function library (also for overrides).
      source: `${k.source}\n${activations}`,
      file: k.file,
      bindings: [
        { name: 'a', dtype: a.dtype },
        ...(b ? [{ name: 'b', dtype: b.dtype }] : []),
        { name: 'out', dtype: outDtype, access: 'read_write' as const },
      ],
      uniforms: true,
      defines: { OP: m.expr, HAS_B: Boolean(b), TILED_B: tiled },
    });
    const banded = [a.dtype, outDtype, ...(b && !tiled ? [b.dtype] : [])];
    const bWhole = b && tiled ? bindingWindow(b, 0, b.numel) : undefined;
    const u = new Uint32Array(8);
    const f = new Float32Array(u.buffer);
    for (const [s, count] of bands(n, bandItems(gpu, 1, banded, op))) {
      const wa = bindingWindow(a, s, count);
      const wo = bindingWindow(out, s, count);
      const wb = b ? (tiled ? bWhole! : bindingWindow(b, bStart + s, count)) : undefined;
      u.set([count, wa.shift, wb?.shift ?? 0, wo.shift, b?.numel ?? 0, b ? s % b.numel : 0]);
      f[6] = m.alpha ?? 0;
      f[7] = m.beta ?? 0;
      const bindings = [wa.binding, ...(wb ? [wb.binding] : []), wo.binding];
      gpu.recorder.dispatch(kernel, bindings, u, grid1d(gpu, count, 4 * 256), `${op} ${v.name}`);
    }
  };
  await runVariant(gpu, 'elementwise', `${op} ${a.dtype}->${outDtype} n~${sizeClass(n, 1 << 24)}`, record, { outputs: [out] });
  return out;
}

function sameShape(op: string, a: Tensor, b: Tensor, names: [string, string]): void {
  if (a.numel !== b.numel || a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`${op}: ${names[0]} [${a.shape}] and ${names[1]} [${b.shape}] must have the same shape`);
  }
}

const OPS = { add: 'x + y', mul: 'x * y', sub: 'x - y' } as const;
export type BinaryOp = keyof typeof OPS;

/** a OP b, where b has a's shape or tiles a's trailing block (a bias over the last dimension). */
export async function binary(gpu: Gpu, op: BinaryOp, a: Tensor, b: Tensor, outDtype?: DType): Promise<Tensor> {
  return map(gpu, { op, expr: OPS[op], a, b, outDtype });
}

export const add = (gpu: Gpu, a: Tensor, b: Tensor, outDtype?: DType) => binary(gpu, 'add', a, b, outDtype);
export const mul = (gpu: Gpu, a: Tensor, b: Tensor, outDtype?: DType) => binary(gpu, 'mul', a, b, outDtype);
export const sub = (gpu: Gpu, a: Tensor, b: Tensor, outDtype?: DType) => binary(gpu, 'sub', a, b, outDtype);

/** a·x + b (VAE latent scaling and shifting). */
export async function scale(gpu: Gpu, x: Tensor, a: number, b: number, outDtype?: DType): Promise<Tensor> {
  return map(gpu, { op: 'scale', expr: 'params.alpha * x + params.beta', a: x, alpha: a, beta: b, outDtype });
}

/** x + dt·v in f32 (the flow-matching Euler step; the latent stays f32 across steps). */
export async function eulerStep(gpu: Gpu, x: Tensor, v: Tensor, dt: number): Promise<Tensor> {
  sameShape('eulerStep', x, v, ['x', 'v']);
  return map(gpu, { op: 'eulerStep', expr: 'x + params.alpha * y', a: x, b: v, alpha: dt, outDtype: 'f32' });
}

/** Classifier-free guidance: v = [uncond; cond] stacked on dim 0 -> u + g·(c − u), half the batch. */
export async function cfgCombine(gpu: Gpu, v: Tensor, g: number, outDtype?: DType): Promise<Tensor> {
  if (v.shape.length < 1 || v.shape[0] % 2 !== 0) {
    throw new Error(`cfgCombine: v [${v.shape}] must have an even batch [2B, ...] ordered [uncond, cond]`);
  }
  const shape = [v.shape[0] / 2, ...v.shape.slice(1)];
  return map(gpu, { op: 'cfgCombine', expr: 'x + params.alpha * (y - x)', a: v, b: v, bStart: v.numel / 2, shape, alpha: g, outDtype });
}

/** gelu_tanh(a) · b: T5's gated feed-forward (gated-gelu, HF "gelu_new"). */
export async function geluMul(gpu: Gpu, a: Tensor, b: Tensor, outDtype?: DType): Promise<Tensor> {
  sameShape('geluMul', a, b, ['a', 'b']);
  return map(gpu, { op: 'geluMul', expr: 'act_gelu_tanh(x) * y', a, b, outDtype });
}
