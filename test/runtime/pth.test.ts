import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openPth } from '../../src/runtime/pth/index.ts';
import { LIMITS, unpickle } from '../../src/runtime/pth/pickle.ts';
import { ZipArchive } from '../../src/runtime/pth/zip.ts';
import { overlay, prefixed, readF32, readRaw } from '../../src/runtime/weights.ts';
import { describeFixtures, TINY } from '../helpers.ts';
import { f32Bytes, le, mem, P, pk, pth, repeat, statePickle, tensorOps, utf8, zip, type PthTensor } from '../../tools/fuzz/build.ts';
import { openForTest } from '../fixture-weights.ts';

const PTH = resolve(TINY, 'diception.pth');

// Decoded once with Python's zipfile + a restricted pickle.Unpickler + struct (no torch), as
// an independent reference: [shape, first, middle (index n/2), last, sum] of each tensor.
const REFERENCE: Record<string, [number[], number, number, number, number]> = {
  'transformer.pos_embed.pos_embed': [[1, 256, 32], 0, 0, 1, 4014.3485107421875],
  'transformer.pos_embed.proj.weight': [[32, 16, 2, 2], -0.11865234375, -0.130859375, 0.1220703125, 2.218576490879059],
  'transformer.proj_out.bias': [[64], -0.009521484375, -0.01025390625, 0.035400390625, -0.1063084602355957],
  'point_embedder.0.weight': [[16, 16], -0.0281982421875, -0.1650390625, -0.06787109375, -0.9639892578125],
  'point_embedder.2.bias': [[32], 0.0137939453125, -0.007049560546875, 0.013916015625, 0.0782470703125],
  'not_seg_embeddings.weight': [[1, 32], -1.0625, 0.69921875, 0.25390625, 1.933837890625],
  'seg_embeddings.weight': [[1, 32], 0.28125, 0.02490234375, 0.2060546875, -3.2073974609375],
  'positional_encoding_gaussian_matrix': [[2, 8], -2.25, 1.015625, -0.99609375, 0.6435546875],
};
const REFERENCE_COUNT = 74;
const REFERENCE_TOTAL = 3966.9904291704297;

const sum = (v: Float32Array) => v.reduce((a, b) => a + b, 0);

describeFixtures('diception.pth (tiny fixture)', () => {
  it('reads every tensor with the names, shapes and values of an independent decode', async () => {
    const r = await openForTest(PTH);
    const names = r.names();
    expect(names.length).toBe(REFERENCE_COUNT);
    expect(names.filter((n) => !n.startsWith('transformer.'))).toEqual([
      'point_embedder.0.weight',
      'point_embedder.0.bias',
      'point_embedder.2.weight',
      'point_embedder.2.bias',
      'not_seg_embeddings.weight',
      'seg_embeddings.weight',
      'positional_encoding_gaussian_matrix',
    ]);
    let total = 0;
    for (const n of names) {
      const e = r.entry(n);
      expect(e.dtype, n).toBe('BF16');
      const v = await readF32(e);
      expect(v.length, n).toBe(e.shape.reduce((a, b) => a * b, 1));
      total += sum(v);
    }
    expect(total).toBeCloseTo(REFERENCE_TOTAL, 6);
    for (const [n, [shape, first, mid, last, s]] of Object.entries(REFERENCE)) {
      const e = r.entry(n);
      expect(e.shape, n).toEqual(shape);
      const v = await readF32(e);
      expect([v[0], v[v.length >> 1], v[v.length - 1]], n).toEqual([first, mid, last]);
      expect(sum(v), n).toBeCloseTo(s, 6);
    }
  });

  it('overrides the folder transformer (DICEPTION weights win where they differ)', async () => {
    const folder = await openForTest(resolve(TINY, 'transformer/diffusion_pytorch_model.safetensors'));
    const ckpt = prefixed(await openForTest(PTH), 'transformer.');
    const merged = overlay(folder, ckpt);
    // The checkpoint holds a full transformer state dict with the folder's names.
    expect(ckpt.names().sort()).toEqual(folder.names().sort());
    let differing = 0;
    for (const n of ckpt.names()) {
      const e = merged.entry(n);
      expect(e.dtype, n).toBe('BF16');
      const got = await readF32(e);
      expect(Array.from(got), n).toEqual(Array.from(await readF32(ckpt.entry(n))));
      const base = await readF32(folder.entry(n));
      if (base.some((x, i) => Math.abs(x - got[i]) > 1e-2 * (1 + Math.abs(x)))) differing++;
    }
    expect(differing).toBeGreaterThan(ckpt.names().length / 2);
    expect(() => merged.entry('nope')).toThrow(/tensor 'nope' not found/);
  });
});

describe('.pth reader on generated checkpoints', () => {
  const values = [1.5, -2, 3.25, 0, 7, -0.5];
  const storages = { '0': f32Bytes(values), '1': new Uint8Array(new BigInt64Array([5n, -6n, 7n]).buffer) };
  const tensors: PthTensor[] = [
    { name: 'a.weight', storage: 'FloatStorage', key: '0', numel: 6, shape: [2, 3] },
    // A view into the same storage at an offset, with a size-1 dim of arbitrary stride.
    { name: 'a.tail', storage: 'FloatStorage', key: '0', numel: 6, offset: 4, shape: [1, 2], stride: [99, 1] },
    { name: 'ids', storage: 'LongStorage', key: '1', numel: 3, shape: [3], parameter: true },
  ];
  const open = (bytes: Uint8Array, name = 'gen.pth') => openPth(mem(name, bytes));

  it('reads F32 and I64 tensors, shared storages with offsets, parameters, any root folder', async () => {
    for (const zip64 of [false, true]) {
      const r = await open(pth(statePickle(tensors), storages, { root: 'my-model', zip64 }));
      expect(r.names()).toEqual(['a.weight', 'a.tail', 'ids']);
      expect(Array.from(await readF32(r.entry('a.weight')))).toEqual(values);
      expect(Array.from(await readF32(r.entry('a.tail')))).toEqual([7, -0.5]);
      const ids = r.entry('ids');
      expect(ids.dtype).toBe('I64');
      const raw = await readRaw(ids);
      expect(Array.from(new BigInt64Array(raw.buffer, raw.byteOffset, 3))).toEqual([5n, -6n, 7n]);
      await expect(readF32(ids)).rejects.toThrow(/'ids' is I64; expected a floating-point tensor/);
    }
  });

  it('flattens nested dicts and accepts protocol-4 opcodes and OrderedDict state (BUILD)', async () => {
    const t = (name: string, key: string) => tensorOps({ name, storage: 'HalfStorage', key, numel: 2, shape: [2] });
    const body = pk(
      P.proto(4), P.frame(0),
      P.shortStr('collections'), P.memoize, P.shortStr('OrderedDict'), P.memoize, P.stackGlobal, P.memoize, P.tuple0, P.reduce, P.memoize,
      P.shortStr('point_embedder'),
      P.dict, P.memoize, P.mark,
      P.shortStr('0'), P.dict, P.mark, P.shortStr('weight'), ...t('w', 'k0'), P.shortStr('bias'), ...t('b', 'k1'), P.setitems,
      P.setitems,
      P.setitem,
      // state_dict()'s `_metadata` attribute arrives as a BUILD on the OrderedDict.
      P.dict, P.shortStr('_metadata'), P.dict, P.setitem, P.build,
      P.shortStr('epoch'), P.int(3), P.setitem,
      P.stop,
    );
    const half = new Uint8Array(new Uint16Array([0x3c00, 0xc000]).buffer); // 1, -2
    const r = await open(pth(body, { k0: half, k1: half }));
    expect(r.names()).toEqual(['point_embedder.0.weight', 'point_embedder.0.bias']);
    expect(r.entry('point_embedder.0.bias').dtype).toBe('F16');
    expect(Array.from(await readF32(r.entry('point_embedder.0.weight')))).toEqual([1, -2]);
  });

  describe('refuses hostile pickles, naming what it refused', () => {
    const run = (bytes: Uint8Array) => open(pth(bytes, storages));
    const cases: [string, Uint8Array, RegExp][] = [
      ['os.system via GLOBAL + REDUCE', pk(P.proto(2), P.global('os', 'system'), P.str('echo pwned'), P.tuple1, P.reduce, P.stop), /refused global 'os\.system'/],
      ['posix.system', pk(P.proto(2), P.global('posix', 'system'), P.stop), /refused global 'posix\.system'/],
      ['builtins.eval via STACK_GLOBAL', pk(P.proto(4), P.shortStr('builtins'), P.shortStr('eval'), P.stackGlobal, P.stop), /refused global 'builtins\.eval'/],
      ['torch global outside the allowlist', pk(P.proto(2), P.global('torch', 'load'), P.stop), /refused global 'torch\.load'/],
      ['REDUCE on a storage class', pk(P.proto(2), P.global('torch', 'FloatStorage'), P.tuple0, P.reduce, P.stop), /REDUCE at byte \d+: refused to call torch\.FloatStorage/],
      ['REDUCE on a string', pk(P.proto(2), P.str('os.system'), P.tuple0, P.reduce, P.stop), /refused to call "os\.system"/],
      ['BUILD on a tensor', pk(P.proto(2), P.dict, P.str('x'), ...tensorOps(tensors[0]), P.dict, P.build, P.setitem, P.stop), /BUILD at byte \d+: refused to set the state of TensorRef/],
      ['INST opcode', pk(P.proto(2), [0x69], P.stop), /unknown or unsupported opcode 0x69 \('i'\)/],
      ['unknown opcode 0xff', pk(P.proto(2), [0xff]), /unknown or unsupported opcode 0xff/],
      ['bad persistent id', pk(P.proto(2), P.str('x'), P.persid, P.stop), /persistent id "x" is not a torch storage reference/],
      ['storage class not a storage', pk(P.proto(2), P.mark, P.str('storage'), P.global('collections', 'OrderedDict'), P.str('0'), P.str('cpu'), P.int(1), P.tuple, P.persid, P.stop), /collections\.OrderedDict is not a known torch storage class/],
      ['storage key with a path', pk(P.proto(2), P.mark, P.str('storage'), P.global('torch', 'FloatStorage'), P.str('../x'), P.str('cpu'), P.int(1), P.tuple, P.persid, P.stop), /storage key "\.\.\/x" is not a plain name/],
      ['truncated pickle', pk(P.proto(2), [0x58, ...le(4, 1000)], Array.from(utf8('abc'))), /BINUNICODE at byte 2: needs 1000 more bytes .* \(truncated\)/],
      ['no STOP', pk(P.proto(2), P.dict), /needs 1 more bytes/],
      ['stack underflow', pk(P.proto(2), P.tuple2, P.stop), /TUPLE2 at byte 2: stack underflow/],
      ['memo key never stored', pk(P.proto(2), P.get(7), P.stop), /memo key 7 was never stored/],
      ['SETITEM on a list', pk(P.proto(2), P.list, P.str('k'), P.str('v'), P.setitem, P.stop), /SETITEM on list of 0, expected a dict/],
      ['APPEND on a tuple', pk(P.proto(2), P.tuple0, P.none, P.append, P.stop), /APPEND on tuple of 0, expected a list/],
      ['unhashable key', pk(P.proto(2), P.dict, P.list, P.none, P.setitem, P.stop), /unhashable dict key list/],
      ['open MARK at STOP', pk(P.proto(2), P.dict, P.mark, P.stop), /1 MARK\(s\) left open/],
      ['bytes after STOP', pk(P.proto(2), P.dict, P.stop, P.none), /1 bytes after STOP/],
      ['huge integer', pk(P.proto(2), P.long1(1n << 60n), P.stop), /integer \d+ is too large/],
      ['not a dict', pk(P.proto(2), P.list, P.stop), /holds list of 0, expected a dict of tensors/],
      ['OrderedDict with arguments', pk(P.proto(2), P.global('collections', 'OrderedDict'), P.list, P.tuple1, P.reduce, P.stop), /OrderedDict called with 1 arguments/],
    ];
    for (const [what, bytes, re] of cases) it(what, async () => void (await expect(run(bytes)).rejects.toThrow(re)));

    it('bounds nesting, stack, memo and flattening work', async () => {
      await expect(run(pk(P.proto(2), repeat(P.mark, LIMITS.marks + 1)))).rejects.toThrow(/more than 1000 nested MARKs/);
      // The stack and memo limits are lowered here to keep the test fast; the checks are the same.
      const saved = { ...LIMITS };
      Object.assign(LIMITS, { stack: 5000, memo: 5000 });
      try {
        await expect(run(pk(P.proto(2), repeat(P.none, 5001)))).rejects.toThrow(/more than 5000 values on the stack/);
        const memo = new Uint8Array(5 * 5001);
        for (let i = 0; i <= 5000; i++) memo.set(P.put(i), 5 * i);
        await expect(run(pk(P.proto(2), P.none, memo))).rejects.toThrow(/LONG_BINPUT at byte \d+: more than 5000 memo entries/);
      } finally {
        Object.assign(LIMITS, saved);
      }
      // A dict holding itself.
      await expect(run(pk(P.proto(2), P.dict, P.put(0), P.str('self'), P.get(0), P.setitem, P.stop))).rejects.toThrow(/nested more than 64 deep at 'self\.self/);
      // {l0: {t}, l1: {a: l0, b: l0}, l2: {a: l1, b: l1}, ...}: 2^40 paths through a small DAG.
      const dag = [P.dict, P.mark, P.str('l0'), P.dict, P.str('t'), ...tensorOps(tensors[0]), P.setitem, P.put(0)];
      for (let i = 1; i <= 40; i++) dag.push(P.str(`l${i}`), P.dict, P.mark, P.str('a'), P.get(0), P.str('b'), P.get(0), P.setitems, P.put(0));
      dag.push(P.setitems);
      await expect(run(pk(P.proto(2), ...dag, P.stop))).rejects.toThrow(/more than 1000000 values to flatten/);
    });

    it('direct unpickle errors are Errors naming the source', () => {
      const o = { name: 'x.pkl', resolveGlobal: () => undefined, persistentLoad: () => null };
      expect(() => unpickle(pk(P.proto(9)), o)).toThrow(/x\.pkl: pickle PROTO at byte 0: unsupported pickle protocol 9/);
    });
  });

  describe('refuses broken tensors and archives', () => {
    const good = () => pth(statePickle(tensors), storages);
    const cases: [string, () => Uint8Array, RegExp][] = [
      ['non-contiguous tensor', () => pth(statePickle([{ ...tensors[0], shape: [3, 2], stride: [1, 3] }]), storages), /tensor 'a\.weight' is not contiguous \(size \[3,2\], stride \[1,3\]\)/],
      ['tensor past its storage', () => pth(statePickle([{ ...tensors[0], offset: 2 }]), storages), /tensor 'a\.weight' needs elements 2\.\.8 of storage '0', which has only 6/],
      ['missing storage entry', () => pth(statePickle([{ ...tensors[0], key: '9' }]), storages), /tensor 'a\.weight' uses storage '9', but the archive has no archive\/data\/9/],
      ['storage size mismatch', () => pth(statePickle([{ ...tensors[0], numel: 5, shape: [5] }]), storages), /storage '0' declares 5 F32 elements \(20 bytes\) but archive\/data\/0 holds 24 bytes/],
      ['no data.pkl', () => zip([{ name: 'a/version', data: utf8('3') }]), /not a torch\.save checkpoint: no data\.pkl/],
      ['two data.pkl', () => zip([{ name: 'a/data.pkl', data: utf8('.') }, { name: 'b/data.pkl', data: utf8('.') }]), /several data\.pkl \(a\/data\.pkl, b\/data\.pkl\)/],
      ['big-endian', () => pth(statePickle(tensors), storages, { extra: [{ name: 'archive/byteorder', data: utf8('big') }] }), /byte order 'big'/],
      ['not a zip', () => utf8('definitely not a zip file, just text that is long enough'), /not a valid zip archive: no end-of-central-directory record/],
      ['tiny file', () => utf8('PK'), /only 2 bytes, too short for a zip/],
      ['legacy torch format', () => statePickle(tensors), /a legacy \(torch < 1\.6\) checkpoint/],
      ['truncated (tail cut)', () => good().subarray(0, good().length - 30), /no end-of-central-directory record/],
      ['truncated (head cut)', () => good().subarray(200), /central directory .* runs past its end record/],
      ['CRC mismatch in data.pkl', () => {
        const b = good().slice();
        expect(b[64]).toBe(0x80); // data.pkl's PROTO, aligned to 64 like torch.save does
        b[67] ^= 0xff;
        return b;
      }, /entry 'archive\/data\.pkl': CRC-32 mismatch/],
      ['compressed entry', () => zip([{ name: 'm/data.pkl', data: statePickle(tensors), method: 8 }]), /entry 'm\/data\.pkl' is compressed \(zip method 8\)/],
    ];
    for (const [what, make, re] of cases) it(what, async () => void (await expect(open(make())).rejects.toThrow(re)));

    it('bad local header offsets', async () => {
      const pkl = statePickle(tensors);
      const files = (delta: number, which: number) =>
        zip([{ name: 'a/data.pkl', data: pkl }, { name: 'a/data/0', data: storages['0'] }, { name: 'a/data/1', data: storages['1'] }].map((f, i) => (i === which ? { ...f, headerOffsetDelta: delta } : f)));
      await expect(open(files(8, 0))).rejects.toThrow(/entry 'a\/data\.pkl': no local file header at offset 8/);
      await expect(open(files(1e6, 1))).rejects.toThrow(/entry 'a\/data\/0': local header offset \d+ is outside the data area/);
      // Pointing at the NEXT entry's header: a real header, but for another name.
      const ok = files(0, -1);
      const z = await ZipArchive.open(mem('z', ok));
      const next = z.entries.get('a/data/1')!.headerOffset - z.entries.get('a/data/0')!.headerOffset;
      await expect(open(files(next, 1))).rejects.toThrow(/entry 'a\/data\/0': local header at offset \d+ names 'a\/data\/1'/);
    });

    it('zip64 fields beyond 2^53 are refused', async () => {
      const b = pth(statePickle(tensors), storages, { zip64: true }).slice();
      const dv = new DataView(b.buffer);
      const loc = b.length - 22 - 20;
      expect(dv.getUint32(loc, true)).toBe(0x07064b50);
      const rec = Number(dv.getBigUint64(loc + 8, true));
      dv.setBigUint64(rec + 40, 1n << 60n, true); // central directory size
      await expect(open(b)).rejects.toThrow(/zip64 central directory size is \d+, beyond any real file size/);
    });
  });
});
