// Masks from the model's segmentation pictures. DICEPTION draws every mask task as an RGB image:
// point-prompted and semantic segmentation were trained on the 0/1 mask repeated on 3 channels
// (white inside, black outside; dataset.py), entity segmentation on a random colour per
// instance. The reference saves only the picture and publishes no rule for turning it back into
// masks, so the rules here are ours, documented in the README, with their knobs as flags.
import { depthMap } from './postprocess.ts';
import { resizePlanes } from './resample.ts';
import { encodeRleString, labelRuns, maskRuns, type RleString } from './rle.ts';
import type { Mask } from './sa1b.ts';

/** Midway between the training targets' 0 (outside) and 1 (inside). */
export const DEFAULT_MASK_THRESHOLD = 0.5;

/**
 * Binary mask at the original size: the mean of the 3 channels at model size (as the depth map),
 * resized bilinearly to height×width (the --save_npy resize), then inside where mean >= threshold.
 */
export function binaryMask(image01: Float32Array, size: number, height: number, width: number, threshold = DEFAULT_MASK_THRESHOLD): Mask {
  if (!(threshold >= 0 && threshold <= 1)) throw new Error(`mask threshold ${threshold} is outside [0, 1]`);
  const mean = resizePlanes(depthMap(image01, size, size), 1, size, size, height, width, 'bilinear', false);
  const data = new Uint8Array(mean.length);
  for (let i = 0; i < mean.length; i++) data[i] = mean[i] >= threshold ? 1 : 0;
  return { height, width, data };
}

export interface EntityOptions {
  /** levels per channel of the colour quantisation (bins of 256/levels byte values) */
  levels: number;
  /** smallest instance kept, as a fraction of the image area */
  minArea: number;
}

export const DEFAULT_ENTITY_OPTIONS: EntityOptions = { levels: 8, minArea: 0.001 };

/** One entity: its COCO annotation fields and the colour bin it was found in. */
export interface EntityInstance {
  id: number;
  segmentation: RleString;
  area: number;
  bbox: [number, number, number, number];
  /** the mean prediction colour of its pixels, 0..255 */
  color: [number, number, number];
}

/**
 * Entity instances from the coloured prediction, at model size then mapped to the original size:
 * 1. every pixel's colour (clamped to [0,1], ×255) falls in a bin of `levels` steps per channel;
 *    the bin holding black is background (no entity), as unlabelled areas are black;
 * 2. 4-connected pixels of the same bin form a component;
 * 3. components smaller than minArea × (size²) pixels are dropped;
 * 4. the label map is resized to height×width by nearest neighbour (pixel centres) and each
 *    label becomes one RLE. Ids count from 1 in column-major order of first appearance.
 */
export function entityInstances(image01: Float32Array, size: number, height: number, width: number, o: EntityOptions = DEFAULT_ENTITY_OPTIONS): EntityInstance[] {
  if (!Number.isInteger(o.levels) || o.levels < 2 || o.levels > 256) throw new Error(`entity colour levels ${o.levels} must be a whole number from 2 to 256`);
  if (!(o.minArea >= 0 && o.minArea < 1)) throw new Error(`entity minimum area ${o.minArea} must be a fraction of the image in [0, 1)`);
  const hw = size * size;
  const bin = new Int32Array(hw);
  const q = (v: number) => Math.min(o.levels - 1, Math.floor(Math.min(1, Math.max(0, v || 0)) * o.levels));
  for (let i = 0; i < hw; i++) bin[i] = (q(image01[i]) * o.levels + q(image01[hw + i])) * o.levels + q(image01[2 * hw + i]);

  // Flood fill (4-neighbours) each unlabelled non-background pixel's component.
  const comp = new Int32Array(hw);
  const minPixels = o.minArea * hw;
  const stack = new Int32Array(hw);
  const kept: number[] = []; // component index → output label (0 = dropped)
  let next = 0;
  for (let s = 0; s < hw; s++) {
    if (comp[s] || bin[s] === 0) continue;
    const id = ++next;
    let pixels = 0;
    let top = 0;
    stack[top++] = s;
    comp[s] = id;
    const visit = (n: number) => {
      if (!comp[n] && bin[n] === bin[s]) {
        comp[n] = id;
        stack[top++] = n;
      }
    };
    while (top) {
      const p = stack[--top];
      pixels++;
      const x = p % size;
      if (x > 0) visit(p - 1);
      if (x < size - 1) visit(p + 1);
      if (p >= size) visit(p - size);
      if (p < hw - size) visit(p + size);
    }
    kept[id] = pixels >= minPixels ? 1 : 0;
  }
  // Nearest-neighbour resize of the kept labels; ids renumbered densely afterwards.
  const labels = new Int32Array(height * width);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(size - 1, Math.floor(((y + 0.5) * size) / height));
    for (let x = 0; x < width; x++) {
      const c = comp[sy * size + Math.min(size - 1, Math.floor(((x + 0.5) * size) / width))];
      if (c && kept[c]) labels[y * width + x] = c;
    }
  }
  const dense = new Int32Array(next + 1);
  const sources: number[] = [];
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      const c = labels[y * width + x];
      if (c && !dense[c]) {
        sources.push(c);
        dense[c] = sources.length;
      }
    }
  }
  for (let i = 0; i < labels.length; i++) labels[i] = dense[labels[i]];
  const colorSum = new Float64Array(3 * (next + 1));
  const colorCount = new Float64Array(next + 1);
  for (let i = 0; i < hw; i++) {
    const c = comp[i];
    if (!c || !dense[c]) continue;
    colorCount[c]++;
    for (let ch = 0; ch < 3; ch++) colorSum[3 * c + ch] += Math.min(1, Math.max(0, image01[ch * hw + i]));
  }
  return labelRuns(labels, height, width, sources.length).map((r, k) => {
    const c = sources[k];
    const color = [0, 1, 2].map((ch) => Math.round((255 * colorSum[3 * c + ch]) / colorCount[c])) as [number, number, number];
    return { id: k + 1, segmentation: { size: [height, width], counts: encodeRleString(r.counts) }, area: r.area, bbox: r.bbox, color };
  });
}

export interface MaskOptions {
  threshold: number;
  entity: EntityOptions;
}

export const DEFAULT_MASK_OPTIONS: MaskOptions = { threshold: DEFAULT_MASK_THRESHOLD, entity: DEFAULT_ENTITY_OPTIONS };

/** What a task's prediction yields as masks: one binary mask, the entity instances, or nothing. */
export type TaskMasks =
  | { kind: 'mask'; mask: Mask; rle: RleString & { area: number; bbox: [number, number, number, number]; threshold: number } }
  | { kind: 'entities'; instances: EntityInstance[] };

/**
 * The masks of one prediction ([3,size,size] in [0,1]) at the original height×width:
 * segmentation and semantic give a binary mask, entity its instances, other tasks none.
 */
export function taskMasks(task: string, image01: Float32Array, size: number, height: number, width: number, o: MaskOptions = DEFAULT_MASK_OPTIONS): TaskMasks | undefined {
  if (task === 'entity') return { kind: 'entities', instances: entityInstances(image01, size, height, width, o.entity) };
  if (task !== 'segmentation' && task !== 'semantic') return undefined;
  const mask = binaryMask(image01, size, height, width, o.threshold);
  const runs = maskRuns(mask);
  return { kind: 'mask', mask, rle: { size: [height, width], counts: encodeRleString(runs.counts), area: runs.area, bbox: runs.bbox, threshold: o.threshold } };
}
