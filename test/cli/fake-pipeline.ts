// TEST DOUBLE for the DICEPTION pipeline: records every request and returns a prediction
// computed from the input (identity (x+1)/2, or a constant), so the commands' files can be
// checked end to end without any model.
import { Command } from 'commander';
import type { Pipeline, PipelineFactory, PipelineOptions, PipelineRequest } from '../../src/model/pipeline-types.ts';
import { registerBatch } from '../../tools/batch.ts';
import { registerBatchMerge } from '../../tools/batch-merge.ts';
import { registerEvaluate } from '../../tools/evaluate.ts';
import { registerInfer } from '../../tools/infer.ts';
import { addKernelFlags } from '../../tools/kernel-flags.ts';
import { scale } from '../../src/kernels/elementwise.ts';
import { getDevice } from '../../src/runtime/device.ts';
import { fromArray } from '../../src/runtime/tensor.ts';

export interface FakeOptions {
  /** every output value (all channels); default: the input mapped back to [0,1] */
  constant?: number;
  failRun?: Error;
  /** compute the identity map with a real elementwise kernel (so a profile has content) */
  gpu?: boolean;
  /** each run takes this long (a model's time, for queueing and shutdown tests) */
  delayMs?: number;
}

export function fakePipeline(o: FakeOptions = {}) {
  const state = { loads: 0, disposed: 0, options: [] as PipelineOptions[], requests: [] as PipelineRequest[] };
  const factory: PipelineFactory = async (options) => {
    state.loads++;
    state.options.push(options);
    const pipeline: Pipeline = {
      async run(request) {
        state.requests.push({ ...request, images: request.images.slice() });
        request.onProgress?.('denoise', request.steps, request.steps);
        if (o.delayMs) await new Promise((ok) => setTimeout(ok, o.delayMs));
        if (o.failRun) throw o.failRun;
        const image01 = o.gpu ? await onGpu(request.images) : o.constant === undefined ? request.images.map((v) => (v + 1) / 2) : new Float32Array(request.images.length).fill(o.constant);
        return { image01, timings: [{ stage: 'denoise', ms: 1 }] };
      },
      dispose() {
        state.disposed++;
      },
    };
    return pipeline;
  };
  return { factory, state };
}

async function onGpu(images: Float32Array): Promise<Float32Array> {
  const gpu = await getDevice();
  const x = fromArray(gpu, images, [images.length]);
  const y = await scale(gpu, x, 0.5, 0.5);
  const out = await y.read();
  x.dispose();
  y.dispose();
  return out;
}

/** Runs `diception <args>` with the given pipeline; resolves with what it printed. */
export async function runCli(args: string[], factory: PipelineFactory): Promise<{ out: string; err: string }> {
  const printed = { out: '', err: '' };
  const io = { out: (t: string) => void (printed.out += t), err: (t: string) => void (printed.err += t) };
  const program = addKernelFlags(new Command().exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} }));
  registerInfer(program, factory, io);
  registerBatch(program, factory, io);
  registerBatchMerge(program, io);
  registerEvaluate(program, io);
  await program.parseAsync(args, { from: 'user' });
  return printed;
}
