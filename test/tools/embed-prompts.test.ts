// `diception embed-prompts` end to end on the tiny models: a temp SD3 folder links the
// fixture's encoders and CLIP tokenizers and gets a small T5 tokenizer.json (the fixture has
// none); the cache holds every task prompt and "", equal to encoding them directly.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it, onTestFinished } from 'vitest';
import { setAutotune } from '../../src/kernels/registry.ts';
import { embedPrompts } from '../../src/model/prompt.ts';
import { PromptCache } from '../../src/model/prompt-cache.ts';
import { roundF16 } from '../../src/runtime/f16.ts';
import { allPrompts } from '../../src/model/tasks.ts';
import { embedPromptsCommand, textEncoderBytes } from '../../tools/embed-prompts.ts';
import { describeFixtures, device, TINY } from '../helpers.ts';
import { T5_TOKENIZER_CONFIG, tinyT5TokenizerJson } from '../../tools/fuzz/t5-tokenizer-fixture.ts';

setAutotune(false); // see test/model/text-goldens.ts

describeFixtures('embed-prompts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'embed-prompts-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists the 85 task prompts (80 COCO classes) and the empty negative prompt', () => {
    const p = allPrompts();
    expect(p.length).toBe(86);
    expect(new Set(p).size).toBe(86);
    expect(p).toContain('[[image2segmentation]]');
    expect(p).toContain('[[image2semantic]] dining table');
    expect(p).toContain('');
  });

  it('sums the text encoders\' tensor bytes from the headers: each file minus its 8 + header bytes', async () => {
    const dataBytes = (folder: string) =>
      readdirSync(join(TINY, folder))
        .filter((f) => f.endsWith('.safetensors'))
        .reduce((sum, f) => sum + statSync(join(TINY, folder, f)).size - 8 - Number(readFileSync(join(TINY, folder, f)).readBigUInt64LE(0)), 0);
    expect(await textEncoderBytes(TINY)).toEqual({ text_encoder: dataBytes('text_encoder'), text_encoder_2: dataBytes('text_encoder_2'), text_encoder_3: dataBytes('text_encoder_3') });
  });

  it('writes a cache whose embeddings equal the encoders\' (f16)', async () => {
    const sd3 = join(dir, 'sd3');
    mkdirSync(join(sd3, 'tokenizer_3'), { recursive: true });
    for (const f of ['text_encoder', 'text_encoder_2', 'text_encoder_3', 'tokenizer', 'tokenizer_2', 'transformer']) symlinkSync(join(TINY, f), join(sd3, f));
    writeFileSync(join(sd3, 'tokenizer_3', 'tokenizer.json'), JSON.stringify(tinyT5TokenizerJson()));
    writeFileSync(join(sd3, 'tokenizer_3', 'tokenizer_config.json'), JSON.stringify(T5_TOKENIZER_CONFIG));
    const out = join(dir, 'prompts.safetensors');
    await embedPromptsCommand({ sd3, out, precision: 'f16' });

    const cache = await PromptCache.open(out);
    onTestFinished(() => cache.close());
    expect(cache.dims).toEqual({ seq: 333, width: 64, pooled: 48 });
    expect(cache.prompts().sort()).toEqual(allPrompts().sort());
    const direct = await embedPrompts(await device(), sd3, ['[[image2depth]]', ''], 'f16');
    for (const [text, e] of direct) {
      const c = (await cache.get(text))!;
      expect(Array.from(c.embeds), JSON.stringify(text)).toEqual(Array.from(roundF16(e.embeds)));
      expect(Array.from(c.pooled)).toEqual(Array.from(roundF16(e.pooled)));
    }
  });
});
