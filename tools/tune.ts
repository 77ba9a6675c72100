// `diception tune`: autotunes every registered family at the model's shapes (bench/compare's
// shape sets) once, so that later runs on this adapter start with the choices cached
// (src/kernels/autotune-cache.ts). Each problem runs once through the family's public wrapper
// with autotuning on, which is where the wrapper asks the registry for a variant.
import { comparableFamilies, parseShapes } from '../bench/compare.ts';
import { FAMILIES } from '../bench/compare-families.ts';
import { AUTOTUNE_ENTRY, adapterKey } from '../src/kernels/autotune-cache.ts';
import '../src/kernels/families.ts';
import { kernelFamilies, setAutotune, tunedChoices } from '../src/kernels/registry.ts';
import { getDevice, type Gpu } from '../src/runtime/device.ts';
import { platform } from '../src/runtime/platform.ts';
import type { DType } from '../src/runtime/tensor.ts';
import { processStreams, type Streams } from './progress.ts';

export interface TuneFlags {
  shapes?: string;
  families?: string;
  dtype?: string;
  json?: boolean;
}

export async function tuneCommand(o: TuneFlags, io: Streams = processStreams, gpu?: Gpu): Promise<void> {
  gpu ??= await getDevice();
  const tunable = comparableFamilies().map((f) => f.family).filter((f) => kernelFamilies().includes(f));
  const families = o.families ? o.families.split(',').map((s) => s.trim()) : tunable;
  for (const f of families) {
    if (!tunable.includes(f)) throw new Error(`--families: '${f}' is not a registered family with a comparison (tunable: ${tunable.join(', ')})`);
  }
  const dtypes = (o.dtype ?? (gpu.caps.f16 ? 'f32,f16' : 'f32')).split(',').map((s) => s.trim()) as DType[];
  for (const d of dtypes) {
    if (d !== 'f32' && d !== 'f16') throw new Error(`--dtype: '${d}' is not f32 or f16`);
    if (d === 'f16' && !gpu.caps.f16) throw new Error('--dtype f16 needs shader-f16, which this adapter lacks');
  }
  const sets = (o.shapes ?? 'transformer,vae,text').split(',').map((s) => s.trim());
  const named = new Set(families.flatMap((f) => Object.keys(FAMILIES[f].sets)));
  for (const s of sets) if (!named.has(s)) throw new Error(`--shapes: '${s}' is not a shape set (${[...named].join(', ')})`);
  const before = tunedChoices(gpu);
  setAutotune(true, gpu); // also on CPU adapters: asking for it is the point of this command
  try {
    for (const family of families) {
      const known = FAMILIES[family].sets;
      for (const set of sets.filter((s) => known[s])) {
        for (const shape of parseShapes(family, set)) {
          for (const dtype of dtypes) {
            const problem = FAMILIES[family].problem(gpu, shape, dtype, 1);
            try {
              (await problem.run()).dispose();
              await gpu.sync(`tune ${family} ${shape.join('x')}`);
            } finally {
              problem.dispose();
            }
            if (!o.json) io.err(`tuned ${family} ${shape.join('x')} ${dtype}\n`);
          }
        }
      }
    }
  } finally {
    setAutotune(undefined, gpu);
  }
  const choices = tunedChoices(gpu);
  const store = platform().store;
  const summary = {
    adapter: adapterKey(gpu),
    cache: store ? `${store.location} (${AUTOTUNE_ENTRY})` : 'none (choices last for this process only)',
    choices,
    new: Object.keys(choices).filter((k) => !(k in before)),
  };
  if (o.json) {
    io.out(`${JSON.stringify(summary, null, 1)}\n`);
    return;
  }
  const width = Math.max(0, ...Object.keys(choices).map((k) => k.length));
  io.out([...Object.entries(choices).map(([k, v]) => `${k.padEnd(width)}  ${v}`), '', `adapter: ${summary.adapter}`, `cache: ${summary.cache}`].join('\n') + '\n');
}
