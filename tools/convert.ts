// `diception convert <in.pth> <out.safetensors>`: rewrites a checkpoint as safetensors, so the
// browser (and anyone else) can load it without a pickle reader. Tensors are copied one chunk
// at a time (memory stays constant whatever the file size), names and dtypes are kept (BF16
// stays BF16), and the output appears atomically: written to a temp file, checked, renamed.
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { nodePlatform } from '../src/runtime/node.ts';
import { SafetensorsFile } from '../src/runtime/safetensors.ts';
import { safetensorsHeader } from '../src/runtime/safetensors-write.ts';
import { openWeights, type WeightReader } from '../src/runtime/weights.ts';

/** Bytes copied per read: bounds memory for tensors of any size (T5's embedding is 263 MB). */
const CHUNK = 16 * 2 ** 20;

/** Writes every tensor of `r` to `out` as safetensors; no file at `out` unless it all worked. */
export async function writeSafetensors(r: WeightReader, out: string, metadata: Record<string, string> = { format: 'pt' }): Promise<{ tensors: number; bytes: number }> {
  const specs = r.names().map((n) => r.entry(n));
  const header = safetensorsHeader(specs, metadata);
  const dataBytes = specs.reduce((a, e) => a + e.byteLength, 0);
  const tmp = join(dirname(out), `.${basename(out)}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx');
  try {
    await fh.write(header, 0, header.length, 0);
    let pos = header.length;
    for (const e of specs) {
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

export async function convert(input: string, output: string): Promise<void> {
  if (!output.endsWith('.safetensors')) throw new Error(`${output}: the output name must end in .safetensors`);
  const r = await openWeights(input);
  try {
    const { tensors, bytes } = await writeSafetensors(r, output, { format: 'pt', converted_from: basename(input) });
    console.log(`${output}: ${tensors} tensors, ${(bytes / 2 ** 20).toFixed(1)} MiB`);
  } finally {
    await r.close?.();
  }
}
