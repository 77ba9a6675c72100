// The GPU pack (tools/gpu-pack.sh) is built for real into a folder outside the repository and
// its run.sh --quick runs there on this machine's adapter: the report must come from the
// pack's own node, dawn.node and Vulkan loader, with every section present.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'gpu-pack-test-'));
const pack = join(tmp, 'pack');
const out = join(tmp, 'out');
const work = join(tmp, 'work');

function sh(cmd: string, args: string[], env: Record<string, string> = {}) {
  // No NODE_PATH or npm variables: nothing may point back into the repository.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(NODE_PATH|NODE_OPTIONS|npm_)/i.test(k)));
  const r = spawnSync(cmd, args, { cwd: tmp, env: { ...base, ...env }, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

interface Section {
  status: string;
  [k: string]: unknown;
}

describe('tools/gpu-pack.sh and run.sh --quick', () => {
  let report: { quick: boolean; host: { node_path: string }; pack: { bytes: Record<string, number> }; sections: Record<string, Section> };
  let packBytes: number;

  beforeAll(() => {
    sh('bash', [join(ROOT, 'tools', 'gpu-pack.sh'), pack]);
    packBytes = Number(sh('du', ['-sb', pack]).split('\t')[0]); // before run.sh unpacks into it
    sh(join(pack, 'run.sh'), ['--quick'], { OUT: out, GPU_PACK_WORK: work });
    report = JSON.parse(readFileSync(join(out, 'gpu-report.json'), 'utf8'));
  }, 900_000);

  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('fits in 60 MiB with every component', () => {
    expect(packBytes).toBeLessThanOrEqual(60 * 2 ** 20);
    const bytes = report.pack.bytes;
    for (const part of ['node.xz', 'dawn.node.xz', 'cli.mjs', 'fixtures', 'debs']) expect(bytes[part], part).toBeGreaterThan(0);
  });

  it("runs on the pack's own node, dawn.node and Vulkan loader, unpacked outside the repository", () => {
    expect(report.host.node_path).toBe(join(work, 'node'));
    const loaded = report.sections.adapter.loaded as { dawn: string[]; vulkan_loader: string[] };
    expect(loaded.dawn.length).toBeGreaterThan(0);
    expect(loaded.dawn.every((p) => p.startsWith(work))).toBe(true);
    expect(loaded.vulkan_loader.length).toBeGreaterThan(0);
    expect(loaded.vulkan_loader.every((p) => p.startsWith(work))).toBe(true);
  });

  it('writes every section of the report', () => {
    const s = report.sections;
    expect(report.quick).toBe(true);
    const statuses = (s.summary.statuses ?? {}) as Record<string, string>;
    for (const name of ['adapter', 'subgroup-matrix', 'conformance-f32', 'conformance-f16', 'matmul', 'mmdit-step-cfg', 'mmdit-step', 'attention', 'conv', 'vae']) {
      expect(`${name}: ${s[name]?.status} ${s[name]?.error ?? ''}`).toBe(`${name}: ok `);
      expect(statuses[name]).toBe('ok');
    }
    // No torch here: the section says why; with torch and CUDA it has rows.
    expect(['ok', 'skipped']).toContain(s.torch.status);
    expect(s.summary.status).toBe('ok');

    expect((s.adapter.roofline as { gflops: number }).gflops).toBeGreaterThan(0);
    // Lavapipe lists no subgroup-matrix shapes: --quick checks the kernel's stand-ins on a pretend one.
    expect(s['subgroup-matrix'].builtins).toBe(false);
    expect((s['subgroup-matrix'].rows as { ok: boolean }[]).map((r) => r.ok)).toEqual([true, true]);
    expect((s.adapter.roofline as { fma_ms: number }).fma_ms).toBeGreaterThan(0);
    expect((s.adapter.features as string[]).length).toBeGreaterThan(0);
    for (const p of ['f32', 'f16']) {
      const c = s[`conformance-${p}`];
      expect(c.failed).toBe(0);
      expect(c.passed).toBeGreaterThan(0);
    }
    for (const name of ['matmul', 'attention', 'conv']) {
      const rows = s[name].rows as { error?: string; ms_median: number; gflops: number; pct_of_peak: number }[];
      expect(rows.length).toBeGreaterThan(0);
      for (const r of rows) {
        expect(r.error).toBeUndefined();
        expect(r.ms_median).toBeGreaterThan(0);
        expect(r.gflops).toBeGreaterThan(0);
        expect(r.pct_of_peak).toBeGreaterThan(0);
      }
      expect(s[name].tuned).toBeTypeOf('object');
    }
    for (const [name, batch] of [['mmdit-step', 1], ['mmdit-step-cfg', 2]] as const) {
      expect(s[name].batch).toBe(batch);
      expect(s[name].finite).toBe(true);
      expect(s[name].ms).toBeGreaterThan(0);
    }
    expect(s.vae.decodeMs).toBeGreaterThan(0);
    expect(s.summary.comparison).toBeInstanceOf(Array);
  });
});
