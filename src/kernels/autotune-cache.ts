// Autotuning results that outlive the process: per adapter (vendor, architecture, name, and the
// features that change the candidates) and engine version, in the platform's store (a JSON
// file under the user's cache folder in Node, localStorage in browsers). A choice that names a
// variant the engine no longer has is ignored and tuned again.
import { version } from '../../package.json';
import type { Gpu } from '../runtime/device.ts';
import { platform } from '../runtime/platform.ts';

export interface AutotuneCache {
  /** The store entry, e.g. 'autotune-0.1.0' (undefined: nothing persists here). */
  readonly entry?: string;
  /** The adapter's key within it. */
  readonly adapter: string;
  get(key: string): string | undefined;
  set(key: string, variant: string): Promise<void>;
}

type Entries = Record<string, Record<string, string>>;

export const AUTOTUNE_ENTRY = `autotune-${version}`;

/** What identifies an adapter for autotuning: the same key means the same candidates and speeds. */
export function adapterKey(gpu: Gpu): string {
  const c = gpu.caps;
  return [c.vendor, c.architecture, c.adapterName, c.f16 ? 'f16' : 'no-f16', c.subgroups ? `sg${c.subgroupMinSize}-${c.subgroupMaxSize}` : 'no-sg'].join('|');
}

/** The adapter's cached choices (loaded now; written through on each `set`). */
export async function autotuneCache(gpu: Gpu): Promise<AutotuneCache> {
  const store = platform().store;
  const adapter = adapterKey(gpu);
  const parse = (text: string | undefined): Entries => {
    try {
      const v = text ? JSON.parse(text) : {};
      return v && typeof v === 'object' ? v : {};
    } catch {
      return {}; // a damaged cache only costs a new tuning
    }
  };
  const mine = parse(await store?.get(AUTOTUNE_ENTRY))[adapter] ?? {};
  return {
    entry: store && AUTOTUNE_ENTRY,
    adapter,
    get: (key) => mine[key],
    async set(key, variant) {
      mine[key] = variant;
      if (!store) return;
      // Re-read: another process may have added other adapters' or classes' choices meanwhile.
      const all = parse(await store.get(AUTOTUNE_ENTRY));
      all[adapter] = { ...all[adapter], ...mine };
      await store.set(AUTOTUNE_ENTRY, `${JSON.stringify(all, null, 1)}\n`).catch((e: Error) => {
        // Not fatal: the choice holds for this process, and the next one tunes again.
        console.warn(`autotune: cannot save to ${store.location}: ${e.message}`);
      });
    },
  };
}
