// Nearest-neighbour ×2 upsampling of channels-last x[B, H, W, C] -> out[B, 2H, 2W, C].
// One invocation per output element (per vec4 of channels when VEC, C % 4 == 0). Bands:
// e0 is the band's first output element, *Base the elements before each binding window.
struct Params { c: u32, h: u32, w: u32, n: u32, e0: u32, xBase: u32, outBase: u32, _pad: u32 }

fn source(e: u32) -> u32 {
  let c = e % params.c;
  let pix = e / params.c;
  let ox = pix % (2u * params.w);
  let row = pix / (2u * params.w); // b·2H + oy
  let b = row / (2u * params.h);
  let oy = row % (2u * params.h);
  return ((b * params.h + oy / 2u) * params.w + ox / 2u) * params.c + c - params.xBase;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n) { return; }
#if VEC
  let e = params.e0 + 4u * i;
  out_store4((e - params.outBase) >> 2u, x_load4(source(e) >> 2u));
#else
  let e = params.e0 + i;
  out_store(e - params.outBase, x_load(source(e)));
#endif
}
