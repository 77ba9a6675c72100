// The page's kernel lab: pick a family and shapes, edit or paste WGSL, compare it with the
// built-in variants (the same bench/compare.ts as `diception bench --compare`), and optionally
// use it for the page's inference runs. main.ts mounts it with one import.
import { compare, comparableFamilies, DEFAULT_ROUNDS, defaultVariant, formatCompare, type Candidate, type CompareRow } from '../bench/compare.ts';
import { roofline } from '../bench/roofline.ts';
import { kernelFamilies, setKernelOverride, variantsOf } from '../src/kernels/registry.ts';
import { getDevice } from '../src/runtime/device.ts';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...kids: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...kids);
  return e;
}

const labelled = (text: string, input: HTMLElement) => el('label', {}, `${text} `, input);

export function mountKernelLab(root: HTMLElement): void {
  const families = comparableFamilies();
  const family = el('select', {}, ...families.map((f) => el('option', { value: f.family }, f.family)));
  const shapes = el('input', { value: 'smoke', title: 'a shape set or explicit shapes, comma-separated' });
  const sets = el('span', { className: 'hint' });
  const dtype = el('select', {}, el('option', {}, 'f32'), el('option', {}, 'f16'));
  const runs = el('input', { type: 'number', value: String(DEFAULT_ROUNDS), min: '0', max: '1000', title: 'interleaved timing rounds; 0: check results only; else at least 6' });
  const budget = el('input', { type: 'number', min: '0', step: 'any', placeholder: 'off', title: 'seconds of timing in all: rounds go on until spent (instead of the rounds count)' });
  const control = el('input', { type: 'checkbox', title: 'add a copy of the first candidate: if it is not judged the same, the run is too noisy to conclude' });
  const builtins = el('div', { className: 'row' });
  const variant = el('select');
  const source = el('textarea', { rows: 16, spellcheck: false });
  source.style.cssText = 'width: 100%; font: 12px/1.3 monospace;';
  const run = el('button', { type: 'button' }, 'Compare');
  const use = el('button', { type: 'button', title: 'run the page inference with this WGSL' }, 'Use my WGSL for inference');
  const restore = el('button', { type: 'button' }, 'Restore built-in');
  const status = el('p', { className: 'status' });
  const table = el('pre');
  table.style.cssText = 'overflow-x: auto; font-size: 12px;';

  const FILE = 'kernel-lab.wgsl';
  const current = () => families.find((f) => f.family === family.value)!;
  const mine = () => ({ source: source.value, file: FILE });

  async function showFamily(): Promise<void> {
    const f = current();
    const gpu = await getDevice();
    // A family without registered variants runs only its built-in code (no override).
    const registered = kernelFamilies().includes(f.family);
    const names = registered ? variantsOf(f.family).filter((v) => v.supports(gpu.caps)).map((v) => v.name) : ['built-in'];
    use.disabled = !registered;
    builtins.replaceChildren('Built-in variants: ', ...names.map((n) => el('label', {}, el('input', { type: 'checkbox', value: n, checked: n === defaultVariant(gpu, f.family) }), ` ${n}`)));
    variant.replaceChildren(...names.map((n) => el('option', { value: n, selected: n === defaultVariant(gpu, f.family) }, n)));
    sets.textContent = `sets: ${f.sets.join(', ')}, or ${f.shapeForm},...`;
    source.value = f.source;
    if (!gpu.caps.f16) dtype.value = 'f32';
    dtype.disabled = !gpu.caps.f16;
  }

  run.onclick = async () => {
    run.disabled = true;
    status.className = 'status';
    status.textContent = 'Running…';
    const rows: CompareRow[] = [];
    try {
      const gpu = await getDevice();
      const picked = [...builtins.querySelectorAll<HTMLInputElement>('input:checked')].map((c) => c.value);
      const registered = kernelFamilies().includes(family.value);
      const chosen: Candidate[] = picked.map((n) => (registered ? { label: n, variant: n } : { label: n }));
      const candidates = registered ? [...chosen, { label: `${FILE}@${variant.value}`, variant: variant.value, override: mine() }] : chosen;
      const onRow = (r: CompareRow) => {
        rows.push(r);
        table.textContent = formatCompare(rows);
      };
      const timed = Number(runs.value) > 0;
      if (timed) status.textContent = 'Measuring this adapter\'s roofline (once)…';
      const peak = timed ? await roofline(gpu) : undefined;
      status.textContent = 'Running…';
      const budgetS = Number(budget.value) > 0 ? Number(budget.value) : undefined;
      await compare(gpu, family.value, candidates, { shapes: shapes.value.trim(), dtype: dtype.value as 'f32' | 'f16', runs: Number(runs.value), budgetS, control: control.checked, peak, onRow });
      const failed = rows.filter((r) => !r.pass).length;
      const noisy = rows.some((r) => r.too_noisy);
      status.textContent = `${failed ? `${failed} of ${rows.length} FAIL` : `all ${rows.length} PASS`}${noisy ? '; too noisy to conclude (see below)' : ''}`;
      if (failed || noisy) status.className = 'status error';
    } catch (e) {
      status.className = 'status error';
      status.textContent = (e as Error).message;
    } finally {
      run.disabled = false;
    }
  };
  use.onclick = async () => {
    setKernelOverride(family.value, mine(), await getDevice());
    status.className = 'status';
    status.textContent = `Inference now runs ${family.value} from ${FILE} (compare it first: a broken file fails the run with its compiler message).`;
  };
  restore.onclick = async () => {
    setKernelOverride(family.value, undefined, await getDevice());
    source.value = current().source;
    status.className = 'status';
    status.textContent = `${family.value}: built-in WGSL restored.`;
  };
  family.onchange = () => void showFamily();

  root.replaceChildren(
    el('h2', {}, 'Kernel lab'),
    el('p', { className: 'hint' }, 'Edit a kernel family\'s WGSL (bindings contract: shaders/README.md) and compare it with the built-in variants on the same inputs: timed in interleaved rounds, median and IQR, time relative to the first candidate with a 95% confidence interval and a verdict (faster, slower, or same within noise), and error against the CPU reference.'),
    el('div', { className: 'row' }, labelled('Family', family), labelled('Shapes', shapes), sets, labelled('Inputs', dtype)),
    el('div', { className: 'row' }, labelled('Rounds', runs), labelled('or budget (s)', budget), labelled('Control copy', control)),
    builtins,
    el('div', { className: 'row' }, labelled('Your WGSL runs as variant', variant)),
    source,
    el('div', { className: 'row' }, run, use, restore),
    status,
    table,
  );
  showFamily().catch((e: Error) => {
    status.className = 'status error';
    status.textContent = `Kernel lab unavailable: ${e.message}`;
  });
}

const section = typeof document !== 'undefined' ? document.getElementById('kernel-lab') : null;
if (section) mountKernelLab(section);
