// GroupNorm over channels-last activations x[B, P, C] (P = pixels or tokens), in three passes
// so that tensors above the binding limit can be processed in bands of pixels:
//   STATS: each invocation owns one column: UNITS channel units (VEC: of 4 channels, else 1)
//          down a chunk of params.chunk pixels, and sums (x − s) and (x − s)² down it, s being
//          the column's first value (a shift that keeps the variance accurate when |mean| ≫ std,
//          with no division per element). It writes count, mean and M2 per group it touches to
//          part[(b·G + g)·nPart + slot], slot = partBase + chunk·columns per group + column in group.
//   FINAL: per (batch, group) merges its nPart partials (Chan et al.) into mean and
//          rstd = 1/sqrt(var + eps) and writes the per-channel affine it amounts to,
//          aff[b, 0, c] = rstd·gamma[c] and aff[b, 1, c] = beta[c] − mean·rstd·gamma[c]
//          ([B, 2, C], f32). A consumer that applies it on load (conv2d's IN_NORM) needs nothing else.
//   APPLY: the same column per invocation: loads its affine once, then out = x·scale + shift
//          down the column (SiLU when SILU is set); IN_PLACE: x is `out` itself (each element is
//          read, then written, by the same invocation).
// One column per invocation, walking pixels, is what makes this fast on CPU adapters: loads whose
// address varies per lane are issued lane by lane there, so the affine is loaded once per column
// instead of once per element, and vec4 units need no per-element index arithmetic.
struct Params {
  c: u32, cg: u32, groups: u32, pixels: u32,   // pixels: per batch element
  n: u32, p0: u32, b0: u32, xBase: u32,        // n: the band's pixels from p0 (per batch element)
  nPart: u32, partBase: u32, chunk: u32, outBase: u32,
  eps: f32, _pad0: u32, _pad1: u32, _pad2: u32,
}

struct Moments { n: f32, mean: f32, m2: f32 }

fn merge(a: Moments, b: Moments) -> Moments {
  let n = a.n + b.n;
  if (n == 0.0) { return a; }
  let d = b.mean - a.mean;
  let f = b.n / n;
  return Moments(n, a.mean + d * f, a.m2 + b.m2 + d * d * a.n * f);
}

#if VEC
const W: u32 = 4u;
#else
const W: u32 = 1u;
#endif

#if !FINAL
// X_WORDS / OUT_WORDS: f16 data in vec4 units bound as raw u32 words (two halves each), so that
// the f32 -> f16 rounding is done here in integer ops: lavapipe's own conversion (f16(v),
// pack2x16float) made it take as long as everything else in the apply pass together.
#if IN_PLACE
#if X_WORDS
fn x_load(i: u32) -> u32 { return out_load(i); }
#else
fn x_load(i: u32) -> f32 { return out_load(i); }
fn x_load4(j: u32) -> vec4<f32> { return out_load4(j); }
#endif
#endif

// Unit j of x (elements W·j..W·j + W − 1 of the window; lanes past W are 0).
fn x_unit(j: u32) -> vec4<f32> {
#if X_WORDS
  return vec4<f32>(unpack2x16float(x_load(2u * j)), unpack2x16float(x_load(2u * j + 1u)));
#else
#if VEC
  return x_load4(j);
#else
  return vec4<f32>(x_load(j), 0.0, 0.0, 0.0);
#endif
#endif
}

// Channel units per column (each W channels): R · W consecutive channels.
const R: u32 = {{UNITS}}u;

// An invocation's column: channels c0..c0 + R·W − 1 of pixels first..first + count − 1 of batch b.
struct Column { b: u32, c0: u32, chunk: u32, count: u32, e0: u32 }

// The column of invocation i (dispatch: C / (R·W) · ceil(n / chunk) invocations, folded into x
// and y; z = batch elements); count is 0 past the band.
fn column(gid: vec3<u32>, nwg: vec3<u32>) -> Column {
  let i = gid.x + gid.y * nwg.x * 64u;
  let cols = params.c / (R * W);
  let chunk = i / cols;
  let c0 = (i - chunk * cols) * R * W;
  let first = chunk * params.chunk;
  let b = params.b0 + gid.z;
  let count = select(0u, min(params.chunk, params.n - first), first < params.n);
  return Column(b, c0, chunk, count, (b * params.pixels + params.p0 + first) * params.c + c0);
}
#endif

#if STATS
fn put_part(b: u32, g: u32, slot: u32, m: Moments) {
  let at = ((b * params.groups + g) * params.nPart + slot) * 3u;
  part_store(at, m.n);
  part_store(at + 1u, m.mean);
  part_store(at + 2u, m.m2);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let col = column(gid, nwg);
  if (col.count == 0u) { return; }
  let units = params.c / W;
  var j = (col.e0 - params.xBase) / W;
  var s: array<vec4<f32>, R>;
  var s1: array<vec4<f32>, R>;
  var s2: array<vec4<f32>, R>;
  for (var r = 0u; r < R; r++) {
    s[r] = x_unit(j + r);
    s1[r] = vec4<f32>(0.0);
    s2[r] = vec4<f32>(0.0);
  }
  for (var k = 0u; k < col.count; k++) {
    for (var r = 0u; r < R; r++) {
      let d = x_unit(j + r) - s[r];
      s1[r] += d;
      s2[r] += d * d;
    }
    j += units;
  }
  let n = f32(col.count);
  // Merge the column's channels per group (it holds one group's channels, or whole groups).
  let span = R * W;
  let perGroup = max(1u, params.cg / span);
  let slot = params.partBase + col.chunk * perGroup + (col.c0 % params.cg) / span;
  var g = col.c0 / params.cg;
  var m = Moments(0.0, 0.0, 0.0);
  for (var r = 0u; r < R; r++) {
    let mean = s[r] + s1[r] / n;
    let m2 = max(s2[r] - s1[r] * s1[r] / n, vec4<f32>(0.0));
    for (var k = 0u; k < W; k++) {
      let gk = (col.c0 + r * W + k) / params.cg;
      if (gk != g) {
        put_part(col.b, g, slot, m);
        g = gk;
        m = Moments(0.0, 0.0, 0.0);
      }
      m = merge(m, Moments(n, mean[k], m2[k]));
    }
  }
  put_part(col.b, g, slot, m);
}
#endif

#if FINAL
const WG: u32 = 64u;
var<workgroup> sn: array<f32, WG>;
var<workgroup> smean: array<f32, WG>;
var<workgroup> sm2: array<f32, WG>;

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
fn aff_unit(i: u32) -> vec4<f32> {
#if VEC
  return aff_load4(i / 4u);
#else
  return vec4<f32>(aff_load(i), 0.0, 0.0, 0.0);
#endif
}

#if OUT_WORDS
// Two f32 as f16 bits in one word (low half: a.x), rounded to nearest even; overflow gives
// ±inf, NaN stays NaN, and values below f16's normal range round to subnormals.
fn half2(a: vec2<f32>) -> u32 {
  let x = bitcast<vec2<u32>>(a);
  let m = x & vec2<u32>(0x7fffffffu);
  // Normal: rebias the exponent (127 -> 15), then round the 13 dropped mantissa bits.
  let r = m - vec2<u32>(0x38000000u);
  let normal = (r + vec2<u32>(0xfffu) + ((r >> vec2<u32>(13u)) & vec2<u32>(1u))) >> vec2<u32>(13u);
  // Below 2^-14: adding 0.5 leaves the value in units of 2^-24 in the low mantissa bits.
  let sub = bitcast<vec2<u32>>(bitcast<vec2<f32>>(m) + vec2<f32>(0.5)) - vec2<u32>(0x3f000000u);
  var h = select(normal, sub, m < vec2<u32>(0x38800000u));
  h = select(h, vec2<u32>(0x7c00u), m >= vec2<u32>(0x477ff000u)); // from 65520 up: inf
  h = select(h, vec2<u32>(0x7e00u), m > vec2<u32>(0x7f800000u));
  h |= (x >> vec2<u32>(16u)) & vec2<u32>(0x8000u);
  return h.x | (h.y << 16u);
}
#endif

fn out_unit(j: u32, v: vec4<f32>) {
#if OUT_WORDS
  out_store(2u * j, half2(v.xy));
  out_store(2u * j + 1u, half2(v.zw));
#else
#if VEC
  out_store4(j, v);
#else
  out_store(j, v.x);
#endif
#endif
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let col = column(gid, nwg);
  if (col.count == 0u) { return; }
  let units = params.c / W;
  let row = col.b * 2u * params.c + col.c0;
  var scale: array<vec4<f32>, R>;
  var shift: array<vec4<f32>, R>;
  for (var r = 0u; r < R; r++) {
    scale[r] = aff_unit(row + r * W);
    shift[r] = aff_unit(row + params.c + r * W);
  }
  var j = (col.e0 - params.xBase) / W;
  var o = (col.e0 - params.outBase) / W;
  for (var k = 0u; k < col.count; k++) {
    for (var r = 0u; r < R; r++) {
      let y = x_unit(j + r) * scale[r] + shift[r];
#if SILU
      out_unit(o + r, y / (1.0 + exp(-y)));
#else
      out_unit(o + r, y);
#endif
    }
    j += units;
    o += units;
  }
}
#endif
