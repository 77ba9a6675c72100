// `diception convert <in.pth> <out.safetensors>`: rewrites a checkpoint as safetensors, so the
// browser (and anyone else) can load it without a pickle reader. Tensors are copied one chunk
// at a time (memory stays constant whatever the file size), names and dtypes are kept (BF16
// stays BF16), and the output appears atomically: written to a temp file, checked, renamed.
// `--weights q8` replaces the transformer linears `--weights q8` would quantise at load by their
// int8 data and f16 scales (src/model/q8-weights.ts), one tensor in memory at a time.
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { nodePlatform } from '../src/runtime/node.ts';
import { SafetensorsFile } from '../src/runtime/safetensors.ts';
import { safetensorsHeader, type TensorSpec } from '../src/runtime/safetensors-write.ts';
import { q8Groups, q8Words, quantizeQ8, type Q8Packed } from '../src/runtime/q8.ts';
import { isQ8Linear, parseWeightFormat, Q8_GROUP, q8DataName, q8Metadata, q8ScalesName } from '../src/model/q8-weights.ts';
import { openWeights, readF32, type WeightReader } from '../src/runtime/weights.ts';
import type { TensorEntry } from '../src/runtime/safetensors.ts';

/** Bytes copied per read: bounds memory for tensors of any size (T5's embedding is 263 MB). */
const CHUNK = 16 * 2 ** 20;

/** A tensor to write: its header entry and its bytes, produced in pieces when it is written. */
export interface OutTensor extends TensorSpec {
  byteLength: number;
  chunks(): AsyncIterable<Uint8Array>;
}

/** A stored tensor copied as it is, a chunk at a time. */
function copied(e: TensorEntry): OutTensor {
  return {
    name: e.name, dtype: e.dtype, shape: e.shape, byteLength: e.byteLength,
    async *chunks() {
      for (let done = 0; done < e.byteLength; done += CHUNK) yield e.source.read(e.offset + done, Math.min(CHUNK, e.byteLength - done));
    },
  };
}

/**
 * A [N, K] weight as int8 data (I8 [N, 4·⌈K/4⌉], the packed u32 words' bytes) and f16 scales;
 * quantised when the data is written, the scales (written next) taken from the same pass.
 */
function quantised(e: TensorEntry, group: number): OutTensor[] {
  const [N, K] = e.shape;
  let q: Q8Packed | undefined;
  const once = async () => {
    q ??= quantizeQ8(await readF32(e), N, K, group, e.name);
    // The header already says F16: a weight beyond f16 scales (|w| > 8.3e6) cannot be written here.
    if (!(q.scales instanceof Uint16Array)) throw new Error(`${e.source.name}: '${e.name}' has values beyond the range f16 scales cover; convert without --weights q8 and load with --weights q8 instead`);
    return q;
  };
  const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  return [
    { name: q8DataName(e.name), dtype: 'I8', shape: [N, q8Words(K) * 4], byteLength: N * q8Words(K) * 4, chunks: async function* () { yield bytes((await once()).data); } },
    {
      name: q8ScalesName(e.name), dtype: 'F16', shape: [N, q8Groups(K, group)], byteLength: N * q8Groups(K, group) * 2,
      chunks: async function* () {
        yield bytes((await once()).scales);
        q = undefined;
      },
    },
  ];
}

/** Writes every tensor of `r` (or `specs`) to `out` as safetensors; no file at `out` unless it all worked. */
export async function writeSafetensors(
  r: WeightReader,
  out: string,
  metadata: Record<string, string> = { format: 'pt' },
  specs: OutTensor[] = r.names().map((n) => copied(r.entry(n))),
): Promise<{ tensors: number; bytes: number }> {
  const header = safetensorsHeader(specs, metadata);
  const dataBytes = specs.reduce((a, e) => a + e.byteLength, 0);
  const tmp = join(dirname(out), `.${basename(out)}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx');
  try {
    await fh.write(header, 0, header.length, 0);
    let pos = header.length;
    for (const e of specs) {
      for await (const bytes of e.chunks()) {
        await fh.write(bytes, 0, bytes.length, pos);
        pos += bytes.length;
      }
    }
    await fh.sync();
    await fh.close();
    // Re-validate what was written before it takes the real name.
    const check = await nodePlatform.open(tmp);
    try {
      const st = await SafetensorsFile.open(check);
      if (st.entries.size !== specs.length) throw new Error(`${out}: wrote ${st.entries.size} tensors, expected ${specs.length}`);
    } finally {
      await check.close?.();
    }
    await rename(tmp, out);
    return { tensors: specs.length, bytes: header.length + dataBytes };
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
}

/** A transformer linear's weight (with or without the .pth's `transformer.` prefix) that q8 stores in 8 bits. */
function q8Weight(name: string): boolean {
  const base = name.replace(/^transformer\./, '');
  return base.endsWith('.weight') && isQ8Linear(base.slice(0, -'.weight'.length));
}

export async function convert(input: string, output: string, o: { weights?: string } = {}): Promise<void> {
  if (!output.endsWith('.safetensors')) throw new Error(`${output}: the output name must end in .safetensors`);
  const q8 = parseWeightFormat(o.weights, '--weights') === 'q8';
  const r = await openWeights(input);
  try {
    const entries = r.names().map((n) => r.entry(n));
    const chosen = q8 ? entries.filter((e) => q8Weight(e.name)) : [];
    if (q8 && !chosen.length) throw new Error(`${input}: no transformer block linears to quantise (expected names like 'transformer_blocks.0.attn.to_q.weight')`);
    const tensors = entries.flatMap((e) => (chosen.includes(e) ? quantised(e, Q8_GROUP) : [copied(e)]));
    const metadata = { format: 'pt', converted_from: basename(input), ...(q8 && q8Metadata()) };
    const { tensors: count, bytes } = await writeSafetensors(r, output, metadata, tensors);
    console.log(`${output}: ${count} tensors${q8 ? ` (${chosen.length} weights in int8, group ${Q8_GROUP})` : ''}, ${(bytes / 2 ** 20).toFixed(1)} MiB`);
  } finally {
    await r.close?.();
  }
}
