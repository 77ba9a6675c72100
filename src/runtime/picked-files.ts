// A browser platform over files the user picked (a folder picker's File objects, addressed by
// their relative paths): model files are read with Blob.slice, one tensor at a time. Paths not
// among the picked files fall back to URLs (the page's own assets, or a model base URL).
import { platform as defaultPlatform, type Platform } from './platform.ts';
import { BlobSource, HttpRangeSource } from './source.ts';

export function pickedFilesPlatform(files: ReadonlyMap<string, Blob>): Platform {
  const gpu = defaultPlatform().gpu;
  const norm = (p: string) => p.replace(/\\/g, '/').replace(/\/+/g, '/').replace(/^\.\//, '').replace(/\/$/, '');
  return {
    name: 'browser (picked files)',
    gpu,
    async open(path) {
      const f = files.get(norm(path));
      if (f) return new BlobSource(path, f);
      if (/^(https?:|blob:|\/)/.test(path)) return HttpRangeSource.open(path);
      throw new Error(`${path}: not among the picked files (pick the whole SD3 folder, including ${path.split('/').slice(1).join('/') || path})`);
    },
    join: (...parts) => norm(parts.join('/')),
    async exists(path) {
      const p = norm(path);
      if (files.has(p)) return true;
      // A folder exists when a picked file lies inside it.
      for (const k of files.keys()) if (k.startsWith(p + '/')) return true;
      return false;
    },
  };
}

/** The picked files of an `<input type=file webkitdirectory>` keyed by relative path. */
export function filesByPath(list: Iterable<File>): Map<string, File> {
  const m = new Map<string, File>();
  for (const f of list) m.set((f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name, f);
  return m;
}
