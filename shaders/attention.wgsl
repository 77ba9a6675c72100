// Multi-head attention O = softmax(Q·Kᵀ·scale + bias + causal mask)·V with an online softmax
// (flash attention): scores live only in registers / one K tile, never in memory.
// Layout: q, out [B, rows, heads·D]; k, v [B, tk, heads·D]; bias [heads, tq, tk] (optional).
// Each dispatch covers a band of query rows (row0..row0+rows) of B' batch items; the wrapper
// binds sub-ranges of oversized tensors, so element offsets come in params (multiples of 4).
// Dispatch: naive: [ceil(rows/64), heads, B']; blocked: [ceil(rows/(64·QR)), heads, B'];
// tiled: [ceil(rows/BQ), heads, B'] workgroups of BQ·TPR threads.
struct Params {
  rows: u32,
  tk: u32,
  heads: u32,
  row0: u32,
  q_off: u32,
  k_off: u32,
  v_off: u32,
  o_off: u32,
  scale: f32,
  causal: u32,
  tq: u32,
  _pad: u32,
}

const D4: u32 = {{D4}}u; // head dim / 4

// Masked scores are skipped, not set to -inf, so a fully masked tile cannot make exp(-inf + inf).
const NEG: f32 = -3.0e38;
// The register variants keep scores in log2 units (exp2 is what exp expands to anyway).
const LOG2E: f32 = 1.4426950408889634;

fn q_base(b: u32, r: u32, h: u32) -> u32 {
  return params.q_off / 4u + ((b * params.rows + r) * params.heads + h) * D4;
}
fn o_base(b: u32, r: u32, h: u32) -> u32 {
  return params.o_off / 4u + ((b * params.rows + r) * params.heads + h) * D4;
}
fn kv_row(b: u32, k: u32, h: u32) -> u32 {
  return ((b * params.tk + k) * params.heads + h) * D4;
}
// Additive bias plus the causal mask (top-left aligned: query i sees keys 0..i).
fn score_ok(qg: u32, kg: u32) -> bool {
  return kg < params.tk && !(params.causal != 0u && kg > qg);
}
fn bias_at(h: u32, qg: u32, kg: u32) -> f32 {
#if BIAS
  return bias_load((h * params.tq + qg) * params.tk + kg);
#else
  return 0.0;
#endif
}

#if BLOCKED
// For CPU adapters: QR query rows per thread, no barriers, keys in blocks of KB. Per block each
// q/acc vec4 is read once, each K/V vec4 serves KB·QR products, and the running max is rescaled
// once. llvmpipe (Mesa 25) loads from any address that depends on a loop variable lane by lane,
// with a branch per lane and component, even when all lanes agree; that dominated `naive`. With
// SUBGROUPS lane j < KB loads key k0 + j and subgroupShuffle (a register shuffle there) hands
// the row to the other lanes: one load per KB keys. This needs every lane active, so control
// flow stays uniform: no early return, and the key loop runs to the workgroup's last key with
// later keys masked per row. D is walked in NCH chunks of C4 vec4s, meant to be unrolled so
// that q and acc stay in registers instead of dynamically indexed memory (a gather and scatter
// per access); llvmpipe does not always unroll them (see UNROLLED below).
const KB: u32 = {{KB}}u;
const QR: u32 = {{QR}}u;
const C4: u32 = {{C4}}u;
const NCH: u32 = D4 / C4;
const RPW: u32 = 64u * QR; // rows per workgroup

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>
#if SUBGROUPS
  , @builtin(subgroup_invocation_id) sg_lane: u32
#endif
) {
  let h = gid.y;
  let b = gid.z;
  let causal = params.causal != 0u;
  let last = params.row0 + min(wg.x * RPW + RPW - 1u, params.rows - 1u);
  let kwg = select(params.tk, min(params.tk, last + 1u), causal);
#if UNROLLED
  // The register variants: the same scheme written out in straight lines by the wrapper
  // (src/kernels/attention-unrolled.ts) for one head dim, so each row's q and output
  // accumulator are D/4 named vec4s, never an array that llvmpipe could leave in memory and read
  // lane by lane. R_INIT loads q and zeroes the accumulators, R_BLOCK is one key block (QK dots,
  // online softmax, P·V), R_STORE writes the rows inside the band. (They span many lines: an
  // error reported after them is off by that many.)
  {{R_INIT}}
  for (var k0 = 0u; k0 < kwg; k0 += KB) {
    {{R_BLOCK}}
  }
  {{R_STORE}}
#else
  var q: array<array<array<vec4<f32>, C4>, NCH>, QR>;
  var acc: array<array<array<vec4<f32>, C4>, NCH>, QR>;
  var qg: array<u32, QR>;
  var kend: array<u32, QR>;
  var m: array<f32, QR>;
  var l: array<f32, QR>;
  for (var t = 0u; t < QR; t++) {
    let r = min(gid.x * QR + t, params.rows - 1u); // rows past the band redo its last row, unstored
    qg[t] = params.row0 + r;
    kend[t] = select(params.tk, min(params.tk, qg[t] + 1u), causal);
    m[t] = NEG;
    l[t] = 0.0;
    let qb = q_base(b, r, h);
    for (var c = 0u; c < NCH; c++) {
      for (var i = 0u; i < C4; i++) {
        q[t][c][i] = q_load4(qb + c * C4 + i) * params.scale;
        acc[t][c][i] = vec4<f32>(0.0);
      }
    }
  }
  for (var k0 = 0u; k0 < kwg; k0 += KB) {
#if SUBGROUPS
    let kl = kv_row(b, min(k0 + sg_lane % KB, params.tk - 1u), h);
#else
    var kr: array<u32, KB>;
    for (var j = 0u; j < KB; j++) { kr[j] = kv_row(b, min(k0 + j, params.tk - 1u), h); }
#endif
    // Zeroed explicitly: WGSL re-zeroes a `var` declared in a loop body every iteration, but
    // here (Dawn on lavapipe) it kept the previous block's scores.
    var s: array<array<f32, KB>, QR>;
    for (var t = 0u; t < QR; t++) {
      for (var j = 0u; j < KB; j++) { s[t][j] = 0.0; }
    }
    for (var c = 0u; c < NCH; c++) {
      for (var i = 0u; i < C4; i++) {
#if SUBGROUPS
        let kv = k_load4(params.k_off / 4u + kl + c * C4 + i);
#endif
        for (var j = 0u; j < KB; j++) {
#if SUBGROUPS
          let kj = subgroupShuffle(kv, j);
#else
          let kj = k_load4(params.k_off / 4u + kr[j] + c * C4 + i);
#endif
          for (var t = 0u; t < QR; t++) { s[t][j] += dot(q[t][c][i], kj); }
        }
      }
    }
    var p: array<array<f32, KB>, QR>;
    var alpha: array<f32, QR>;
    for (var t = 0u; t < QR; t++) {
      var mx = m[t];
      for (var j = 0u; j < KB; j++) {
        s[t][j] += bias_at(h, qg[t], min(k0 + j, params.tk - 1u));
        mx = max(mx, select(NEG, s[t][j], k0 + j < kend[t]));
      }
      alpha[t] = exp(m[t] - mx);
      m[t] = mx;
      var sum = 0.0;
      for (var j = 0u; j < KB; j++) {
        p[t][j] = select(0.0, exp(s[t][j] - mx), k0 + j < kend[t]);
        sum += p[t][j];
      }
      l[t] = l[t] * alpha[t] + sum;
    }
    for (var c = 0u; c < NCH; c++) {
      for (var i = 0u; i < C4; i++) {
#if SUBGROUPS
        let vv = v_load4(params.v_off / 4u + kl + c * C4 + i);
#endif
        var a: array<vec4<f32>, QR>;
        for (var t = 0u; t < QR; t++) { a[t] = acc[t][c][i] * alpha[t]; }
        for (var j = 0u; j < KB; j++) {
#if SUBGROUPS
          let vj = subgroupShuffle(vv, j);
#else
          let vj = v_load4(params.v_off / 4u + kr[j] + c * C4 + i);
#endif
          for (var t = 0u; t < QR; t++) { a[t] += p[t][j] * vj; }
        }
        for (var t = 0u; t < QR; t++) { acc[t][c][i] = a[t]; }
      }
    }
  }
  for (var t = 0u; t < QR; t++) {
    let r = gid.x * QR + t;
    if (r < params.rows) {
      let ob = o_base(b, r, h);
      for (var c = 0u; c < NCH; c++) {
        for (var i = 0u; i < C4; i++) { out_store4(ob + c * C4 + i, acc[t][c][i] / l[t]); }
      }
    }
  }
#endif
}
#endif
#if NAIVE
// One thread per query row, the whole row's state (q, acc) in registers: no barriers.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.x;
  let h = gid.y;
  let b = gid.z;
  if (r >= params.rows) { return; }
  let qg = params.row0 + r;
  var q: array<vec4<f32>, D4>;
  var acc: array<vec4<f32>, D4>;
  let qb = q_base(b, r, h);
  for (var i = 0u; i < D4; i++) {
    q[i] = q_load4(qb + i) * params.scale;
    acc[i] = vec4<f32>(0.0);
  }
  var kend = params.tk;
  if (params.causal != 0u) { kend = min(kend, qg + 1u); }
  var m = NEG;
  var l = 0.0;
  for (var k = 0u; k < kend; k++) {
    let kr = kv_row(b, k, h);
    var s = 0.0;
    for (var i = 0u; i < D4; i++) { s += dot(q[i], k_load4(params.k_off / 4u + kr + i)); }
    s += bias_at(h, qg, k);
    if (s > m) {
      let a = exp(m - s);
      l *= a;
      for (var i = 0u; i < D4; i++) { acc[i] *= a; }
      m = s;
    }
    let p = exp(s - m);
    l += p;
    for (var i = 0u; i < D4; i++) { acc[i] += p * v_load4(params.v_off / 4u + kr + i); }
  }
  let ob = o_base(b, r, h);
  for (var i = 0u; i < D4; i++) { out_store4(ob + i, acc[i] / l); }
}
#endif
#if TILED
// Tiled flash attention. A workgroup of WG = BQ·TPR threads owns BQ query rows of one
// (batch, head); TPR threads share a row. Per K/V tile of BK keys: each thread computes KPT
// scores of its row (keys lane, lane+TPR, ...), the row's max/sum are reduced over its TPR
// threads, probabilities go to workgroup memory, then each thread accumulates its own vec4
// columns of the row's output. D is streamed through workgroup memory in chunks of C4 vec4s,
// so any head dim fits. Scores and the output accumulator live in workgroup memory, not in
// private arrays: lavapipe turns dynamically indexed private arrays into branch ladders that
// take minutes to compile. The wrapper picks BQ, BK and C4 to fit the adapter's workgroup memory.
const C4: u32 = {{C4}}u;
const NCH: u32 = D4 / C4;
const BQ: u32 = {{BQ}}u;
const BK: u32 = {{BK}}u;
const TPR: u32 = {{TPR}}u;
const WG: u32 = BQ * TPR;
const KPT: u32 = BK / TPR;
const APT: u32 = (C4 + TPR - 1u) / TPR;

var<workgroup> qs: array<vec4<f32>, BQ * C4>;
var<workgroup> kv: array<vec4<f32>, BK * C4>;
var<workgroup> ps: array<f32, BQ * BK>;
var<workgroup> os: array<vec4<f32>, BQ * D4>;
#if SUBGROUPS
var<workgroup> slots: atomic<u32>;
#else
var<workgroup> red: array<f32, WG>;
#endif

// Reductions over the TPR threads of a row. With subgroups the row's threads are TPR
// consecutive lanes of one subgroup (see `t` in main; needs subgroup size >= TPR).
fn row_max(x: f32, t: u32) -> f32 {
  var a = x;
#if SUBGROUPS
  for (var i = 1u; i < TPR; i <<= 1u) { a = max(a, subgroupShuffleXor(a, i)); }
#else
  workgroupBarrier();
  red[t] = x;
  workgroupBarrier();
  let b = t & ~(TPR - 1u);
  for (var i = 0u; i < TPR; i++) { a = max(a, red[b + i]); }
#endif
  return a;
}
fn row_sum(x: f32, t: u32) -> f32 {
#if SUBGROUPS
  var a = x;
  for (var i = 1u; i < TPR; i <<= 1u) { a += subgroupShuffleXor(a, i); }
#else
  workgroupBarrier();
  red[t] = x;
  workgroupBarrier();
  let b = t & ~(TPR - 1u);
  var a = 0.0;
  for (var i = 0u; i < TPR; i++) { a += red[b + i]; }
#endif
  return a;
}

fn load_q_chunk(t: u32, b: u32, h: u32, q0: u32, c: u32) {
  for (var i = t; i < BQ * C4; i += WG) {
    let r = min(q0 + i / C4, params.rows - 1u);
    qs[i] = q_load4(q_base(b, r, h) + c * C4 + i % C4) * params.scale;
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>
#if SUBGROUPS
  , @builtin(subgroup_invocation_id) sg_lane: u32, @builtin(subgroup_size) sg_size: u32
#endif
) {
#if SUBGROUPS
  // Number the threads subgroup by subgroup, so a row's TPR threads share a subgroup whatever
  // order the hardware assigns lanes in.
  var first = 0u;
  if (sg_lane == 0u) { first = atomicAdd(&slots, sg_size); }
  let t = subgroupBroadcastFirst(first) + sg_lane;
#else
  let t = lid;
#endif
  let h = wg.y;
  let b = wg.z;
  let r = t / TPR;
  let lane = t % TPR;
  let q0 = wg.x * BQ;
  let qg = params.row0 + min(q0 + r, params.rows - 1u);
  var kend = params.tk;
  if (params.causal != 0u) { kend = min(kend, params.row0 + q0 + BQ); }

  var m = NEG;
  var l = 0.0;
  for (var i = lane; i < D4; i += TPR) { os[r * D4 + i] = vec4<f32>(0.0); }
#if Q_RESIDENT
  load_q_chunk(t, b, h, q0, 0u);
#endif

  for (var k0 = 0u; k0 < kend; k0 += BK) {
    for (var c = 0u; c < NCH; c++) {
      workgroupBarrier();
#if !Q_RESIDENT
      load_q_chunk(t, b, h, q0, c);
#endif
      for (var i = t; i < BK * C4; i += WG) {
        let kg = min(k0 + i / C4, params.tk - 1u);
        kv[i] = k_load4(params.k_off / 4u + kv_row(b, kg, h) + c * C4 + i % C4);
      }
      workgroupBarrier();
      for (var j = 0u; j < KPT; j++) {
        let kk = lane + TPR * j;
        var d = select(ps[r * BK + kk], 0.0, c == 0u);
        for (var i = 0u; i < C4; i++) { d += dot(qs[r * C4 + i], kv[kk * C4 + i]); }
        ps[r * BK + kk] = d;
      }
    }
    var mx = NEG;
    for (var j = 0u; j < KPT; j++) {
      let kk = lane + TPR * j;
      let kg = k0 + kk;
      if (score_ok(qg, kg)) {
        let s = ps[r * BK + kk] + bias_at(h, qg, kg);
        ps[r * BK + kk] = s;
        mx = max(mx, s);
      }
    }
    let mn = max(m, row_max(mx, t));
    let alpha = exp(m - mn);
    m = mn;
    var sum = 0.0;
    for (var j = 0u; j < KPT; j++) {
      let kk = lane + TPR * j;
      let p = select(0.0, exp(ps[r * BK + kk] - m), score_ok(qg, k0 + kk));
      ps[r * BK + kk] = p;
      sum += p;
    }
    l = l * alpha + row_sum(sum, t);
    for (var i = lane; i < D4; i += TPR) { os[r * D4 + i] *= alpha; }

    for (var c = 0u; c < NCH; c++) {
      workgroupBarrier();
      for (var i = t; i < BK * C4; i += WG) {
        let kg = min(k0 + i / C4, params.tk - 1u);
        kv[i] = v_load4(params.v_off / 4u + kv_row(b, kg, h) + c * C4 + i % C4);
      }
      workgroupBarrier();
      for (var a = 0u; a < APT; a++) {
        let col = lane + TPR * a;
        if (col < C4) {
          var o = os[r * D4 + c * C4 + col];
          for (var kk = 0u; kk < BK; kk++) { o += ps[r * BK + kk] * kv[kk * C4 + col]; }
          os[r * D4 + c * C4 + col] = o;
        }
      }
    }
  }

  workgroupBarrier(); // the last P·V may have written another lane's columns
  if (q0 + r < params.rows) {
    let ob = o_base(b, q0 + r, h);
    for (var i = lane; i < D4; i += TPR) { out_store4(ob + i, os[r * D4 + i] / l); }
  }
}
#endif
