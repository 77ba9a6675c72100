// GroupNorm over channels-last activations x[B, P, C] (P = pixels or tokens), in three passes
// so that tensors above the binding limit can be processed in bands of pixels:
//   STATS: per (batch, group, chunk of CHUNK pixels) the partial count, mean and M2 (Welford),
//          merged in the workgroup (Chan et al.), written to part[(b·G + g)·nPart + chunk].
//   FINAL: per (batch, group) merges its nPart partials into mean and rstd = 1/sqrt(var + eps)
//          and writes the per-channel affine it amounts to, aff[b, 0, c] = rstd·gamma[c] and
//          aff[b, 1, c] = beta[c] − mean·rstd·gamma[c] ([B, 2, C], f32). A consumer that applies
//          it on load (conv2d's IN_NORM) needs nothing else.
//   APPLY: out = x·aff[b, 0, c] + aff[b, 1, c], then SiLU when SILU is set; IN_PLACE:
//          x is `out` itself (each element is read, then written, by the same invocation).
// Mean/M2 merging instead of Σx, Σx² keeps the variance accurate when |mean| ≫ std.
struct Params {
  c: u32, cg: u32, groups: u32, pixels: u32,   // pixels: per batch element
  n: u32, p0: u32, b0: u32, xBase: u32,        // n: band size (STATS: pixels, APPLY: elements or vec4s)
  nPart: u32, partBase: u32, chunk: u32, outBase: u32,
  eps: f32, _pad0: u32, _pad1: u32, _pad2: u32,
}

#if !APPLY
const WG: u32 = 64u;
var<workgroup> sn: array<f32, WG>;
var<workgroup> smean: array<f32, WG>;
var<workgroup> sm2: array<f32, WG>;

struct Moments { n: f32, mean: f32, m2: f32 }

fn merge(a: Moments, b: Moments) -> Moments {
  let n = a.n + b.n;
  if (n == 0.0) { return a; }
  let d = b.mean - a.mean;
  let f = b.n / n;
  return Moments(n, a.mean + d * f, a.m2 + b.m2 + d * d * a.n * f);
}

// Tree-merges the workgroup's moments; thread 0 gets the total.
fn reduce(t: u32, m: Moments) -> Moments {
  sn[t] = m.n;
  smean[t] = m.mean;
  sm2[t] = m.m2;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (t < s) {
      let r = merge(Moments(sn[t], smean[t], sm2[t]), Moments(sn[t + s], smean[t + s], sm2[t + s]));
      sn[t] = r.n;
      smean[t] = r.mean;
      sm2[t] = r.m2;
    }
  }
  workgroupBarrier();
  return Moments(sn[0], smean[0], sm2[0]);
}
#endif

#if STATS
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  let t = lid.x;
  let g = wg.y;
  let b = params.b0 + wg.z;
  let first = wg.x * params.chunk;
  let end = min(first + params.chunk, params.n);
  var m = Moments(0.0, 0.0, 0.0);
  for (var q = first + t; q < end; q += WG) {
    let at = (b * params.pixels + params.p0 + q) * params.c + g * params.cg - params.xBase;
    for (var k = 0u; k < params.cg; k++) {
      let x = x_load(at + k);
      m.n += 1.0;
      let d = x - m.mean;
      m.mean += d / m.n;
      m.m2 += d * (x - m.mean);
    }
  }
  let r = reduce(t, m);
  if (t == 0u) {
    let at = ((b * params.groups + g) * params.nPart + params.partBase + wg.x) * 3u;
    part_store(at, r.n);
    part_store(at + 1u, r.mean);
    part_store(at + 2u, r.m2);
  }
}
#endif

#if FINAL
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  let t = lid.x;
  let bg = wg.y * params.groups + wg.x;
  var m = Moments(0.0, 0.0, 0.0);
  for (var i = t; i < params.nPart; i += WG) {
    let at = (bg * params.nPart + i) * 3u;
    m = merge(m, Moments(part_load(at), part_load(at + 1u), part_load(at + 2u)));
  }
  let r = reduce(t, m);
  let rstd = inverseSqrt(r.m2 / r.n + params.eps);
  let row = wg.y * 2u * params.c;
  for (var k = t; k < params.cg; k += WG) {
    let c = wg.x * params.cg + k;
    let scale = rstd * gamma_load(c);
    aff_store(row + c, scale);
    aff_store(row + params.c + c, beta_load(c) - r.mean * scale);
  }
}
#endif

#if APPLY
#if IN_PLACE
fn x_load(i: u32) -> f32 { return out_load(i); }
fn x_load4(j: u32) -> vec4<f32> { return out_load4(j); }
#endif

fn norm(e: u32, x: f32) -> f32 {
  let c = e % params.c;
  let row = (e / (params.pixels * params.c)) * 2u * params.c;
  let y = x * aff_load(row + c) + aff_load(row + params.c + c);
#if SILU
  return y / (1.0 + exp(-y));
#else
  return y;
#endif
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n) { return; }
#if VEC
  // e0 (= p0 here: the band's first element) and the bases are multiples of 4.
  let e = params.p0 + 4u * i;
  let x = x_load4((e - params.xBase) >> 2u);
  out_store4((e - params.outBase) >> 2u, vec4<f32>(norm(e, x.x), norm(e + 1u, x.y), norm(e + 2u, x.z), norm(e + 3u, x.w)));
#else
  let e = params.p0 + i;
  out_store(e - params.outBase, norm(e, x_load(e - params.xBase)));
#endif
}
#endif
