// The PipelineFactory the `infer` and `batch` commands use. The DICEPTION pipeline (text
// encoders, VAE, MMDiT, scheduler) plugs in here once it exists; until then the commands stop
// with a clear message after validating every input.
import type { PipelineFactory } from '../src/model/pipeline-types.ts';

export const loadPipeline: PipelineFactory = async () => {
  throw new Error('the DICEPTION pipeline is not built yet: infer/batch validate their inputs, but cannot run the models in this version');
};
