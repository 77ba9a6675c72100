// Row gather: out[r, :] = table[ids[r], :] for the ids that fall in the bound block of table
// rows [v0, v0 + nv) (tables above the binding limit are gathered block by block).
struct Params { n: u32, c: u32, v0: u32, nv: u32, t_off: u32, _p0: u32, _p1: u32, _p2: u32 }

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n) { return; }
  let row = ids_load(i / params.c) - params.v0;
  // u32 wrap-around sends ids below v0 past nv too.
  if (row >= params.nv) { return; }
  out_store(i, table_load(params.t_off + row * params.c + i % params.c));
}
