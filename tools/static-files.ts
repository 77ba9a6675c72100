// Serving files from mounted folders without ever serving anything outside them. Shared by
// `diception web` (tools/serve.ts) and any other server of ours that hands out files: the request
// path is checked as text before any file-system call, then the file's real path (symlinks
// resolved) must lie inside the mount's real path, and Range headers are parsed strictly.
import { createReadStream } from 'node:fs';
import { open, realpath, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';

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

/** Longer request targets are refused outright (no file of ours has a path anywhere near this). */
export const MAX_PATH = 1024;

/** An answer that is not a file: status and a one-line reason for the body. */
export class Refusal {
  constructor(readonly status: 400 | 403 | 404 | 405 | 416, readonly reason: string) {}
}

/**
 * The request target's path as a list of decoded segments, or a 400 Refusal. Percent-encoded
 * separators, dots, percent signs (double encoding) and control characters (NUL) are refused
 * rather than decoded, as are `.` and `..` segments, backslashes and invalid UTF-8: a path we
 * serve never needs them, and refusing them here keeps every later step free of string tricks.
 */
export function requestSegments(target: string): string[] | Refusal {
  const path = target.split(/[?#]/, 1)[0];
  if (!path.startsWith('/')) return new Refusal(400, 'the request path must start with /');
  if (path.length > MAX_PATH) return new Refusal(400, `request path longer than ${MAX_PATH} characters`);
  if (/%(2e|2f|5c|25|[01][0-9a-f]|7f)/i.test(path)) return new Refusal(400, 'encoded dot, separator, percent sign or control character in the path');
  if (/\\|[\x00-\x1f\x7f]/.test(path)) return new Refusal(400, 'backslash or control character in the path');
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return new Refusal(400, 'malformed percent-encoding in the path');
  }
  // Empty segments (`//`, as URL joins make) are dropped; a trailing slash (a folder) stays as
  // one empty segment at the end.
  const segs = decoded.split('/').filter((x) => x !== '');
  if (segs.some((x) => x === '.' || x === '..')) return new Refusal(400, '. or .. segment in the path');
  return decoded.endsWith('/') && segs.length ? [...segs, ''] : segs;
}

/** Single byte range of a file, inclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * One `bytes=` range of a `size`-byte file, clamped to its end as RFC 9110 allows, or a 416
 * Refusal: malformed, multi-range, other units, an empty suffix, or a start at or past the end.
 * No header: undefined (the whole file).
 */
export function parseRange(header: string | undefined, size: number): ByteRange | Refusal | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(?:(\d+)-(\d*)|-(\d+))$/.exec(header);
  if (!m) return new Refusal(416, `unsupported Range '${header.slice(0, 64)}' (one bytes=start-end, start- or -suffix range)`);
  if (m[3] !== undefined) {
    const n = Number(m[3]);
    if (n === 0 || size === 0) return new Refusal(416, 'empty suffix range');
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || start > end) return new Refusal(416, `range starts past the end of a ${size}-byte file`);
  return { start, end };
}

interface Mount {
  prefix: string;
  /** The folder's real path, ending in the path separator. */
  root: string;
}

/** Files under mounted folders (URL prefix -> folder), looked up by request path. */
export class StaticFiles {
  private constructor(private readonly mounts: Mount[]) {}

  /** Resolves each folder's real path once; a missing folder is an error naming it. */
  static async open(mounts: Record<string, string>): Promise<StaticFiles> {
    const list = await Promise.all(
      Object.entries(mounts).map(async ([prefix, dir]) => {
        const real = await realpath(dir).catch(() => {
          throw new Error(`serve: the folder for ${prefix} does not exist: ${dir}`);
        });
        return { prefix: prefix.replace(/\/?$/, '/'), root: real.endsWith(sep) ? real : real + sep };
      }),
    );
    return new StaticFiles(list.sort((a, b) => b.prefix.length - a.prefix.length));
  }

  /** The real path of the file a request path names, or a Refusal (400, 403 or 404). */
  async resolve(target: string): Promise<string | Refusal> {
    const segs = requestSegments(target);
    if (segs instanceof Refusal) return segs;
    const url = '/' + segs.join('/');
    const mount = this.mounts.find((m) => url.startsWith(m.prefix) || url + '/' === m.prefix);
    if (!mount) return new Refusal(404, 'not found');
    const rel = segs.slice(mount.prefix.split('/').length - 2);
    let file = await this.inside(mount, join(mount.root, ...rel));
    if (typeof file === 'string' && (url.endsWith('/') || url + '/' === mount.prefix)) file = await this.inside(mount, join(file, 'index.html'));
    return file;
  }

  /** `path`'s real path when it exists and lies within the mount (a symlink may not lead out). */
  private async inside(mount: Mount, path: string): Promise<string | Refusal> {
    const real = await realpath(path).catch(() => undefined);
    if (real === undefined) return new Refusal(404, 'not found');
    if (real + sep !== mount.root && !real.startsWith(mount.root)) return new Refusal(403, 'forbidden: the path leads outside the served folder');
    return real;
  }

  /**
   * Answers one request: GET and HEAD only (405 with Allow otherwise), the file or the byte range
   * it asks for, never a byte outside the mounted folders. Every answer carries nosniff.
   */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return refuse(res, new Refusal(405, `method ${req.method} not allowed`));
    }
    const file = await this.resolve(req.url ?? '');
    if (file instanceof Refusal) return refuse(res, file);
    let fh: FileHandle;
    try {
      fh = await open(file, 'r');
    } catch {
      return refuse(res, new Refusal(404, 'not found'));
    }
    try {
      // Size and type from the opened handle, so a file swapped after the lookup is not mixed in.
      const st = await fh.stat();
      if (!st.isFile()) return refuse(res, new Refusal(404, 'not found'));
      const range = parseRange(req.headers.range, st.size);
      if (range instanceof Refusal) {
        res.setHeader('Content-Range', `bytes */${st.size}`);
        return refuse(res, range);
      }
      const { start, end } = range ?? { start: 0, end: st.size - 1 };
      res.writeHead(range ? 206 : 200, {
        'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
        'Content-Length': end - start + 1,
        'Accept-Ranges': 'bytes',
        'Cache-Control': 'no-cache',
        ...(range && { 'Content-Range': `bytes ${start}-${end}/${st.size}` }),
      });
      if (req.method === 'HEAD' || end < start) return void res.end();
      await pipeline(createReadStream('', { fd: fh, start, end, autoClose: false }), res);
    } finally {
      await fh.close();
    }
  }
}

function refuse(res: ServerResponse, r: Refusal): void {
  res.writeHead(r.status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(r.reason + '\n');
}
