// `diception embed-prompts --sd3 <dir> --out prompts.safetensors`: runs SD3's three text
// encoders once over every DICEPTION task prompt (each COCO class for semantic segmentation)
// and the empty negative prompt, and writes a prompt cache; `infer --prompt-cache` then never
// loads the 5.5 GB of text encoders for those prompts.
import { open, rename } from 'node:fs/promises';
import { getDevice } from '../src/runtime/device.ts';
import { embedPrompts } from '../src/model/prompt.ts';
import { writePromptCache } from '../src/model/prompt-cache.ts';
import { allPrompts } from '../src/model/tasks.ts';

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
