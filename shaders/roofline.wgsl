// Microbenchmarks for the bench's roofline: the adapter's peak FMA rate and copy bandwidth.
// The FMA loop's shape is searched (bench/roofline.ts): TYPE is f32 or vec4<f32>; DECLARE, STEP
// and REDUCE are straight-line code written out per variant (ACC accumulators, the loop body
// repeated UNROLL times, fma() or a * m + c), so the compiler gets exactly that loop.
struct Params { n: u32, iters: u32, _a: u32, _b: u32 }

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * {{WG}}u;
  if (i >= params.n) { return; }
#if FMA
  // Seeds from the index defeat constant folding; a -> a * 0.999 + s converges, never overflows.
  let s = f32(i & 255u) * 1e-3;
  let m = {{TYPE}}(0.999);
  let c = {{TYPE}}(s);
  {{DECLARE}}
  for (var k = 0u; k < params.iters; k++) {
    {{STEP}}
  }
  dst_store(i, {{REDUCE}});
#else
  dst_store4(i, src_load4(i));
#endif
}
