// The HTTP API of `diception serve` (Fastify): POST /v1/predict, GET /healthz, /metrics,
// /v1/tasks. The model is loaded by the caller and stays resident; requests are decoded and
// checked here, then micro-batched onto the GPU by BatchQueue.
import multipart from '@fastify/multipart';
import Fastify, { type FastifyRequest } from 'fastify';
import { NonFiniteActivationsError } from '../../src/model/finite-check.ts';
import type { Pipeline, StageTiming } from '../../src/model/pipeline-types.ts';
import { MemoryRefusal } from '../../src/model/preflight.ts';
import { inferInput } from '../../src/model/preprocess.ts';
import { COCO_CLASSES, MAX_POINTS, TASK_NAMES } from '../../src/model/tasks.ts';
import type { Gpu } from '../../src/runtime/device.ts';
import { readRgb } from '../image.ts';
import { serveMetrics } from './metrics.ts';
import { predictBatch, type ModelInput } from '../predict-batch.ts';
import { BatchQueue, Cancelled, QueueFull, type QueueOptions } from './queue.ts';
import { ApiError, FORMATS, parseSettings, responseBody, type Fields } from './request.ts';

export interface AppOptions extends QueueOptions {
  pipeline: Pipeline;
  /** the device the pipeline runs on: its loss fails /healthz; its pool feeds /metrics */
  gpu?: Gpu;
  defaults: { steps: number; guidance: number; seed: number };
  maxBodyMb: number;
}

/** One request's prediction, with its batch's size and stage timings. */
interface Prediction {
  image01: Float32Array;
  timings: StageTiming[];
  batch: number;
}

const MB = 2 ** 20;
const FIELDS = ['task', 'points', 'steps', 'guidance', 'seed', 'format'] as const;

export async function buildApp(o: AppOptions) {
  const state = { lost: undefined as string | undefined, closing: false };
  o.gpu?.device.lost.then((info) => {
    if (!state.closing) state.lost = `GPU device lost (${info.reason}): ${info.message}`;
  });
  const queue: BatchQueue<ModelInput, Prediction> = new BatchQueue(o, async (key, inputs) => {
    const [steps, guidance] = key.split('/').map(Number);
    const r = await predictBatch(o.pipeline, inputs, steps, guidance);
    return r.images01.map((image01) => ({ image01, timings: r.timings, batch: inputs.length }));
  }, (n) => metrics.batches.observe(n));
  const metrics = serveMetrics(o.maxBatch, { queueDepth: () => queue.depth, pool: o.gpu?.pool });
  const bodyLimit = Math.round(o.maxBodyMb * MB);

  const app = Fastify({
    bodyLimit,
    schemaErrorFormatter: (errors, where) => new ApiError(400, 'bad_field', `${where}${errors[0]?.instancePath ?? ''} ${errors[0]?.message ?? 'is invalid'}`),
  });
  // Only image bytes and multipart: a JSON or text body is refused (415), never taken for a path.
  app.removeAllContentTypeParsers();
  await app.register(multipart, { limits: { fileSize: bodyLimit, files: 1, fields: FIELDS.length, fieldSize: 4096 } });
  for (const type of [/^image\//, 'application/octet-stream']) {
    app.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));
  }

  // A declared length over the limit is refused before any byte is read, whatever the type.
  app.addHook('onRequest', async (req) => {
    if (Number(req.headers['content-length']) > bodyLimit) throw Object.assign(new Error('body too large'), { statusCode: 413 });
  });
  // While closing, answers end their keep-alive connection, so the process need not wait for the idle timeout.
  app.addHook('onSend', async (_req, reply) => {
    if (state.closing) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    metrics.requests.inc({ route, status: String(reply.statusCode) });
    metrics.latency.observe({ route }, reply.elapsedTime / 1000);
  });
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    if (err instanceof QueueFull) return reply.code(429).header('Retry-After', String(err.retryAfterS)).send({ error: err.message, code: 'queue_full' });
    // nginx's 499: nobody reads it, but /metrics counts the cancellation.
    if (err instanceof Cancelled) return reply.code(499).send({ error: err.message, code: 'cancelled' });
    if (err instanceof ApiError) return reply.code(err.status).send({ error: err.message, code: err.code });
    if (err.statusCode === 413) return reply.code(413).send({ error: `the body is over --max-body-mb ${o.maxBodyMb} (${bodyLimit} bytes)`, code: 'body_too_large' });
    if (err.statusCode === 415) return reply.code(415).send({ error: `Content-Type '${req.headers['content-type'] ?? ''}' is not accepted; send the image as image/* or multipart/form-data`, code: 'unsupported_media_type' });
    if (err.statusCode && err.statusCode < 500) return reply.code(err.statusCode).send({ error: firstLine(err), code: (err.code ?? 'bad_request').toLowerCase() });
    // The model's failure on this input (an f16 overflow, say), not the server's: it stays up.
    if (err instanceof NonFiniteActivationsError) return reply.code(500).send({ error: err.message, code: 'non_finite' });
    // A batch the adapter cannot hold (preflight.ts): the server's capacity, not the request, is short.
    if (err instanceof MemoryRefusal) return reply.code(503).send({ error: firstLine(err), code: 'insufficient_gpu_memory' });
    if (/device lost/i.test(err.message)) state.lost = firstLine(err);
    return reply.code(500).send({ error: firstLine(err), code: 'internal' });
  });

  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}; see GET /v1/tasks, POST /v1/predict`, code: 'not_found' }));

  app.get('/healthz', async (_req, reply) => {
    const info = o.gpu?.device.adapterInfo;
    const adapter = info && { vendor: info.vendor, architecture: info.architecture, description: info.description };
    if (state.lost) return reply.code(503).send({ status: 'device lost', error: state.lost, adapter });
    if (state.closing) return reply.code(503).send({ status: 'shutting down', adapter });
    return { status: 'ok', loaded: true, queue: queue.depth, adapter };
  });

  app.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));

  app.get('/v1/tasks', async () => ({ tasks: TASK_NAMES, coco_classes: COCO_CLASSES, formats: FORMATS, max_points: MAX_POINTS }));

  const querystring = { type: 'object', properties: Object.fromEntries(FIELDS.map((f) => [f, { type: 'string' }])), additionalProperties: false };
  app.post('/v1/predict', { schema: { querystring } }, async (req, reply) => {
    const { bytes, fields } = await readUpload(req);
    const s = parseSettings({ ...(req.query as Fields), ...fields }, o.defaults);
    if (!bytes?.length) throw new ApiError(400, 'no_image', 'no image: send it as the body (Content-Type: image/*) or as a multipart file field');
    const image = await readRgb(bytes, 'image').catch((e: Error) => {
      throw new ApiError(400, 'bad_image', e.message);
    });
    if (state.lost) throw new ApiError(503, 'device_lost', state.lost);
    // A client that leaves while its request waits frees its place (reply 'close' before the end).
    const abort = new AbortController();
    if (reply.raw.destroyed) abort.abort();
    else reply.raw.once('close', () => reply.raw.writableEnded || abort.abort());
    const out = await queue.submit(`${s.steps}/${s.guidance}`, { image: inferInput(image), prompt: s.task.prompt, points: s.points, seed: s.seed }, abort.signal);
    const body = await responseBody(s, out.image01, image.width, image.height, { batch: out.batch, stages: out.timings });
    return reply.type(body.type).send(body.data);
  });

  return {
    app,
    queue,
    /** Stops accepting (healthz fails readiness), finishes queued and running work, frees the model. */
    async close(): Promise<void> {
      state.closing = true;
      await app.close();
      await queue.drained();
      await o.pipeline.dispose();
    },
  };
}

/** The image bytes and form fields: a raw image body, or multipart with one file. */
async function readUpload(req: FastifyRequest): Promise<{ bytes?: Uint8Array; fields: Fields }> {
  if (!req.isMultipart()) return { bytes: req.body instanceof Uint8Array ? req.body : undefined, fields: {} };
  const fields: Fields = {};
  let bytes: Uint8Array | undefined;
  try {
    for await (const part of req.parts()) {
      if (part.type === 'file') bytes = await part.toBuffer();
      else if ((FIELDS as readonly string[]).includes(part.fieldname)) fields[part.fieldname] = String(part.value);
      else throw new ApiError(400, 'bad_field', `unknown form field '${part.fieldname}'; use ${FIELDS.join(', ')} and one file`);
    }
  } catch (e) {
    if (e instanceof ApiError || (e as { statusCode?: number }).statusCode === 413) throw e;
    throw new ApiError(400, 'bad_multipart', `multipart body: ${firstLine(e)}`);
  }
  return { bytes, fields };
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0];
}
