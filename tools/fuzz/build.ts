// Builders for weight files in memory: safetensors, zip archives and torch-style pickles, so the
// tests and the fuzzer (tools/fuzz.ts) can produce valid files and every kind of corrupt one.
import { crc32 } from '../../src/runtime/pth/zip.ts';
import { MemorySource } from '../../src/runtime/source.ts';

export function concat(parts: (Uint8Array | number[])[]): Uint8Array {
  const arrs = parts.map((p) => (p instanceof Uint8Array ? p : Uint8Array.from(p)));
  const out = new Uint8Array(arrs.reduce((a, b) => a + b.length, 0));
  let o = 0;
  for (const a of arrs) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}

export const utf8 = (s: string) => new TextEncoder().encode(s);
export const mem = (name: string, bytes: Uint8Array) => new MemorySource(name, bytes);

export function le(bytes: number, v: number | bigint): number[] {
  let x = BigInt(v);
  const out: number[] = [];
  for (let i = 0; i < bytes; i++, x >>= 8n) out.push(Number(x & 0xffn));
  return out;
}

export function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

// ---------------------------------------------------------------- safetensors

export interface StTensor {
  dtype: string;
  shape: number[];
  data: Uint8Array;
}

/** A safetensors file; `header` lets a test replace the JSON (as object or raw text). */
export function safetensors(tensors: Record<string, StTensor>, o: { header?: unknown; rawHeader?: string; metadata?: Record<string, string> } = {}): Uint8Array {
  const h: Record<string, unknown> = o.metadata ? { __metadata__: o.metadata } : {};
  const datas: Uint8Array[] = [];
  let off = 0;
  for (const [name, t] of Object.entries(tensors)) {
    h[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.data.length] };
    datas.push(t.data);
    off += t.data.length;
  }
  const text = utf8(o.rawHeader ?? JSON.stringify(o.header ?? h));
  return concat([le(8, text.length), text, ...datas]);
}

// ---------------------------------------------------------------- zip

export interface ZipFile {
  name: string;
  data: Uint8Array;
  /** Overrides for building broken archives. */
  method?: number;
  crc?: number;
  headerOffsetDelta?: number;
}

/** A stored zip like torch.save's (data aligned to 64 bytes by padding the local extra field). */
export function zip(files: ZipFile[], o: { zip64?: boolean; comment?: string } = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let pos = 0;
  const z64 = !!o.zip64;
  for (const f of files) {
    const name = utf8(f.name);
    const crc = f.crc ?? crc32(f.data);
    const method = f.method ?? 0;
    const localExtraBase = z64 ? 20 : 0;
    const pad = (64 - ((pos + 30 + name.length + localExtraBase + 4) % 64)) % 64;
    const localExtra = concat([
      z64 ? [...le(2, 1), ...le(2, 16), ...le(8, f.data.length), ...le(8, f.data.length)] : [],
      [...le(2, 0x4246), ...le(2, pad), ...new Array(pad).fill(0)],
    ]);
    const size32 = z64 ? 0xffffffff : f.data.length;
    const local = concat([le(4, 0x04034b50), le(2, 20), le(2, 0), le(2, method), le(4, 0), le(4, crc), le(4, size32), le(4, size32), le(2, name.length), le(2, localExtra.length), name, localExtra]);
    const headerOffset = pos + (f.headerOffsetDelta ?? 0);
    const cExtra = z64 ? concat([le(2, 1), le(2, 24), le(8, f.data.length), le(8, f.data.length), le(8, headerOffset)]) : new Uint8Array(0);
    central.push(
      concat([le(4, 0x02014b50), le(2, 20), le(2, 20), le(2, 0), le(2, method), le(4, 0), le(4, crc), le(4, size32), le(4, size32), le(2, name.length), le(2, cExtra.length), le(2, 0), le(2, 0), le(2, 0), le(4, 0), le(4, z64 ? 0xffffffff : headerOffset), name, cExtra]),
    );
    parts.push(local, f.data);
    pos += local.length + f.data.length;
  }
  const cd = concat(central);
  const cdOffset = pos;
  const tail: Uint8Array[] = [cd];
  if (z64) {
    const recPos = cdOffset + cd.length;
    tail.push(concat([le(4, 0x06064b50), le(8, 44), le(2, 45), le(2, 45), le(4, 0), le(4, 0), le(8, files.length), le(8, files.length), le(8, cd.length), le(8, cdOffset)]));
    tail.push(concat([le(4, 0x07064b50), le(4, 0), le(8, recPos), le(4, 1)]));
  }
  const comment = utf8(o.comment ?? '');
  const n16 = z64 ? 0xffff : files.length;
  tail.push(concat([le(4, 0x06054b50), le(2, 0), le(2, 0), le(2, n16), le(2, n16), le(4, z64 ? 0xffffffff : cd.length), le(4, z64 ? 0xffffffff : cdOffset), le(2, comment.length), comment]));
  return concat([...parts, ...tail]);
}

// ---------------------------------------------------------------- pickle

/** Pickle opcodes as bytes, for hand-assembling (hostile) pickles. */
export const P = {
  proto: (v: number) => [0x80, v],
  dict: [0x7d],
  tuple0: [0x29],
  list: [0x5d],
  mark: [0x28],
  tuple: [0x74],
  tuple1: [0x85],
  tuple2: [0x86],
  tuple3: [0x87],
  none: [0x4e],
  false: [0x89],
  true: [0x88],
  reduce: [0x52],
  build: [0x62],
  persid: [0x51],
  setitem: [0x73],
  setitems: [0x75],
  append: [0x61],
  appends: [0x65],
  memoize: [0x94],
  stackGlobal: [0x93],
  stop: [0x2e],
  str: (s: string) => [0x58, ...le(4, utf8(s).length), ...utf8(s)],
  shortStr: (s: string) => [0x8c, utf8(s).length, ...utf8(s)],
  int: (v: number) => [0x4a, ...le(4, v)],
  long1: (v: bigint) => {
    const b = le(9, v);
    return [0x8a, 9, ...b];
  },
  global: (module: string, name: string) => [0x63, ...utf8(`${module}\n${name}\n`)],
  put: (k: number) => [0x72, ...le(4, k)],
  get: (k: number) => [0x6a, ...le(4, k)],
  frame: (n: number) => [0x95, ...le(8, n)],
};

export const pk = (...ops: (number[] | Uint8Array)[]) => concat(ops);

/** `op` n times, for pickles too large to spread into arguments. */
export function repeat(op: number[], n: number): Uint8Array {
  const out = new Uint8Array(op.length * n);
  for (let i = 0; i < n; i++) out.set(op, i * op.length);
  return out;
}

export interface PthTensor {
  name: string;
  storage: string;
  key: string;
  numel: number;
  offset?: number;
  shape: number[];
  stride?: number[];
  parameter?: boolean;
}

const contiguous = (shape: number[]) => shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));

/** One `_rebuild_tensor_v2(...)` call as torch.save writes it (protocol 2, GLOBAL opcodes). */
export function tensorOps(t: PthTensor): number[][] {
  const ints = (xs: number[]) => [P.mark, ...xs.map(P.int), P.tuple];
  const core = [
    P.global('torch._utils', '_rebuild_tensor_v2'),
    P.mark,
    P.mark, P.str('storage'), P.global('torch', t.storage), P.str(t.key), P.str('cpu'), P.int(t.numel), P.tuple, P.persid,
    P.int(t.offset ?? 0),
    ...ints(t.shape),
    ...ints(t.stride ?? contiguous(t.shape)),
    P.false,
    P.global('collections', 'OrderedDict'), P.tuple0, P.reduce,
    P.tuple,
    P.reduce,
  ];
  if (!t.parameter) return core;
  return [P.global('torch._utils', '_rebuild_parameter'), P.mark, ...core, P.false, P.global('collections', 'OrderedDict'), P.tuple0, P.reduce, P.tuple, P.reduce];
}

/** data.pkl for a flat {name: tensor} dict. */
export function statePickle(tensors: PthTensor[]): Uint8Array {
  return pk(P.proto(2), P.dict, P.mark, ...tensors.flatMap((t) => [P.str(t.name), ...tensorOps(t)]), P.setitems, P.stop);
}

/** A torch.save-style archive: `<root>/data.pkl`, `<root>/data/<key>`, `<root>/version`. */
export function pth(pkl: Uint8Array, storages: Record<string, Uint8Array>, o: { root?: string; zip64?: boolean; extra?: ZipFile[] } = {}): Uint8Array {
  const root = o.root ?? 'archive';
  return zip(
    [
      { name: `${root}/data.pkl`, data: pkl },
      ...Object.entries(storages).map(([k, data]) => ({ name: `${root}/data/${k}`, data })),
      { name: `${root}/version`, data: utf8('3\n') },
      ...(o.extra ?? []),
    ],
    { zip64: o.zip64 },
  );
}
