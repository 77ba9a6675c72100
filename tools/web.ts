// `npm run web`: builds the page and serves it (and optionally a model folder) on 127.0.0.1.
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildWeb } from '../web/build.ts';
import { serve } from './serve.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** A page URL with the model fields filled in, when `dir` is itself a complete model folder. */
function prefilledUrl(base: string, dir: string): string | undefined {
  if (!existsSync(join(dir, 'model_index.json'))) return undefined;
  const dice = ['diception.safetensors', 'diception.pth', 'DICEPTION_v1.pth'].find((f) => existsSync(join(dir, f)));
  if (!dice) return undefined;
  const q: Record<string, string> = { sd3: '/models', diception: `/models/${dice}` };
  if (existsSync(join(dir, 'prompts.safetensors'))) q.cache = '/models/prompts.safetensors';
  return `${base}?${Object.entries(q).map(([k, v]) => `${k}=${encodeURI(v)}`).join('&')}`;
}

/** What `--host` means, for the help text and the warning printed when it is not loopback. */
export async function webCommand(o: { port?: string; models?: string; host?: string }): Promise<void> {
  await buildWeb();
  const web = fileURLToPath(new URL('../web/', import.meta.url));
  // After `npm run demo`, the generated tiny model is served unless another folder is given.
  const demo = join(ROOT, 'out', 'demo-model');
  const models = o.models ? resolve(o.models) : existsSync(demo) ? demo : undefined;
  const mounts: Record<string, string> = { '/': web };
  if (models) mounts['/models/'] = models;
  const host = o.host ?? '127.0.0.1';
  const server = await serve(mounts, { port: Number(o.port ?? 8080), host });
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${(server.address() as AddressInfo).port}/`;
  if (!isLoopback(host)) console.warn(`warning: --host ${host}: every machine that can reach this address can read the page and the model files (no authentication)`);
  console.log(`DICEPTION page: ${url}`);
  if (models) {
    const filled = prefilledUrl(url, models);
    console.log(`model files:    ${url}models/ = ${models}`);
    console.log(filled ? `with the model filled in: ${filled}` : `(give ${url}models/<sd3 folder> in the page's URL mode)`);
  }
  console.log('Ctrl-C stops the server.');
}
