// Files a user picked with a folder picker, addressed by their relative paths (the library's
// model sources take this Map for an SD3 folder: see src/api/sources.ts).

/** The picked files of an `<input type=file webkitdirectory>` keyed by relative path. */
export function filesByPath(list: Iterable<File>): Map<string, File> {
  const m = new Map<string, File>();
  for (const f of list) m.set((f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name, f);
  return m;
}
