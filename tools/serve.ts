// A static file server for the web page and model files, on 127.0.0.1 only, with HTTP Range
// support so the page streams weights tensor by tensor (never whole files).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { extname, normalize, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.wgsl': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** Serves `mounts` (URL prefix -> folder) and resolves with the server once listening. */
export function serve(mounts: Record<string, string>, port = 0): Promise<Server> {
  const roots = Object.entries(mounts)
    .map(([prefix, dir]) => [prefix.replace(/\/?$/, '/'), resolve(dir)] as const)
    .sort((a, b) => b[0].length - a[0].length);
  const server = createServer(async (req, res) => {
    try {
      const url = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      const mount = roots.find(([p]) => url.startsWith(p) || url + '/' === p);
      if (!mount) return void res.writeHead(404).end('not found');
      let file = resolve(mount[1], normalize('.' + sep + url.slice(mount[0].length)));
      if (!file.startsWith(mount[1])) return void res.writeHead(403).end('forbidden');
      let st = await stat(file).catch(() => undefined);
      if (st?.isDirectory()) {
        file = resolve(file, 'index.html');
        st = await stat(file).catch(() => undefined);
      }
      if (!st?.isFile()) return void res.writeHead(404).end('not found');
      const headers: Record<string, string | number> = {
        'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
        'Accept-Ranges': 'bytes',
        'Cache-Control': 'no-cache',
      };
      const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
      if (req.headers.range && range) {
        const start = range[1] ? Number(range[1]) : Math.max(0, st.size - Number(range[2]));
        const end = range[1] && range[2] ? Math.min(Number(range[2]), st.size - 1) : st.size - 1;
        if (start > end || start >= st.size) return void res.writeHead(416, { 'Content-Range': `bytes */${st.size}` }).end();
        res.writeHead(206, { ...headers, 'Content-Range': `bytes ${start}-${end}/${st.size}`, 'Content-Length': end - start + 1 });
        if (req.method === 'HEAD') return void res.end();
        return void createReadStream(file, { start, end }).pipe(res);
      }
      res.writeHead(200, { ...headers, 'Content-Length': st.size });
      if (req.method === 'HEAD') return void res.end();
      createReadStream(file).pipe(res);
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok(server));
  });
}
