// Node module hook: `import src from './x.wgsl'` yields the file's text, as esbuild's text
// loader does in the browser bundle and the Vite plugin does under vitest.
import { readFile } from 'node:fs/promises';

export async function load(url, context, nextLoad) {
  if (url.endsWith('.wgsl')) {
    const text = await readFile(new URL(url), 'utf8');
    return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
  }
  return nextLoad(url, context);
}
