// SD3 prompt assembly beyond the goldens: a prompt cache gives the very same batch as the
// encoders, and a folder without T5 gets zeros there (as diffusers does without text_encoder_3).
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { setAutotune } from '../../src/kernels/registry.ts';
import { embedPrompts, encodePrompts } from '../../src/model/prompt.ts';
import { PromptCache, writePromptCache } from '../../src/model/prompt-cache.ts';
import type { Gpu } from '../../src/runtime/device.ts';
import { MemorySource } from '../../src/runtime/source.ts';
import { readF32 } from '../../src/runtime/weights.ts';
import { syntheticT5Tokenizer } from '../../tools/conformance/text_encoders.ts';
import { describeFixtures, device, relL2, TINY } from '../helpers.ts';
import { openForTest } from '../fixture-weights.ts';

setAutotune(false); // see test/model/text-goldens.ts

describeFixtures('encodePrompts (tiny)', () => {
  let gpu: Gpu;
  const tmp = mkdtempSync(join(tmpdir(), 'prompt-'));
  beforeAll(async () => {
    gpu = await device();
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  // f16 is the interesting case: the cache stores halves and the batch is uploaded as halves.
  it('f16: a batch half from the cache, half from the encoders, equals the encoders\' batch', async () => {
    const o = { tokenizers: { t5: syntheticT5Tokenizer(TINY) } };
    const cached = await embedPrompts(gpu, TINY, ['', '[[image2depth]]'], 'f16', o);
    const chunks = writePromptCache(cached, { seq: 333, width: 64, pooled: 48 }, 'f16');
    const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
    chunks.reduce((at, c) => (bytes.set(c, at), at + c.byteLength), 0);
    const cache = await PromptCache.fromSource(new MemorySource('cache', bytes));
    const batch = ['', '', '[[image2depth]]', '[[image2semantic]] dining table'];
    const logs: string[] = [];
    const a = await encodePrompts(gpu, TINY, batch, 'f16', undefined, o);
    const b = await encodePrompts(gpu, TINY, batch, 'f16', cache, { ...o, log: (l) => logs.push(l) });
    expect(b.promptEmbeds.shape).toEqual([4, 333, 64]);
    expect(b.pooled.shape).toEqual([4, 48]);
    expect(b.promptEmbeds.dtype).toBe('f16');
    expect(Array.from(await b.promptEmbeds.read())).toEqual(Array.from(await a.promptEmbeds.read()));
    expect(Array.from(await b.pooled.read())).toEqual(Array.from(await a.pooled.read()));
    expect(logs[0]).toMatch(/^1 prompt\(s\) not in cache/);
    for (const t of [a.promptEmbeds, a.pooled, b.promptEmbeds, b.pooled]) t.dispose();
  });

  it('f32: without text_encoder_3 the T5 rows are zeros of joint_attention_dim; the CLIP rows are the golden\'s', async () => {
    const sd3 = mkdtempSync(join(tmp, 'no-t5-'));
    for (const f of ['text_encoder', 'text_encoder_2', 'tokenizer', 'tokenizer_2', 'transformer']) symlinkSync(join(TINY, f), join(sd3, f));
    const e = await encodePrompts(gpu, sd3, ['[[image2depth]]', '[[image2semantic]] dining table'], 'f32');
    expect(e.promptEmbeds.shape).toEqual([2, 333, 64]);
    const ours = await e.promptEmbeds.read();
    const golden = await readF32((await openForTest(join(TINY, 'golden/text_encoders.safetensors'))).entry('prompt_embeds'));
    const rows = (v: Float32Array, b: number, from: number, to: number) => v.subarray((b * 333 + from) * 64, (b * 333 + to) * 64);
    for (let b = 0; b < 2; b++) {
      expect(rows(ours, b, 77, 333).every((x) => x === 0)).toBe(true);
      expect(relL2(rows(ours, b, 0, 77), rows(golden, b, 0, 77))).toBeLessThan(1e-4);
    }
    e.promptEmbeds.dispose();
    e.pooled.dispose();
  });
});
