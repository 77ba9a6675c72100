import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/runtime/safetensors.ts';
import { mapReader, readRaw } from '../../src/runtime/weights.ts';
import { convert, writeSafetensors } from '../../tools/convert.ts';
import { f32Bytes, mem, safetensors } from '../../tools/fuzz/build.ts';
import { describeFixtures, TINY } from '../helpers.ts';
import { openForTest } from '../fixture-weights.ts';

const dir = mkdtempSync(join(tmpdir(), 'convert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeFixtures('diception convert on the fixture .pth', () => {
  it('round-trips every tensor: same names (in order), dtypes, shapes and bytes', async () => {
    const pth = resolve(TINY, 'diception.pth');
    const out = join(dir, 'diception.safetensors');
    await convert(pth, out);
    const a = await openForTest(pth);
    const b = await openForTest(out);
    expect(b.names()).toEqual(a.names());
    for (const n of a.names()) {
      const ea = a.entry(n);
      const eb = b.entry(n);
      expect(eb.dtype, n).toBe('BF16');
      expect(eb.shape, n).toEqual(ea.shape);
      expect(Buffer.from(await readRaw(eb)).equals(Buffer.from(await readRaw(ea))), n).toBe(true);
    }
    // Data section 8-byte aligned; metadata says where it came from.
    const bytes = readFileSync(out);
    expect(Number(bytes.readBigUInt64LE(0)) % 8).toBe(0);
    expect((await SafetensorsFile.open(mem(out, bytes))).metadata).toEqual({ format: 'pt', converted_from: 'diception.pth' });
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('runs as `diception convert` and fails in one line without leaving a file', () => {
    const bin = resolve(__dirname, '../../tools/bin.js');
    const out = join(dir, 'cli.safetensors');
    const ok = spawnSync(process.execPath, [bin, 'convert', resolve(TINY, 'diception.pth'), out], { encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/cli\.safetensors: 74 tensors/);
    writeFileSync(join(dir, 'bad.pth'), 'not a zip at all, but long enough to look');
    const bad = spawnSync(process.execPath, [bin, 'convert', join(dir, 'bad.pth'), join(dir, 'bad.safetensors')], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim()).toMatch(/^error: .*bad\.pth: not a valid zip archive/);
    expect(existsSync(join(dir, 'bad.safetensors'))).toBe(false);
  });
});

describe('writeSafetensors', () => {
  it('leaves neither the output nor a temp file when a read fails midway', async () => {
    const st = await SafetensorsFile.open(mem('in.safetensors', safetensors({ a: { dtype: 'F32', shape: [1], data: f32Bytes([1]) }, b: { dtype: 'F32', shape: [1], data: f32Bytes([2]) } })));
    const entries = new Map(st.entries);
    const b = entries.get('b')!;
    entries.set('b', { ...b, source: { name: 'flaky', size: 1e9, read: async () => { throw new Error('flaky: disk error'); } } });
    const sub = mkdtempSync(join(dir, 'fail-'));
    await expect(writeSafetensors(mapReader('in', entries), join(sub, 'out.safetensors'))).rejects.toThrow(/flaky: disk error/);
    expect(readdirSync(sub)).toEqual([]);
  });

  it('refuses an output name that is not .safetensors', async () => {
    await expect(convert('x.pth', join(dir, 'out.bin'))).rejects.toThrow(/must end in \.safetensors/);
  });
});
