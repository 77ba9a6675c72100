// C[z, m, n] = epilogue(sum_k A[z, m, k] · B[z, n, k])   (TRANS_B: B is [N, K], a Linear weight)
//                                   or B[z, k, n]         (!TRANS_B: B is [K, N])
// One template for every variant: each invocation computes a TM×TN block of C from registers
// (naive = 1×1). On CPU adapters register blocking beats workgroup-memory tiles (barriers are
// expensive there), so there is no shared memory and no barrier. Rows and columns past the
// edge are clamped on load (no branch in the K loop) and skipped on store.
// Bindings contract: shaders/README.md ("matmul").
struct Params {
  M: u32, N: u32, K: u32, ldo: u32,          // band rows, band columns, depth, C row stride
  offA: u32, offB: u32, offO: u32, offR: u32, // element offsets of the bound ranges
  strideA: u32, strideB: u32, strideO: u32, n0: u32, // batch strides; first column of the band
  row0: u32, rowsPerSample: u32, gateStride: u32, gateOff: u32, // gate: per-sample rows
}

const TM = {{TM}}u;
const TN = {{TN}}u;
alias V4 = vec4<{{MATH}}>;

// Four consecutive K elements of A's row starting at index i (i % 4 == 0 when VEC_A).
fn loadA(i: u32) -> V4 {
#if VEC_A
  return V4(a_load4(i >> 2u));
#else
  return V4(vec4<f32>(a_load(i), a_load(i + 1u), a_load(i + 2u), a_load(i + 3u)));
#endif
}

// B[k..k+3] for one output column: contiguous when TRANS_B, else strided by N.
fn loadB(i: u32) -> V4 {
#if VEC_B
  return V4(b_load4(i >> 2u));
#else
#if TRANS_B
  return V4(vec4<f32>(b_load(i), b_load(i + 1u), b_load(i + 2u), b_load(i + 3u)));
#else
  let s = params.N;
  return V4(vec4<f32>(b_load(i), b_load(i + s), b_load(i + 2u * s), b_load(i + 3u * s)));
#endif
#endif
}

#if ACT_GELU_TANH
fn act(x: f32) -> f32 {
  // tanh of a large argument overflows exp() inside some tanh implementations: clamp first.
  let u = clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -15.0, 15.0);
  return 0.5 * x * (1.0 + tanh(u));
}
#endif
#if ACT_GELU
// erf by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7); WGSL has no erf.
fn erf(x: f32) -> f32 {
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let p = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(x) * (1.0 - p * exp(-a * a));
}
fn act(x: f32) -> f32 { return 0.5 * x * (1.0 + erf(x * 0.7071067811865476)); }
#endif
#if ACT_QUICK_GELU
fn act(x: f32) -> f32 { return x / (1.0 + exp(-1.702 * x)); }
#endif
#if ACT_SILU
fn act(x: f32) -> f32 { return x / (1.0 + exp(-x)); }
#endif

fn finish(z: u32, m: u32, n: u32, acc: f32) {
  var v = acc;
#if BIAS
  v += bias_load(params.n0 + n);
#endif
#if ACT
  v = act(v);
#endif
  let o = m * params.ldo + params.n0 + n;
#if RESIDUAL
#if GATE
  let sample = (params.row0 + m) / params.rowsPerSample;
  v *= gate_load(sample * params.gateStride + params.gateOff + params.n0 + n);
#endif
  v += residual_load(params.offR + o);
#endif
  out_store(params.offO + z * params.strideO + o, v);
}

@compute @workgroup_size({{WGX}}, {{WGY}})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let z = wg.z;
  let m0 = (wg.y * {{WGY}}u + lid.y) * TM;
  let n0 = (wg.x * {{WGX}}u + lid.x) * TN;
  if (m0 >= params.M || n0 >= params.N) { return; }
  let K = params.K;

  var rowA: array<u32, TM>;
  for (var i = 0u; i < TM; i++) {
    rowA[i] = params.offA + z * params.strideA + min(m0 + i, params.M - 1u) * K;
  }
  // Index of B[k = 0] for each column; the step along k is 1 (TRANS_B) or N.
  var colB: array<u32, TN>;
  for (var j = 0u; j < TN; j++) {
    let n = min(n0 + j, params.N - 1u);
#if TRANS_B
    colB[j] = params.offB + z * params.strideB + n * K;
#else
    colB[j] = params.offB + z * params.strideB + n;
#endif
  }
#if TRANS_B
  let kstep = 1u;
#else
  let kstep = params.N;
#endif

  var acc: array<array<f32, TN>, TM>;
  let k4 = K & ~3u;
  for (var k = 0u; k < k4; k += 4u) {
    var a: array<V4, TM>;
    var b: array<V4, TN>;
    for (var i = 0u; i < TM; i++) { a[i] = loadA(rowA[i] + k); }
    for (var j = 0u; j < TN; j++) { b[j] = loadB(colB[j] + k * kstep); }
    for (var i = 0u; i < TM; i++) {
      for (var j = 0u; j < TN; j++) {
        acc[i][j] += f32(dot(a[i], b[j]));
      }
    }
  }
  // K % 4 tail (only without VEC_A/VEC_B, which require K % 4 == 0).
  for (var k = k4; k < K; k++) {
    for (var i = 0u; i < TM; i++) {
      let x = a_load(rowA[i] + k);
      for (var j = 0u; j < TN; j++) {
        acc[i][j] += x * b_load(colB[j] + k * kstep);
      }
    }
  }

  for (var i = 0u; i < TM; i++) {
    if (m0 + i >= params.M) { break; }
    for (var j = 0u; j < TN; j++) {
      if (n0 + j < params.N) { finish(z, m0 + i, n0 + j, acc[i][j]); }
    }
  }
}
