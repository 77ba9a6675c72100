import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinearLoader } from '../../src/model/linear-weights.ts';
import { isQ8Linear, Q8_GROUP, q8Metadata } from '../../src/model/q8-weights.ts';
import { dequantizeQ8, quantizeQ8 } from '../../src/runtime/q8.ts';
import { SafetensorsFile } from '../../src/runtime/safetensors.ts';
import { serializeSafetensors } from '../../src/runtime/safetensors-write.ts';
import { mapReader, readF32, readRaw } from '../../src/runtime/weights.ts';
import { Q8_TOLERANCE } from '../../tools/conformance/index.ts';
import { transformerGolden } from '../../tools/conformance/transformer.ts';
import { convert, writeSafetensors } from '../../tools/convert.ts';
import { f32Bytes, mem, safetensors } from '../../tools/fuzz/build.ts';
import { describeFixtures, device, relL2, TINY } from '../helpers.ts';
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

describeFixtures('diception convert --weights q8 on the fixture .pth', () => {
  const pth = resolve(TINY, 'diception.pth');
  const out = join(dir, 'diception-q8.safetensors');
  const base = (n: string) => n.replace(/^transformer\./, '').replace(/\.weight$/, '');
  beforeAll(() => convert(pth, out, { weights: 'q8' }));

  it('stores each block linear as int8 data + f16 scales (K = 32 and 128: partial and whole groups), the rest byte for byte, and the scheme in __metadata__', async () => {
    const a = await openForTest(pth);
    const b = await openForTest(out);
    const picked = a.names().filter((n) => n.endsWith('.weight') && isQ8Linear(base(n)));
    // Block 0: 14 linears; the last block (context_pre_only) has no context out or MLP: 11.
    expect(picked.length).toBe(25);
    for (const n of a.names()) {
      if (!picked.includes(n)) {
        expect(Buffer.from(await readRaw(b.entry(n))).equals(Buffer.from(await readRaw(a.entry(n)))), n).toBe(true);
        continue;
      }
      expect(b.has(n), n).toBe(false);
      const [N, K] = a.entry(n).shape;
      const data = b.entry(`${n}.q8`);
      const scales = b.entry(`${n}.q8_scales`);
      expect([data.dtype, data.shape, scales.dtype, scales.shape], n).toEqual(['I8', [N, Math.ceil(K / 4) * 4], 'F16', [N, Math.ceil(K / Q8_GROUP)]]);
      const w = await readF32(a.entry(n));
      const q = quantizeQ8(w, N, K, Q8_GROUP);
      expect(Buffer.from(await readRaw(data)).equals(Buffer.from(q.data.buffer, q.data.byteOffset, q.data.byteLength)), n).toBe(true);
      expect(Buffer.from(await readRaw(scales)).equals(Buffer.from(q.scales.buffer, q.scales.byteOffset, q.scales.byteLength)), n).toBe(true);
      // Read back as stored, the values are the published ones to int8 rounding.
      const raw = await readRaw(data);
      const back = dequantizeQ8({ N, K, group: Q8_GROUP, data: new Uint32Array(raw.buffer), scales: new Uint16Array((await readRaw(scales)).buffer) });
      expect(relL2(back, w), n).toBeLessThan(1e-2);
    }
    expect(b.metadata).toMatchObject({ converted_from: 'diception.pth', 'diception.weights': 'q8', 'diception.q8.scheme': 'symmetric-int8', 'diception.q8.group': String(Q8_GROUP) });
  });

  it('loads without re-quantising: the same transformer output as quantising the .pth at load, within the q8 bound of the golden', async () => {
    const gpu = await device();
    const golden = await openForTest(resolve(TINY, 'golden', 'transformer.safetensors'));
    const atLoad = await transformerGolden(gpu, TINY, golden, 'f32', 'q8');
    // --weights f16: the file's int8 tensors are used as they are all the same.
    const fromFile = await transformerGolden(gpu, TINY, golden, 'f32', 'f16', out);
    expect(atLoad.q8).toMatchObject({ linears: 25, source: 'load', group: Q8_GROUP });
    expect(fromFile.q8).toMatchObject({ linears: 25, source: 'file', group: Q8_GROUP, bytes: atLoad.q8!.bytes });
    const output = (r: typeof atLoad) => r.outputs.find((o) => o.tensor === 'output')!.ours;
    expect(Array.from(output(fromFile))).toEqual(Array.from(output(atLoad)));
    expect(relL2(output(fromFile), await readF32(golden.entry('output')))).toBeLessThan(Q8_TOLERANCE['transformer/output']);
  });

  it('refuses a pre-quantised file in a scheme it does not know, naming the file', async () => {
    const odd = join(dir, 'int4.safetensors');
    const name = 'transformer_blocks.0.attn.to_q.weight';
    writeFileSync(odd, serializeSafetensors(
      [
        { name: `${name}.q8`, dtype: 'I8', shape: [4, 4], data: new Uint8Array(16) },
        { name: `${name}.q8_scales`, dtype: 'F16', shape: [4, 1], data: new Uint8Array(8) },
      ],
      { ...q8Metadata(), 'diception.q8.scheme': 'asymmetric-int4' },
    ));
    const loader = new LinearLoader(await device(), await openForTest(odd), 'f16');
    await expect(loader.linear('transformer_blocks.0.attn.to_q', 4, 4, false)).rejects.toThrow(/int4\.safetensors: holds 8-bit weights in an unknown scheme \(metadata scheme "asymmetric-int4"/);
    loader.dispose();
  });
});
