// `diception gpu-report`: the steps tools/gpu-pack/run.sh drives, one process each, all
// writing into one gpu-report.json:
//   gpu-report plan [--quick]                 the sections in order, "name seconds" per line
//   gpu-report start --report F [--pack DIR]  a new report (pack and host information)
//   gpu-report SECTION --report F ...         run one section (sections.ts)
//   gpu-report SECTION --report F --ended RC  after the section's process: records a crash or
//                                             a kill at its time limit if it never finished
//                                             (RC 'skipped': not started, budget spent)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, hostname, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { firstLine, putSection, readReport, writeReport, type SectionRecord } from './report-file.ts';
import { SECTIONS } from './sections.ts';

export interface GpuReportOptions {
  report?: string;
  quick?: boolean;
  pack?: string;
  fixtures?: string;
  torchScript?: string;
  seconds?: string;
  ended?: string;
}

function need<T>(v: T | undefined, flag: string): T {
  if (v === undefined) throw new Error(`gpu-report: ${flag} is required`);
  return v;
}

function nvidiaSmi(): string | undefined {
  const r = spawnSync('nvidia-smi', ['--query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.sm', '--format=csv'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function start(file: string, o: GpuReportOptions): void {
  const info = o.pack && join(o.pack, 'pack-info.json');
  writeReport(file, {
    quick: Boolean(o.quick),
    started: new Date().toISOString(),
    pack: info && existsSync(info) ? JSON.parse(readFileSync(info, 'utf8')) : undefined,
    host: {
      hostname: hostname(),
      cpus: cpus().length,
      memory_gib: Math.round(totalmem() / 2 ** 30),
      loadavg: loadavg(),
      node: process.version,
      node_path: process.execPath,
      nvidia_smi: nvidiaSmi(),
      env: Object.fromEntries(['LD_LIBRARY_PATH', 'VK_DRIVER_FILES', 'VK_ICD_FILENAMES'].map((k) => [k, process.env[k]])),
    },
    sections: {},
  });
}

/**
 * After a section's process ended with `rc`: a section still 'running' crashed or was killed.
 * `rc` 'skipped': run.sh did not start it (time budget spent).
 */
function ended(file: string, name: string, rc: string): void {
  if (rc === 'skipped') return putSection(file, name, { status: 'skipped', error: 'not run: the time budget was spent' });
  const s = readReport(file).sections[name];
  if (s && s.status !== 'running') return;
  const timedOut = rc === '124' || rc === '137';
  putSection(file, name, { status: timedOut ? 'timeout' : 'error', error: timedOut ? 'killed at its time limit (partial data kept)' : `the process exited with status ${rc} before finishing` });
}

async function runSection(file: string, name: string, o: GpuReportOptions): Promise<void> {
  const t0 = performance.now();
  const seconds = () => Math.round((performance.now() - t0) / 100) / 10;
  const section = SECTIONS[name];
  putSection(file, name, { status: 'running', started: new Date().toISOString() });
  try {
    const data = await section.run({
      quick: Boolean(o.quick),
      report: readReport(file),
      fixtures: need(o.fixtures, '--fixtures'),
      torchScript: need(o.torchScript, '--torch-script'),
      seconds: Number(o.seconds ?? (o.quick ? section.quickSeconds : section.seconds)),
      save: (d) => putSection(file, name, { ...d, seconds: seconds() }),
      log: (line) => console.log(`[${name}] ${line}`),
    });
    putSection(file, name, { status: 'ok', ...data, seconds: seconds() } as SectionRecord);
  } catch (e) {
    console.log(`[${name}] error: ${firstLine(e)}`);
    if (process.env.DICEPTION_DEBUG) console.error(e);
    putSection(file, name, { status: 'error', error: firstLine(e), seconds: seconds() });
  }
}

export async function gpuReport(step: string, o: GpuReportOptions): Promise<void> {
  if (step === 'plan') {
    for (const [name, s] of Object.entries(SECTIONS)) console.log(`${name} ${o.quick ? s.quickSeconds : s.seconds}`);
    return;
  }
  const file = need(o.report, '--report');
  if (step === 'start') return start(file, o);
  if (!SECTIONS[step]) throw new Error(`gpu-report: unknown step '${step}' (plan, start, ${Object.keys(SECTIONS).join(', ')})`);
  if (o.ended !== undefined) return ended(file, step, o.ended);
  await runSection(file, step, o);
  // Dawn can keep the event loop alive after the work is done; the section is written.
  process.exit(0);
}
