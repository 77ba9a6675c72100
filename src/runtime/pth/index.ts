// PyTorch .pth checkpoints (torch.save's zip format): `<root>/data.pkl` describes the state
// dict and `<root>/data/<key>` holds each storage's raw little-endian bytes. The pickle is
// interpreted with only torch's own rebuild functions allowlisted, nested dicts are flattened
// to dotted names, and each tensor becomes a TensorEntry pointing into the archive, so tensors
// are read lazily exactly like safetensors ones.
import type { StDType, TensorEntry } from '../safetensors.ts';
import { ST_BYTES } from '../safetensors.ts';
import type { ByteSource } from '../source.ts';
import { mapReader, type WeightReader } from '../weights.ts';
import { describe, isTuple, unpickle, type PyGlobal, type PyValue } from './pickle.ts';
import { ZipArchive } from './zip.ts';

/** torch's typed storage classes (how tensors name their element type in the pickle). */
const STORAGES: Record<string, StDType> = {
  DoubleStorage: 'F64',
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
  UntypedStorage: 'U8',
};

/** Flattening limits: a real checkpoint nests 2-3 levels and holds thousands of tensors. */
const MAX_DEPTH = 64;
const MAX_NODES = 1_000_000;

class Storage {
  constructor(
    readonly key: string,
    readonly dtype: StDType,
    readonly numel: number,
  ) {}
}

class TensorRef {
  constructor(
    readonly storage: Storage,
    readonly offset: number,
    readonly shape: number[],
    /** A layout we cannot read in place, reported with the tensor's name once it is known. */
    readonly problem?: string,
  ) {}
}

const isInt = (v: PyValue): v is number => typeof v === 'number' && Number.isSafeInteger(v);

function intTuple(v: PyValue, what: string): number[] {
  if (!isTuple(v) || !v.every(isInt)) throw new Error(`${what} is ${describe(v)}, expected a tuple of integers`);
  return v as number[];
}

function rebuildTensor(args: readonly PyValue[]): TensorRef {
  const fn = 'torch._utils._rebuild_tensor_v2';
  if (args.length < 4) throw new Error(`${fn} called with ${args.length} arguments, expected 6 or 7`);
  const [storage, offset] = args;
  if (!(storage instanceof Storage)) throw new Error(`${fn}: first argument is ${describe(storage)}, expected a storage`);
  if (!isInt(offset) || offset < 0) throw new Error(`${fn}: storage offset ${describe(offset)} is not a non-negative integer`);
  const shape = intTuple(args[2], `${fn}: size`);
  const stride = intTuple(args[3], `${fn}: stride`);
  if (shape.some((d) => d < 0)) throw new Error(`${fn}: negative size [${shape}]`);
  if (stride.length !== shape.length) throw new Error(`${fn}: stride (${stride}) and size (${shape}) differ in rank`);
  const numel = shape.reduce((a, b) => a * b, 1);
  let problem: string | undefined;
  // Row-major contiguity; dims of size 1 may carry any stride (torch's own rule).
  let expect = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expect && numel > 0) {
      problem = `is not contiguous (size [${shape}], stride [${stride}]); save it with .contiguous()`;
      break;
    }
    expect *= shape[i];
  }
  if (!problem && numel > 0 && offset + numel > storage.numel) {
    problem = `needs elements ${offset}..${offset + numel} of storage '${storage.key}', which has only ${storage.numel}`;
  }
  return new TensorRef(storage, offset, [...shape], problem);
}

function torchGlobals(): (module: string, name: string) => PyGlobal | undefined {
  const g = (module: string, name: string, call?: PyGlobal['call']): PyGlobal => ({ kind: 'global', module, name, call });
  const table = new Map<string, PyGlobal>([
    ['collections.OrderedDict', g('collections', 'OrderedDict', (args) => {
      if (args.length) throw new Error(`collections.OrderedDict called with ${args.length} arguments; torch.save passes none`);
      return new Map();
    })],
    ['torch._utils._rebuild_tensor_v2', g('torch._utils', '_rebuild_tensor_v2', rebuildTensor)],
    // A Parameter is its tensor for our purposes (requires_grad and hooks are dropped).
    ['torch._utils._rebuild_parameter', g('torch._utils', '_rebuild_parameter', (args) => {
      if (!(args[0] instanceof TensorRef)) throw new Error(`torch._utils._rebuild_parameter: first argument is ${describe(args[0])}, expected a tensor`);
      return args[0];
    })],
  ]);
  for (const s of Object.keys(STORAGES)) table.set(`torch.${s}`, g('torch', s));
  table.set('torch.storage.UntypedStorage', g('torch.storage', 'UntypedStorage'));
  return (module, name) => table.get(`${module}.${name}`);
}

/** BINPERSID payload: ('storage', StorageClass, key, location, numel), one object per key. */
function storageLoader(): (pid: PyValue) => Storage {
  const seen = new Map<string, Storage>();
  return (pid) => {
    if (!isTuple(pid) || pid.length !== 5 || pid[0] !== 'storage') throw new Error(`persistent id ${describe(pid)} is not a torch storage reference`);
    const [, type, key, , numel] = pid;
    const cls = type as PyGlobal;
    const dtype = cls.kind === 'global' ? STORAGES[cls.name] : undefined;
    if (!dtype) throw new Error(`storage type ${describe(type)} is not a known torch storage class`);
    if (typeof key !== 'string' || !/^[\w.-]+$/.test(key)) throw new Error(`storage key ${describe(key)} is not a plain name`);
    if (!isInt(numel) || numel < 0) throw new Error(`storage '${key}' has element count ${describe(numel)}`);
    let s = seen.get(key);
    if (!s) seen.set(key, (s = new Storage(key, dtype, numel)));
    else if (s.dtype !== dtype || s.numel !== numel) throw new Error(`storage '${key}' is declared twice with different types or sizes`);
    return s;
  };
}

/** Nested dicts -> dotted names; non-tensor leaves (epoch counters, strings) are skipped. */
function flatten(root: PyValue, where: string): Map<string, TensorRef> {
  if (!(root instanceof Map)) throw new Error(`${where} holds ${describe(root)}, expected a dict of tensors`);
  const out = new Map<string, TensorRef>();
  let nodes = 0;
  const walk = (v: PyValue, name: string, depth: number) => {
    if (++nodes > MAX_NODES) throw new Error(`${where}: more than ${MAX_NODES} values to flatten (shared sub-dicts repeated?)`);
    if (v instanceof TensorRef) {
      if (v.problem) throw new Error(`${where}: tensor '${name}' ${v.problem}`);
      if (out.has(name)) throw new Error(`${where}: two tensors are both named '${name}'`);
      out.set(name, v);
    } else if (v instanceof Map) {
      if (depth > MAX_DEPTH) throw new Error(`${where}: dicts nested more than ${MAX_DEPTH} deep at '${name}'`);
      for (const [k, child] of v) {
        if (typeof k !== 'string' && typeof k !== 'number') continue;
        walk(child, name ? `${name}.${k}` : String(k), depth + 1);
      }
    }
  };
  walk(root, '', 0);
  return out;
}

export async function openPth(src: ByteSource): Promise<WeightReader> {
  // torch < 1.6 wrote a bare pickle stream (starts with PROTO), not a zip.
  if (src.size >= 2 && (await src.read(0, 1))[0] === 0x80) {
    throw new Error(`${src.name}: a legacy (torch < 1.6) checkpoint, which is not supported; re-save it with a current torch.save`);
  }
  const zip = await ZipArchive.open(src);
  const pkls = [...zip.entries.keys()].filter((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  if (pkls.length !== 1) {
    throw new Error(`${src.name}: not a torch.save checkpoint: ${pkls.length ? `several data.pkl (${pkls.join(', ')})` : 'no data.pkl in the archive'}`);
  }
  const rootDir = pkls[0].slice(0, -'data.pkl'.length);
  const order = zip.entries.get(rootDir + 'byteorder');
  if (order) {
    const s = new TextDecoder().decode(await zip.read(order)).trim();
    if (s !== 'little') throw new Error(`${src.name}: byte order '${s}'; only little-endian checkpoints are supported`);
  }
  const where = `${src.name}: ${pkls[0]}`;
  const value = unpickle(await zip.read(zip.entries.get(pkls[0])!), {
    name: where,
    resolveGlobal: torchGlobals(),
    persistentLoad: storageLoader(),
  });
  const tensors = flatten(value, where);

  // Locate each storage once (this validates its local zip header).
  const starts = new Map<Storage, Promise<number>>();
  const locate = (s: Storage, tensor: string) => {
    const entry = zip.entries.get(`${rootDir}data/${s.key}`);
    if (!entry) throw new Error(`${src.name}: tensor '${tensor}' uses storage '${s.key}', but the archive has no ${rootDir}data/${s.key}`);
    const bytes = s.numel * ST_BYTES[s.dtype];
    if (entry.size !== bytes) {
      throw new Error(`${src.name}: storage '${s.key}' declares ${s.numel} ${s.dtype} elements (${bytes} bytes) but ${entry.name} holds ${entry.size} bytes`);
    }
    return zip.dataOffset(entry);
  };
  const entries = new Map<string, TensorEntry>();
  await Promise.all(
    [...tensors].map(async ([name, t]) => {
      let start = starts.get(t.storage);
      if (!start) starts.set(t.storage, (start = locate(t.storage, name)));
      const size = ST_BYTES[t.storage.dtype];
      const byteLength = t.shape.reduce((a, b) => a * b, 1) * size;
      entries.set(name, { name, dtype: t.storage.dtype, shape: t.shape, offset: (await start) + t.offset * size, byteLength, source: src });
    }),
  );
  // Keep the pickle's order (Promise.all filled the map as reads finished).
  return mapReader(src.name, new Map([...tensors.keys()].map((n) => [n, entries.get(n)!])), [src]);
}
