// `npm run web`: builds the page and serves it (and optionally a model folder) on 127.0.0.1.
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { buildWeb } from '../web/build.ts';
import { serve } from './serve.ts';

export async function webCommand(o: { port?: string; models?: string }): Promise<void> {
  await buildWeb();
  const web = fileURLToPath(new URL('../web/', import.meta.url));
  const mounts: Record<string, string> = { '/': web };
  if (o.models) mounts['/models/'] = o.models;
  const server = await serve(mounts, Number(o.port ?? 8080));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  console.log(`DICEPTION page: ${url}`);
  if (o.models) console.log(`model files:    ${url}models/ (give ${url}models/<sd3 folder> in the page's URL mode)`);
  console.log('Ctrl-C stops the server.');
}
