// Strided copy of a hyperrectangle of up to 6 dims (innermost last): element i, with
// coordinates coord_k in dims, goes from src[src_off + Σ coord_k·src_stride_k] to
// out[out_off + Σ coord_k·out_stride_k]. Every layout op (concat, slice,
// patchify, unpatchify) is one of these; unused leading dims are 1.
struct Params {
  n: u32, src_off: u32, out_off: u32, _pad: u32,
  dims: array<vec4<u32>, 2>,
  src_stride: array<vec4<u32>, 2>,
  out_stride: array<vec4<u32>, 2>,
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n) { return; }
  var rem = i;
  var s = params.src_off;
  var o = params.out_off;
  for (var k = 5; k >= 0; k--) {
    let d = params.dims[k / 4][k % 4];
    let coord = rem % d;
    rem /= d;
    s += coord * params.src_stride[k / 4][k % 4];
    o += coord * params.out_stride[k / 4][k % 4];
  }
  out_store(o, src_load(s));
}
