// The page's model runner: the library's browser API inside a module Worker, so loading and
// inference never block the page. One model stays loaded while its sources stay the same.
import { loadDiception, type DiceptionModel, type LoadOptions, type PredictOptions, type PredictResult, type RgbImage } from '../src/index.ts';

export interface RunRequest {
  /** Identifies the model choice: a new key reloads. */
  key: string;
  load: Omit<LoadOptions, 'onProgress' | 'device'>;
  image: RgbImage;
  predict: Omit<PredictOptions, 'signal' | 'onProgress'>;
}

export type RunReply =
  | { kind: 'progress'; stage: string; done: number; total: number }
  | { kind: 'loaded' }
  | { kind: 'done'; result: PredictResult }
  | { kind: 'error'; message: string };

let current: { key: string; model: DiceptionModel } | undefined;
const reply = (m: RunReply, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);

self.onmessage = async ({ data }: MessageEvent<RunRequest>) => {
  const onProgress = (stage: string, done: number, total: number) => reply({ kind: 'progress', stage, done, total });
  try {
    if (current?.key !== data.key) {
      await current?.model.dispose();
      current = undefined;
      current = { key: data.key, model: await loadDiception({ ...data.load, onProgress }) };
    }
    reply({ kind: 'loaded' });
    const result = await current.model.predict(data.image, { ...data.predict, onProgress });
    reply({ kind: 'done', result }, [result.rgb.buffer, result.values.buffer]);
  } catch (e) {
    reply({ kind: 'error', message: e instanceof Error ? e.message : String(e) });
  }
};
