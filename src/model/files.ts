// Small text files of a model folder (tokenizer vocabularies, configs), through the platform
// so the same code reads a Node path or a browser URL.
import { platform } from '../runtime/platform.ts';

export async function readText(path: string): Promise<string> {
  const src = await platform().open(path);
  try {
    return new TextDecoder().decode(await src.read(0, src.size));
  } finally {
    await src.close?.();
  }
}

/** Like readJson, but undefined when the file is absent (optional tokenizer configs). */
export async function readJsonIfExists<T>(path: string): Promise<T | undefined> {
  if (!(await platform().exists(path))) return undefined;
  const text = await readText(path);
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
}
