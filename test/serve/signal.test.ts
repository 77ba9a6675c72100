// SIGTERM to a `diception serve` process while a request runs: that request completes, then
// the process exits 0 (the fake pipeline stands in for the model; each call takes 1.5 s).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { modelArgs, removeTempDirs, tempDir } from '../cli/files.ts';
import { post, pngBytes } from './server.ts';

afterAll(removeTempDirs);

describe('serve process', () => {
  it('on SIGTERM finishes the running request and exits 0', async () => {
    const entry = join(import.meta.dirname, 'fake-serve.js');
    const child = spawn(process.execPath, [entry, 'serve', '--port', '0', ...modelArgs(tempDir('serve-signal')), '--fast', '--quiet'], {
      env: { ...process.env, FAKE_DELAY_MS: '1500' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((ok) => child.on('exit', (code) => ok(code)));
    const url = await new Promise<string>((ok, fail) => {
      let text = '';
      child.stdout.on('data', (d) => {
        text += d;
        const m = /serving on (http:\/\/\S+)/.exec(text);
        if (m) ok(m[1]);
      });
      child.on('exit', () => fail(new Error(`serve exited before listening: ${text}`)));
    });
    const running = post(url, await pngBytes(8, 8), 'task=depth');
    await new Promise((ok) => setTimeout(ok, 700));
    child.kill('SIGTERM');
    const r = await running;
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('image/png');
    expect(await exited).toBe(0);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});
