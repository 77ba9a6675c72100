// The npm package as a user gets it: `npm pack`, installed into an empty folder outside the
// repository, then a plain .mjs using only the documented API runs depth and two-point
// segmentation on a small demo-layout model and writes PNGs; a TypeScript file type-checks
// against the shipped .d.ts with `strict`; the installed `diception` bin runs without tsx.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSmallModel } from '../api/small-model.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const npm = (args: string[], cwd: string) => execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8' });

const SCRIPT = `
import { writeFile } from 'node:fs/promises';
import { encodePng, loadDiception } from 'diception-webgpu';
const [dir, image] = process.argv.slice(2);
const model = await loadDiception({ sd3: dir, checkpoint: dir + '/diception.safetensors', promptCache: dir + '/prompts.safetensors' });
const depth = await model.predict(image, { task: 'depth', steps: 1, guidance: 1 });
await writeFile('depth.png', await encodePng(depth));
const seg = await model.predict(image, { task: 'segmentation', points: [[0.62, 0.3], [0.45, 0.7]], steps: 1, guidance: 1 });
await writeFile('segmentation.png', await encodePng(seg));
console.log(JSON.stringify({ size: [depth.width, depth.height], depth: depth.depth.length, seg: seg.values.length }));
await model.dispose();
`;

const CONSUMER = `
import { AbortError, DiceptionError, encodePng, loadDiception, type DiceptionModel, type PredictResult } from 'diception-webgpu';

export async function run(dir: string, image: string): Promise<Uint8Array> {
  const model: DiceptionModel = await loadDiception({ sd3: dir, checkpoint: new URL('file:///m/diception.pth'), precision: 'f16' });
  try {
    const r: PredictResult = await model.predict(image, { task: 'semantic:dining table', points: [[0.5, 0.5]], signal: AbortSignal.timeout(1000) });
    const depth: Float32Array | undefined = r.depth;
    console.log(r.width * r.height, depth?.length, r.values.length, r.timings[0].ms, model.memory().liveBytes);
    return await encodePng(r);
  } catch (e) {
    if (e instanceof AbortError || (e instanceof DiceptionError && e.code === 'GPU')) console.log(e.message);
    throw e;
  } finally {
    await model.dispose();
  }
}
`;

describe('npm package (packed, installed outside the repository)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'diception-pack-'));
  const app = join(tmp, 'app');
  beforeAll(() => {
    const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', tmp], repo));
    mkdirSync(app);
    npm(['init', '-y'], app);
    npm(['install', '--prefer-offline', join(tmp, packed.filename)], app);
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('ships the bundles, types and bin, and neither sources nor tests', () => {
    const pkg = JSON.parse(readFileSync(join(app, 'node_modules/diception-webgpu/package.json'), 'utf8'));
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['@huggingface/tokenizers', '@webgpu/types', 'sharp', 'webgpu']);
    const browser = readFileSync(join(app, 'node_modules/diception-webgpu/dist/index.js'), 'utf8');
    // Self-contained for a plain <script type="module">: no bare imports, no Node or CLI packages.
    expect(browser.match(/^import .* from ["'][^./][^"']*["']/m)).toBeNull();
    expect(browser).not.toMatch(/from ["'](sharp|webgpu|commander|cli-progress|node:[a-z/]+)["']/);
    const help = spawnSync(join(app, 'node_modules/.bin/diception'), ['--help'], { encoding: 'utf8' });
    expect(help.stdout).toMatch(/^Usage: diception/);
  });

  it('a plain .mjs runs depth and two-point segmentation and writes PNGs', async () => {
    const model = join(tmp, 'model');
    await writeSmallModel(model);
    writeFileSync(join(app, 'run.mjs'), SCRIPT);
    const out = execFileSync(process.execPath, ['run.mjs', model, join(repo, 'assets/sample.png')], { cwd: app, encoding: 'utf8' });
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({ size: [768, 512], depth: 768 * 512, seg: 3 * 768 * 512 });
    for (const f of ['depth.png', 'segmentation.png']) expect(readFileSync(join(app, f)).subarray(1, 4).toString()).toBe('PNG');
  });

  it('a strict TypeScript consumer type-checks against the shipped .d.ts, and a wrong task does not', () => {
    const tsc = (file: string) => {
      writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { strict: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', noEmit: true, types: [] },
        files: [file],
      }));
      return spawnSync(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', app], { encoding: 'utf8' });
    };
    writeFileSync(join(app, 'consumer.ts'), CONSUMER);
    const ok = tsc('consumer.ts');
    expect(ok.stdout + ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    writeFileSync(join(app, 'wrong.ts'), CONSUMER.replace("'semantic:dining table'", "'dpeth'"));
    expect(tsc('wrong.ts').stdout).toMatch(/'"dpeth"' is not assignable to type 'TaskSpec'/);
  });
});
