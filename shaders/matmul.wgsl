// C[z, m, n] = epilogue(sum_k A[z, m, k] · B[z, n, k])   (TRANS_B: B is [N, K], a Linear weight)
//                                   or B[z, k, n]         (!TRANS_B: B is [K, N])
// Two kernels share the parameters and the epilogue (`finish`); the variant's defines pick one:
// - register blocking (default): each invocation computes a TM×TN block of C from registers
//   (naive = 1×1), with no workgroup memory and no barrier. On CPU adapters this beats
//   workgroup-memory tiles (barriers are expensive there). Rows and columns past the edge are
//   clamped on load (no branch in the K loop) and skipped on store.
// - WGMEM (GPU-style): a workgroup computes a BM×BN block of C, staging BK-deep slices of A and
//   B in workgroup memory between barriers; each invocation accumulates TM×TN outputs.
// - SM_KERNEL: the same staging, with the products done by cooperative matrices
//   (chromium_experimental_subgroup_matrix) in the adapter's SM_M×SM_N×SM_K shape.
// Exactly one of REGISTER, WGMEM, SM_KERNEL is set.
// Q8 (REGISTER and WGMEM, TRANS_B only): B is an 8-bit weight (kernels/q8.ts), dequantised as
// it is loaded; the products and the f32 accumulation are those of the float path.
// Bindings contract: shaders/README.md ("matmul").
struct Params {
  M: u32, N: u32, K: u32, ldo: u32,          // band rows, band columns, depth, C row stride
  offA: u32, offB: u32, offO: u32, offR: u32, // element offsets of the bound ranges
  strideA: u32, strideB: u32, strideO: u32, n0: u32, // batch strides; first column of the band
  row0: u32, rowsPerSample: u32, gateStride: u32, gateOff: u32, // gate: per-sample rows
  offS: u32,                                  // Q8: element offset of the bound scales
}

const TM = {{TM}}u;
const TN = {{TN}}u;
const SGR = {{SGR}}u;
alias V4 = vec4<{{MATH}}>;
alias M4 = mat4x4<{{MATH}}>;

#if WORDS
// WORDS (f16 a and b, TRANS_B, K % 8 == 0): both bound as vec4<u32>, two halves per word, so one
// load per lane brings 8 consecutive k of a row where a vec4<f16> load brings 4 (llvmpipe loads
// lane by lane and component by component: a quarter of the loaded components per product).
// The K loop takes 8 per trip: `part(w, u)` is k + 4u..k + 4u + 3 of such a load.
const KU = 2u;
fn halves4(w0: u32, w1: u32) -> vec4<f32> { return vec4<f32>(unpack2x16float(w0), unpack2x16float(w1)); }
fn part(w: vec4<u32>, u: u32) -> V4 { return V4(halves4(w[2u * u], w[2u * u + 1u])); }
fn half1(w: u32, i: u32) -> f32 { let p = unpack2x16float(w); return select(p.x, p.y, (i & 1u) == 1u); }
#else
const KU = 1u;
#endif

// Four consecutive K elements of A's row starting at index i (i % 4 == 0 when VEC_A).
fn loadA(i: u32) -> V4 {
#if WORDS
  return V4(halves4(a_load(i >> 1u), a_load((i >> 1u) + 1u)));
#else
#if VEC_A
  return V4(a_load4(i >> 2u));
#else
  return V4(vec4<f32>(a_load(i), a_load(i + 1u), a_load(i + 2u), a_load(i + 3u)));
#endif
#endif
}

// A[i] alone (the K % 4 tail).
fn loadA1(i: u32) -> f32 {
#if WORDS
  return half1(a_load(i >> 1u), i);
#else
  return a_load(i);
#endif
}

#if !Q8
// B[k..k+3] for one output column: contiguous when TRANS_B, else strided by N.
fn loadB(i: u32) -> V4 {
#if WORDS
  return V4(halves4(b_load(i >> 1u), b_load((i >> 1u) + 1u)));
#else
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
#endif
}
#endif

#if Q8
const GROUP = {{GROUP}}u;
// B[n, k..k+3] (k % 4 == 0) of an 8-bit weight: one u32 word of row n (rows are ceil(K/4)
// words, zero-padded past K) times the scale of k's group (GROUP % 4 == 0: one scale per word).
fn q8Load4(n: u32, k: u32) -> vec4<f32> {
  let w = b_load(params.offB + n * ((params.K + 3u) >> 2u) + (k >> 2u));
#if PACKED_4X8
  let q = unpack4xI8(w);
#else
  // Each byte shifted to the top, then arithmetic shifts sign-extend it.
  let q = vec4<i32>(bitcast<i32>(w << 24u), bitcast<i32>(w << 16u), bitcast<i32>(w << 8u), bitcast<i32>(w)) >> vec4<u32>(24u);
#endif
  return vec4<f32>(q) * scales_load(params.offS + n * ((params.K + GROUP - 1u) / GROUP) + k / GROUP);
}
#endif

// B[k..k+3] of the column whose B[k = 0] is at index `col` (Q8: col is the weight's row n).
fn loadBk(col: u32, k: u32) -> V4 {
#if Q8
  return V4(q8Load4(col, k));
#else
#if TRANS_B
  return loadB(col + k);
#else
  return loadB(col + k * params.N);
#endif
#endif
}

// B[k] of that column (scalar loops: the naive kernel, the K % 4 tail).
fn loadB1(col: u32, k: u32) -> f32 {
#if Q8
  return q8Load4(col, k & ~3u)[k & 3u];
#else
#if WORDS
  return half1(b_load((col + k) >> 1u), col + k);
#else
#if TRANS_B
  return b_load(col + k);
#else
  return b_load(col + k * params.N);
#endif
#endif
#endif
}

fn finish(z: u32, m: u32, n: u32, acc: f32) {
  var v = acc;
#if BIAS
  v += bias_load(params.n0 + n);
#endif
#if ACT
  v = {{ACT_FN}}(v); // act_* from shaders/activation.wgsl, appended by the wrapper
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

#if REGISTER
// No early return: subgroupBroadcast needs uniform control flow. Columns past N are clamped on
// load and skipped on store; the grid never has rows past M.
@compute @workgroup_size({{WG}})
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
#if SUBGROUPS
  @builtin(subgroup_invocation_id) lane: u32,
#endif
) {
  let z = wg.z;
  // A workgroup shares its TM rows: their loads are uniform, which CPU drivers turn into one
  // scalar load instead of a per-lane gather.
  let m0 = wg.y * TM;
  let n0 = (wg.x * {{WG}}u + lid.x) * TN;
  let K = params.K;

  var rowA: array<u32, TM>;
  for (var i = 0u; i < TM; i++) {
    rowA[i] = params.offA + z * params.strideA + min(m0 + i, params.M - 1u) * K;
  }
  // Index of B[k = 0] for each column (loadBk steps along k); for Q8 the column itself.
  var colB: array<u32, TN>;
  for (var j = 0u; j < TN; j++) {
    let n = min(n0 + j, params.N - 1u);
#if Q8
    colB[j] = n;
#else
#if TRANS_B
    colB[j] = params.offB + z * params.strideB + n * K;
#else
    colB[j] = params.offB + z * params.strideB + n;
#endif
#endif
  }

#if NAIVE
  // The bench baseline: one output per invocation, scalar loads.
  var s = 0.0;
  for (var k = 0u; k < K; k++) { s += a_load(rowA[0] + k) * loadB1(colB[0], k); }
  if (n0 < params.N) { finish(z, m0, n0, s); }
#else
  // acc0[i] holds columns n0..n0+3 of row i (acc1: n0+4..n0+7). A 4×4 block of B is a
  // mat4x4 whose column c is B[n0 + c, k..k+3], so a row's vec4 of A times it adds 16 products
  // in one expression. Named blocks, not an array of them: lavapipe keeps those in registers.
  var acc0: array<vec4<f32>, TM>;
#if TN8
  var acc1: array<vec4<f32>, TM>;
#endif
  let k4 = K & ~3u;
#if SUBGROUPS
  // Lane j loads rows j, j + 8, …: SGR = TM / 8 loads per lane feed TM rows (subgroups of ≥ 8).
  var myRow: array<u32, SGR>;
  for (var r = 0u; r < SGR; r++) { myRow[r] = rowA[min(lane + 8u * r, TM - 1u)]; }
#endif
  // KU steps of 4 per trip (WORDS: 2, K % 8 == 0).
  for (var k0 = 0u; k0 < k4; k0 += 4u * KU) {
#if WORDS
    var bw: array<vec4<u32>, TN>;
    for (var j = 0u; j < TN; j++) { bw[j] = b_load4((colB[j] + k0) >> 3u); }
#if SUBGROUPS
    var aw: array<vec4<u32>, SGR>;
    for (var r = 0u; r < SGR; r++) { aw[r] = a_load4((myRow[r] + k0) >> 3u); }
#endif
#endif
    for (var u = 0u; u < KU; u++) {
      let k = k0 + 4u * u;
#if WORDS
      let b0 = M4(part(bw[0], u), part(bw[1], u), part(bw[2], u), part(bw[3], u));
#if TN8
      let b1 = M4(part(bw[4], u), part(bw[5], u), part(bw[6], u), part(bw[7], u));
#endif
#else
      let b0 = M4(loadBk(colB[0], k), loadBk(colB[1], k), loadBk(colB[2], k), loadBk(colB[3], k));
#if TN8
      let b1 = M4(loadBk(colB[4], k), loadBk(colB[5], k), loadBk(colB[6], k), loadBk(colB[7], k));
#endif
#endif
#if SUBGROUPS
      // Each lane loads its rows' vec4s and the subgroup shares them: SGR loads of A per lane
      // instead of TM (subgroupBroadcast would need a constant lane).
      var mine: array<V4, SGR>;
#if WORDS
      for (var r = 0u; r < SGR; r++) { mine[r] = part(aw[r], u); }
#else
      for (var r = 0u; r < SGR; r++) { mine[r] = loadA(myRow[r] + k); }
#endif
      for (var i = 0u; i < TM; i++) {
        let a = subgroupShuffle(mine[i / 8u], i % 8u);
        acc0[i] += vec4<f32>(a * b0);
#if TN8
        acc1[i] += vec4<f32>(a * b1);
#endif
      }
#else
      for (var i = 0u; i < TM; i++) {
        let a = loadA(rowA[i] + k);
        acc0[i] += vec4<f32>(a * b0);
#if TN8
        acc1[i] += vec4<f32>(a * b1);
#endif
      }
#endif
    }
  }
  // K % 4 tail (only without VEC_A/VEC_B, which require K % 4 == 0).
  for (var k = k4; k < K; k++) {
    let b0 = vec4<f32>(loadB1(colB[0], k), loadB1(colB[1], k), loadB1(colB[2], k), loadB1(colB[3], k));
#if TN8
    let b1 = vec4<f32>(loadB1(colB[4], k), loadB1(colB[5], k), loadB1(colB[6], k), loadB1(colB[7], k));
#endif
    for (var i = 0u; i < TM; i++) {
      let x = loadA1(rowA[i] + k);
      acc0[i] += x * b0;
#if TN8
      acc1[i] += x * b1;
#endif
    }
  }

  for (var i = 0u; i < TM; i++) {
    if (m0 + i >= params.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      if (n0 + j < params.N) { finish(z, m0 + i, n0 + j, acc0[i][j]); }
#if TN8
      if (n0 + 4u + j < params.N) { finish(z, m0 + i, n0 + 4u + j, acc1[i][j]); }
#endif
    }
  }
#endif
}
#endif

#if WGMEM
// Workgroup-memory tiles. The block's invocations form a TX×TY grid; invocation (x, y) owns
// the rows (i·TY + y)·4 + 0..3 (i < TM/4) and columns (j·TX + x)·4 + 0..3 (j < TN/4) of the
// block, so neighbouring invocations read neighbouring vec4s of a tile (no bank conflicts).
// Tiles are k-major vec4s of 4 rows (A) or 4 columns (B): a step of k reads TM/4 + TN/4 vec4s
// and does TM·TN products. MATH = f16 halves the tiles and does the products in f16; the
// accumulators stay f32.
const BM = {{BM}}u;
const BN = {{BN}}u;
const BK = {{BK}}u;
const TX = BN / TN;
const TY = BM / TM;
const INVOCATIONS = TX * TY;
var<workgroup> tileA: array<V4, BK * BM / 4u>;
var<workgroup> tileB: array<V4, BK * BN / 4u>;

// A[row, k..k+3] of the row starting at element `row`; zero past K (the last slice's tail).
fn sliceA(row: u32, k: u32) -> vec4<f32> {
#if VEC_A
  if (k >= params.K) { return vec4<f32>(); }
  return a_load4((row + k) >> 2u);
#else
  var v = vec4<f32>();
  for (var c = 0u; c < 4u; c++) {
    if (k + c < params.K) { v[c] = a_load(row + k + c); }
  }
  return v;
#endif
}

@compute @workgroup_size({{WG_X}}, {{WG_Y}})
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let z = wg.z;
  let m0 = wg.y * BM;
  let n0 = wg.x * BN;
  let K = params.K;
  let baseA = params.offA + z * params.strideA;
  let baseB = params.offB + z * params.strideB;
  var acc: array<vec4<f32>, TM * TN / 4u>;
  for (var k0 = 0u; k0 < K; k0 += BK) {
    // Stage A[m0.., k0..k0+BK): invocations take 4 consecutive k of a row (rows past M clamped,
    // k past K zero) and store them transposed.
    for (var e = li; e < BM * BK / 4u; e += INVOCATIONS) {
      let r = e / (BK / 4u);
      let kk = (e % (BK / 4u)) * 4u;
      let v = V4(sliceA(baseA + min(m0 + r, params.M - 1u) * K, k0 + kk));
      for (var c = 0u; c < 4u; c++) { tileA[(kk + c) * (BM / 4u) + r / 4u][r % 4u] = v[c]; }
    }
#if TRANS_B
    // B is [N, K]: staged like A.
    for (var e = li; e < BN * BK / 4u; e += INVOCATIONS) {
      let r = e / (BK / 4u);
      let kk = (e % (BK / 4u)) * 4u;
      var v = vec4<f32>();
#if Q8
      // Words are zero past K: only whole words past the row's end need skipping.
      if (k0 + kk < K) { v = q8Load4(min(n0 + r, params.N - 1u), k0 + kk); }
#else
      let row = baseB + min(n0 + r, params.N - 1u) * K;
#if VEC_B
      if (k0 + kk < K) { v = b_load4((row + k0 + kk) >> 2u); }
#else
      for (var c = 0u; c < 4u; c++) {
        if (k0 + kk + c < K) { v[c] = b_load(row + k0 + kk + c); }
      }
#endif
#endif
      for (var c = 0u; c < 4u; c++) { tileB[(kk + c) * (BN / 4u) + r / 4u][r % 4u] = {{MATH}}(v[c]); }
    }
#else
    // B is [K, N]: 4 consecutive columns of one k are already a tile vec4.
    for (var e = li; e < BN * BK / 4u; e += INVOCATIONS) {
      let kk = e / (BN / 4u);
      let c4 = e % (BN / 4u);
      var v = vec4<f32>();
      if (k0 + kk < K) {
        let row = baseB + (k0 + kk) * params.N;
        for (var c = 0u; c < 4u; c++) { v[c] = b_load(row + min(n0 + c4 * 4u + c, params.N - 1u)); }
      }
      tileB[kk * (BN / 4u) + c4] = V4(v);
    }
#endif
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      var b: array<V4, TN / 4u>;
      for (var j = 0u; j < TN / 4u; j++) { b[j] = tileB[k * (BN / 4u) + j * TX + lid.x]; }
      for (var i = 0u; i < TM / 4u; i++) {
        let a = tileA[k * (BM / 4u) + i * TY + lid.y];
        for (var r = 0u; r < 4u; r++) {
          for (var j = 0u; j < TN / 4u; j++) { acc[(i * 4u + r) * (TN / 4u) + j] += vec4<f32>(a[r] * b[j]); }
        }
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < TM / 4u; i++) {
    for (var r = 0u; r < 4u; r++) {
      let m = m0 + (i * TY + lid.y) * 4u + r;
      if (m >= params.M) { continue; }
      for (var j = 0u; j < TN / 4u; j++) {
        let n = n0 + (j * TX + lid.x) * 4u;
        for (var c = 0u; c < 4u; c++) {
          if (n + c < params.N) { finish(z, m, n + c, acc[(i * 4u + r) * (TN / 4u) + j][c]); }
        }
      }
    }
  }
}
#endif

#if SM_KERNEL
// Four subgroups in a 2×2 grid, each accumulating RM×RN result matrices of SM_M×SM_N: a block
// of BM×BN. A slices are staged as row-major BM×BK, B slices as row-major BK×BN, or with
// TRANS_B as column-major (B's rows are K-contiguous, so staging reads them coalesced); the
// results go through workgroup memory so the epilogue runs per element. The workgroup has
// 4·SG_MAX invocations (x must be a multiple of the largest subgroup size); where subgroups are
// smaller, subgroups past the fourth only help staging.
// The cooperative-matrix operations sit behind Left/Right/Result and loadLeft, loadRight, mma,
// storeResult: SUBGROUP_MATRIX maps them to the chromium_experimental_subgroup_matrix builtins;
// without it each invocation is its own "subgroup" and holds whole matrices in private arrays
// with the builtins' semantics, so the tiling runs (and is tested) on adapters without them.
const SMM = {{SM_M}}u;
const SMN = {{SM_N}}u;
const SMK = {{SM_K}}u;
const RM = 2u;
const RN = 2u;
const BM = 2u * RM * SMM;
const BN = 2u * RN * SMN;
const BK = 2u * SMK;
const INVOCATIONS = {{WG}}u;
alias T = {{SM_T}};
var<workgroup> sliceA: array<T, BM * BK>;
var<workgroup> sliceB: array<T, BK * BN>;
var<workgroup> block: array<f32, BM * BN>;

#if SUBGROUP_MATRIX
alias Left = subgroup_matrix_left<T, SMK, SMM>;
alias Right = subgroup_matrix_right<T, SMN, SMK>;
alias Result = subgroup_matrix_result<f32, SMN, SMM>;

// The matrix at element `offset` of sliceA, rows `stride` elements apart.
@diagnostic(off, chromium_experimental.subgroup_matrix_uniformity)
fn loadLeft(offset: u32, stride: u32) -> Left {
  return subgroupMatrixLoad<Left, row_major>(&sliceA, offset, stride);
}

// The matrix at element `offset` of sliceB: rows (or with TRANS_B columns) `stride` apart.
@diagnostic(off, chromium_experimental.subgroup_matrix_uniformity)
fn loadRight(offset: u32, stride: u32) -> Right {
#if TRANS_B
  return subgroupMatrixLoad<Right, col_major>(&sliceB, offset, stride);
#else
  return subgroupMatrixLoad<Right, row_major>(&sliceB, offset, stride);
#endif
}

@diagnostic(off, chromium_experimental.subgroup_matrix_uniformity)
fn mma(l: Left, r: Right, acc: Result) -> Result {
  return subgroupMatrixMultiplyAccumulate(l, r, acc);
}

// Row-major into `block` at element `offset`, rows `stride` apart.
@diagnostic(off, chromium_experimental.subgroup_matrix_uniformity)
fn storeResult(offset: u32, v: Result, stride: u32) {
  subgroupMatrixStore<row_major>(&block, offset, v, stride);
}
#else
// Whole matrices, row-major: [r * columns + c].
alias Left = array<T, SMM * SMK>;
alias Right = array<T, SMK * SMN>;
alias Result = array<f32, SMM * SMN>;

fn loadLeft(offset: u32, stride: u32) -> Left {
  var l: Left;
  for (var r = 0u; r < SMM; r++) {
    for (var c = 0u; c < SMK; c++) { l[r * SMK + c] = sliceA[offset + r * stride + c]; }
  }
  return l;
}

fn loadRight(offset: u32, stride: u32) -> Right {
  var m: Right;
  for (var r = 0u; r < SMK; r++) {
    for (var c = 0u; c < SMN; c++) {
#if TRANS_B
      m[r * SMN + c] = sliceB[offset + c * stride + r];
#else
      m[r * SMN + c] = sliceB[offset + r * stride + c];
#endif
    }
  }
  return m;
}

// Products of T components, exact in f32 (also for f16), summed in the f32 result.
fn mma(l: Left, r: Right, acc: Result) -> Result {
  var o = acc;
  for (var i = 0u; i < SMM; i++) {
    for (var j = 0u; j < SMN; j++) {
      for (var k = 0u; k < SMK; k++) { o[i * SMN + j] += f32(l[i * SMK + k]) * f32(r[k * SMN + j]); }
    }
  }
  return o;
}

fn storeResult(offset: u32, v: Result, stride: u32) {
  for (var r = 0u; r < SMM; r++) {
    for (var c = 0u; c < SMN; c++) { block[offset + r * stride + c] = v[r * SMN + c]; }
  }
}
#endif

@compute @workgroup_size({{WG}})
#if SUBGROUP_MATRIX
@diagnostic(off, chromium_experimental.subgroup_matrix_uniformity)
#endif
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
#if SUBGROUP_MATRIX
  @builtin(subgroup_id) sg: u32,
#endif
) {
#if !SUBGROUP_MATRIX
  let sg = li;
#endif
  let z = wg.z;
  let m0 = wg.y * BM;
  let n0 = wg.x * BN;
  let K = params.K;
  let baseA = params.offA + z * params.strideA;
  let baseB = params.offB + z * params.strideB;
  let sy = sg / 2u;
  let sx = sg % 2u;
  var acc: array<Result, RM * RN>;
  for (var k0 = 0u; k0 < K; k0 += BK) {
    for (var e = li; e < BM * BK; e += INVOCATIONS) {
      let k = k0 + e % BK;
      var v = 0.0;
      if (k < K) { v = a_load(baseA + min(m0 + e / BK, params.M - 1u) * K + k); }
      sliceA[e] = T(v);
    }
    for (var e = li; e < BK * BN; e += INVOCATIONS) {
#if TRANS_B
      // Column-major: element e is B[n0 + e / BK, k0 + e % BK].
      let k = k0 + e % BK;
      let n = min(n0 + e / BK, params.N - 1u);
      var v = 0.0;
      if (k < K) { v = b_load(baseB + n * K + k); }
#else
      let k = k0 + e / BN;
      let n = min(n0 + e % BN, params.N - 1u);
      var v = 0.0;
      if (k < K) { v = b_load(baseB + k * params.N + n); }
#endif
      sliceB[e] = T(v);
    }
    workgroupBarrier();
    if (sg < 4u) {
      for (var kk = 0u; kk < BK; kk += SMK) {
        var right: array<Right, RN>;
        for (var j = 0u; j < RN; j++) {
#if TRANS_B
          right[j] = loadRight((sx * RN + j) * SMN * BK + kk, BK);
#else
          right[j] = loadRight(kk * BN + (sx * RN + j) * SMN, BN);
#endif
        }
        for (var i = 0u; i < RM; i++) {
          let left = loadLeft((sy * RM + i) * SMM * BK + kk, BK);
          for (var j = 0u; j < RN; j++) { acc[i * RN + j] = mma(left, right[j], acc[i * RN + j]); }
        }
      }
    }
    workgroupBarrier();
  }
  if (sg < 4u) {
    for (var i = 0u; i < RM; i++) {
      for (var j = 0u; j < RN; j++) {
        storeResult((sy * RM + i) * SMM * BN + (sx * RN + j) * SMN, acc[i * RN + j], BN);
      }
    }
  }
  workgroupBarrier();
  for (var e = li; e < BM * BN; e += INVOCATIONS) {
    let m = m0 + e / BN;
    let n = n0 + e % BN;
    if (m < params.M && n < params.N) { finish(z, m, n, block[e]); }
  }
}
#endif
