// A /v1/predict request's fields (query string or multipart form) → validated settings, with
// the command line's one-line messages for bad values; and the response bodies per format.
import { encodeNpyF16, INFER_STYLE, npyPayload, toPrediction } from '../../src/model/postprocess.ts';
import { emptyPoints, parsePoints, parseTask, type PointPrompt, type Task } from '../../src/model/tasks.ts';
import { encodeImage } from '../image.ts';
import { integer, number } from '../run-options.ts';

export const FORMATS = ['png', 'npy', 'json'] as const;
export type Format = (typeof FORMATS)[number];

/** A client error: HTTP status, a stable code for programs, and a one-line message for people. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export interface Settings {
  task: Task;
  points: PointPrompt;
  steps: number;
  guidance: number;
  seed: number;
  format: Format;
}

export type Fields = Record<string, string | undefined>;

/** Request fields over the server's defaults (its --num_inference_steps, --guidance_scale, --seed). */
export function parseSettings(f: Fields, defaults: { steps: number; guidance: number; seed: number }): Settings {
  const bad = (code: string, fn: () => unknown) => {
    try {
      return fn();
    } catch (e) {
      throw new ApiError(400, code, (e as Error).message);
    }
  };
  const format = (f.format ?? 'png') as Format;
  if (!FORMATS.includes(format)) throw new ApiError(400, 'bad_format', `format: '${f.format}' is not one of ${FORMATS.join(', ')}`);
  const task = bad('bad_task', () => parseTask(f.task ?? 'depth', 'task')) as Task;
  if (format === 'npy' && task.name !== 'depth' && task.name !== 'normal') {
    throw new ApiError(400, 'bad_format', `format: npy holds depth and normal maps; ask for png or json for ${task.name}`);
  }
  return {
    task, format,
    points: f.points ? bad('bad_points', () => parsePoints(f.points!, 'points')) as PointPrompt : emptyPoints(),
    steps: f.steps === undefined ? defaults.steps : bad('bad_steps', () => integer(f.steps!, 'steps', 1, 1000)) as number,
    guidance: f.guidance === undefined ? defaults.guidance : bad('bad_guidance', () => number(f.guidance!, 'guidance', 0, 100)) as number,
    seed: f.seed === undefined ? defaults.seed : bad('bad_seed', () => integer(f.seed!, 'seed', 0, 2 ** 32 - 1)) as number,
  };
}

export interface Body {
  type: string;
  data: Uint8Array | string;
}

export async function responseBody(s: Settings, image01: Float32Array, width: number, height: number, timings: object): Promise<Body> {
  // What `infer` saves: its right-hand panel and its --save_npy payload.
  const pred = toPrediction(image01, s.task.name, width, height, INFER_STYLE);
  const npy = () => {
    const p = npyPayload(pred);
    return p && encodeNpyF16(p.data, p.shape);
  };
  if (s.format === 'npy') return { type: 'application/octet-stream', data: npy()! };
  const png = await encodeImage({ data: pred.rgb, width, height }, 'prediction.png');
  if (s.format === 'png') return { type: 'image/png', data: png };
  const n = npy();
  const b64 = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64');
  return {
    type: 'application/json',
    data: JSON.stringify({ width, height, task: s.task.prompt, timings, png_base64: b64(png), ...(n && { npy_base64: b64(n) }) }),
  };
}
