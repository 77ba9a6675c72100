import { runPipelineGolden } from './pipeline-golden.ts';
import type { Runner } from './types.ts';

export const run: Runner = async (ctx) => runPipelineGolden(ctx.gpu, ctx.dir, ctx.precision, ctx.weights);
