// 2-D convolution as an implicit GEMM: out[pixel, co] = bias[co] + Σ_k in[pixel ⊕ tap(k)] · w[k, co]
// with k = (ky, kx, ci). Weights are pre-laid out as [KH·KW·Cin, CoutPad] (CoutPad a multiple
// of 4·TN, zero filled) so each row of w is read as TN vec4s of output channels.
//
// Two kernels share the parameters and the epilogue (`finish`); the variant's defines pick one:
// - register blocking (default; what pays on CPU drivers such as lavapipe, where workgroup
//   barriers are expensive): each invocation computes TM consecutive output pixels × 4·TN output
//   channels. Pixels past the end are clamped to the last one (computed, never stored).
// - WGMEM (GPU-style): a workgroup computes BM output pixels × BN output channels, staging
//   BK-deep slices of the input patches (gathered on the fly) and of the weights in workgroup
//   memory between barriers; each invocation accumulates TM pixels × 4·TN channels.
//
// Layouts are strides, so NHWC and NCHW operands share the code: input element
//   b·inH·inW·cin + (iy·inW + ix)·pixStride + ci·ciStride   (NHWC: pixStride=cin, ciStride=1)
// and output element  b·outH·outW·cout + q·outPix + co·outCi  (q = oy·outW + ox).
// Nearest upsampling by 2^up is fused into the read: the taps index the upsampled frame
// [inH·2^up, inW·2^up] (where padding applies, as for interpolate→conv) and read the stored
// pixel (iy >> up, ix >> up), so the upsampled map is never materialised.
// IN_NORM: the input is GroupNorm+SiLU'd as it is read: silu(x·nrm[b, 0, ci] + nrm[b, 1, ci])
// with nrm [B, 2, cin] (f32) from groupnorm.wgsl's FINAL pass, on real inputs only (the
// padding stays 0, as for a conv after the activation), so the normalised map is never stored.
// VEC_IN (NHWC, cin % 4 == 0) reads 4 input channels at once; VEC_OUT (NHWC, cout % 4 == 0)
// writes vec4s. Bands: the wrapper binds windows of the operands; *Base are the elements
// between a tensor's start and its window's start, q0 the band's first output pixel.
struct Params {
  inH: u32, inW: u32, cin: u32, cout: u32,
  outH: u32, outW: u32, coutPad4: u32, pixels: u32,
  q0: u32, b0: u32, padT: u32, padL: u32,
  inBase: u32, outBase: u32, resBase: u32, ciStride: u32,
  pixStride: u32, outPix: u32, outCi: u32, up: u32,
  // IN_AFFINE: x·inScale + inShift on real (not padding) inputs. Output: clamp(v·outScale + outShift, lo, hi).
  inScale: f32, inShift: f32, outScale: f32, outShift: f32,
  lo: f32, hi: f32, _pad1: u32, _pad2: u32,
  kh: u32, kw: u32, stride: i32, _pad3: u32,
}

#if RES_IN_PLACE
// The residual is the output itself: each element is read, then written, by one invocation.
fn res_load(i: u32) -> f32 { return out_load(i); }
fn res_load4(j: u32) -> vec4<f32> { return out_load4(j); }
#endif

const TM: u32 = {{TM}}u;
const TN: u32 = {{TN}}u;

// Stores output channels 4·co4..4·co4+3 (those below cout) of band pixel q of batch b: acc
// holds the sum with the bias; residual, output affine and clamp are applied here.
fn finish(b: u32, q: u32, co4: u32, acc: vec4<f32>) {
  let pix = b * params.outH * params.outW * params.cout + (params.q0 + q) * params.outPix;
  let c = co4 * 4u;
  var v = acc;
#if VEC_OUT
#if RESIDUAL
  v += res_load4((pix + c - params.resBase) >> 2u);
#endif
  v = clamp(v * params.outScale + params.outShift, vec4<f32>(params.lo), vec4<f32>(params.hi));
  out_store4((pix + c - params.outBase) >> 2u, v);
#else
  for (var k = 0u; k < 4u; k++) {
    if (c + k >= params.cout) { break; }
    let at = pix + (c + k) * params.outCi;
    var s = v[k];
#if RESIDUAL
    s += res_load(at - params.resBase);
#endif
    out_store(at - params.outBase, clamp(s * params.outScale + params.outShift, params.lo, params.hi));
  }
#endif
}

#if IN_NORM
// Scale and shift of input channels ci..ci+3 (VEC_IN) or ci of batch b: loaded once per channel
// step, applied to every pixel's load (x·scale + shift, then SiLU).
fn normAt4(b: u32, ci: u32) -> array<vec4<f32>, 2> {
  let row = b * 2u * params.cin + ci;
  return array<vec4<f32>, 2>(nrm_load4(row >> 2u), nrm_load4((row + params.cin) >> 2u));
}
fn normAt1(b: u32, ci: u32) -> vec2<f32> {
  let row = b * 2u * params.cin + ci;
  return vec2<f32>(nrm_load(row), nrm_load(row + params.cin));
}
fn silu4(y: vec4<f32>) -> vec4<f32> { return y / (1.0 + exp(-y)); }
fn silu1(y: f32) -> f32 { return y / (1.0 + exp(-y)); }
#endif

#if !WGMEM
const SGL: u32 = {{SGL}}u; // weight vec4s each lane loads for the subgroup (4·TN / 8, at least 1)
const STRIDE: u32 = {{STRIDE}}u;
// With stride 1, the next tap of a kernel row reuses TM − 1 of the input vectors already held
// and loads one (wrapper: where that measured faster on lavapipe).
#if SHIFT_TAPS
const SHIFT_TAPS = true;
#else
const SHIFT_TAPS = false;
#endif

#if VEC_IN
alias XV = vec4<f32>; // the input channels of one ci step
const CI_STEP: u32 = 4u;
const WN: u32 = 4u * TN; // weight vec4s of one tap and ci step
#else
alias XV = f32;
const CI_STEP: u32 = 1u;
const WN: u32 = TN;
#endif

// Input channels ci.. of one ci step at window index `at` (a pixel's first channel), with the
// input transform applied.
fn xLoad(b: u32, at: u32, ci: u32) -> XV {
#if VEC_IN
  var v = x_load4((at + ci) >> 2u);
#else
  var v = x_load(at + ci * params.ciStride);
#endif
#if IN_AFFINE
  v = v * params.inScale + params.inShift;
#endif
#if IN_NORM
#if VEC_IN
  let nf = normAt4(b, ci);
  v = silu4(v * nf[0] + nf[1]);
#else
  let nf = normAt1(b, ci);
  v = silu1(v * nf.x + nf.y);
#endif
#endif
  return v;
}

// Whether upsampled column ix of a kernel row (rowOk: the row is inside the input) is a real input.
fn inside(rowOk: bool, ix: i32) -> bool {
  return rowOk && ix >= 0 && ix < i32(params.inW << params.up);
}

// The window index of upsampled column ix's first channel in the kernel row starting at rowAt.
fn colAt(rowAt: u32, ix: i32) -> u32 {
  return rowAt + (u32(ix) >> params.up) * params.pixStride;
}

// xLoad at column ix of a kernel row, 0 in the padding.
fn xAt(b: u32, rowAt: u32, rowOk: bool, ix: i32, ci: u32) -> XV {
  var v = XV();
  if (inside(rowOk, ix)) { v = xLoad(b, colAt(rowAt, ix), ci); }
  return v;
}

// The weights of one tap and ci step (rows wrow.. of w): [r·TN + t] is input channel ci + r,
// output vec4 co4 + t.
fn weightsAt(wrow: u32, co4: u32, lane: u32) -> array<vec4<f32>, WN> {
  var w: array<vec4<f32>, WN>;
#if SUBGROUPS
  // The WN weight vec4s are the same for every lane (one channel group per workgroup): lane j
  // loads vec4s j, j+8, … and the subgroup shares them: SGL loads per lane instead of WN (CPU
  // drivers issue a uniform load per lane: 1.6-2.6× faster convs on lavapipe).
  var mine: array<vec4<f32>, SGL>;
  for (var r = 0u; r < SGL; r++) {
    let j = min(lane + 8u * r, WN - 1u);
    mine[r] = w_load4((wrow + j / TN) * params.coutPad4 + co4 + j % TN);
  }
  for (var i = 0u; i < WN; i++) { w[i] = subgroupShuffle(mine[i / 8u], i % 8u); }
#else
  for (var i = 0u; i < WN; i++) { w[i] = w_load4((wrow + i / TN) * params.coutPad4 + co4 + i % TN); }
#endif
  return w;
}

// acc[pixel p] += x · w.
fn addPixel(acc: ptr<function, array<vec4<f32>, TM * TN>>, p: u32, x: XV, w: ptr<function, array<vec4<f32>, WN>>) {
  for (var t = 0u; t < TN; t++) {
#if VEC_IN
    (*acc)[p * TN + t] += x.x * (*w)[t] + x.y * (*w)[TN + t] + x.z * (*w)[2u * TN + t] + x.w * (*w)[3u * TN + t];
#else
    (*acc)[p * TN + t] += x * (*w)[t];
#endif
  }
}

// No early return: with SUBGROUPS the weight shuffles need uniform control flow. Invocation i
// takes TM consecutive pixels (segment i % segs) of output row i / segs of the band, so its
// taps along a kernel row overlap (SHIFT_TAPS). Pixels past the row or the band are computed
// (on clamped coordinates) and never stored.
@compute @workgroup_size(64)
fn main(
  @builtin(global_invocation_id) gid: vec3<u32>,
#if SUBGROUPS
  @builtin(subgroup_invocation_id) lane: u32,
#endif
) {
#if !SUBGROUPS
  let lane = 0u;
#endif
  let segs = (params.outW + TM - 1u) / TM;
  let bandRows = params.pixels / params.outW;
  let row = min(gid.x / segs, bandRows - 1u);
  let col0 = (gid.x % segs) * TM;
  let co4 = gid.y * TN;
  let b = params.b0 + gid.z;
  let inBatch = b * params.inH * params.inW * params.cin;
  let iy0 = i32(params.q0 / params.outW + row) * params.stride - i32(params.padT);
  let ix0 = i32(col0 * STRIDE) - i32(params.padL);

  var acc: array<vec4<f32>, TM * TN>;
  for (var ky = 0u; ky < params.kh; ky++) {
    let iy = iy0 + i32(ky);
    let rowOk = iy >= 0 && iy < i32(params.inH << params.up);
    let rowAt = select(0u, inBatch + (u32(iy) >> params.up) * params.inW * params.pixStride - params.inBase, rowOk);
    if (SHIFT_TAPS) {
      for (var ci = 0u; ci < params.cin; ci += CI_STEP) {
        var x: array<XV, TM>;
        for (var p = 0u; p < TM; p++) { x[p] = xAt(b, rowAt, rowOk, ix0 + i32(p), ci); }
        for (var kx = 0u; kx < params.kw; kx++) {
          var w = weightsAt((ky * params.kw + kx) * params.cin + ci, co4, lane);
          for (var p = 0u; p < TM; p++) { addPixel(&acc, p, x[p], &w); }
          // The next tap: shift by one pixel (the last trip's load is unused).
          for (var p = 0u; p + 1u < TM; p++) { x[p] = x[p + 1u]; }
          x[TM - 1u] = xAt(b, rowAt, rowOk, ix0 + i32(TM + kx), ci);
        }
      }
    } else {
      for (var kx = 0u; kx < params.kw; kx++) {
        var at: array<u32, TM>;
        var ok: array<bool, TM>;
        for (var p = 0u; p < TM; p++) {
          let ix = ix0 + i32(p * STRIDE + kx);
          ok[p] = inside(rowOk, ix);
          at[p] = select(0u, colAt(rowAt, ix), ok[p]);
        }
        for (var ci = 0u; ci < params.cin; ci += CI_STEP) {
          var w = weightsAt((ky * params.kw + kx) * params.cin + ci, co4, lane);
          // The accumulation inside the branch: measured ~10% faster on lavapipe than adding
          // a zeroed input for the padding.
          for (var p = 0u; p < TM; p++) {
            if (ok[p]) { addPixel(&acc, p, xLoad(b, at[p], ci), &w); }
          }
        }
      }
    }
  }

  // The bias is loaded once per channel vec4, not per pixel (loads are issued lane by lane).
  if (gid.x / segs < bandRows) {
    for (var t = 0u; t < TN; t++) {
      if ((co4 + t) * 4u >= params.cout) { break; }
      let bias = bias_load4(co4 + t);
      for (var p = 0u; p < TM; p++) {
        if (col0 + p >= params.outW) { break; }
        finish(b, row * params.outW + col0 + p, co4 + t, acc[p * TN + t] + bias);
      }
    }
  }
}
#endif

#if WGMEM
// Implicit GEMM through workgroup memory: C[pixel, co] = Σ_k patch[pixel, k] · w[k, co], with
// k = (ky·kw + kx)·cin + ci. The block's invocations form a TX×TY grid; invocation (x, y) owns
// the pixels (i·TY + y)·4 + 0..3 (i < TM/4) and channel vec4s j·TX + x (j < TN) of the block, so
// neighbours read neighbouring vec4s of a tile. Tiles are k-major vec4s of 4 pixels (patches)
// or 4 channels (weights).
const BM = {{BM}}u;
const BN = {{BN}}u;
const BK = {{BK}}u;
const TX = BN / (4u * TN);
const TY = BM / TM;
const INVOCATIONS = TX * TY;
const PADDING = 0xffffffffu;
var<workgroup> tileX: array<vec4<f32>, BK * BM / 4u>;
var<workgroup> tileW: array<vec4<f32>, BK * BN / 4u>;

// Window index of input channel 0 of tap kyx = ky·kw + kx for band pixel q (clamped to the
// band), or PADDING where the tap falls outside the (upsampled) input.
fn tapAt(b: u32, q: u32, kyx: u32) -> u32 {
  let qq = params.q0 + min(q, params.pixels - 1u);
  let iy = i32(qq / params.outW) * params.stride - i32(params.padT) + i32(kyx / params.kw);
  let ix = i32(qq % params.outW) * params.stride - i32(params.padL) + i32(kyx % params.kw);
  if (iy < 0 || iy >= i32(params.inH << params.up) || ix < 0 || ix >= i32(params.inW << params.up)) { return PADDING; }
  return b * params.inH * params.inW * params.cin + ((u32(iy) >> params.up) * params.inW + (u32(ix) >> params.up)) * params.pixStride - params.inBase;
}

// Patch elements k..k+3 of band pixel q (zero in the padding and past K).
fn patch4(b: u32, q: u32, k: u32) -> vec4<f32> {
  let K = params.kh * params.kw * params.cin;
  var v = vec4<f32>();
#if VEC_IN
  // cin % 4 == 0: the 4 elements are channels of one tap.
  if (k < K) {
    let at = tapAt(b, q, k / params.cin);
    if (at != PADDING) {
      v = x_load4((at + k % params.cin) >> 2u);
#if IN_AFFINE
      v = v * params.inScale + params.inShift;
#endif
#if IN_NORM
      let nf = normAt4(b, k % params.cin);
      v = silu4(v * nf[0] + nf[1]);
#endif
    }
  }
#else
  for (var c = 0u; c < 4u; c++) {
    let kc = k + c;
    if (kc >= K) { break; }
    let at = tapAt(b, q, kc / params.cin);
    if (at != PADDING) {
      v[c] = x_load(at + (kc % params.cin) * params.ciStride);
#if IN_AFFINE
      v[c] = v[c] * params.inScale + params.inShift;
#endif
#if IN_NORM
      let nf = normAt1(b, kc % params.cin);
      v[c] = silu1(v[c] * nf.x + nf.y);
#endif
    }
  }
#endif
  return v;
}

@compute @workgroup_size({{WG_X}}, {{WG_Y}})
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let b = params.b0 + wg.z;
  let p0 = wg.x * BM;
  let c40 = wg.y * (BN / 4u);
  let K = params.kh * params.kw * params.cin;
  var acc: array<vec4<f32>, TM * TN>;
  for (var k0 = 0u; k0 < K; k0 += BK) {
    for (var e = li; e < BM * BK / 4u; e += INVOCATIONS) {
      let r = e / (BK / 4u);
      let kk = (e % (BK / 4u)) * 4u;
      let v = patch4(b, p0 + r, k0 + kk);
      for (var c = 0u; c < 4u; c++) { tileX[(kk + c) * (BM / 4u) + r / 4u][r % 4u] = v[c]; }
    }
    for (var e = li; e < BN * BK / 4u; e += INVOCATIONS) {
      let kk = e / (BN / 4u);
      let c4 = e % (BN / 4u);
      var w = vec4<f32>();
      if (k0 + kk < K && c40 + c4 < params.coutPad4) { w = w_load4((k0 + kk) * params.coutPad4 + c40 + c4); }
      tileW[kk * (BN / 4u) + c4] = w;
    }
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      var w: array<vec4<f32>, TN>;
      for (var j = 0u; j < TN; j++) { w[j] = tileW[k * (BN / 4u) + j * TX + lid.x]; }
      for (var i = 0u; i < TM / 4u; i++) {
        let x = tileX[k * (BM / 4u) + i * TY + lid.y];
        for (var r = 0u; r < 4u; r++) {
          for (var j = 0u; j < TN; j++) { acc[(i * 4u + r) * TN + j] += x[r] * w[j]; }
        }
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < TM / 4u; i++) {
    for (var r = 0u; r < 4u; r++) {
      let q = p0 + (i * TY + lid.y) * 4u + r;
      if (q >= params.pixels) { continue; }
      for (var j = 0u; j < TN; j++) {
        let co4 = c40 + j * TX + lid.x;
        if (co4 * 4u < params.cout) { finish(b, q, co4, acc[(i * 4u + r) * TN + j] + bias_load4(co4)); }
      }
    }
  }
}
#endif
