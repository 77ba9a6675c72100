// Finite-activation check: counts NaN and ±Inf in x and finds its largest finite |value|,
// accumulated into one slot of a small stats buffer, so a request can check every stage output
// and read all the results back once.
// Everything works on the raw bits (x is bound as u32 words whatever its dtype): float
// comparisons may treat NaN as unordered or be optimised on the assumption that there is none,
// while exponent bits are exact. For finite values |x|'s bits (sign cleared) order like |x|,
// so the largest magnitude is an integer max of those bits.
// stats (atomic u32): [0] the step counter (COUNTED slots add it), [1..3] unused, then per slot
// [nan, inf, max f32 bits, max f16 bits] (the one of x's dtype is written; the other stays 0).
// Dispatch: grid1d(words, 256 * PER) workgroups of 256, each invocation a grid-stride loop.
// ADVANCE: a single invocation that increments the step counter (a separate dispatch after a
// step's check, so the same recorded commands serve every step).
struct Params { n: u32, shift: u32, slot: u32, counted: u32 }

const WG: u32 = 256u;

#if ADVANCE
@compute @workgroup_size(1)
fn main() {
  atomicAdd(&stats[0], 1u);
}
#else
var<workgroup> wg_nan: atomic<u32>;
var<workgroup> wg_inf: atomic<u32>;
var<workgroup> wg_max: atomic<u32>;

struct Tally { nan: u32, inf: u32, max_bits: u32 }

#if F16
// One half's bits (low 16 of h): exponent all ones is Inf (mantissa 0) or NaN.
fn tally(t: ptr<function, Tally>, h: u32) {
  let mag = h & 0x7fffu;
  if (mag >= 0x7c00u) {
    if (mag == 0x7c00u) { (*t).inf += 1u; } else { (*t).nan += 1u; }
  } else {
    (*t).max_bits = max((*t).max_bits, mag);
  }
}
#else
fn tally(t: ptr<function, Tally>, b: u32) {
  let mag = b & 0x7fffffffu;
  if (mag >= 0x7f800000u) {
    if (mag == 0x7f800000u) { (*t).inf += 1u; } else { (*t).nan += 1u; }
  } else {
    (*t).max_bits = max((*t).max_bits, mag);
  }
}
#endif

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  var t = Tally(0u, 0u, 0u);
  let groups = nwg.x * nwg.y;
  let stride = groups * WG;
  let first = (wg.x + wg.y * nwg.x) * WG + lid;
#if F16
  // Two halves per word; shift is even (the wrapper binds f16 windows at word boundaries), and
  // the high half of an odd-length tensor's last word is padding, not data.
  let words = (params.n + 1u) / 2u;
  let base = params.shift / 2u;
  for (var w = first; w < words; w += stride) {
    let bits = x[base + w];
    tally(&t, bits & 0xffffu);
    if (2u * w + 1u < params.n) { tally(&t, bits >> 16u); }
  }
#else
  for (var i = first; i < params.n; i += stride) {
    tally(&t, x[params.shift + i]);
  }
#endif
  // Workgroup memory starts zeroed; counts are rarely non-zero, so most invocations add nothing.
  if (t.nan > 0u) { atomicAdd(&wg_nan, t.nan); }
  if (t.inf > 0u) { atomicAdd(&wg_inf, t.inf); }
  atomicMax(&wg_max, t.max_bits);
  workgroupBarrier();
  if (lid == 0u) {
    let slot = 4u + 4u * (params.slot + select(0u, atomicLoad(&stats[0]), params.counted != 0u));
    let nan = atomicLoad(&wg_nan);
    let inf = atomicLoad(&wg_inf);
    if (nan > 0u) { atomicAdd(&stats[slot], nan); }
    if (inf > 0u) { atomicAdd(&stats[slot + 1u], inf); }
#if F16
    atomicMax(&stats[slot + 3u], atomicLoad(&wg_max));
#else
    atomicMax(&stats[slot + 2u], atomicLoad(&wg_max));
#endif
  }
}
#endif
