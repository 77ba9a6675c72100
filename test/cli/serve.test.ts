import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { HttpRangeSource } from '../../src/runtime/source.ts';
import { serve } from '../../tools/serve.ts';

const dir = mkdtempSync(join(tmpdir(), 'serve-'));
writeFileSync(join(dir, 'data.bin'), Uint8Array.from({ length: 1000 }, (_, i) => i & 255));
const server = await serve({ '/models': dir });
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
afterAll(() => server.close());

it('serves byte ranges that HttpRangeSource reads', async () => {
  const src = await HttpRangeSource.open(`${base}/models/data.bin`);
  expect(src.size).toBe(1000);
  expect(Array.from(await src.read(300, 4))).toEqual([44, 45, 46, 47]);
  await expect(src.read(998, 10)).rejects.toThrow(/past the end/);
});

it('refuses paths outside the mount and unknown files', async () => {
  expect((await fetch(`${base}/models/../../etc/passwd`)).status).toBe(404);
  expect((await fetch(`${base}/models/nope`)).status).toBe(404);
  expect((await fetch(`${base}/models/data.bin`, { headers: { Range: 'bytes=2000-2001' } })).status).toBe(416);
});
