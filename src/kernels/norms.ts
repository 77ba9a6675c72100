// LayerNorm (with optional affine and adaLN modulation) and T5's RMSNorm: one fused kernel,
// one workgroup per row, rows processed in bands that fit the storage-binding limit.
import type { Gpu } from '../runtime/device.ts';
import { empty, type DType, type Tensor } from '../runtime/tensor.ts';
import source from '../../shaders/norms.wgsl';
import { bandItems, bands, checkChunk, chunkWindow, bindingWindow, type Window, writable } from './bands.ts';
import { runVariant, sizeClass } from './choice.ts';
import { grid1d } from './grid.ts';
import { kernelSource, registerFamily, type Variant } from './registry.ts';
import type { Chunk } from './types.ts';

export interface LayerNormOptions {
  eps: number;
  weight?: Tensor;
  bias?: Tensor;
  /** adaLN modulation: y·(1 + scale) + shift, per sample. */
  shift?: Chunk;
  scale?: Chunk;
  outDtype?: DType;
}

interface NormArgs extends LayerNormOptions {
  op: string;
  rms: boolean;
}

/**
 * Threads per row: ~32 elements each, a power of two (tree fallback) from 32 to 256. Fewer,
 * busier threads halve lavapipe's time (its barriers are costly) and leave GPUs plenty of rows.
 */
function workgroupSize(c: number): number {
  let wg = 32;
  while (wg < 256 && wg * 32 < c) wg *= 2;
  return wg;
}

// Both reduce a row's sums in workgroup memory; `subgroup` first adds within each subgroup
// (one partial per subgroup, two barriers), `workgroup` runs a tree over all threads (log2(WG)
// barriers). In preference order.
registerFamily('norms', [
  { name: 'subgroup', family: 'norms', supports: (c) => c.subgroups, needs: ['subgroups'], workgroupMemory: true },
  { name: 'workgroup', family: 'norms', supports: () => true, needs: [], workgroupMemory: true },
]);

function checkVector(op: string, name: string, t: Tensor | undefined, c: number): void {
  if (t && t.numel !== c) throw new Error(`${op}: ${name} [${t.shape}] must have C = ${c} elements (the last dimension of x)`);
}

async function norm(gpu: Gpu, x: Tensor, o: NormArgs): Promise<Tensor> {
  const { op } = o;
  const c = x.shape[x.shape.length - 1];
  if (!c || x.shape.length < 1) throw new Error(`${op}: x [${x.shape}] must be [..., C] with C > 0`);
  const rows = x.numel / c;
  checkVector(op, 'weight', o.weight, c);
  checkVector(op, 'bias', o.bias, c);
  if (Boolean(o.shift) !== Boolean(o.scale)) throw new Error(`${op}: shift and scale must be given together`);
  const rps = o.shift && o.scale ? [checkChunk(op, 'shift', o.shift, c, rows), checkChunk(op, 'scale', o.scale, c, rows)] : [];
  if (rps.length && rps[0] !== rps[1]) throw new Error(`${op}: shift and scale have different batch sizes`);
  const outDtype = o.outDtype ?? writable(gpu, x.dtype);
  const wg = workgroupSize(c);
  const out = empty(gpu, x.shape, outDtype);
  const record = async (v: Variant) => {
    const kernel = await gpu.pipelines.get({
      name: 'norms',
      ...kernelSource('norms', source, gpu),
      bindings: [
        { name: 'x', dtype: x.dtype },
        ...(o.weight ? [{ name: 'w', dtype: o.weight.dtype }] : []),
        ...(o.bias ? [{ name: 'b', dtype: o.bias.dtype }] : []),
        ...(o.shift && o.scale
          ? [
              { name: 'shift', dtype: o.shift.tensor.dtype },
              { name: 'scale', dtype: o.scale.tensor.dtype },
            ]
          : []),
        { name: 'out', dtype: outDtype, access: 'read_write' as const },
      ],
      uniforms: true,
      defines: {
        WG: wg,
        PER: Math.ceil(c / wg),
        RMS: o.rms,
        AFFINE: Boolean(o.weight),
        BIAS: Boolean(o.bias),
        MODULATE: rps.length > 0,
        SUBGROUPS: v.name === 'subgroup',
      },
    });
    const whole = (t: Tensor) => bindingWindow(t, 0, t.numel);
    const ww = o.weight && whole(o.weight);
    const wb = o.bias && whole(o.bias);
    const u = new Uint32Array(12);
    const f = new Float32Array(u.buffer);
    for (const [r0, count] of bands(rows, bandItems(gpu, c, [x.dtype, outDtype], op))) {
      const wx = bindingWindow(x, r0 * c, count * c);
      const wo = bindingWindow(out, r0 * c, count * c);
      u.set([count, c, wx.shift, wo.shift, 0, ww?.shift ?? 0, wb?.shift ?? 0, 0]);
      f[4] = o.eps;
      let ws: Window | undefined;
      let wsc: Window | undefined;
      if (o.shift && o.scale) {
        const sh = chunkWindow(o.shift, c, rps[0], r0, count);
        const sc = chunkWindow(o.scale, c, rps[0], r0, count);
        [ws, wsc] = [sh, sc];
        // row0 makes the shader's sample index relative to the band's first sample.
        u.set([r0 - sh.firstSample * rps[0], rps[0], o.shift.tensor.shape[1], sh.shift, sc.shift], 7);
      }
      const opt = [ww, wb, ws, wsc].filter((w): w is Window => w !== undefined).map((w) => w.binding);
      gpu.recorder.dispatch(kernel, [wx.binding, ...opt, wo.binding], u, grid1d(gpu, count, 1), `${op} ${v.name}`);
    }
  };
  await runVariant(gpu, 'norms', `${op} ${x.dtype}->${outDtype} C${c} rows~${sizeClass(rows)}`, record, { outputs: [out] });
  return out;
}

/** LayerNorm over the last dimension; optional affine, then optional adaLN modulation. */
export function layerNorm(gpu: Gpu, x: Tensor, o: LayerNormOptions): Promise<Tensor> {
  return norm(gpu, x, { ...o, op: 'layerNorm', rms: false });
}

/** T5's RMSNorm: x / sqrt(mean(x²) + eps) · weight, statistics in f32. */
export function rmsNorm(gpu: Gpu, x: Tensor, weight: Tensor, eps: number, outDtype?: DType): Promise<Tensor> {
  return norm(gpu, x, { op: 'rmsNorm', rms: true, eps, weight, outDtype });
}
