// Where the API's model files come from: a path (Node), a URL (HTTP Range), a File/Blob, a
// picked folder (File list) or a FileSystemDirectoryHandle. Non-path sources are mounted under
// a name of their own (`diception-mount:<n>/…`) on a platform that wraps the base one, so the
// model code keeps reading plain paths and several models can hold different sources at once.
import { isFolderUrl, platform, setPlatform, type Platform } from '../runtime/platform.ts';
import { BlobSource, HttpRangeSource, type ByteSource } from '../runtime/source.ts';

/** A model folder or file, as loadDiception takes it. */
export type ModelSource = string | URL | Blob | Iterable<File> | ReadonlyMap<string, Blob> | FileSystemDirectoryHandle | FileSystemFileHandle;

interface Mount {
  open(rel: string[]): Promise<ByteSource>;
  exists(rel: string[]): Promise<boolean>;
}

const PREFIX = 'diception-mount:';
const mounts = new Map<string, Mount>();
let nextMount = 0;
const wrapped = new WeakSet<Platform>();

const isHttp = (p: string) => /^(https?|blob):/i.test(p);
const slashJoin = (parts: string[]) => parts.join('/').replace(/([^:/])\/+/g, '$1/');

function resolveMount(path: string): { mount: Mount; rel: string[] } | undefined {
  if (!path.startsWith(PREFIX)) return undefined;
  const [id, ...rest] = path.slice(PREFIX.length).split('/');
  const mount = mounts.get(id);
  if (!mount) throw new Error(`${path}: this model source has been released (dispose() was called)`);
  return { mount, rel: rest.filter((s) => s && s !== '.') };
}

/** The base platform plus mounted sources and, in Node too, URLs read with Range requests. */
function withSources(base: Platform): Platform {
  const p: Platform = {
    name: base.name,
    gpu: () => base.gpu(),
    open: async (path) => {
      const m = resolveMount(path);
      if (m) return m.mount.open(m.rel);
      return isHttp(path) ? HttpRangeSource.open(path) : base.open(path);
    },
    join: (...parts) => (parts[0]?.startsWith(PREFIX) || isHttp(parts[0] ?? '') ? slashJoin(parts) : base.join(...parts)),
    exists: async (path) => {
      const m = resolveMount(path);
      if (m) return m.mount.exists(m.rel);
      if (isHttp(path)) return (await fetch(path, { method: 'HEAD' })).ok || isFolderUrl(path);
      return base.exists(path);
    },
  };
  wrapped.add(p);
  return p;
}

function installed(): void {
  const current = platform();
  if (!wrapped.has(current)) setPlatform(withSources(current));
}

function mount(m: Mount): string {
  installed();
  const id = String(nextMount++);
  mounts.set(id, m);
  return `${PREFIX}${id}`;
}

const notFound = (name: string, rel: string[]) => new Error(`${[name, ...rel].join('/')}: file not found`);

function fileMount(name: string, blob: () => Promise<Blob>): Mount {
  return {
    async open(rel) {
      if (rel.length !== 1 || rel[0] !== name) throw notFound(name, rel);
      return new BlobSource(name, await blob());
    },
    exists: async (rel) => rel.length === 1 && rel[0] === name,
  };
}

/**
 * A folder picker's files, or a Map from their paths to them (what survives postMessage: a
 * cloned File loses webkitRelativePath). Paths are "<folder>/<sub>/<file>": the first segment
 * is the folder itself.
 */
function filesMount(files: Iterable<File> | ReadonlyMap<string, Blob>): Mount {
  const pairs: Iterable<[string, Blob]> =
    files instanceof Map ? files.entries() : [...(files as Iterable<File>)].map((f) => [(f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name, f]);
  const byPath = new Map<string, Blob>();
  for (const [path, f] of pairs) {
    const rel = path.split('/');
    byPath.set((rel.length > 1 ? rel.slice(1) : rel).join('/'), f);
  }
  return {
    async open(rel) {
      const f = byPath.get(rel.join('/'));
      if (!f) throw notFound('(picked folder)', rel);
      return new BlobSource(rel.join('/'), f);
    },
    async exists(rel) {
      const key = rel.join('/');
      return !key || byPath.has(key) || [...byPath.keys()].some((k) => k.startsWith(key + '/'));
    },
  };
}

function directoryMount(dir: FileSystemDirectoryHandle): Mount {
  const walk = async (rel: string[]): Promise<FileSystemHandle> => {
    let h: FileSystemHandle = dir;
    for (const [i, part] of rel.entries()) {
      const d = h as FileSystemDirectoryHandle;
      h = i === rel.length - 1 ? await d.getFileHandle(part).catch(() => d.getDirectoryHandle(part)) : await d.getDirectoryHandle(part);
    }
    return h;
  };
  return {
    async open(rel) {
      const h = await walk(rel).catch(() => {
        throw notFound(dir.name, rel);
      });
      if (h.kind !== 'file') throw new Error(`${[dir.name, ...rel].join('/')}: not a regular file`);
      return new BlobSource([dir.name, ...rel].join('/'), await (h as FileSystemFileHandle).getFile());
    },
    exists: (rel) => walk(rel).then(() => true, () => false),
  };
}

/** A weight file's name for a Blob without one: .pth checkpoints are zip archives ("PK"). */
async function blobName(blob: Blob, fallback: string): Promise<string> {
  const named = (blob as File).name;
  if (named) return named;
  const magic = new Uint8Array(await blob.slice(0, 2).arrayBuffer());
  return magic[0] === 0x50 && magic[1] === 0x4b ? `${fallback}.pth` : `${fallback}.safetensors`;
}

const isHandle = (s: unknown, kind: 'file' | 'directory') => typeof s === 'object' && s !== null && (s as FileSystemHandle).kind === kind && 'name' in s;

/** Sources a model holds, released with the model. */
export class Sources {
  private ids: string[] = [];

  /** A model folder: path, URL, FileSystemDirectoryHandle, a folder picker's files or a Map of their paths to them. */
  async folder(s: ModelSource, what: string): Promise<string> {
    if (typeof s === 'string') return this.plain(s);
    if (s instanceof URL) return this.plain(s.href);
    if (isHandle(s, 'directory')) return this.add(directoryMount(s as FileSystemDirectoryHandle));
    if (s instanceof Map || typeof (s as Iterable<File>)[Symbol.iterator] === 'function') return this.add(filesMount(s as Iterable<File>));
    throw new Error(`${what}: expected a folder path, URL, FileSystemDirectoryHandle, or a picked folder's files (or a Map of their paths to them)`);
  }

  /** One file: path, URL, File/Blob or FileSystemFileHandle. */
  async file(s: ModelSource, what: string): Promise<string> {
    if (typeof s === 'string') return this.plain(s);
    if (s instanceof URL) return this.plain(s.href);
    let blob: () => Promise<Blob>;
    let name: string;
    if (typeof Blob !== 'undefined' && s instanceof Blob) {
      name = await blobName(s, what);
      blob = async () => s;
    } else if (isHandle(s, 'file')) {
      const h = s as FileSystemFileHandle;
      name = h.name;
      blob = () => h.getFile();
    } else {
      throw new Error(`${what}: expected a file path, URL, File/Blob or FileSystemFileHandle`);
    }
    return `${this.add(fileMount(name, blob))}/${name}`;
  }

  release(): void {
    for (const id of this.ids) mounts.delete(id);
    this.ids = [];
  }

  private plain(path: string): string {
    installed();
    return path;
  }

  private add(m: Mount): string {
    const root = mount(m);
    this.ids.push(root.slice(PREFIX.length));
    return root;
  }
}
