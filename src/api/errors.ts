// The errors the library API throws: one class per kind of problem, each with a stable `code`
// for programs and the same one-line message the CLI prints for people.
import { NonFiniteActivationsError } from '../model/finite-check.ts';
import { MemoryRefusal } from '../model/preflight.ts';

export type DiceptionErrorCode = 'INVALID_ARGUMENT' | 'MODEL_FILES' | 'IMAGE' | 'NO_WEBGPU' | 'GPU' | 'NON_FINITE' | 'ABORTED' | 'DISPOSED';

/** Every error the API throws: `code` says what kind, `message` is one line naming the file, option or stage. */
export class DiceptionError extends Error {
  constructor(
    readonly code: DiceptionErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An option out of range or misspelt: task, points, steps, guidance, seed, precision, weights. */
export class InvalidArgumentError extends DiceptionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_ARGUMENT', message, options);
  }
}

/** A model file missing, unreadable, truncated or not what was expected (the message names it). */
export class ModelFilesError extends DiceptionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MODEL_FILES', message, options);
  }
}

/** An image that cannot be read or decoded. */
export class ImageDecodeError extends DiceptionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('IMAGE', message, options);
  }
}

/** No WebGPU, or no adapter. */
export class WebGPUUnavailableError extends DiceptionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NO_WEBGPU', message, options);
  }
}

/** The GPU ran out of memory, was lost, or reported an error; or the model does not fit this adapter. */
export class GpuError extends DiceptionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('GPU', message, options);
  }
}

/**
 * A stage's output held NaN or Inf (or overflowed f16): the message names the stage (and the
 * denoising step) and suggests f32 precision; `stage` and `step` say the same for programs.
 */
export class NonFiniteError extends DiceptionError {
  constructor(
    message: string,
    readonly stage: 'encode' | 'denoise' | 'decode',
    /** 1-based, for the denoise stage. */
    readonly step: number | undefined,
    options?: { cause?: unknown },
  ) {
    super('NON_FINITE', message, options);
  }
}

/** predict() was stopped through its AbortSignal; its GPU memory has been freed. */
export class AbortError extends DiceptionError {
  constructor(message = 'predict was aborted', options?: { cause?: unknown }) {
    super('ABORTED', message, options);
  }
}

/** The model was used after dispose(). */
export class DisposedError extends DiceptionError {
  constructor() {
    super('DISPOSED', 'this DICEPTION model has been disposed; load it again with loadDiception');
  }
}

type ErrorClass = new (message: string, options?: { cause?: unknown }) => DiceptionError;

const GPU_PROBLEM = /GPU device lost|out of GPU memory|GPU validation error|maxBufferSize|is too small for the model/;

/** `e` as a DiceptionError: GPU and adapter problems by their message, anything else as `fallback`. */
export function asDiceptionError(e: unknown, fallback: ErrorClass): DiceptionError {
  if (e instanceof DiceptionError) return e;
  if (e instanceof NonFiniteActivationsError) return new NonFiniteError(e.message, e.stage, e.step, { cause: e });
  if (e instanceof MemoryRefusal) return new GpuError(e.message, { cause: e });
  const message = e instanceof Error ? e.message : String(e);
  if (/^No WebGPU/.test(message)) return new WebGPUUnavailableError(message, { cause: e });
  if (GPU_PROBLEM.test(message)) return new GpuError(message, { cause: e });
  return new fallback(message, { cause: e });
}
