// What differs between Node and browsers, behind one small interface. The browser needs no
// set-up (navigator.gpu, fetch, Blob). In Node, importing `./node.ts` installs the Node
// platform; it is the only module in src/ that imports Node built-ins.
import type { ByteSource } from './source.ts';

export interface Platform {
  readonly name: string;
  /** The WebGPU entry point (navigator.gpu or Dawn's create() result). */
  gpu(): GPU;
  /** Opens a file path (Node) or URL for positional reads. */
  open(path: string): Promise<ByteSource>;
  /** Joins path segments the platform's way. */
  join(...parts: string[]): string;
  exists(path: string): Promise<boolean>;
  /** Small persistent text entries (autotune results); absent where nothing can persist. */
  store?: TextStore;
  /** The machine's RAM in bytes, where the platform tells (a CPU adapter's memory budget). */
  memoryBytes?(): number | undefined;
  /**
   * Waits for a GPU promise (queue done, buffer mapped, pipeline built) without busy-polling,
   * where the platform's WebGPU would poll (Node); absent: the promise is awaited as it is.
   */
  settle?<T>(pending: Promise<T>): Promise<T>;
}

export interface TextStore {
  /** Where entries live (shown to users), e.g. a folder or 'localStorage'. */
  readonly location: string;
  get(name: string): Promise<string | undefined>;
  set(name: string, text: string): Promise<void>;
}

/** localStorage where the page or worker has one (module workers do not). */
function localStore(): TextStore | undefined {
  const ls = (globalThis as { localStorage?: Storage }).localStorage;
  if (!ls) return undefined;
  return {
    location: 'localStorage',
    get: async (name) => ls.getItem(`diception:${name}`) ?? undefined,
    set: async (name, text) => ls.setItem(`diception:${name}`, text),
  };
}

let current: Platform | undefined;

export function setPlatform(p: Platform): void {
  current = p;
}

/** `pending` through the platform's `settle` (see Platform); Gpu.settle uses it on CPU adapters. */
export function settle<T>(pending: Promise<T>): Promise<T> {
  return current?.settle ? current.settle(pending) : pending;
}

export function platform(): Platform {
  if (current) return current;
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) {
    // Browser default: URLs through HTTP Range requests.
    current = {
      name: 'browser',
      gpu: () => nav.gpu as GPU,
      open: async (url) => (await import('./source.ts')).HttpRangeSource.open(url),
      join: (...parts) => parts.join('/').replace(/\/+/g, '/').replace(':/', '://'),
      // Static hosts give folders no URL of their own (404): a folder URL counts as present, and
      // a file missing inside it is reported by name when it is opened.
      exists: async (url) => (await fetch(url, { method: 'HEAD' })).ok || isFolderUrl(url),
      store: localStore(),
      // navigator.deviceMemory: GiB, rounded down and capped at 8 by browsers (Chromium-only).
      memoryBytes: () => ((nav as { deviceMemory?: number }).deviceMemory ?? 0) * 2 ** 30 || undefined,
    };
    return current;
  }
  throw new Error(
    'No WebGPU platform: in a browser navigator.gpu is missing (enable WebGPU), in Node import src/runtime/node.ts first',
  );
}

/** A URL whose last path segment has no extension (model folders: 'transformer', 'vae', ...). */
export function isFolderUrl(url: string): boolean {
  const path = url.replace(/[?#].*$/, '').replace(/\/$/, '');
  return !/\.[^/]*$/.test(path.slice(path.lastIndexOf('/') + 1));
}
