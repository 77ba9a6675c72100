// The contract between the conformance command and one golden's runner.
import type { Gpu } from '../../src/runtime/device.ts';
import type { WeightReader } from '../../src/runtime/weights.ts';
import type { WeightFormat } from '../../src/model/q8-weights.ts';

export type Precision = 'f32' | 'f16';

export interface GoldenContext {
  /** The fixture folder (a model folder laid out like SD3's, diception.pth, golden/). */
  dir: string;
  gpu: Gpu;
  precision: Precision;
  /** 'q8': the transformer's block linears in int8 (the transformer and pipeline goldens); default f16. */
  weights?: WeightFormat;
  /** golden/<file> when it is a safetensors file. */
  golden?: WeightReader;
  /** golden/<file> parsed when it is JSON. */
  json?: unknown;
  /** This golden's manifest entry. */
  manifest: { file: string; tensors?: Record<string, { shape?: number[]; meaning?: string }> };
}

export interface Output {
  /** Name of the golden tensor this output is compared with. */
  tensor: string;
  ours: ArrayLike<number>;
  /** Defaults to the golden tensor of that name. */
  expected?: ArrayLike<number>;
  /** Compared for equality (token ids), not by rel_l2. */
  exact?: boolean;
  /** What a PASS on this row does not show, printed beside it (e.g. synthetic ids). */
  note?: string;
}

export type Runner = (ctx: GoldenContext) => Promise<Output[]>;
