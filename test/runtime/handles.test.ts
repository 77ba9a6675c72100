// Every file a reader opens is closed on every path: conformance (tokenizers, a .pth, a
// safetensors golden, a model load that fails) must leave no handle to the garbage collector.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, cpSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, it } from 'vitest';

const TINY = resolve(__dirname, '../../../shared/fixtures/tiny');
const driver = resolve(__dirname, 'handles-driver.js');
const run = (dir: string, only: string) =>
  spawnSync(process.execPath, ['--expose-gc', '--trace-warnings', driver, dir, only], { encoding: 'utf8', cwd: resolve(__dirname, '../..') });

const tmp = mkdtempSync(join(tmpdir(), 'handles-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

it('conformance leaves no file handle to the garbage collector', { timeout: 120_000 }, () => {
  const r = run(TINY, 'tokens,scheduler,point_embed');
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/conformance: \d+ passed, 0 failed/);
  expect(r.stdout).toContain('{"open":[]}');
  expect(r.stderr).not.toMatch(/garbage collection/);
});

it('a model load that fails half way closes its files too', { timeout: 120_000 }, () => {
  // A copy whose .pth is not an archive: both runners fail after opening other files.
  const dir = join(tmp, 'tiny');
  cpSync(TINY, dir, { recursive: true });
  writeFileSync(join(dir, 'diception.pth'), 'PK\u0003\u0004 truncated archive');
  const r = run(dir, 'point_embed,transformer');
  expect(r.stdout).toMatch(/point_embed FAIL: .*diception\.pth/);
  expect(r.stdout).toMatch(/transformer FAIL: .*diception\.pth/);
  expect(r.stdout).toContain('{"open":[]}');
  expect(r.stderr).not.toMatch(/garbage collection/);
});
