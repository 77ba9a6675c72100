// Token embedding lookup (tables may exceed the binding limit: T5-XXL's 32128×4096 f32 is
// 526 MB) and the sinusoidal timestep embedding.
import type { Gpu } from '../runtime/device.ts';
import { empty, fromArray, type DType, type Tensor } from '../runtime/tensor.ts';
import source from '../../shaders/embedding.wgsl';
import { bandItems, bands, bindingWindow, writable } from './bands.ts';
import { runVariant, sizeClass } from './choice.ts';
import { grid1d } from './grid.ts';
import { kernelSource, registerFamily, type Variant } from './registry.ts';

// One variant: an invocation per output element, no workgroup memory.
registerFamily('embedding', [{ name: 'gather', family: 'embedding', supports: () => true, needs: [], workgroupMemory: false }]);

/** Rows `ids` of table [V, C] -> [n, C]. */
export async function embedding(gpu: Gpu, table: Tensor, ids: Int32Array | Uint32Array, outDtype?: DType): Promise<Tensor> {
  if (table.shape.length !== 2) throw new Error(`embedding: table [${table.shape}] must be [V, C]`);
  const [v, c] = table.shape;
  ids.forEach((id, k) => {
    if (!(id >= 0 && id < v)) throw new Error(`embedding: id ${id} at position ${k} is outside the table's ${v} rows`);
  });
  const n = ids.length;
  const out = empty(gpu, [n, c], outDtype ?? writable(gpu, table.dtype));
  if (n === 0) return out;
  const idBuf = gpu.pool.acquire(n * 4, 'embedding ids');
  gpu.recorder.write(idBuf, 0, new Uint8Array(Uint32Array.from(ids).buffer));
  const record = async (variant: Variant) => {
    const kernel = await gpu.pipelines.get({
      name: 'embedding',
      ...kernelSource('embedding', source, gpu),
      bindings: [
        { name: 'ids', dtype: 'u32' },
        { name: 'table', dtype: table.dtype },
        { name: 'out', dtype: out.dtype, access: 'read_write' },
      ],
      uniforms: true,
    });
    for (const [v0, nv] of bands(v, bandItems(gpu, c, [table.dtype], 'embedding'))) {
      // Skip blocks no id falls in (a prompt touches few of T5's 32128 rows).
      if (!ids.some((id) => id >= v0 && id < v0 + nv)) continue;
      const wt = bindingWindow(table, v0 * c, nv * c);
      const u = new Uint32Array([n * c, c, v0, nv, wt.shift, 0, 0, 0]);
      gpu.recorder.dispatch(kernel, [{ buffer: idBuf, offset: 0, size: n * 4 }, wt.binding, out], u, grid1d(gpu, n * c, 256), `embedding ${variant.name}`);
    }
  };
  try {
    await runVariant(gpu, 'embedding', `${table.dtype}->${out.dtype} C${c} n~${sizeClass(n)}`, record, { outputs: [out] });
  } finally {
    // Safe before the dispatches run: a later user of this buffer writes it through the queue
    // after they are submitted, or records after them.
    gpu.pool.release(idBuf);
  }
  return out;
}

/**
 * diffusers' get_timestep_embedding(t, dim, flip_sin_to_cos=True, downscale_freq_shift=0),
 * as SD3 uses it: freqs_i = exp(−ln(10000)·i/half), emb = [cos(t·f), sin(t·f)] (zero-padded
 * when dim is odd). Computed on the CPU in f32 steps like torch: WGSL's sin/cos carry no
 * accuracy guarantee for arguments as large as t·f (up to 1000 rad).
 */
export async function timestepEmbedding(gpu: Gpu, t: Float32Array, dim: number): Promise<Tensor> {
  return fromArray(gpu, timestepSinusoid(t, dim), [t.length, dim], 'f32');
}

/** timestepEmbedding's values, [t.length, dim] row-major, on the CPU. */
export function timestepSinusoid(t: Float32Array, dim: number): Float32Array {
  if (!(Number.isInteger(dim) && dim >= 2)) throw new Error(`timestepEmbedding: dim ${dim} must be an integer >= 2`);
  const half = Math.floor(dim / 2);
  const f = Math.fround;
  const freqs = Array.from({ length: half }, (_, i) => f(Math.exp(f(f(f(-Math.log(10000)) * i) / half))));
  const out = new Float32Array(t.length * dim);
  for (let b = 0; b < t.length; b++) {
    for (let i = 0; i < half; i++) {
      const arg = f(t[b] * freqs[i]);
      out[b * dim + i] = Math.cos(arg);
      out[b * dim + half + i] = Math.sin(arg);
    }
  }
  return out;
}
