// A static file server for the web page and model files, with HTTP Range support so the page
// streams weights tensor by tensor (never whole files). It listens on 127.0.0.1 unless told
// otherwise; what it may serve and how is decided in static-files.ts.
import { createServer, type Server } from 'node:http';
import { StaticFiles } from './static-files.ts';

export interface ServeOptions {
  /** 0 (default): any free port. */
  port?: number;
  /** Default 127.0.0.1: only this machine can connect. */
  host?: string;
}

/** Serves `mounts` (URL prefix -> folder) and resolves with the server once listening. */
export async function serve(mounts: Record<string, string>, o: ServeOptions = {}): Promise<Server> {
  const files = await StaticFiles.open(mounts);
  const server = createServer((req, res) => {
    files.handle(req, res).catch((e) => {
      // A client that went away mid-body, or a read error: nothing more can be sent then.
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('internal error\n');
      else res.destroy();
    });
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => ok(server));
  });
}
