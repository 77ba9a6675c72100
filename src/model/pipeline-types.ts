// The contract between the user-facing commands (tools/infer.ts, tools/batch.ts, the browser
// page) and the DICEPTION pipeline (text encoders → VAE encode → MMDiT denoising → VAE decode).
// The commands own decoding, resizing, point prompts, post-processing and files; the pipeline
// owns everything between the [-1,1] input tensor and the [0,1] output image.
import type { KeptF32 } from '../runtime/weights.ts';
import type { Q8Summary, WeightFormat } from './q8-weights.ts';
import type { RequestShape } from './preflight.ts';

export type Precision = 'f16' | 'f32';

/** The reference README's recommended sampling: 28 steps, guidance 2. */
export const DEFAULT_STEPS = 28;
export const DEFAULT_GUIDANCE = 2;

/** Side length of the square images the model works at. */
export const MODEL_SIZE = 768;

/** Progress callback: `stage` is a short name ('load', 'text', 'encode', 'denoise', 'decode'). */
export type ProgressFn = (stage: string, done: number, total: number) => void;

export interface PipelineOptions {
  /** SD3-medium diffusers folder (--pretrained_model_path / --sd3). */
  pretrainedModelPath: string;
  /** DICEPTION_v1 checkpoint (--diception_path). */
  diceptionPath: string;
  precision: Precision;
  /** The VAE's activations: 'auto' (default) follows vae/config.json force_upcast (f32 when it fits). */
  vaePrecision?: 'auto' | 'f16' | 'f32';
  /** 'q8': the transformer's block linears in 8 bits (default 'f16': as published). */
  weights?: WeightFormat;
  /** A prompt-embedding cache file (--prompt-cache): prompts it holds skip the text encoders. */
  promptCache?: string;
  /** GPU memory a request may use, in bytes (--max-gpu-memory); default: see preflight.ts memoryBudget. */
  maxGpuMemory?: number;
  onProgress?: ProgressFn;
}

export interface PipelineRequest {
  /** [B, 3, 768, 768] NCHW in [-1, 1]. */
  images: Float32Array;
  batch: number;
  /** B task prompts, e.g. "[[image2depth]]" (see tasks.ts). */
  prompts: string[];
  /** [B, 5, 2] point coordinates in [0,1], as the model's slots hold them (see tasks.ts, sa1b.ts). */
  points: Float32Array;
  /** [B, 5]: 1 where a slot holds a point, 0 for an empty slot. */
  pointLabels: Float32Array;
  steps: number;
  guidance: number;
  /**
   * One seed per sample: sample b's initial latent (and VAE sampling noise) comes from its own
   * generator seeded with seeds[b], so a sample's result does not depend on its batch, shard or
   * whether earlier samples were skipped on resume.
   */
  seeds: number[];
  onProgress?: ProgressFn;
  /** Stops the run between stages and after each denoising step, freeing its GPU memory. */
  signal?: AbortSignal;
}

export interface StageTiming {
  stage: string;
  ms: number;
  /** Most GPU memory the buffer pool held during the stage. */
  peakBytes?: number;
}

export interface PipelineResult {
  /** [B, 3, 768, 768] in [0, 1] (the VAE decode's (x/2 + 0.5).clamp(0, 1)). */
  image01: Float32Array;
  timings: StageTiming[];
  /** The VAE's activation dtype and why (force_upcast, flags, adapter). */
  vaePrecision?: { act: 'f16' | 'f32'; reason: string };
  /** Largest finite |value| of the checked stage outputs (encoded latent, step latents, decoded image). */
  activationMaxAbs?: { encode: number; denoise: number; decode: number };
  /** Weights an f16 load kept in f32 because f16 cannot hold their values (absent when none). */
  f32Weights?: KeptF32[];
  /** What the transformer holds in 8 bits (absent when nothing is). */
  q8Weights?: Q8Summary;
}

export interface Pipeline {
  run(request: PipelineRequest): Promise<PipelineResult>;
  /** Throws a MemoryRefusal when a request of this shape cannot fit the adapter (run() checks it first too). */
  preflight?(request: RequestShape): void;
  /** Frees GPU memory; the commands call it once when done (also after an error). */
  dispose(): void | Promise<void>;
}

/** Loads the models once; the commands then call run() per batch. */
export type PipelineFactory = (options: PipelineOptions) => Promise<Pipeline>;
