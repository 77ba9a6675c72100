// Plain-TypeScript reference of DICEPTION's MMDiT forward (diffusers 0.30.3 semantics), for
// shapes the golden does not cover (other batch sizes, non-square latents). Slow; tiny models only.
import { readF32, type WeightReader } from '../../src/runtime/weights.ts';

type Mat = { data: Float64Array; rows: number; cols: number };

const mat = (rows: number, cols: number): Mat => ({ data: new Float64Array(rows * cols), rows, cols });

export class RefWeights {
  private cache = new Map<string, Float32Array>();
  constructor(private readonly r: WeightReader) {}
  async get(name: string): Promise<Float32Array> {
    let v = this.cache.get(name);
    if (!v) this.cache.set(name, (v = await readF32(this.r.entry(name))));
    return v;
  }
  async linear(x: Mat, name: string): Promise<Mat> {
    const w = await this.get(`${name}.weight`);
    const b = await this.get(`${name}.bias`);
    const n = b.length;
    const y = mat(x.rows, n);
    for (let i = 0; i < x.rows; i++) {
      for (let j = 0; j < n; j++) {
        let s = b[j];
        for (let k = 0; k < x.cols; k++) s += x.data[i * x.cols + k] * w[j * x.cols + k];
        y.data[i * n + j] = s;
      }
    }
    return y;
  }
}

const map = (x: Mat, f: (v: number) => number): Mat => ({ ...x, data: x.data.map(f) });
const silu = (v: number) => v / (1 + Math.exp(-v));
const geluTanh = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));

function rows(x: Mat, start: number, count: number): Mat {
  return { data: x.data.slice(start * x.cols, (start + count) * x.cols), rows: count, cols: x.cols };
}
function stack(parts: Mat[]): Mat {
  const out = mat(parts.reduce((a, p) => a + p.rows, 0), parts[0].cols);
  let o = 0;
  for (const p of parts) {
    out.data.set(p.data, o);
    o += p.data.length;
  }
  return out;
}

/** LayerNorm (eps 1e-6, no affine) · (1 + scale) + shift, with scale/shift rows of `mod` [1, k·C]. */
function modulate(x: Mat, mod: Mat, shiftChunk: number, scaleChunk: number): Mat {
  const C = x.cols;
  const y = mat(x.rows, C);
  for (let i = 0; i < x.rows; i++) {
    const r = x.data.subarray(i * C, (i + 1) * C);
    const mean = r.reduce((a, v) => a + v, 0) / C;
    const v = r.reduce((a, t) => a + (t - mean) ** 2, 0) / C;
    for (let j = 0; j < C; j++) {
      const n = (r[j] - mean) / Math.sqrt(v + 1e-6);
      y.data[i * C + j] = n * (1 + mod.data[scaleChunk * C + j]) + mod.data[shiftChunk * C + j];
    }
  }
  return y;
}

function gatedAdd(x: Mat, y: Mat, mod: Mat, chunk: number): Mat {
  const C = x.cols;
  return { ...x, data: x.data.map((v, i) => v + mod.data[chunk * C + (i % C)] * y.data[i]) };
}

function attention(q: Mat, k: Mat, v: Mat, heads: number): Mat {
  const T = q.rows;
  const D = q.cols / heads;
  const out = mat(T, q.cols);
  const s = new Float64Array(T);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < T; i++) {
      let max = -Infinity;
      for (let j = 0; j < T; j++) {
        let d = 0;
        for (let e = 0; e < D; e++) d += q.data[i * q.cols + h * D + e] * k.data[j * q.cols + h * D + e];
        s[j] = d / Math.sqrt(D);
        max = Math.max(max, s[j]);
      }
      let sum = 0;
      for (let j = 0; j < T; j++) sum += s[j] = Math.exp(s[j] - max);
      for (let e = 0; e < D; e++) {
        let acc = 0;
        for (let j = 0; j < T; j++) acc += s[j] * v.data[j * q.cols + h * D + e];
        out.data[i * q.cols + h * D + e] = acc / sum;
      }
    }
  }
  return out;
}

export interface RefConfig {
  patch: number;
  heads: number;
  layers: number;
  posMax: number;
  outChannels: number;
}

/** One sample: latents [Cin, H, W] (noisy, condition), points [P, C], prompt [T, J], pooled [Dp]. */
export async function refMMDiT(
  w: RefWeights,
  cfg: RefConfig,
  hidden: Float32Array,
  cond: Float32Array,
  shape: [number, number, number],
  points: Float32Array,
  t: number,
  prompt: Float32Array,
  pooled: Float32Array,
): Promise<Float64Array> {
  const [Cin, H, W] = shape;
  const p = cfg.patch;
  const [h, wd] = [H / p, W / p];
  const pos = await w.get('pos_embed.pos_embed');
  const C = pos.length / cfg.posMax ** 2;
  const top = Math.floor((cfg.posMax - h) / 2);
  const left = Math.floor((cfg.posMax - wd) / 2);
  const embed = async (x: Float32Array) => {
    const m = mat(h * wd, Cin * p * p);
    for (let i = 0; i < h; i++)
      for (let j = 0; j < wd; j++)
        for (let c = 0; c < Cin; c++)
          for (let a = 0; a < p; a++)
            for (let b = 0; b < p; b++) m.data[(i * wd + j) * m.cols + (c * p + a) * p + b] = x[(c * H + i * p + a) * W + j * p + b];
    const y = await w.linear(m, 'pos_embed.proj');
    for (let i = 0; i < h; i++)
      for (let j = 0; j < wd; j++)
        for (let c = 0; c < C; c++) y.data[(i * wd + j) * C + c] += pos[((top + i) * cfg.posMax + left + j) * C + c];
    return y;
  };
  let x = stack([await embed(hidden), await embed(cond)]);
  const half = (await w.get('time_text_embed.timestep_embedder.linear_1.weight')).length / C / 2;
  const sin = mat(1, 2 * half);
  for (let i = 0; i < half; i++) {
    const a = t * Math.exp((-Math.log(10000) * i) / half);
    sin.data[i] = Math.cos(a);
    sin.data[half + i] = Math.sin(a);
  }
  const te = await w.linear(map(await w.linear(sin, 'time_text_embed.timestep_embedder.linear_1'), silu), 'time_text_embed.timestep_embedder.linear_2');
  const pooledM = { data: Float64Array.from(pooled), rows: 1, cols: pooled.length };
  const pe = await w.linear(map(await w.linear(pooledM, 'time_text_embed.text_embedder.linear_1'), silu), 'time_text_embed.text_embedder.linear_2');
  const cond0 = map({ ...te, data: te.data.map((v, i) => v + pe.data[i]) }, silu);
  const J = (await w.get('context_embedder.weight')).length / C;
  const promptM = { data: Float64Array.from(prompt), rows: prompt.length / J, cols: J };
  let c = stack([await w.linear(promptM, 'context_embedder'), { data: Float64Array.from(points), rows: points.length / C, cols: C }]);
  for (let l = 0; l < cfg.layers; l++) {
    const b = `transformer_blocks.${l}`;
    const last = l === cfg.layers - 1;
    const mx = await w.linear(cond0, `${b}.norm1.linear`);
    const mc = await w.linear(cond0, `${b}.norm1_context.linear`);
    const nx = modulate(x, mx, 0, 1);
    const nc = last ? modulate(c, mc, 1, 0) : modulate(c, mc, 0, 1);
    const qkv = async (a: string, e: string) => stack([await w.linear(nx, `${b}.attn.${a}`), await w.linear(nc, `${b}.attn.${e}`)]);
    const att = attention(await qkv('to_q', 'add_q_proj'), await qkv('to_k', 'add_k_proj'), await qkv('to_v', 'add_v_proj'), cfg.heads);
    const mlp = async (s: Mat, a: Mat, out: string, ff: string, mod: Mat) => {
      const s1 = gatedAdd(s, await w.linear(a, out), mod, 2);
      const f = await w.linear(map(await w.linear(modulate(s1, mod, 3, 4), `${ff}.net.0.proj`), geluTanh), `${ff}.net.2`);
      return gatedAdd(s1, f, mod, 5);
    };
    const x1 = await mlp(x, rows(att, 0, x.rows), `${b}.attn.to_out.0`, `${b}.ff`, mx);
    if (!last) c = await mlp(c, rows(att, x.rows, c.rows), `${b}.attn.to_add_out`, `${b}.ff_context`, mc);
    x = x1;
  }
  const mo = await w.linear(cond0, 'norm_out.linear');
  const y = await w.linear(modulate(rows(x, 0, h * wd), mo, 1, 0), 'proj_out');
  const Co = cfg.outChannels;
  const out = new Float64Array(Co * H * W);
  for (let i = 0; i < h; i++)
    for (let j = 0; j < wd; j++)
      for (let a = 0; a < p; a++)
        for (let bb = 0; bb < p; bb++)
          for (let ch = 0; ch < Co; ch++) out[(ch * H + i * p + a) * W + j * p + bb] = y.data[(i * wd + j) * y.cols + (a * p + bb) * Co + ch];
  return out;
}
