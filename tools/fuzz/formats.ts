// Every input format the engine parses, as the fuzzer sees it: a valid sample, how to damage
// it, and the engine's own entry point that reads it from files. A case writes its files into a
// fresh folder and runs the entry point there; what counts as a refusal is decided in case.ts.
import { loadSharp } from '../sharp.ts';
import { parseMMDiTConfig } from '../../src/model/mmdit-config.ts';
import { PromptCache, writePromptCache } from '../../src/model/prompt-cache.ts';
import { chooseAnnotation, samplePointsInMask } from '../../src/model/sa1b.ts';
import { parseSchedulerConfig } from '../../src/model/scheduler.ts';
import { parsePoints } from '../../src/model/tasks.ts';
import { ClipTokenizer } from '../../src/model/tokenizer-clip.ts';
import { T5Tokenizer } from '../../src/model/tokenizer-t5.ts';
import { checkConfig as checkVaeConfig } from '../../src/model/vae.ts';
import { openModelFolder } from '../../src/runtime/model-folder.ts';
import { Rng } from '../../src/runtime/random.ts';
import { openWeights, readF32, readJson, readRaw, type WeightReader } from '../../src/runtime/weights.ts';
import { tinyT5TokenizerJson } from './t5-tokenizer-fixture.ts';
import { readEntries } from '../batch.ts';
import { readMask } from '../evaluate.ts';
import { readRgb } from '../image.ts';
import { DEMO_SPEC } from '../tiny-model.ts';
import { concat, f32Bytes, le, P, pk, pth, safetensors, statePickle, tensorOps, utf8, type PthTensor } from './build.ts';
import type { Mutator } from './mutator.ts';

export type Files = Record<string, Uint8Array | string>;

export interface Format {
  name: string;
  /** The damaged files of one case, relative to the case folder. */
  make(m: Mutator): Files;
  /** Reads them as the engine does; `at(name)` is a file's path. */
  run(at: (name: string) => string): Promise<unknown>;
}

const text = (b: Uint8Array | string) => (typeof b === 'string' ? b : new TextDecoder().decode(b));

/** Opens, then reads every tensor, so offsets a parse accepted are exercised too. */
async function readAll(open: Promise<WeightReader>): Promise<void> {
  const r = await open;
  try {
    for (const n of r.names()) {
      const e = r.entry(n);
      const bytes = await readRaw(e);
      if (bytes.length !== e.byteLength) throw new TypeError(`${n}: read ${bytes.length} bytes, entry says ${e.byteLength}`);
      if (e.dtype === 'F32' || e.dtype === 'F16' || e.dtype === 'BF16') await readF32(e);
    }
  } finally {
    await r.close?.();
  }
}

// ------------------------------------------------------------------ weights

const stBase = safetensors(
  {
    w: { dtype: 'F16', shape: [2, 3], data: new Uint8Array(12).fill(0x3c) },
    b: { dtype: 'F32', shape: [3], data: f32Bytes([1, 2, 3]) },
    ids: { dtype: 'I64', shape: [2], data: new Uint8Array(16) },
  },
  { metadata: { format: 'pt' } },
);
const stHeaderLen = Number(new DataView(stBase.buffer).getBigUint64(0, true));
const stHeader = text(stBase.subarray(8, 8 + stHeaderLen));
const withHeader = (h: string, data = stBase.subarray(8 + stHeaderLen)) => {
  const t = utf8(h);
  return Uint8Array.from([...le(8, t.length), ...t, ...data]);
};

const safetensorsFormat: Format = {
  name: 'safetensors',
  make: (m) => {
    const kind = m.int(4);
    if (kind === 0) return { 'x.safetensors': m.bytes(stBase) };
    if (kind === 1) return { 'x.safetensors': Uint8Array.from([...le(8, m.evil(stHeaderLen)), ...stBase.subarray(8)]) };
    if (kind === 2) {
      let k = 0;
      const target = m.int(20);
      return { 'x.safetensors': withHeader(stHeader.replace(/\d+/g, (d) => (k++ === target ? String(m.evil(Number(d))) : d))) };
    }
    return { 'x.safetensors': withHeader(m.json(JSON.parse(stHeader))) };
  },
  run: (at) => readAll(openWeights(at('x.safetensors'))),
};

const pthTensors: PthTensor[] = [
  { name: 'a.weight', storage: 'BFloat16Storage', key: '0', numel: 6, shape: [2, 3] },
  { name: 'a.bias', storage: 'BFloat16Storage', key: '0', numel: 6, offset: 4, shape: [2] },
  { name: 'p', storage: 'FloatStorage', key: '1', numel: 2, shape: [2], parameter: true },
];
const storages = { '0': new Uint8Array(12).fill(0x3f), '1': f32Bytes([1, 2]) };
const pkl = statePickle(pthTensors);
// A protocol-4 style pickle too, so FRAME/SHORT_BINUNICODE/STACK_GLOBAL/MEMOIZE get mutated.
const pkl4 = pk(P.proto(4), P.frame(0), P.dict, P.memoize, P.mark, P.shortStr('x'), P.memoize, ...tensorOps(pthTensors[2]), P.memoize, P.shortStr('y'), P.shortStr('collections'), P.shortStr('OrderedDict'), P.stackGlobal, P.tuple0, P.reduce, P.setitems, P.stop);
const archive = pth(pkl, storages);
const archive64 = pth(pkl, storages, { zip64: true });
const eocd = archive.length - 22;
const cdOffset = new DataView(archive.buffer).getUint32(eocd + 16, true);

const pthFormat: Format = {
  name: 'pth',
  make: (m) => {
    const kind = m.int(5);
    // The CRC is recomputed, so the pickle interpreter itself sees the damage.
    if (kind === 0) return { 'x.pth': pth(m.bytes(m.pick([pkl, pkl4])), storages) };
    if (kind === 1) return { 'x.pth': m.bytes(m.pick([archive, archive64])) };
    if (kind === 2) {
      const b = m.pick([archive, archive64]);
      // Central directory and end records, or a local header.
      return { 'x.pth': m.int(2) ? m.flip(b, cdOffset, b.length) : m.flip(b, 0, 64) };
    }
    if (kind === 3) return { 'x.pth': m.truncate(m.pick([archive, archive64])) };
    const b = archive.slice();
    const dv = new DataView(b.buffer);
    // EOCD count/size/offset, or a central entry's sizes/offset/name length.
    const at = m.pick([eocd + 10, eocd + 12, eocd + 16, cdOffset + 20, cdOffset + 24, cdOffset + 28, cdOffset + 42]);
    dv.setUint32(at, Number(BigInt(m.evil(dv.getUint32(at, true))) & 0xffffffffn), true);
    return { 'x.pth': b };
  },
  run: (at) => readAll(openWeights(at('x.pth'))),
};

const shardIndex = { metadata: { total_size: 40 }, weight_map: { w: 'a.safetensors', b: 'a.safetensors', ids: 'a.safetensors' } };

const shardsFormat: Format = {
  name: 'shard index',
  make: (m) => ({ 'x.safetensors.index.json': m.json(shardIndex), 'a.safetensors': m.int(4) ? stBase : m.bytes(stBase) }),
  run: (at) => readAll(openWeights(at('x.safetensors.index.json'))),
};

const dims = { seq: 3, width: 4, pooled: 2 };
const cacheBase = concat(writePromptCache(new Map([['[[image2depth]]', { embeds: new Float32Array(12).fill(0.5), pooled: Float32Array.of(1, 2) }]]), dims, 'f16', {}));

const promptCacheFormat: Format = {
  name: 'prompt cache',
  make: (m) => ({ 'p.safetensors': m.bytes(cacheBase) }),
  run: async (at) => {
    const c = await PromptCache.open(at('p.safetensors'));
    try {
      await c.get('[[image2depth]]');
    } finally {
      await c.close();
    }
  },
};

// ------------------------------------------------------------------ configs

const configs: { file: string; base: object; check: (raw: Record<string, unknown>, path: string) => unknown }[] = [
  { file: 'transformer.json', base: DEMO_SPEC.transformer, check: (raw, path) => parseMMDiTConfig(raw, path) },
  { file: 'vae.json', base: DEMO_SPEC.vae, check: (raw, path) => checkVaeConfig(path, raw as never) },
  { file: 'scheduler.json', base: { _class_name: 'FlowMatchEulerDiscreteScheduler', num_train_timesteps: 1000, shift: 3.0 }, check: (raw, path) => parseSchedulerConfig(raw, path) },
];
const modelIndex = {
  _class_name: 'StableDiffusion3Pipeline',
  transformer: ['diffusers', 'SD3Transformer2DModel'],
  vae: ['diffusers', 'AutoencoderKL'],
  scheduler: ['diffusers', 'FlowMatchEulerDiscreteScheduler'],
};

const configFormat: Format = {
  name: 'config.json',
  make: (m) => {
    const c = m.int(configs.length + 1);
    if (c === configs.length) {
      return { 'model/model_index.json': m.json(modelIndex), 'model/scheduler/scheduler_config.json': '{}', 'model/transformer/config.json': '{}', 'model/transformer/diffusion_pytorch_model.safetensors': stBase };
    }
    return { [configs[c].file]: m.json(configs[c].base) };
  },
  run: async (at) => {
    for (const c of configs) {
      const path = at(c.file);
      if (await exists(path)) return c.check(await readJson(path), path);
    }
    return openModelFolder(at('model'), { weights: ['transformer'], config: ['scheduler'], folder: [] });
  },
};

async function exists(path: string): Promise<boolean> {
  const { platform } = await import('../../src/runtime/platform.ts');
  return platform().exists(path);
}

// ------------------------------------------------------------------ tokenizers

const letters = 'abcdefghijklmnopqrstuvwxyz';
const clipVocab: Record<string, number> = {};
for (const c of letters) clipVocab[c] = Object.keys(clipVocab).length;
for (const c of letters) clipVocab[`${c}</w>`] = Object.keys(clipVocab).length;
for (const t of ['th', 'the</w>', 'de', 'dep', 'depth</w>', '<|startoftext|>', '<|endoftext|>']) clipVocab[t] = Object.keys(clipVocab).length;
const clipMerges = '#version: 0.2\nt h\nth e</w>\nd e\nde p\ndep th</w>\n';
const clipConfig = { bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>', pad_token: '<|endoftext|>', model_max_length: 77 };
const SAMPLE_TEXTS = ['[[image2depth]] the depth', 'a  photo of   the CAT!!', 'café 東京 😀', ''];

const clipFormat: Format = {
  name: 'tokenizer (CLIP vocab/merges)',
  make: (m) => {
    const files: Files = { 'tok/vocab.json': JSON.stringify(clipVocab), 'tok/merges.txt': clipMerges, 'tok/tokenizer_config.json': JSON.stringify(clipConfig) };
    const which = m.int(3);
    if (which === 0) files['tok/vocab.json'] = m.json(clipVocab);
    else if (which === 1) files['tok/merges.txt'] = m.int(2) ? m.text(clipMerges) : m.bytes(utf8(clipMerges));
    else files['tok/tokenizer_config.json'] = m.json(clipConfig);
    return files;
  },
  run: async (at) => {
    const t = await ClipTokenizer.load(at('tok'));
    for (const s of SAMPLE_TEXTS) t.encode(s);
  },
};

const t5Json = tinyT5TokenizerJson();

const t5Format: Format = {
  name: 'tokenizer.json (T5)',
  make: (m) => ({ 'tok/tokenizer.json': m.json(t5Json) }),
  run: async (at) => {
    const t = await T5Tokenizer.load(at('tok'));
    for (const s of SAMPLE_TEXTS) t.encode(s);
  },
};

// ------------------------------------------------------------------ batch list, annotations, points

const batchList = [
  { input: 'a.png', caption: '[[image2depth]]' },
  { input: 'b.jpg', caption: '[[image2segmentation]]', target: { path: 'b.json' } },
];

const batchFormat: Format = {
  name: 'batch JSON',
  make: (m) => ({ 'list.json': m.int(5) ? m.json(batchList) : batchList.map((e) => m.json(e)).join('\n') }),
  run: (at) => readEntries(at('list.json')),
};

const sa1b = {
  image: { image_id: 1, width: 6, height: 4, file_name: 'a.jpg' },
  annotations: [
    { id: 1, segmentation: { size: [4, 6], counts: '52;0' }, area: 6, bbox: [1, 1, 3, 2] },
    { id: 2, segmentation: { size: [4, 6], counts: [5, 3, 1, 3, 12] }, area: 6 },
  ],
};
const coco = [{ segmentation: [[0.5, 0.5, 5, 0.5, 5, 3.5, 0.5, 3.5]], category_id: 1, prompt: 'person' }];

const annotationFormat: Format = {
  name: 'SA-1B/COCO annotation',
  make: (m) => ({ 'gt.json': m.json(m.pick<unknown>([sa1b, coco, sa1b.annotations[0].segmentation])), pick: String(m.int(3)) }),
  run: async (at) => {
    const { readFile } = await import('node:fs/promises');
    const k = Number(await readFile(at('pick'), 'utf8'));
    // evaluate's reader (prediction size 4x6, recorded annotation k), then batch's point sampling.
    const { mask } = await readMask(at('gt.json'), { mask: { height: 4, width: 6, data: new Uint8Array(24) }, target: { annotation: k } as never });
    samplePointsInMask(mask, new Rng(k), 16);
    const doc = JSON.parse(await readFile(at('gt.json'), 'utf8'));
    chooseAnnotation(doc?.annotations ?? doc, new Rng(k), 'gt.json');
  },
};

const pointsFormat: Format = {
  name: '--points',
  make: (m) => ({ points: m.pick([(s: string) => m.text(s), (s: string) => m.text(m.text(s))])('0.5,0.25;0.75,0.125') }),
  run: async (at) => {
    const { readFile } = await import('node:fs/promises');
    return parsePoints(await readFile(at('points'), 'utf8'));
  },
};

// ------------------------------------------------------------------ images

let images: { png: Uint8Array; jpg: Uint8Array } | undefined;

/** Small valid PNG and JPEG files to damage (made once per worker). */
export async function prepareImages(): Promise<void> {
  const raw = Uint8Array.from({ length: 8 * 6 * 3 }, (_, i) => (i * 37) & 255);
  const sharp = await loadSharp();
  const img = () => sharp(raw, { raw: { width: 8, height: 6, channels: 3 } });
  images = { png: new Uint8Array(await img().png().toBuffer()), jpg: new Uint8Array(await img().jpeg().toBuffer()) };
}

const imageFormat: Format = {
  name: 'image (PNG/JPEG)',
  make: (m) => {
    const png = m.int(2) === 0;
    const b = png ? images!.png : images!.jpg;
    // Headers mostly (IHDR / SOF sizes), sometimes anywhere.
    const damaged = m.int(3) ? m.bytes(b, 0, Math.min(b.length, 40)) : m.bytes(b);
    return { [png ? 'x.png' : 'x.jpg']: damaged };
  },
  run: async (at) => {
    const { existsSync } = await import('node:fs');
    return readRgb(existsSync(at('x.png')) ? at('x.png') : at('x.jpg'), '--image');
  },
};

export const FORMATS: readonly Format[] = [
  safetensorsFormat,
  pthFormat,
  shardsFormat,
  promptCacheFormat,
  configFormat,
  clipFormat,
  t5Format,
  batchFormat,
  annotationFormat,
  pointsFormat,
  imageFormat,
];
