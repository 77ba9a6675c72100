// Softmax over the last dimension: one workgroup per row of n elements, two passes over the
// row (max, then sum of exp) reduced in workgroup memory, then a normalising write.
// Dispatch: grid1d(rows, 1) workgroups of 64 threads.
struct Params { rows: u32, n: u32, _p0: u32, _p1: u32 }

const WG: u32 = 64u;
var<workgroup> red: array<f32, WG>;

fn reduce(x: f32, t: u32, is_max: bool) -> f32 {
  workgroupBarrier();
  red[t] = x;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (t < s) { red[t] = select(red[t] + red[t + s], max(red[t], red[t + s]), is_max); }
  }
  workgroupBarrier();
  return red[0];
}

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wg.x + wg.y * nwg.x;
  if (row >= params.rows) { return; }
  let base = row * params.n;
  var m = -3.0e38;
  for (var i = t; i < params.n; i += WG) { m = max(m, x_load(base + i)); }
  m = reduce(m, t, true);
  var s = 0.0;
  for (var i = t; i < params.n; i += WG) { s += exp(x_load(base + i) - m); }
  let inv = 1.0 / reduce(s, t, false);
  for (var i = t; i < params.n; i += WG) { out_store(base + i, exp(x_load(base + i) - m) * inv); }
}
