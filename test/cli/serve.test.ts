// `diception web`'s file server under attack: traversal and encoding tricks, symlinks that lead
// out of a mount, Range edge cases and other methods. Requests go over a raw socket so that no
// client normalises the path first.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HttpRangeSource } from '../../src/runtime/source.ts';
import { serve } from '../../tools/serve.ts';
import { parseRange, Refusal, requestSegments } from '../../tools/static-files.ts';
import { removeTempDirs, tempDir } from './files.ts';

// out/web (mounted at /), out/demo-model (at /models/) and, beside them, folders and files that
// must never be served: siblings whose names start with the mounted folder's name, a file above.
const out = tempDir('serve');
const SECRET = 'SECRET-KEY-do-not-serve';
const models = join(out, 'demo-model');
for (const d of ['web', 'demo-model/sub', 'demo-model-secret', 'demo-model.bak', 'models-private']) mkdirSync(join(out, d), { recursive: true });
for (const f of ['demo-model-secret/key.txt', 'demo-model.bak/key.txt', 'models-private/key.txt', 'outside.txt']) writeFileSync(join(out, f), `${SECRET} ${f}`);
const data = Uint8Array.from({ length: 1000 }, (_, i) => i & 255);
writeFileSync(join(models, 'data.bin'), data);
writeFileSync(join(models, 'empty.bin'), '');
writeFileSync(join(models, 'sub', 'inner.txt'), 'inner');
writeFileSync(join(out, 'web', 'index.html'), '<p>page</p>');
symlinkSync('/etc', join(models, 'link-etc'));
symlinkSync('/etc/passwd', join(models, 'link-passwd'));
symlinkSync('../demo-model-secret/key.txt', join(models, 'link-secret'));
symlinkSync('..', join(models, 'link-parent'));
symlinkSync('data.bin', join(models, 'link-inside'));
symlinkSync(models, join(out, 'linked-model'));

const server = await serve({ '/': join(out, 'web'), '/models/': models, '/linked/': join(out, 'linked-model') });
const port = (server.address() as AddressInfo).port;
afterAll(() => {
  server.close();
  removeTempDirs();
});

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Sends `target` byte for byte (no URL parsing or normalisation) and reads the whole reply. */
function raw(target: string | Buffer, o: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const head = Object.entries({ Host: 'localhost', Connection: 'close', ...o.headers }).map(([k, v]) => `${k}: ${v}\r\n`);
  const request = Buffer.concat([Buffer.from(`${o.method ?? 'GET'} `), Buffer.from(target), Buffer.from(` HTTP/1.1\r\n${head.join('')}\r\n`)]);
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    // Written, not ended: the server closes the connection after its reply (Connection: close).
    const sock = connect(port, '127.0.0.1', () => sock.write(request));
    sock.on('data', (c) => chunks.push(c)).on('error', fail);
    sock.on('close', () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      const lines = all.subarray(0, split).toString('latin1').split('\r\n');
      const headers = Object.fromEntries(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      ok({ status: Number(lines[0].split(' ')[1]), headers, body: all.subarray(split + 4) });
    });
  });
}

const passwd = readFileSync('/etc/passwd');

describe('traversal and encoding tricks are refused and never leak a byte', () => {
  const s = '/models/';
  const cases: (string | Buffer)[] = [
    `${s}..%2fdemo-model-secret/key.txt`,
    `${s}..%2Fdemo-model-secret/key.txt`,
    `${s}..%2fdemo-model.bak/key.txt`,
    `${s}..%2fmodels-private/key.txt`,
    `${s}..%5cdemo-model-secret/key.txt`,
    `${s}..%5Cdemo-model-secret%5Ckey.txt`,
    `${s}%2e%2e/demo-model-secret/key.txt`,
    `${s}%2E%2E/demo-model-secret/key.txt`,
    `${s}.%2e/demo-model-secret/key.txt`,
    `${s}%2e./demo-model-secret/key.txt`,
    `${s}%2e%2e%2fdemo-model-secret%2fkey.txt`,
    `${s}%252e%252e%252fdemo-model-secret/key.txt`,
    `${s}..%252fdemo-model-secret/key.txt`,
    `${s}%25%32%65%25%32%65/demo-model-secret/key.txt`,
    `${s}%c0%ae%c0%ae/demo-model-secret/key.txt`,
    `${s}..%c0%afdemo-model-secret/key.txt`,
    `${s}%uff0e%uff0e/demo-model-secret/key.txt`,
    `${s}%2fetc%2fpasswd`,
    `${s}../demo-model-secret/key.txt`,
    `${s}./../demo-model-secret/key.txt`,
    `${s}sub/../../demo-model-secret/key.txt`,
    `${s}sub/..%2f..%2fdemo-model-secret/key.txt`,
    `${s}data.bin/../../outside.txt`,
    `${s}../../../../../../etc/passwd`,
    `${s}..\\demo-model-secret\\key.txt`,
    '/../outside.txt',
    '/models%2f..%2fdemo-model-secret/key.txt',
    '/demo-model-secret/key.txt',
    '/models-private/key.txt',
    '//etc/passwd',
    'http://localhost/../outside.txt',
    `${s}link-etc/passwd`,
    `${s}link-etc/`,
    `${s}link-etc`,
    `${s}link-passwd`,
    `${s}link-secret`,
    `${s}link-parent/demo-model-secret/key.txt`,
    `${s}link-parent/outside.txt`,
    `${s}link-etc%2fpasswd`,
    `${s}data.bin%00.txt`,
    `${s}%00`,
    Buffer.from(`${s}data.bin\0../outside.txt`, 'latin1'),
    `${s}${'a/'.repeat(3000)}data.bin`,
    `${s}${'..%2f'.repeat(400)}etc/passwd`,
    `${s}${'x'.repeat(5000)}`,
  ];
  it.each(cases.map((c) => [String(c).slice(0, 80).replace(/\0/g, '\\0'), c]))('%s', async (_name, target) => {
    const r = await raw(target);
    expect([400, 403, 404]).toContain(r.status);
    expect(r.body.toString('latin1')).not.toContain(SECRET);
    expect(r.body.includes(passwd.subarray(0, 16))).toBe(false);
    expect(r.body.includes(Buffer.from(data.subarray(0, 16)))).toBe(false);
  });

  it('encoded separators, dots, double encoding and NUL are 400 before any lookup', async () => {
    for (const t of [`${s}..%2fdemo-model-secret/key.txt`, `${s}..%5c`, `${s}%2e%2e/`, `${s}%252e%252e%252f`, `${s}a%00b`]) {
      expect((await raw(t)).status, t).toBe(400);
      expect(requestSegments(t)).toBeInstanceOf(Refusal);
    }
  });

  it('symlinks that lead out of the mount are 403', async () => {
    for (const t of ['link-etc/passwd', 'link-passwd', 'link-secret', 'link-parent/outside.txt']) expect((await raw(s + t)).status, t).toBe(403);
  });
});

describe('files inside the mounts are served', () => {
  it('plain files, a symlink that stays inside, a mount through a symlink, folder index pages', async () => {
    for (const t of ['/models/data.bin', '/models/link-inside', '/linked/data.bin']) {
      const r = await raw(t);
      expect(r.status, t).toBe(200);
      expect(r.headers['content-length']).toBe('1000');
      expect(new Uint8Array(r.body)).toEqual(data);
    }
    expect((await raw('/models/sub/inner.txt')).body.toString()).toBe('inner');
    for (const t of ['/models/d%61ta.bin', '/models//data.bin', '//models/data.bin']) expect((await raw(t)).status, t).toBe(200);
    for (const t of ['/', '/index.html', '/?x=1']) expect((await raw(t)).body.toString(), t).toBe('<p>page</p>');
    for (const t of ['/models/nope', '/models/', '/models/sub', '/models/sub/']) expect((await raw(t)).status, t).toBe(404);
  });

  it('every answer says nosniff; HEAD sends headers only', async () => {
    for (const t of ['/models/data.bin', '/models/nope', '/models/..%2f']) expect((await raw(t)).headers['x-content-type-options'], t).toBe('nosniff');
    const r = await raw('/models/data.bin', { method: 'HEAD' });
    expect([r.status, r.headers['content-length'], r.body.length]).toEqual([200, '1000', 0]);
  });

  it('only GET and HEAD are answered: other methods get 405 with Allow', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const r = await raw('/models/data.bin', { method, headers: { 'Content-Length': '0' } });
      expect(r.status, method).toBe(405);
      expect(r.headers.allow).toBe('GET, HEAD');
      expect(r.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('serves byte ranges that HttpRangeSource reads', async () => {
    const src = await HttpRangeSource.open(`http://127.0.0.1:${port}/models/data.bin`);
    expect(src.size).toBe(1000);
    expect(Array.from(await src.read(300, 4))).toEqual([44, 45, 46, 47]);
    await expect(src.read(998, 10)).rejects.toThrow(/past the end/);
  });
});

describe('Range requests', () => {
  const ok: [string, number, number][] = [
    ['bytes=0-0', 0, 0],
    ['bytes=0-999', 0, 999],
    ['bytes=300-303', 300, 303],
    ['bytes=999-999', 999, 999],
    ['bytes=990-', 990, 999],
    ['bytes=0-', 0, 999],
    ['bytes=995-2000', 995, 999],
    ['bytes=0-99999999999999999999', 0, 999],
    ['bytes=-10', 990, 999],
    ['bytes=-1000', 0, 999],
    ['bytes=-2000', 0, 999],
    ['bytes=007-009', 7, 9],
  ];
  it.each(ok)('%s → 206 bytes %i-%i', async (range, start, end) => {
    const r = await raw('/models/data.bin', { headers: { Range: range } });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes ${start}-${end}/1000`);
    expect(r.headers['content-length']).toBe(String(end - start + 1));
    expect(new Uint8Array(r.body)).toEqual(data.subarray(start, end + 1));
  });

  const bad = ['bytes=1000-1000', 'bytes=1000-', 'bytes=5000-6000', 'bytes=99999999999999999999-', 'bytes=5-4', 'bytes=-0', 'bytes=0-1,5-6',
    'bytes=0-1, 5-6', 'bytes=abc', 'bytes=', 'bytes=-', 'bytes=--1', 'bytes=-1-2', 'bytes=1.5-2', 'bytes=0x10-20', 'bytes= 0-1',
    'items=0-1', 'Bytes=0-1', '0-1'];
  it.each(bad)('%s → 416 bytes */1000', async (range) => {
    const r = await raw('/models/data.bin', { headers: { Range: range } });
    expect(r.status).toBe(416);
    expect(r.headers['content-range']).toBe('bytes */1000');
    expect(r.body.includes(Buffer.from(data.subarray(0, 8)))).toBe(false);
  });

  it('an empty file has no satisfiable range; HEAD with a range sends its headers only', async () => {
    for (const range of ['bytes=0-', 'bytes=0-0', 'bytes=-1']) {
      const r = await raw('/models/empty.bin', { headers: { Range: range } });
      expect([r.status, r.headers['content-range']], range).toEqual([416, 'bytes */0']);
    }
    expect((await raw('/models/empty.bin')).headers['content-length']).toBe('0');
    const r = await raw('/models/data.bin', { method: 'HEAD', headers: { Range: 'bytes=10-19' } });
    expect([r.status, r.headers['content-range'], r.headers['content-length'], r.body.length]).toEqual([206, 'bytes 10-19/1000', '10', 0]);
  });

  it('parseRange clamps to the file and refuses what it cannot serve', () => {
    expect(parseRange(undefined, 10)).toBeUndefined();
    expect(parseRange('bytes=2-', 10)).toEqual({ start: 2, end: 9 });
    expect(parseRange('bytes=0-0', 0)).toBeInstanceOf(Refusal);
  });
});

it('a mount whose folder does not exist is an error naming it', async () => {
  await expect(serve({ '/x/': join(out, 'missing') })).rejects.toThrow(/\/x\/ does not exist: .*missing/);
});
