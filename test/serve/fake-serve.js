// Starts test/serve/fake-serve.ts as tools/bin.js starts the CLI: TypeScript and .wgsl imports.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('../../tools/wgsl-hook.js', import.meta.url);
await import('./fake-serve.ts');
