// Precomputed prompt embeddings (`diception embed-prompts`): one safetensors file holding, for
// each prompt text, `embeds:<text>` [seq, width] and `pooled:<text>` [pooledDim]. With a cache
// the pipeline skips the 5.5 GB of text encoders for every prompt it holds.
import { f32ArrayToF16 } from '../runtime/f16.ts';
import { platform } from '../runtime/platform.ts';
import { SafetensorsFile } from '../runtime/safetensors.ts';
import { safetensorsHeader, type TensorSpec } from '../runtime/safetensors-write.ts';
import type { ByteSource } from '../runtime/source.ts';
import type { DType } from '../runtime/tensor.ts';
import { readF32 } from '../runtime/weights.ts';

export const PROMPT_CACHE_FORMAT = 'diception-prompt-cache/1';

/** One prompt's embeddings on the CPU: embeds is [seq, width] row-major. */
export interface PromptEmbedding {
  embeds: Float32Array;
  pooled: Float32Array;
}

export interface PromptDims {
  /** 77 CLIP tokens + the T5 length (256 in SD3). */
  seq: number;
  /** T5's d_model (4096). */
  width: number;
  /** CLIP-L + CLIP-G projection dims (2048). */
  pooled: number;
}

const embedsName = (prompt: string) => `embeds:${prompt}`;
const pooledName = (prompt: string) => `pooled:${prompt}`;

/** The cache file as byte chunks (write them in order). `dtype` is the storage precision. */
export function writePromptCache(
  entries: ReadonlyMap<string, PromptEmbedding>,
  dims: PromptDims,
  dtype: DType,
  info: Record<string, string> = {},
): Uint8Array[] {
  const specs: TensorSpec[] = [];
  const data: Uint8Array[] = [];
  const st = dtype === 'f32' ? 'F32' : 'F16';
  const add = (name: string, shape: number[], v: Float32Array) => {
    const typed = dtype === 'f32' ? v : f32ArrayToF16(v);
    specs.push({ name, dtype: st, shape });
    data.push(new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength));
  };
  for (const [prompt, e] of entries) {
    if (e.embeds.length !== dims.seq * dims.width || e.pooled.length !== dims.pooled) {
      throw new Error(`writePromptCache: prompt ${JSON.stringify(prompt)} has ${e.embeds.length}+${e.pooled.length} values, expected ${dims.seq}×${dims.width}+${dims.pooled}`);
    }
    add(embedsName(prompt), [dims.seq, dims.width], e.embeds);
    add(pooledName(prompt), [dims.pooled], e.pooled);
  }
  const metadata = { ...info, format: PROMPT_CACHE_FORMAT, seq: String(dims.seq), width: String(dims.width), pooled: String(dims.pooled), dtype };
  return [safetensorsHeader(specs, metadata), ...data];
}

export class PromptCache {
  private constructor(
    private readonly file: SafetensorsFile,
    readonly dims: PromptDims,
    readonly dtype: DType,
  ) {}

  /** A file path (Node) or URL (browser). */
  static async open(path: string): Promise<PromptCache> {
    const src = await platform().open(path);
    return PromptCache.fromSource(src).catch(async (e) => {
      await src.close?.();
      throw e;
    });
  }

  /** Any byte source: a browser File (BlobSource), bytes in memory (MemorySource). */
  static async fromSource(src: ByteSource): Promise<PromptCache> {
    const file = await SafetensorsFile.open(src);
    const m = file.metadata;
    if (m.format !== PROMPT_CACHE_FORMAT) {
      throw new Error(`${src.name}: not a prompt cache (metadata format ${JSON.stringify(m.format)}, expected '${PROMPT_CACHE_FORMAT}'); make one with 'diception embed-prompts'`);
    }
    const dims = { seq: Number(m.seq), width: Number(m.width), pooled: Number(m.pooled) };
    for (const name of file.entries.keys()) {
      const e = file.entries.get(name)!;
      const want = name.startsWith('embeds:') ? [dims.seq, dims.width] : name.startsWith('pooled:') ? [dims.pooled] : undefined;
      if (!want || e.shape.length !== want.length || e.shape.some((d, i) => d !== want[i])) {
        throw new Error(`${src.name}: prompt cache entry '${name}' has shape [${e.shape}], expected embeds:<prompt> [${dims.seq},${dims.width}] or pooled:<prompt> [${dims.pooled}]`);
      }
    }
    return new PromptCache(file, dims, m.dtype === 'f32' ? 'f32' : 'f16');
  }

  get name(): string {
    return this.file.source.name;
  }

  async close(): Promise<void> {
    await this.file.source.close?.();
  }

  prompts(): string[] {
    return [...this.file.entries.keys()].filter((n) => n.startsWith('embeds:')).map((n) => n.slice('embeds:'.length));
  }

  has(prompt: string): boolean {
    return this.file.entries.has(embedsName(prompt)) && this.file.entries.has(pooledName(prompt));
  }

  /** The prompt's embeddings, or undefined when the cache lacks it. */
  async get(prompt: string): Promise<PromptEmbedding | undefined> {
    if (!this.has(prompt)) return undefined;
    const [embeds, pooled] = await Promise.all([
      readF32(this.file.entries.get(embedsName(prompt))!),
      readF32(this.file.entries.get(pooledName(prompt))!),
    ]);
    return { embeds, pooled };
  }
}

