// Image decoding and drawing for the page: browser APIs only, RGB bytes as the model code uses.
import { decodeBlob } from '../src/api/image-browser.ts';
import type { RgbImage } from '../src/model/preprocess.ts';

export const decodeImage = (file: Blob & { name?: string }): Promise<RgbImage> => decodeBlob(file, file.name);

export function toImageData(img: RgbImage): ImageData {
  const out = new ImageData(img.width, img.height);
  for (let i = 0, j = 0; j < img.data.length; i += 4, j += 3) {
    out.data[i] = img.data[j];
    out.data[i + 1] = img.data[j + 1];
    out.data[i + 2] = img.data[j + 2];
    out.data[i + 3] = 255;
  }
  return out;
}

/** The image with its points as red dots; points are normalised (y, x). */
export function drawWithPoints(canvas: HTMLCanvasElement, img: RgbImage, points: readonly (readonly [number, number])[]): void {
  canvas.width = img.width;
  canvas.height = img.height;
  const ctx = canvas.getContext('2d')!;
  ctx.putImageData(toImageData(img), 0, 0);
  // Dots stay visible when the canvas is shown scaled down.
  const scale = img.width / Math.max(1, canvas.getBoundingClientRect().width || img.width);
  const r = Math.max(5, 6 * scale);
  ctx.lineWidth = Math.max(1.5, 2 * scale);
  for (const [y, x] of points) {
    ctx.beginPath();
    ctx.arc(x * img.width, y * img.height, r, 0, 2 * Math.PI);
    ctx.fillStyle = '#ff2020';
    ctx.fill();
    ctx.strokeStyle = '#fff';
    ctx.stroke();
  }
}

/** Input and prediction side by side, as the CLI writes them. */
export function drawSideBySide(canvas: HTMLCanvasElement, left: RgbImage, right: RgbImage): void {
  canvas.width = left.width + right.width;
  canvas.height = Math.max(left.height, right.height);
  const ctx = canvas.getContext('2d')!;
  ctx.putImageData(toImageData(left), 0, 0);
  ctx.putImageData(toImageData(right), left.width, 0);
}

export function canvasPng(canvas: HTMLCanvasElement): Promise<Blob> {
  return new Promise((ok, fail) => canvas.toBlob((b) => (b ? ok(b) : fail(new Error('the result could not be encoded as PNG'))), 'image/png'));
}
