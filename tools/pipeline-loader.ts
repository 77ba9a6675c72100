// The PipelineFactory the `infer`, `batch` and `demo` commands use (tests inject their own).
export { loadPipeline } from '../src/model/pipeline.ts';
