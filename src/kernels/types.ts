// Types shared by kernel families.
import type { Capabilities } from '../runtime/device.ts';
import type { Tensor } from '../runtime/tensor.ts';

/** Whether the adapter has subgroups and every one has at least `lanes` lanes (for shuffles over that many). */
export function subgroupsOf(caps: Capabilities, lanes: number): boolean {
  return caps.subgroups && caps.subgroupMinSize >= lanes;
}

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
