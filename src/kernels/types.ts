// Types shared by kernel families.
import type { Tensor } from '../runtime/tensor.ts';

/** Activations fusable into epilogues. gelu = exact (erf); gelu_tanh = tanh approximation. */
export type Activation = 'none' | 'gelu_tanh' | 'gelu' | 'quick_gelu' | 'silu';

/**
 * The j-th of `chunks` equal column blocks of a per-sample tensor [B, chunks·C], e.g. one of
 * the shift/scale/gate vectors that adaLN's linear(silu(temb)) produces. Applied to a tensor of
 * M rows, rows are grouped by sample: sample b owns rows [b·M/B, (b+1)·M/B).
 */
export interface Chunk {
  tensor: Tensor;
  chunk: number;
  chunks: number;
}
