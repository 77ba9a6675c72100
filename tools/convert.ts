// `diception convert <in.pth> <out.safetensors>`: rewrites a checkpoint as safetensors, so the
// browser (and anyone else) can load it without a pickle reader. Tensors are copied one chunk
// at a time (memory stays constant whatever the file size), names and dtypes are kept (BF16
// stays BF16), and the output appears atomically: written to a temp file, checked, renamed.
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { nodePlatform } from '../src/runtime/node.ts';
import { SafetensorsFile } from '../src/runtime/safetensors.ts';
import { openWeights, type WeightReader } from '../src/runtime/weights.ts';

/** Bytes copied per read: bounds memory for tensors of any size (T5's embedding is 263 MB). */
const CHUNK = 16 * 2 ** 20;

function safetensorsHeader(r: WeightReader, metadata: Record<string, string>): { header: Uint8Array; dataBytes: number } {
  const h: Record<string, unknown> = { __metadata__: metadata };
  let off = 0;
  for (const name of r.names()) {
    const e = r.entry(name);
    h[name] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + e.byteLength] };
    off += e.byteLength;
  }
  let json = JSON.stringify(h);
  // Pad with spaces so the data section starts 8-byte aligned (the format's convention).
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const text = new TextEncoder().encode(json);
  const header = new Uint8Array(8 + text.length);
  new DataView(header.buffer).setBigUint64(0, BigInt(text.length), true);
  header.set(text, 8);
  return { header, dataBytes: off };
}

/** Writes every tensor of `r` to `out` as safetensors; no file at `out` unless it all worked. */
export async function writeSafetensors(r: WeightReader, out: string, metadata: Record<string, string> = { format: 'pt' }): Promise<{ tensors: number; bytes: number }> {
  const { header, dataBytes } = safetensorsHeader(r, metadata);
  const tmp = join(dirname(out), `.${basename(out)}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx');
  try {
    await fh.write(header, 0, header.length, 0);
    let pos = header.length;
    for (const name of r.names()) {
      const e = r.entry(name);
      for (let done = 0; done < e.byteLength; ) {
        const n = Math.min(CHUNK, e.byteLength - done);
        const bytes = await e.source.read(e.offset + done, n);
        await fh.write(bytes, 0, n, pos);
        pos += n;
        done += n;
      }
    }
    await fh.sync();
    await fh.close();
    // Re-validate what was written before it takes the real name.
    const check = await nodePlatform.open(tmp);
    try {
      const st = await SafetensorsFile.open(check);
      if (st.entries.size !== r.names().length) throw new Error(`${out}: wrote ${st.entries.size} tensors, expected ${r.names().length}`);
    } finally {
      await check.close?.();
    }
    await rename(tmp, out);
    return { tensors: r.names().length, bytes: header.length + dataBytes };
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
}

export async function convert(input: string, output: string): Promise<void> {
  if (!output.endsWith('.safetensors')) throw new Error(`${output}: the output name must end in .safetensors`);
  const r = await openWeights(input);
  const { tensors, bytes } = await writeSafetensors(r, output, { format: 'pt', converted_from: basename(input) });
  console.log(`${output}: ${tensors} tensors, ${(bytes / 2 ** 20).toFixed(1)} MiB`);
}
