// The mask overlay and the mask downloads of the page (segmentation, semantic, entity), from the
// same src/model/masks.ts rules as the CLI's --masks with their default settings.
import type { TaskMasks } from '../src/model/masks.ts';
import type { RgbImage } from '../src/model/preprocess.ts';
import { decodeSegmentation } from '../src/model/sa1b.ts';
import { canvasPng, toImageData } from './canvas.ts';

const urls: string[] = [];

function link(id: string, blob: Blob, name: string): void {
  const a = document.getElementById(id) as HTMLAnchorElement;
  const url = URL.createObjectURL(blob);
  urls.push(url);
  a.href = url;
  a.download = name;
  a.hidden = false;
}

/**
 * Shows the prediction's masks (computed with it by the library's predict) over the image (the mask in red; each entity in its colour) and
 * offers them for download; hides the section for tasks without masks.
 */
export async function showMasks(found: TaskMasks | undefined, img: RgbImage, name: string): Promise<void> {
  const section = document.getElementById('mask-section')!;
  for (const u of urls.splice(0)) URL.revokeObjectURL(u);
  section.hidden = !found;
  if (!found) return;
  const layers = found.kind === 'mask'
    ? [{ data: found.mask.data, color: [255, 0, 0] }]
    : found.instances.map((e) => ({ data: decodeSegmentation(e.segmentation).data, color: e.color }));
  const view = toImageData(img);
  for (const { data, color } of layers) {
    for (let i = 0; i < data.length; i++) {
      if (data[i]) for (let c = 0; c < 3; c++) view.data[4 * i + c] = (view.data[4 * i + c] + color[c]) >> 1;
    }
  }
  const canvas = document.getElementById('mask-canvas') as HTMLCanvasElement;
  [canvas.width, canvas.height] = [img.width, img.height];
  canvas.getContext('2d')!.putImageData(view, 0, 0);

  const json = (v: unknown) => new Blob([JSON.stringify(v)], { type: 'application/json' });
  const pngLink = document.getElementById('mask-png') as HTMLAnchorElement;
  if (found.kind === 'entities') {
    pngLink.hidden = true;
    link('mask-json', json(found.instances), `${name}_entities.json`);
    return;
  }
  // White inside, black outside, opaque: what the CLI's 8-bit mask PNG shows.
  const white = new ImageData(img.width, img.height);
  for (let i = 0; i < found.mask.data.length; i++) {
    white.data.fill(found.mask.data[i] ? 255 : 0, 4 * i, 4 * i + 3);
    white.data[4 * i + 3] = 255;
  }
  const off = document.createElement('canvas');
  [off.width, off.height] = [img.width, img.height];
  off.getContext('2d')!.putImageData(white, 0, 0);
  link('mask-png', await canvasPng(off), `${name}_mask.png`);
  link('mask-json', json(found.rle), `${name}_mask.json`);
}
