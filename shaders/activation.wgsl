// Activation functions, appended to the source of any kernel that applies one (elementwise
// maps, matmul epilogues): act_<name>(x) for each Activation in src/kernels/types.ts.
fn act_none(x: f32) -> f32 { return x; }

fn act_silu(x: f32) -> f32 { return x / (1.0 + exp(-x)); }

fn act_quick_gelu(x: f32) -> f32 { return x / (1.0 + exp(-1.702 * x)); }

// tanh of large arguments overflows exp inside some implementations (NaN): tanh(±10) is ±1 in f32.
fn act_gelu_tanh(x: f32) -> f32 {
  let u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
  return 0.5 * x * (1.0 + tanh(clamp(u, -10.0, 10.0)));
}

// WGSL has no erf: Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below f32 rounding of gelu).
fn erf_approx(z: f32) -> f32 {
  let a = abs(z);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(z) * (1.0 - poly * exp(-a * a));
}

fn act_gelu(x: f32) -> f32 { return 0.5 * x * (1.0 + erf_approx(x * 0.7071067811865476)); }
