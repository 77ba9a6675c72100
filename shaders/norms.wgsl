// Row normalisation, one workgroup of WG threads per row of C elements; each thread keeps its
// PER = ceil(C / WG) elements in registers, so x is read once.
//   LayerNorm: y = (x − mean) / sqrt(var + eps)       (RMS: y = x / sqrt(mean(x²) + eps))
//   AFFINE: y = y·weight[c] (+ bias[c] with BIAS)
//   MODULATE (adaLN): y = y·(1 + scale) + shift, shift/scale per-sample column chunks.
// Statistics are f32 whatever the storage (T5 computes its variance in f32 too).
struct Params {
  rows: u32, c: u32, x_off: u32, out_off: u32,
  eps: f32, w_off: u32, b_off: u32, row0: u32,
  // MODULATE: sample = (row0 + row) / rows_per_sample counts from the first sample bound;
  // shift = shift[shift_off + sample·mod_stride + c] (the offsets include the chunk's columns)
  rows_per_sample: u32, mod_stride: u32, shift_off: u32, scale_off: u32,
}

const WG: u32 = {{WG}}u;
const PER: u32 = {{PER}}u;

#if SUBGROUPS
// One partial per subgroup. Subgroups are taken to be consecutive runs of local_invocation_index
// (true on every implementation seen); their size comes from the builtin, never assumed.
var<workgroup> partial: array<f32, WG>;

fn row_sum(v: f32, lid: u32, sg_lane: u32, sg_size: u32) -> f32 {
  let s = subgroupAdd(v);
  workgroupBarrier(); // the previous call's readers are done with `partial`
  if (sg_lane == 0u) { partial[lid / sg_size] = s; }
  workgroupBarrier();
  var t = 0.0;
  for (var k = 0u; k < (WG + sg_size - 1u) / sg_size; k++) { t += partial[k]; }
  return t;
}
#else
var<workgroup> partial: array<f32, WG>;

fn row_sum(v: f32, lid: u32, sg_lane: u32, sg_size: u32) -> f32 {
  workgroupBarrier();
  partial[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { partial[lid] += partial[lid + s]; }
    workgroupBarrier();
  }
  return partial[0];
}
#endif

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
#if SUBGROUPS
  @builtin(subgroup_invocation_id) sg_lane: u32,
  @builtin(subgroup_size) sg_size: u32,
#endif
) {
#if !SUBGROUPS
  let sg_lane = 0u;
  let sg_size = 1u;
#endif
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) { return; }
  let c = params.c;
  let base = row * c;
  var v: array<f32, PER>;
  var s = 0.0;
  for (var k = 0u; k < PER; k++) {
    let i = lid + k * WG;
    v[k] = 0.0;
    if (i < c) { v[k] = x_load(params.x_off + base + i); }
    s += v[k];
  }
#if RMS
  let mean = 0.0;
#else
  let mean = row_sum(s, lid, sg_lane, sg_size) / f32(c);
#endif
  var q = 0.0;
  for (var k = 0u; k < PER; k++) {
    let d = select(0.0, v[k] - mean, lid + k * WG < c);
    q += d * d;
  }
  let rstd = inverseSqrt(row_sum(q, lid, sg_lane, sg_size) / f32(c) + params.eps);
#if MODULATE
  let sample = (params.row0 + row) / params.rows_per_sample;
#endif
  for (var k = 0u; k < PER; k++) {
    let i = lid + k * WG;
    if (i < c) {
      var y = (v[k] - mean) * rstd;
#if AFFINE
      y *= w_load(params.w_off + i);
#endif
#if BIAS
      y += b_load(params.b_off + i);
#endif
#if MODULATE
      let m = sample * params.mod_stride + i;
      y = y * (1.0 + scale_load(params.scale_off + m)) + shift_load(params.shift_off + m);
#endif
      out_store(params.out_off + base + i, y);
    }
  }
}
