// `diception serve`: load the model once, answer HTTP requests (app.ts) on 127.0.0.1 unless
// --host, and on SIGTERM/SIGINT stop accepting, finish what is queued or running, and exit 0.
import type { Command } from 'commander';
import { MODEL_SIZE, type Pipeline, type PipelineFactory } from '../../src/model/pipeline-types.ts';
import { MemoryRefusal } from '../../src/model/preflight.ts';
import { getDevice } from '../../src/runtime/device.ts';
import { makeOutput, processStreams, type Streams } from '../progress.ts';
import { addRunOptions, integer, number, pipelineOptions, runSettings } from '../run-options.ts';
import { buildApp } from './app.ts';

export function registerServe(program: Command, loadPipeline: PipelineFactory, io: Streams = processStreams): void {
  const cmd = addRunOptions(
    program
      .command('serve')
      .description('load the model once and answer POST /v1/predict (also /healthz, /metrics, /v1/tasks); --num_inference_steps, --guidance_scale and --seed are the defaults of each request')
      .option('--host <addr>', 'listen on this address instead of 127.0.0.1; 0.0.0.0 or a network address lets anyone who can reach this machine send requests, with no authentication', '127.0.0.1')
      .option('--port <n>', 'port (0: any free port)', '8000')
      .option('--max-queue <n>', 'requests waiting beyond this get 429 with Retry-After', '64')
      .option('--max-batch <n>', 'requests with the same steps and guidance run as one batch of up to n', '4')
      .option('--batch-window-ms <ms>', 'how long the oldest waiting request waits for batch company', '20')
      .option('--max-body-mb <mb>', 'larger request bodies get 413', '20'),
  ).action((o) => serveCommand(o, loadPipeline, io));
  // Requests choose their format (format=npy), so the file flag of infer and batch means nothing here.
  cmd.options.find((opt) => opt.long === '--save_npy')?.hideHelp();
}

export async function serveCommand(o: Record<string, string | boolean | undefined>, loadPipeline: PipelineFactory, io: Streams): Promise<void> {
  const settings = runSettings(o);
  const port = integer(String(o.port ?? '8000'), '--port', 0, 65535);
  const queue = {
    maxQueue: integer(String(o.maxQueue ?? '64'), '--max-queue', 1, 100000),
    maxBatch: integer(String(o.maxBatch ?? '4'), '--max-batch', 1, 64),
    batchWindowMs: number(String(o.batchWindowMs ?? '20'), '--batch-window-ms', 0, 60000),
  };
  const maxBodyMb = number(String(o.maxBodyMb ?? '20'), '--max-body-mb', 0.001, 4096);
  const out = makeOutput(settings, io);
  const pipeline = await loadPipeline(pipelineOptions(settings, out.progress));
  checkMaxBatch(pipeline, queue.maxBatch, settings.guidance);
  const server = await buildApp({ ...queue, pipeline, gpu: await getDevice(), maxBodyMb, defaults: settings });
  const address = await server.app.listen({ host: String(o.host ?? '127.0.0.1'), port });
  io.out(`serving on ${address} (POST /v1/predict, GET /healthz /metrics /v1/tasks)\n`);
  await new Promise<void>((done) => {
    const stop = (signal: string) => {
      out.info(`${signal}: finishing ${server.queue.pending} request(s), then exiting`);
      server.close().then(done, (e) => {
        io.err(`error: shutting down: ${(e as Error).message}\n`);
        process.exitCode = 1;
        done();
      });
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  // The WebGPU device would keep the event loop alive.
  process.exit();
}

/** A --max-batch the adapter cannot hold is refused at start (with the batch that fits), not on the first busy minute. */
function checkMaxBatch(pipeline: Pipeline, maxBatch: number, guidance: number): void {
  try {
    pipeline.preflight?.({ batch: maxBatch, side: MODEL_SIZE, guidance: guidance > 1 });
  } catch (e) {
    if (!(e instanceof MemoryRefusal)) throw e;
    const way = e.fits >= 1 ? `; use --max-batch ${e.fits}` : '';
    throw new Error(`--max-batch ${maxBatch}: ${e.message.replace(/ \(--batch_size \d+\)$/, '')}${way}`);
  }
}
