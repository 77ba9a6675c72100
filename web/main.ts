// The browser page: the same src/ as the CLI, bundled by esbuild (web/build.ts).
import type { PredictResult, TaskSpec } from '../src/index.ts';
import type { Precision } from '../src/model/pipeline-types.ts';
import type { WeightFormat } from '../src/model/q8-weights.ts';
import type { RgbImage } from '../src/model/preprocess.ts';
import { COCO_CLASSES, MAX_POINTS, parseTask, TASK_NAMES } from '../src/model/tasks.ts';
import { getDevice, type Gpu } from '../src/runtime/device.ts';
import { filesByPath } from '../src/runtime/picked-files.ts';
import { platform, setPlatform, type Platform } from '../src/runtime/platform.ts';
import { runPipelineGolden } from '../tools/conformance/pipeline-golden.ts';
import { canvasPng, decodeImage, drawSideBySide, drawWithPoints } from './canvas.ts';
import { mountKernelLab } from './kernel-lab.ts';
import { showMasks } from './masks-view.ts';
import type { RunReply, RunRequest } from './worker.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => $<HTMLInputElement>(id);
const select = (id: string) => $<HTMLSelectElement>(id);

const state: {
  gpu?: Gpu;
  image?: RgbImage;
  imageName?: string;
  /** Normalised (y, x) points, as the reference CLI's --points. */
  points: [number, number][];
  /** Loads and runs the model off the page's thread (web/worker.ts). */
  worker?: Worker;
  download?: string;
} = { points: [] };

/** The browser's own platform (URLs via HTTP Range), kept before a picked-files one replaces it. */
const urlPlatform: Platform | undefined = 'gpu' in navigator ? platform() : undefined;

/** Page state for users and the tests: idle | running | done | error. */
function setStatus(s: 'idle' | 'running' | 'done' | 'error', text: string): void {
  document.body.dataset.status = s;
  const m = $('message');
  m.textContent = text;
  m.classList.toggle('error', s === 'error');
}

async function initAdapter(): Promise<void> {
  const el = $('adapter');
  const fail = (text: string) => {
    el.textContent = text;
    el.classList.add('error');
    document.body.dataset.adapter = 'missing';
  };
  if (!urlPlatform) {
    return fail(
      'WebGPU is not available in this browser, so the model cannot run here. Use a recent Chrome or Edge (or Firefox/Safari with WebGPU enabled), and open the page over https or from localhost.',
    );
  }
  try {
    state.gpu = await getDevice();
  } catch (e) {
    return fail(`WebGPU is present but gave no usable adapter: ${(e as Error).message}. Check that hardware acceleration is on (chrome://gpu).`);
  }
  const c = state.gpu.caps;
  const f16 = c.f16
    ? 'shader-f16 available: f16 precision runs in f16.'
    : 'no shader-f16 on this adapter: at f16 precision the weights stay f16 in memory and activations are computed in f32 (slower, same results within tolerance).';
  const name = c.architecture && !c.adapterName.includes(c.architecture) ? `${c.adapterName} ${c.architecture}` : c.adapterName;
  el.textContent = `Adapter: ${name}${c.isFallback ? ' (software fallback: expect it to be slow)' : ''}; largest buffer ${(c.maxBufferSize / 2 ** 20).toFixed(0)} MiB. ${f16}`;
  document.body.dataset.adapter = c.f16 ? 'f16' : 'f32-activations';
  $('run').removeAttribute('disabled');
}

function fillSelects(): void {
  const task = select('task');
  for (const t of TASK_NAMES) task.add(new Option(t, t));
  const cls = select('coco-class');
  for (const c of COCO_CLASSES) cls.add(new Option(c, c));
  const onTask = () => {
    $('class-label').hidden = task.value !== 'semantic';
    $('points-help').hidden = task.value !== 'segmentation';
    drawImage();
  };
  task.addEventListener('change', onTask);
  onTask();
  for (const r of document.querySelectorAll<HTMLInputElement>('input[name=source]')) r.addEventListener('change', showSource);
  prefillFromQuery();
  showSource();
  $('fast').addEventListener('click', () => {
    input('steps').value = '1';
    input('guidance').value = '1';
  });
}

/** `?sd3=…&diception=…&cache=…` (what `diception web --models` prints) pre-fills URL mode. */
function prefillFromQuery(): void {
  const q = new URLSearchParams(location.search);
  if (!q.has('sd3')) return;
  document.querySelector<HTMLInputElement>('input[name=source][value=url]')!.checked = true;
  input('sd3-url').value = q.get('sd3') ?? '';
  input('diception-url').value = q.get('diception') ?? '';
  input('cache-url').value = q.get('cache') ?? '';
}

function modelSource(): 'files' | 'url' {
  return document.querySelector<HTMLInputElement>('input[name=source]:checked')!.value as 'files' | 'url';
}

function showSource(): void {
  $('source-files').hidden = modelSource() !== 'files';
  $('source-url').hidden = modelSource() !== 'url';
}

/** Draws the image with its points, and lists the points with remove buttons. */
function drawImage(): void {
  const img = state.image;
  if (!img) return;
  const segmentation = select('task').value === 'segmentation';
  drawWithPoints($('image-canvas'), img, segmentation ? state.points : []);
  const list = $('points');
  list.replaceChildren();
  if (!segmentation) return;
  state.points.forEach(([y, x], i) => {
    const li = document.createElement('li');
    li.textContent = `point ${i + 1}: y ${y.toFixed(3)}, x ${x.toFixed(3)} `;
    const rm = document.createElement('button');
    rm.type = 'button';
    rm.textContent = 'remove';
    rm.onclick = () => {
      state.points.splice(i, 1);
      drawImage();
    };
    li.append(rm);
    list.append(li);
  });
}

function onCanvasClick(ev: MouseEvent): void {
  const img = state.image;
  if (!img || select('task').value !== 'segmentation') return;
  const canvas = ev.currentTarget as HTMLCanvasElement;
  // The image fills the content box (inside the border), possibly scaled.
  const rect = canvas.getBoundingClientRect();
  const [w, h] = [canvas.clientWidth, canvas.clientHeight];
  const y = Math.min(1, Math.max(0, (ev.clientY - rect.top - canvas.clientTop) / h));
  const x = Math.min(1, Math.max(0, (ev.clientX - rect.left - canvas.clientLeft) / w));
  // A click on (or next to) an existing dot removes it.
  const hit = state.points.findIndex(([py, px]) => Math.hypot((py - y) * h, (px - x) * w) < 10);
  if (hit >= 0) state.points.splice(hit, 1);
  else if (state.points.length < MAX_POINTS) state.points.push([y, x]);
  else setStatus('error', `At most ${MAX_POINTS} points: click a dot (or its remove button) to remove one first.`);
  drawImage();
}

/** Absolute URL (relative ones resolve against the page) without a trailing slash. */
const absUrl = (u: string) => new URL(u.trim(), location.href).href.replace(/\/$/, '');

/** The chosen model source as the library's load options, and a key that changes with the choice. */
function modelOptions(precision: Precision, weights: WeightFormat): { key: string; load: RunRequest['load'] } {
  if (modelSource() === 'url') {
    const sd3 = input('sd3-url').value.trim();
    const dice = input('diception-url').value.trim();
    if (!sd3 || !dice) throw new Error('Give the SD3 folder URL and the DICEPTION weights URL (or pick the files instead).');
    const cache = input('cache-url').value.trim();
    const load = { sd3: absUrl(sd3), checkpoint: absUrl(dice), promptCache: cache ? absUrl(cache) : undefined, precision, weights };
    return { key: JSON.stringify(load), load };
  }
  const dir = input('sd3-dir').files;
  const dice = input('diception-file').files?.[0];
  if (!dir?.length || !dice) throw new Error('Pick the SD3-medium folder and the DICEPTION weights file (or give URLs instead).');
  const cache = input('cache-file').files?.[0];
  // A Map of paths: a File sent to the Worker loses its webkitRelativePath.
  const load = { sd3: filesByPath(dir), checkpoint: dice, promptCache: cache, precision, weights };
  // Picked File objects identify a choice: a new pick (even of same-named files) reloads.
  return { key: ['files', precision, weights, dice.name, dice.lastModified, dice.size, dir.length, cache?.name, cache?.lastModified].join('|'), load };
}

/** One run in the Worker: progress as it comes, then the prediction (or the Worker's error). */
function runInWorker(request: RunRequest, onLoaded: () => void): Promise<PredictResult> {
  state.worker ??= new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  const worker = state.worker;
  return new Promise((resolve, reject) => {
    worker.onmessage = ({ data }: MessageEvent<RunReply>) => {
      if (data.kind === 'progress') progress(data.stage, data.done, data.total);
      else if (data.kind === 'loaded') onLoaded();
      else if (data.kind === 'done') resolve(data.result);
      else reject(new Error(data.message));
    };
    worker.onerror = (e) => reject(new Error(`the model worker failed: ${e.message}`));
    worker.postMessage(request);
  });
}

function progress(stage: string, done: number, total: number): void {
  const box = $('progress');
  let row = box.querySelector<HTMLDivElement>(`[data-stage="${CSS.escape(stage)}"]`);
  if (!row) {
    row = document.createElement('div');
    row.dataset.stage = stage;
    row.innerHTML = '<span class="stage"></span><progress></progress><span class="count"></span>';
    row.querySelector('.stage')!.textContent = stage;
    box.append(row);
  }
  const bar = row.querySelector('progress')!;
  bar.max = total;
  bar.value = done;
  row.querySelector('.count')!.textContent = `${done}/${total}`;
}

function readSettings() {
  const taskName = select('task').value;
  const spec = (taskName === 'semantic' ? `semantic:${select('coco-class').value}` : taskName) as TaskSpec;
  const task = parseTask(spec, 'task');
  const steps = Number(input('steps').value);
  const guidance = Number(input('guidance').value);
  const seed = Number(input('seed').value);
  if (!Number.isInteger(steps) || steps < 1 || steps > 1000) throw new Error('Steps must be a whole number from 1 to 1000.');
  if (!(guidance >= 1)) throw new Error('Guidance must be ≥ 1 (1 turns classifier-free guidance off).');
  if (!Number.isInteger(seed) || seed < 0) throw new Error('Seed must be a whole number ≥ 0.');
  return { spec, task, steps, guidance, seed, precision: select('precision').value as Precision, weights: select('weights').value as WeightFormat };
}

async function run(): Promise<void> {
  const img = state.image;
  if (!state.gpu) throw new Error('No WebGPU adapter: see the message at the top of the page.');
  if (!img) throw new Error('Pick an image first.');
  const s = readSettings();
  const { key, load } = modelOptions(s.precision, s.weights);
  $('progress').replaceChildren();
  setStatus('running', 'Loading the model (weights stream to the GPU one tensor at a time)…');
  const t0 = performance.now();
  const pred = await runInWorker(
    {
      key,
      load,
      image: img,
      predict: { task: s.spec, points: s.task.name === 'segmentation' ? state.points : [], steps: s.steps, guidance: s.guidance, seed: s.seed },
    },
    () => setStatus('running', `Running ${s.task.prompt}…`),
  );
  const panel = { data: pred.rgb, width: img.width, height: img.height };
  const canvas = $<HTMLCanvasElement>('result-canvas');
  drawSideBySide(canvas, img, panel);
  $('result-section').hidden = false;
  if (state.download) URL.revokeObjectURL(state.download);
  state.download = URL.createObjectURL(await canvasPng(canvas));
  const link = $<HTMLAnchorElement>('download');
  link.href = state.download;
  const name = `result_${(state.imageName ?? 'image').replace(/\.[^.]*$/, '')}`;
  link.download = `${name}_${s.task.name}.png`;
  await showMasks(pred.masks, img, name);
  $('timings').textContent = pred.timings
    .map((t) => `${t.stage} ${(t.ms / 1000).toFixed(2)} s${t.peakBytes ? ` (GPU peak ${(t.peakBytes / 2 ** 20).toFixed(0)} MiB)` : ''}`)
    .join(' · ');
  setStatus('done', `Done in ${((performance.now() - t0) / 1000).toFixed(1)} s.`);
}

/** GPU memory errors name the adapter, so "too small" is recognisable as such. */
function explain(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  if (/out of (GPU )?memory|OutOfMemory|device lost/i.test(msg) && state.gpu) {
    return `${msg} — the adapter (${state.gpu.caps.adapterName}) ran out of memory or was lost: close other GPU-heavy tabs, choose f16 precision, or use a GPU with more memory.`;
  }
  return msg;
}

fillSelects();
setStatus('idle', '');
input('image-file').addEventListener('change', async () => {
  const f = input('image-file').files?.[0];
  if (!f) return;
  try {
    state.image = await decodeImage(f);
    state.imageName = f.name;
    state.points = [];
    drawImage();
    setStatus('idle', `${f.name}: ${state.image.width}×${state.image.height}`);
  } catch (e) {
    setStatus('error', explain(e));
  }
});
$('image-canvas').addEventListener('click', onCanvasClick);
$('run').addEventListener('click', async () => {
  $('run').setAttribute('disabled', '');
  setStatus('running', 'Starting…');
  try {
    await run();
  } catch (e) {
    setStatus('error', explain(e));
  } finally {
    $('run').removeAttribute('disabled');
  }
});
await initAdapter();
if (state.gpu) mountKernelLab($('kernel-lab'));

/**
 * For the browser tests (test/browser/golden.test.ts): the fixture's pipeline golden run in this
 * page, on this adapter, with the model files fetched from `fixtureUrl`; plain arrays come back.
 */
async function pipelineGolden(fixtureUrl: string, precision: Precision, weights: WeightFormat = 'f16') {
  if (!state.gpu) throw new Error('no WebGPU adapter');
  setPlatform(urlPlatform!);
  const out = await runPipelineGolden(state.gpu, absUrl(fixtureUrl), precision, weights);
  return out.map((o) => ({ tensor: o.tensor, ours: Array.from(o.ours), expected: Array.from(o.expected) }));
}
Object.assign(globalThis, { diceptionPage: { pipelineGolden } });
