// out[i] = OP(a[i], b[i mod nb]): same-shape binary ops, and broadcasting of a trailing
// block (a bias over the last dimension). OP is an expression in x and y.
struct Params { n: u32, nb: u32, row: u32, _pad: u32 }

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n) { return; }
  let x = a_load(i);
  let y = b_load(i % params.nb);
  out_store(i, {{OP}});
}
