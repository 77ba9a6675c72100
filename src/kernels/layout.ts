// Layout ops (token concat/slice, patchify/unpatchify), all one strided-copy
// kernel. Copies larger than the binding limit run in tiles: hyperrectangles whose source and
// destination spans each fit one binding window.
import type { Gpu } from '../runtime/device.ts';
import { BYTES, empty, type DType, type Tensor } from '../runtime/tensor.ts';
import source from '../../shaders/layout.wgsl';
import { maxWindowElems, bindingWindow, writable } from './bands.ts';
import { runVariant, sizeClass } from './choice.ts';
import { grid1d } from './grid.ts';
import { kernelSource, registerFamily, type Variant } from './registry.ts';

// One variant: an invocation per element. (Few contiguous rows are buffer copies, not a kernel.)
registerFamily('layout', [{ name: 'strided', family: 'layout', supports: () => true, needs: [], workgroupMemory: false }]);

const MAX_DIMS = 6;

interface Copy {
  dims: number[];
  srcStrides: number[];
  outStrides: number[];
  srcBase: number;
  outBase: number;
}

const contiguous = (dims: readonly number[]) => dims.map((_, k) => dims.slice(k + 1).reduce((a, b) => a * b, 1));

/** Drops size-1 dims and merges dims that are contiguous in both tensors (fewer divisions). */
function simplify(c: Copy): Copy {
  const d: number[] = [];
  const s: number[] = [];
  const o: number[] = [];
  c.dims.forEach((n, k) => {
    if (n === 1) return;
    const last = d.length - 1;
    if (last >= 0 && s[last] === n * c.srcStrides[k] && o[last] === n * c.outStrides[k]) {
      d[last] *= n;
      s[last] = c.srcStrides[k];
      o[last] = c.outStrides[k];
    } else {
      d.push(n);
      s.push(c.srcStrides[k]);
      o.push(c.outStrides[k]);
    }
  });
  return { ...c, dims: d, srcStrides: s, outStrides: o };
}

const span = (t: number[], strides: number[]) => 1 + t.reduce((acc, n, k) => acc + (n - 1) * strides[k], 0);

/** Visits the start of every tile of `tile` over `dims` (odometer, innermost fastest). */
function* tileStarts(dims: number[], tile: number[]): Generator<number[]> {
  const start = new Array(dims.length).fill(0);
  for (;;) {
    yield start;
    let k = dims.length - 1;
    for (; k >= 0; k--) {
      start[k] += tile[k];
      if (start[k] < dims[k]) break;
      start[k] = 0;
    }
    if (k < 0) return;
  }
}

const dot = (a: number[], b: number[]) => a.reduce((acc, v, k) => acc + v * b[k], 0);

/** Most buffer copies a layout op records instead of one kernel dispatch. */
const MAX_ROW_COPIES = 64;

/** Copies `c` from `src` into `out` (strides non-negative, in elements). */
async function stridedCopy(gpu: Gpu, src: Tensor, out: Tensor, copy: Copy, op: string): Promise<void> {
  const c = simplify(copy);
  if (c.dims.length > MAX_DIMS) throw new Error(`${op}: a copy of ${c.dims.length} dims exceeds the kernel's ${MAX_DIMS}`);
  if (c.dims.length === 0) c.dims.push(1), c.srcStrides.push(0), c.outStrides.push(0);
  // Few contiguous rows of one dtype (token concat/slice): buffer copies, which have no
  // binding limit and run at memcpy speed. They need 4-byte aligned offsets and sizes.
  const last = c.dims.length - 1;
  const bytes = BYTES[src.dtype];
  const rows = c.dims.slice(0, last);
  if (
    src.dtype === out.dtype &&
    c.srcStrides[last] === 1 &&
    c.outStrides[last] === 1 &&
    rows.reduce((a, b) => a * b, 1) <= MAX_ROW_COPIES &&
    [c.dims[last], c.srcBase, c.outBase, ...c.srcStrides.slice(0, last), ...c.outStrides.slice(0, last)].every((v) => (v * bytes) % 4 === 0)
  ) {
    src.binding(); // throws on a disposed tensor
    for (const at of tileStarts(rows, rows.map(() => 1))) {
      const s = src.offset + (c.srcBase + dot(at, c.srcStrides)) * bytes;
      const o = out.offset + (c.outBase + dot(at, c.outStrides)) * bytes;
      gpu.recorder.copy(src.buffer, s, out.buffer, o, c.dims[last] * bytes);
    }
    return;
  }
  // Tile: halve the dim that contributes most to whichever span is over its limit.
  const limS = maxWindowElems(gpu, src.dtype);
  const limO = maxWindowElems(gpu, out.dtype);
  const tile = c.dims.slice();
  for (;;) {
    const over = span(tile, c.srcStrides) > limS ? c.srcStrides : span(tile, c.outStrides) > limO ? c.outStrides : undefined;
    if (!over) break;
    let k = -1;
    for (let j = 0; j < tile.length; j++) if (tile[j] > 1 && (k < 0 || (tile[j] - 1) * over[j] > (tile[k] - 1) * over[k])) k = j;
    if (k < 0) throw new Error(`${op}: one element does not fit a storage binding`);
    tile[k] = Math.ceil(tile[k] / 2);
  }
  const record = async (v: Variant) => {
    const kernel = await gpu.pipelines.get({
      name: 'layout',
      ...kernelSource('layout', source, gpu),
      bindings: [
        { name: 'src', dtype: src.dtype },
        { name: 'out', dtype: out.dtype, access: 'read_write' },
      ],
      uniforms: true,
    });
    const pad = MAX_DIMS - c.dims.length;
    const u = new Uint32Array(4 + 3 * 8);
    for (const start of tileStarts(c.dims, tile)) {
      const t = tile.map((n, k) => Math.min(n, c.dims[k] - start[k]));
      const s0 = c.srcBase + dot(start, c.srcStrides);
      const o0 = c.outBase + dot(start, c.outStrides);
      const ws = bindingWindow(src, s0, span(t, c.srcStrides));
      const wo = bindingWindow(out, o0, span(t, c.outStrides));
      const n = t.reduce((a, b) => a * b, 1);
      u.fill(0);
      u.set([n, ws.shift, wo.shift, 0]);
      u.fill(1, 4, 4 + pad);
      u.set(t, 4 + pad);
      u.set(c.srcStrides, 12 + pad);
      u.set(c.outStrides, 20 + pad);
      gpu.recorder.dispatch(kernel, [ws.binding, wo.binding], u, grid1d(gpu, n, 256), `${op} ${v.name}`);
    }
  };
  await runVariant(gpu, 'layout', `${src.dtype}->${out.dtype} rank${c.dims.length} n~${sizeClass(c.dims.reduce((x, y) => x * y, 1), 1 << 24)}`, record);
}

function expectRank(op: string, x: Tensor, rank: number, what: string): void {
  if (x.shape.length !== rank) throw new Error(`${op}: x [${x.shape}] must be ${what}`);
}

/** Concatenates [B, Ti, C] tensors along the token dimension. */
export async function concatTokens(gpu: Gpu, parts: Tensor[], outDtype?: DType): Promise<Tensor> {
  if (parts.length === 0) throw new Error('concatTokens: no parts given');
  const [b, , c] = parts[0].shape;
  parts.forEach((p, i) => {
    if (p.shape.length !== 3 || p.shape[0] !== b || p.shape[2] !== c || p.dtype !== parts[0].dtype) {
      throw new Error(`concatTokens: part ${i} [${p.shape}] ${p.dtype} must be [${b}, T, ${c}] ${parts[0].dtype} like part 0`);
    }
  });
  const total = parts.reduce((a, p) => a + p.shape[1], 0);
  const out = empty(gpu, [b, total, c], outDtype ?? writable(gpu, parts[0].dtype));
  let t0 = 0;
  for (const p of parts) {
    const t = p.shape[1];
    await stridedCopy(gpu, p, out, { dims: [b, t, c], srcStrides: [t * c, c, 1], outStrides: [total * c, c, 1], srcBase: 0, outBase: t0 * c }, 'concatTokens');
    t0 += t;
  }
  return out;
}

/** Tokens [start, start + count) of x [B, T, C]. */
export async function sliceTokens(gpu: Gpu, x: Tensor, start: number, count: number, outDtype?: DType): Promise<Tensor> {
  expectRank('sliceTokens', x, 3, '[B, T, C]');
  const [b, t, c] = x.shape;
  if (!(start >= 0 && count >= 1 && start + count <= t && Number.isInteger(start) && Number.isInteger(count))) {
    throw new Error(`sliceTokens: tokens [${start}, ${start + count}) are outside x's ${t} tokens`);
  }
  const out = empty(gpu, [b, count, c], outDtype ?? writable(gpu, x.dtype));
  await stridedCopy(gpu, x, out, { dims: [b, count, c], srcStrides: [t * c, c, 1], outStrides: [count * c, c, 1], srcBase: start * c, outBase: 0 }, 'sliceTokens');
  return out;
}

/** x viewed as `dims`, axes permuted (out dim k is x dim perm[k]), returned with shape `outShape`. */
async function permute(gpu: Gpu, x: Tensor, dims: number[], perm: number[], op: string, outShape?: number[], outDtype?: DType): Promise<Tensor> {
  const xs = contiguous(dims);
  const outDims = perm.map((p) => dims[p]);
  const out = empty(gpu, outShape ?? outDims, outDtype ?? writable(gpu, x.dtype));
  await stridedCopy(gpu, x, out, { dims: outDims, srcStrides: perm.map((p) => xs[p]), outStrides: contiguous(outDims), srcBase: 0, outBase: 0 }, op);
  return out;
}

/**
 * [B, C, H, W] -> [B, (H/p)(W/p), C·p·p], features ordered (c, py, px) like a flattened Conv2d
 * weight [Cout, C, p, p]: patch embedding = linear(patchify(x), w.reshape([Cout, C·p·p])).
 */
export async function patchify(gpu: Gpu, x: Tensor, p: number, outDtype?: DType): Promise<Tensor> {
  expectRank('patchify', x, 4, '[B, C, H, W]');
  const [b, c, hh, ww] = x.shape;
  if (!(p >= 1 && hh % p === 0 && ww % p === 0)) throw new Error(`patchify: H ${hh} and W ${ww} must be multiples of the patch size ${p}`);
  const [h, w] = [hh / p, ww / p];
  // x viewed as [B, C, h, p, w, p]; tokens (h, w), features (c, py, px).
  return permute(gpu, x, [b, c, h, p, w, p], [0, 2, 4, 1, 3, 5], 'patchify', [b, h * w, c * p * p], outDtype);
}

/**
 * [B, h·w, p·p·C] -> [B, C, h·p, w·p]: SD3's unpatchify, tokens (h, w), features (py, px, c)
 * (reshape [B, h, w, p, p, C], einsum nhwpqc -> nchpwq).
 */
export async function unpatchify(gpu: Gpu, x: Tensor, h: number, w: number, p: number, c: number, outDtype?: DType): Promise<Tensor> {
  expectRank('unpatchify', x, 3, `[B, h·w, p·p·C]`);
  const b = x.shape[0];
  if (x.shape[1] !== h * w || x.shape[2] !== p * p * c) {
    throw new Error(`unpatchify: x [${x.shape}] must be [B, ${h * w}, ${p * p * c}] for h ${h}, w ${w}, p ${p}, C ${c}`);
  }
  return permute(gpu, x, [b, h, w, p, p, c], [0, 5, 1, 3, 2, 4], 'unpatchify', [b, c, h * p, w * p], outDtype);
}
