// gpu-report.json: one object that every section process of tools/gpu-pack/run.sh reads,
// updates and writes back (write-then-rename), so whatever finished survives a later crash or
// a section killed at its time limit.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

export type Status = 'running' | 'ok' | 'error' | 'timeout' | 'skipped';

export interface SectionRecord {
  status: Status;
  seconds?: number;
  error?: string;
  [key: string]: unknown;
}

export interface Report {
  quick: boolean;
  started: string;
  pack?: Record<string, unknown>;
  host?: Record<string, unknown>;
  sections: Record<string, SectionRecord>;
  [key: string]: unknown;
}

export function readReport(file: string): Report {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new Error(`gpu-report: ${file} does not exist (run.sh starts it with 'gpu-report start')`);
  }
  const r = JSON.parse(text) as Report;
  if (!r.sections) throw new Error(`gpu-report: ${file} has no "sections" object`);
  return r;
}

export function writeReport(file: string, r: Report): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(r, null, 1) + '\n');
  renameSync(tmp, file);
}

/** Merges `data` into the section's record (creating it) and writes the file at once. */
export function putSection(file: string, name: string, data: Partial<SectionRecord>): void {
  const r = readReport(file);
  r.sections[name] = { ...(r.sections[name] ?? { status: 'running' }), ...data } as SectionRecord;
  writeReport(file, r);
}

export function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0];
}
