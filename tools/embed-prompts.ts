// `diception embed-prompts --sd3 <dir> --out prompts.safetensors`: runs SD3's three text
// encoders once over every DICEPTION task prompt (each COCO class for semantic segmentation)
// and the empty negative prompt, and writes a prompt cache; `infer --prompt-cache` then never
// loads the text encoders for those prompts (it prints how many bytes of weights that spares).
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { getDevice } from '../src/runtime/device.ts';
import { embedPrompts } from '../src/model/prompt.ts';
import { writePromptCache } from '../src/model/prompt-cache.ts';
import { allPrompts } from '../src/model/tasks.ts';
import { componentWeights } from '../src/runtime/model-folder.ts';
import { openWeights } from '../src/runtime/weights.ts';

const ENCODERS = ['text_encoder', 'text_encoder_2', 'text_encoder_3'];

/** Bytes of each text encoder's tensors, summed from the safetensors headers (no tensor is read). */
export async function textEncoderBytes(sd3: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const name of ENCODERS) {
    const r = await openWeights(await componentWeights(join(sd3, name)));
    out[name] = r.names().reduce((sum, n) => sum + r.entry(n).byteLength, 0);
    await r.close?.();
  }
  return out;
}

export interface EmbedPromptsOptions {
  sd3: string;
  out: string;
  precision?: string;
  /** Extra prompts beyond the task prompts. */
  prompt?: string[];
}

export async function embedPromptsCommand(o: EmbedPromptsOptions): Promise<void> {
  const precision = o.precision ?? 'f16';
  if (precision !== 'f32' && precision !== 'f16') throw new Error(`--precision must be f32 or f16, got '${precision}'`);
  const prompts = [...new Set([...allPrompts(), ...(o.prompt ?? [])])];
  const sizes = await textEncoderBytes(o.sd3);
  const gb = (b: number) => (b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : `${(b / 1e6).toFixed(1)} MB`);
  const total = Object.values(sizes).reduce((a, b) => a + b, 0);
  console.log(`text encoders: ${ENCODERS.map((n) => `${n} ${gb(sizes[n])}`).join(' + ')} = ${gb(total)} of weights (from the safetensors headers), which infer --prompt-cache never loads`);
  const gpu = await getDevice();
  const t0 = performance.now();
  const embeds = await embedPrompts(gpu, o.sd3, prompts, precision, { log: (l) => console.log(l) });
  const first = embeds.values().next().value!;
  const seq = 77 + 256;
  const dims = { seq, width: first.embeds.length / seq, pooled: first.pooled.length };
  const chunks = writePromptCache(embeds, dims, precision, { sd3: o.sd3 });
  // Written beside the target and renamed, so an interrupted run leaves no half cache behind.
  const tmp = `${o.out}.partial`;
  const fh = await open(tmp, 'w');
  let bytes = 0;
  try {
    for (const c of chunks) bytes += (await fh.write(c)).bytesWritten;
  } finally {
    await fh.close();
  }
  await rename(tmp, o.out);
  console.log(`${o.out}: ${embeds.size} prompts (${dims.seq}×${dims.width} + ${dims.pooled}, ${precision}), ${(bytes / 2 ** 20).toFixed(1)} MiB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
