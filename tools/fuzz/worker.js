// The fuzzer's worker thread (a worker can be stopped when a case loops forever, which a
// timer in the same thread cannot do): TypeScript through tsx, like tools/bin.js.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('../wgsl-hook.js', import.meta.url);
await import('./worker-main.ts');
