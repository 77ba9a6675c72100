// Options shared by `infer` and `batch`: model paths, sampling settings, precision, output mode.
import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { DEFAULT_GUIDANCE, DEFAULT_STEPS, type PipelineOptions, type Precision } from '../src/model/pipeline-types.ts';
import type { VaePrecision } from '../src/model/precision.ts';
import { parseWeightFormat, type WeightFormat } from '../src/model/q8-weights.ts';

export interface RunSettings {
  modelPath: string;
  diceptionPath: string;
  steps: number;
  guidance: number;
  seed: number;
  precision: Precision;
  vaePrecision: VaePrecision;
  weights: WeightFormat;
  promptCache?: string;
  /** --max-gpu-memory in bytes. */
  maxGpuMemory?: number;
  saveNpy: boolean;
  quiet: boolean;
  json: boolean;
}

/** The reference README's fast setting ("barely quality loss"). */
export const FAST = { steps: 1, guidance: 1 };

export function addRunOptions(cmd: Command): Command {
  return cmd
    .option('--pretrained_model_path <dir>', 'SD3-medium diffusers folder')
    .option('--sd3 <dir>', 'alias of --pretrained_model_path')
    .option('--diception_path <file>', 'DICEPTION_v1 checkpoint')
    .option('--num_inference_steps <n>', `denoising steps (default ${DEFAULT_STEPS}; --fast: ${FAST.steps})`)
    .option('--guidance_scale <g>', `classifier-free guidance, 1 = off (default ${DEFAULT_GUIDANCE}; --fast: ${FAST.guidance})`)
    .option('--fast', `${FAST.steps} step, guidance ${FAST.guidance}`)
    .option('--seed <n>', 'random seed', '42')
    .option('--precision <p>', 'f16 or f32', 'f16')
    .option('--vae-precision <p>', "the VAE's activations under f16: auto (f32 where vae/config.json says force_upcast and it fits), f16 or f32", 'auto')
    .option('--weights <w>', "f16, or q8: the transformer's block linears in int8 (half its memory; a `convert --weights q8` checkpoint is always q8)", 'f16')
    .option('--prompt-cache <file>', 'prompt embeddings made by `diception embed-prompts` (prompts it holds skip the text encoders)')
    .option('--max-gpu-memory <GiB>', 'GPU memory a request may use; a batch estimated above it is refused before any work, naming the batch that fits (default: 75% of RAM on a CPU adapter; on a GPU, whose total WebGPU does not report, only the per-buffer limit)')
    .option('--save_npy', 'also write the float depth / normal map as .npy (float16, original size)')
    .option('--quiet', 'print nothing but errors')
    .option('--json', 'print a JSON summary on stdout instead of progress bars');
}

type RawOptions = Record<string, string | boolean | undefined>;

export function runSettings(o: RawOptions): RunSettings {
  if (o.sd3 && o.pretrained_model_path && o.sd3 !== o.pretrained_model_path) {
    throw new Error('--sd3 and --pretrained_model_path disagree; give one of them');
  }
  const modelPath = String(o.pretrained_model_path ?? o.sd3 ?? '');
  if (!modelPath) throw new Error('--pretrained_model_path (or --sd3) is required: the SD3-medium diffusers folder');
  requirePath(modelPath, '--pretrained_model_path', true);
  const diceptionPath = String(o.diception_path ?? '');
  if (!diceptionPath) throw new Error('--diception_path is required: the DICEPTION_v1 checkpoint');
  requirePath(diceptionPath, '--diception_path');
  if (o.fast && (o.num_inference_steps !== undefined || o.guidance_scale !== undefined)) {
    throw new Error('--fast sets --num_inference_steps and --guidance_scale; give either --fast or those two');
  }
  const steps = o.fast ? FAST.steps : integer(o.num_inference_steps ?? String(DEFAULT_STEPS), '--num_inference_steps', 1, 1000);
  const guidance = o.fast ? FAST.guidance : number(o.guidance_scale ?? String(DEFAULT_GUIDANCE), '--guidance_scale', 0, 100);
  const seed = integer(String(o.seed ?? '42'), '--seed', 0, 2 ** 32 - 1);
  const precision = String(o.precision ?? 'f16');
  if (precision !== 'f16' && precision !== 'f32') throw new Error(`--precision: '${precision}' is not f16 or f32`);
  const vaePrecision = String(o.vaePrecision ?? 'auto');
  if (vaePrecision !== 'auto' && vaePrecision !== 'f16' && vaePrecision !== 'f32') throw new Error(`--vae-precision: '${vaePrecision}' is not auto, f16 or f32`);
  const weights = parseWeightFormat(o.weights, '--weights');
  if (o.promptCache) requirePath(String(o.promptCache), '--prompt-cache', false);
  return {
    modelPath, diceptionPath, steps, guidance, seed, precision, vaePrecision, weights,
    promptCache: o.promptCache ? String(o.promptCache) : undefined,
    maxGpuMemory: o.maxGpuMemory === undefined ? undefined : Math.round(number(o.maxGpuMemory, '--max-gpu-memory', 2 ** -10, 2 ** 20) * 2 ** 30),
    saveNpy: Boolean(o.save_npy), quiet: Boolean(o.quiet), json: Boolean(o.json),
  };
}

export function pipelineOptions(s: RunSettings, onProgress: PipelineOptions['onProgress']): PipelineOptions {
  return { pretrainedModelPath: s.modelPath, diceptionPath: s.diceptionPath, precision: s.precision, vaePrecision: s.vaePrecision, weights: s.weights, promptCache: s.promptCache, maxGpuMemory: s.maxGpuMemory, onProgress };
}

export function integer(text: string | boolean, flag: string, min: number, max: number): number {
  const v = Number(text);
  if (typeof text !== 'string' || !/^\s*\d+\s*$/.test(text) || v < min || v > max) {
    throw new Error(`${flag}: '${text}' is not a whole number in [${min}, ${max}]`);
  }
  return v;
}

export function number(text: string | boolean, flag: string, min: number, max: number): number {
  const v = Number(text);
  if (typeof text !== 'string' || text.trim() === '' || !Number.isFinite(v) || v < min || v > max) {
    throw new Error(`${flag}: '${text}' is not a number in [${min}, ${max}]`);
  }
  return v;
}

function requirePath(path: string, flag: string, dir?: boolean): void {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    throw new Error(`${flag}: ${path} does not exist`);
  }
  if (dir !== undefined && dir !== isDir) throw new Error(`${flag}: ${path} is ${isDir ? 'a folder' : 'a file'}, expected ${dir ? 'a folder' : 'a file'}`);
}
