// DICEPTION's tasks and their prompts, COCO classes for semantic segmentation, and point
// prompts. Shared by the CLI and the browser page: every user input is validated here with a
// message that names the flag and the fix.

export const TASK_NAMES = ['depth', 'normal', 'pose', 'segmentation', 'semantic', 'entity'] as const;
export type TaskName = (typeof TASK_NAMES)[number];

/** The 80 COCO 2017 category names, as the semantic prompt spells them. */
export const COCO_CLASSES = [
  'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat',
  'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog',
  'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella',
  'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite',
  'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
  'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
  'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant',
  'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone',
  'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors',
  'teddy bear', 'hair drier', 'toothbrush',
] as const;

export interface Task {
  name: TaskName;
  /** The exact text prompt the model was trained with, e.g. "[[image2semantic]] person". */
  prompt: string;
  cocoClass?: string;
}

const TOKEN = (name: TaskName) => `[[image2${name}]]`;

function makeTask(name: TaskName, cocoClass: string | undefined, where: string): Task {
  if (name !== 'semantic') {
    if (cocoClass) throw new Error(`${where}: task '${name}' takes no class (only semantic:<coco class> does)`);
    return { name, prompt: TOKEN(name) };
  }
  const cls = (cocoClass ?? '').trim().replace(/\s+/g, ' ').toLowerCase();
  if (!cls) throw new Error(`${where}: semantic segmentation needs a COCO class, e.g. semantic:person`);
  if (!(COCO_CLASSES as readonly string[]).includes(cls)) {
    const near = closest(cls, COCO_CLASSES);
    const hint = near ? `did you mean '${near}'?` : "use one of the 80 COCO class names, e.g. 'person', 'car', 'dining table'";
    throw new Error(`${where}: '${cls}' is not a COCO class; ${hint}`);
  }
  return { name, prompt: `${TOKEN(name)} ${cls}`, cocoClass: cls };
}

/** `--task` spelling: depth | normal | pose | segmentation | entity | semantic:<coco class>. */
export function parseTask(spec: string, flag = '--task'): Task {
  const colon = spec.indexOf(':');
  const name = (colon < 0 ? spec : spec.slice(0, colon)).trim().toLowerCase();
  if (!(TASK_NAMES as readonly string[]).includes(name)) {
    throw new Error(`${flag}: unknown task '${spec}'; use one of ${TASK_NAMES.join(', ')} (semantic as semantic:<coco class>)`);
  }
  return makeTask(name as TaskName, colon < 0 ? undefined : spec.slice(colon + 1), flag);
}

/** A raw reference prompt, e.g. "[[image2depth]]" or "[[image2semantic]] dining table". */
export function parsePrompt(prompt: string, where = '--prompt'): Task {
  const m = /^\s*\[\[image2([a-z]+)\]\]\s*(.*)$/.exec(prompt);
  if (!m || !(TASK_NAMES as readonly string[]).includes(m[1])) {
    throw new Error(`${where}: unknown prompt '${prompt}'; use one of ${TASK_NAMES.map((t) => TOKEN(t)).join(', ')} (semantic followed by a COCO class)`);
  }
  return makeTask(m[1] as TaskName, m[2] || undefined, where);
}

/** Every prompt the model knows (semantic with each COCO class), plus the empty negative prompt. */
export function allPrompts(): string[] {
  const out = TASK_NAMES.filter((t) => t !== 'semantic').map(TOKEN);
  for (const c of COCO_CLASSES) out.push(`${TOKEN('semantic')} ${c}`);
  out.push('');
  return out;
}

export const MAX_POINTS = 5;

/**
 * The point prompt in the model's layout: always MAX_POINTS slots, `coords` [5,2] and
 * `labels` [5] (1 = a point, 0 = empty slot, coordinates 0).
 */
export interface PointPrompt {
  coords: Float32Array;
  labels: Float32Array;
  count: number;
}

export function emptyPoints(): PointPrompt {
  return { coords: new Float32Array(MAX_POINTS * 2), labels: new Float32Array(MAX_POINTS), count: 0 };
}

/** Fills the slots in order with the given (first, second) pairs, stored as given. */
export function pointSlots(pairs: ReadonlyArray<readonly [number, number]>): PointPrompt {
  if (pairs.length > MAX_POINTS) throw new Error(`at most ${MAX_POINTS} points, got ${pairs.length}`);
  const p = emptyPoints();
  pairs.forEach(([a, b], i) => {
    p.coords[2 * i] = a;
    p.coords[2 * i + 1] = b;
    p.labels[i] = 1;
  });
  p.count = pairs.length;
  return p;
}

/**
 * `--points "y1,x1;y2,x2"`, normalised to [0,1] (y = row / height, x = column / width).
 * inference.py stores each CLI (y,x) pair as (x,y) in the model's slot; we do the same, so slot
 * i holds [x_i, y_i]. (The batch collator differs: see sa1b.ts.)
 */
export function parsePoints(spec: string, flag = '--points'): PointPrompt {
  const parts = spec.split(';').map((s) => s.trim());
  if (parts.length > MAX_POINTS) throw new Error(`${flag}: ${parts.length} points given, the model takes at most ${MAX_POINTS}`);
  const pairs = parts.map((part, i) => {
    const nums = part.split(',').map((s) => s.trim());
    const values = nums.map(Number);
    if (nums.length !== 2 || nums.some((s) => s === '') || values.some((v) => !Number.isFinite(v))) {
      throw new Error(`${flag}: point ${i + 1} '${part}' is malformed; ${pointsFix}`);
    }
    return values as [number, number];
  });
  return yxPoints(pairs, flag, parts);
}

const pointsFix = `write them as "y1,x1;y2,x2" with each value in [0,1], at most ${MAX_POINTS} points`;

/**
 * Normalised (y, x) pairs (the library's `points`, the CLI's parsed --points) checked and put in
 * the model's slots as (x, y). `shown` is how each point is quoted in messages.
 */
export function yxPoints(pairs: ReadonlyArray<readonly number[]>, flag = 'points', shown = pairs.map((p) => p.join(','))): PointPrompt {
  if (pairs.length > MAX_POINTS) throw new Error(`${flag}: ${pairs.length} points given, the model takes at most ${MAX_POINTS}`);
  return pointSlots(
    pairs.map((p, i) => {
      if (p.length !== 2 || !p.every(Number.isFinite)) throw new Error(`${flag}: point ${i + 1} '${shown[i]}' is malformed; ${pointsFix}`);
      const [y, x] = p;
      if (y < 0 || y > 1 || x < 0 || x > 1) {
        throw new Error(`${flag}: point ${i + 1} '${shown[i]}' is outside [0,1]; coordinates are normalised (y = row/height, x = column/width)`);
      }
      return [x, y] as const;
    }),
  );
}

/** Levenshtein-closest candidate within a small distance, for "did you mean". */
function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
