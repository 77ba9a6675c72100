// One runner per golden name in golden/manifest.json; goldens without one are reported MISSING.
import type { Runner } from './types.ts';

export const runners: Record<string, () => Promise<Runner>> = {
  tokens: async () => (await import('./tokens.ts')).run,
  point_embed: async () => (await import('./point_embed.ts')).run,
  text_encoders: async () => (await import('./text_encoders.ts')).run,
  vae: async () => (await import('./vae.ts')).run,
  transformer: async () => (await import('./transformer.ts')).run,
  scheduler: async () => (await import('./scheduler.ts')).run,
  pipeline: async () => (await import('./pipeline.ts')).run,
};
