// deploy/: every manifest parses (YAML, shell syntax, Dockerfile instructions) and every
// command line in it is one the CLI accepts (options and required values, checked by commander).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { registerBatch } from '../../tools/batch.ts';
import { registerBatchMerge } from '../../tools/batch-merge.ts';
import { registerInfer } from '../../tools/infer.ts';
import { addKernelFlags } from '../../tools/kernel-flags.ts';
import { registerServe } from '../../tools/serve-api/command.ts';
import { resolveShard } from '../../tools/shard.ts';
import { fakePipeline } from './fake-pipeline.ts';

const DEPLOY = join(import.meta.dirname, '..', '..', 'deploy');
const read = (f: string) => readFileSync(join(DEPLOY, f), 'utf8');

/** Parses `argv` as the CLI would, without running the command; returns its name and options. */
async function accepted(argv: string[]): Promise<{ command: string; options: Record<string, unknown> }> {
  const program = addKernelFlags(new Command().exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} }));
  const fake = fakePipeline().factory;
  registerInfer(program, fake);
  registerBatch(program, fake);
  registerBatchMerge(program);
  registerServe(program, fake);
  let seen: { command: string; options: Record<string, unknown> } | undefined;
  for (const cmd of program.commands) cmd.exitOverride().action((o) => void (seen = { command: cmd.name(), options: o }));
  await program.parseAsync(argv, { from: 'user' });
  if (!seen) throw new Error(`no command in ${argv.join(' ')}`);
  return seen;
}

function yamlDocs(file: string): any[] {
  return parseAllDocuments(read(file)).map((d) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
    return d.toJS();
  });
}

describe('deploy/', () => {
  it('accepts only real command lines (the checker itself refuses a bad one)', async () => {
    await expect(accepted(['serve', '--no-such-flag'])).rejects.toThrow(/unknown option/);
    await expect(accepted(['batch', '--shard', 'auto'])).rejects.toThrow(/required option '--input_path/);
  });

  it('Dockerfile: node:20-bookworm, Vulkan loader and NVIDIA ICD, a CLI command as its default', async () => {
    const text = read('Dockerfile');
    expect(text).toMatch(/^FROM node:20-bookworm$/m);
    expect(text).toMatch(/libvulkan1/);
    expect(text).toMatch(/\/etc\/vulkan\/icd\.d\/nvidia_icd\.json/);
    const entry = JSON.parse(/^ENTRYPOINT (.*)$/m.exec(text)![1]);
    expect(entry).toEqual(['node', '/app/tools/bin.js']);
    const cmd = JSON.parse(/^CMD (.*)$/m.exec(text)![1]);
    expect(await accepted(cmd)).toMatchObject({ command: 'serve', options: { host: '0.0.0.0', port: '8000' } });
    for (const line of text.split('\n')) if (line && !line.startsWith('#') && !line.startsWith(' ')) expect(line).toMatch(/^(FROM|RUN|ENV|WORKDIR|COPY|USER|EXPOSE|ENTRYPOINT|CMD) /);
  });

  it('Kubernetes serve: Deployment + Service, probes on /healthz, container args the CLI accepts', async () => {
    const [deployment, service] = yamlDocs('k8s/serve.yaml');
    expect([deployment.kind, service.kind]).toEqual(['Deployment', 'Service']);
    const c = deployment.spec.template.spec.containers[0];
    for (const probe of ['readinessProbe', 'livenessProbe']) expect(c[probe].httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(service.spec.selector).toEqual(deployment.spec.template.metadata.labels);
    const { command, options } = await accepted(c.args);
    expect(command).toBe('serve');
    expect(Number(options.port)).toBe(c.ports[0].containerPort);
  });

  it('Kubernetes Indexed Job: batch --shard auto, DICEPTION_SHARDS = completions', async () => {
    const [job] = yamlDocs('k8s/batch-indexed-job.yaml');
    expect([job.kind, job.spec.completionMode]).toEqual(['Job', 'Indexed']);
    const c = job.spec.template.spec.containers[0];
    const shards = c.env.find((e: { name: string }) => e.name === 'DICEPTION_SHARDS').value;
    expect(Number(shards)).toBe(job.spec.completions);
    expect(await accepted(c.args)).toMatchObject({ command: 'batch', options: { shard: 'auto' } });
    expect(resolveShard('auto', shards, { JOB_COMPLETION_INDEX: String(job.spec.completions - 1) })).toMatchObject({ k: 7, n: 8 });
  });

  it('Slurm: bash syntax, an array, and a batch --shard auto line the CLI accepts', async () => {
    const path = join(DEPLOY, 'slurm', 'batch-array.sbatch');
    execFileSync('bash', ['-n', path]);
    const text = read('slurm/batch-array.sbatch');
    const array = /^#SBATCH --array=(\d+)-(\d+)$/m.exec(text)!;
    expect(Number(array[2]) - Number(array[1]) + 1).toBe(8);
    const line = /^npx diception ((?:.*\\\n)*.*)$/m.exec(text)![1].replace(/\\\n/g, ' ');
    const argv = [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);
    expect(await accepted(argv)).toMatchObject({ command: 'batch', options: { shard: 'auto' } });
    expect(resolveShard('auto', undefined, { SLURM_ARRAY_TASK_ID: array[2], SLURM_ARRAY_TASK_MIN: array[1], SLURM_ARRAY_TASK_COUNT: '8' })).toMatchObject({ k: 7, n: 8 });
  });
});
