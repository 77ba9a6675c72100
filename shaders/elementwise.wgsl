// out[i] = OP over one band of n elements. OP is a WGSL expression in x = a[i], y (b: the same
// band of a same-shape operand, or, with TILED_B, a block that tiles a's trailing elements such
// as a bias) and the scalars params.alpha, params.beta. The activation library
// (shaders/activation.wgsl) is appended: OP may call act_*.
struct Params {
  n: u32, a_off: u32, b_off: u32, out_off: u32,
  // TILED_B: y = b[(i + b_phase) % nb], b_phase = the band's first element mod nb.
  nb: u32, b_phase: u32, alpha: f32, beta: f32,
}

// Four consecutive elements per invocation: about twice the throughput of one on lavapipe.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let first = 4u * (gid.x + gid.y * nwg.x * 256u);
  for (var i = first; i < min(first + 4u, params.n); i++) {
    let x = a_load(params.a_off + i);
#if HAS_B
#if TILED_B
    let y = b_load(params.b_off + (i + params.b_phase) % params.nb);
#else
    let y = b_load(params.b_off + i);
#endif
#endif
    out_store(params.out_off + i, {{OP}});
  }
}
