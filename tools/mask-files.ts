// `--masks` for infer and batch: the flags, and the files written next to the result picture.
// <base>_mask.png + <base>_mask.json (segmentation, semantic) or <base>_entities.json (entity).
import type { Command } from 'commander';
import { loadSharp } from './sharp.ts';
import { DEFAULT_ENTITY_OPTIONS, DEFAULT_MASK_THRESHOLD, taskMasks, type MaskOptions } from '../src/model/masks.ts';
import { writeAtomic } from './image.ts';
import { integer, number } from './run-options.ts';

export interface MaskSettings extends MaskOptions {
  bits: 1 | 8;
}

export function addMaskOptions(cmd: Command): Command {
  return cmd
    .option('--masks', 'also write masks: segmentation/semantic → <name>_mask.png + COCO RLE <name>_mask.json; entity → <name>_entities.json')
    .option('--mask_bits <n>', 'mask PNG depth: 1 (bilevel) or 8 (0/255 greyscale)', '1')
    .option('--mask_threshold <t>', 'inside where the mean of the prediction\'s 3 channels (0..1) is >= t', String(DEFAULT_MASK_THRESHOLD))
    .option('--entity_levels <n>', 'entity instances: colour levels per channel before grouping', String(DEFAULT_ENTITY_OPTIONS.levels))
    .option('--entity_min_area <f>', 'entity instances: smallest kept, as a fraction of the image', String(DEFAULT_ENTITY_OPTIONS.minArea));
}

/** The mask settings, or undefined without --masks (`force` turns them on, e.g. for --evaluate). */
export function maskSettings(o: Record<string, string | boolean | undefined>, force = false): MaskSettings | undefined {
  if (!o.masks && !force) return undefined;
  const bits = String(o.mask_bits ?? '1');
  if (bits !== '1' && bits !== '8') throw new Error(`--mask_bits: '${bits}' must be 1 or 8`);
  return {
    bits: Number(bits) as 1 | 8,
    threshold: number(o.mask_threshold ?? String(DEFAULT_MASK_THRESHOLD), '--mask_threshold', 0, 1),
    entity: {
      levels: integer(o.entity_levels ?? String(DEFAULT_ENTITY_OPTIONS.levels), '--entity_levels', 2, 256),
      minArea: number(o.entity_min_area ?? String(DEFAULT_ENTITY_OPTIONS.minArea), '--entity_min_area', 0, 0.999),
    },
  };
}

/**
 * A 0/1 mask as PNG: 8-bit greyscale 0/255, or 1-bit (a 2-colour palette is written at bit depth
 * 1; lowest effort and no dithering, exact for two colours and 5× faster than the default).
 */
export async function encodeMaskPng(mask: { height: number; width: number; data: Uint8Array }, bits: 1 | 8): Promise<Uint8Array> {
  const grey = mask.data.map((v) => (v ? 255 : 0));
  const sharp = await loadSharp();
  const img = sharp(grey, { raw: { width: mask.width, height: mask.height, channels: 1 } }).toColourspace('b-w');
  return new Uint8Array(await (bits === 1 ? img.png({ palette: true, colours: 2, effort: 1, dither: 0 }) : img.png()).toBuffer());
}

/**
 * Writes the task's masks for one prediction; `target` (the ground truth it is compared with,
 * e.g. the annotation a batch sample was prompted from) is recorded in the mask JSON.
 */
export async function writeMasks(
  base: string, task: string, image01: Float32Array, size: number, height: number, width: number, s: MaskSettings, target?: object,
): Promise<string[]> {
  const found = taskMasks(task, image01, size, height, width, s);
  if (!found) return [];
  if (found.kind === 'entities') {
    const path = `${base}_entities.json`;
    await writeAtomic(path, new TextEncoder().encode(JSON.stringify(found.instances)));
    return [path];
  }
  const [png, json] = [`${base}_mask.png`, `${base}_mask.json`];
  await writeAtomic(png, await encodeMaskPng(found.mask, s.bits));
  await writeAtomic(json, new TextEncoder().encode(JSON.stringify({ ...found.rle, ...(target && { target }) })));
  return [png, json];
}

/** The files writeMasks will write for a task (for resume checks); none for tasks without masks. */
export function maskPaths(base: string, task: string): string[] {
  if (task === 'entity') return [`${base}_entities.json`];
  return task === 'segmentation' || task === 'semantic' ? [`${base}_mask.png`, `${base}_mask.json`] : [];
}
