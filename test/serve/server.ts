// Starts the serve API in this process on a free loopback port, and small client helpers.
import sharp from 'sharp';
export { loadClients, pngBytes, postImage } from '../../bench/serve.ts';
import type { Pipeline, PipelineFactory } from '../../src/model/pipeline-types.ts';
import type { Gpu } from '../../src/runtime/device.ts';
import { buildApp, type AppOptions } from '../../tools/serve-api/app.ts';

export type ServerOptions = Partial<Omit<AppOptions, 'pipeline'>> & { gpu?: Gpu };

export async function startServer(factory: PipelineFactory, o: ServerOptions = {}) {
  const pipeline: Pipeline = await factory({ pretrainedModelPath: '', diceptionPath: '', precision: 'f16' });
  const server = await buildApp({ maxQueue: 64, maxBatch: 4, batchWindowMs: 10, maxBodyMb: 10, defaults: { steps: 1, guidance: 1, seed: 42 }, ...o, pipeline });
  const url = await server.app.listen({ host: '127.0.0.1', port: 0 });
  return { ...server, url };
}

export async function post(url: string, body: Uint8Array | FormData, query = '', type = 'image/png', signal?: AbortSignal) {
  const headers = body instanceof FormData ? undefined : { 'content-type': type };
  return fetch(`${url}/v1/predict${query ? `?${query}` : ''}`, { method: 'POST', body: body as BodyInit, headers, signal });
}

export async function pixels(png: Uint8Array | ArrayBuffer): Promise<Uint8Array> {
  return new Uint8Array(await sharp(png).removeAlpha().raw().toBuffer());
}

/** Each sample line of a Prometheus text exposition as {name, labels, value}; throws on any malformed line. */
export function parsePrometheus(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/.test(line)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not Prometheus text: '${line}'`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g)) labels[l[1]] = l[2];
    const value = m[3] === '+Inf' ? Infinity : Number(m[3]);
    if (Number.isNaN(value)) throw new Error(`not a number in '${line}'`);
    samples.push({ name: m[1], labels, value });
  }
  return samples;
}

