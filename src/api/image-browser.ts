// Browser image decoding to RGB bytes, for the page and the library: createImageBitmap and an
// OffscreenCanvas, so it also runs inside a Worker.
import type { RgbImage } from '../model/preprocess.ts';
import type { RgbPixels } from './model.ts';

/** RGBA pixels → interleaved RGB (alpha dropped, as PIL's convert('RGB') does). */
export function rgbaToRgb(rgba: Uint8ClampedArray | Uint8Array, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; j < data.length; i += 4, j += 3) {
    data[j] = rgba[i];
    data[j + 1] = rgba[i + 1];
    data[j + 2] = rgba[i + 2];
  }
  return { data, width, height };
}

/** Anything drawable (ImageBitmap, HTMLImageElement, a canvas) → RGB bytes. */
export function drawableToRgb(src: CanvasImageSource & { width: number; height: number }): RgbImage {
  const { width, height } = src;
  const c = new OffscreenCanvas(width, height);
  const ctx = c.getContext('2d')!;
  ctx.drawImage(src, 0, 0);
  return rgbaToRgb(ctx.getImageData(0, 0, width, height).data, width, height);
}

/** An encoded image (PNG, JPEG, WebP...) → RGB bytes; colour profiles ignored like PIL. */
export async function decodeBlob(blob: Blob, name = (blob as File).name ?? 'image'): Promise<RgbImage> {
  let bmp: ImageBitmap;
  try {
    bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none', imageOrientation: 'from-image', premultiplyAlpha: 'none' });
  } catch {
    throw new Error(`${name}: cannot be decoded as an image (use PNG, JPEG or WebP)`);
  }
  try {
    return drawableToRgb(bmp);
  } finally {
    bmp.close();
  }
}

/** A PNG file's bytes (OffscreenCanvas, so Workers can too). */
export async function encodePng(img: RgbPixels): Promise<Uint8Array> {
  const c = new OffscreenCanvas(img.width, img.height);
  const rgba = new ImageData(img.width, img.height);
  for (let i = 0, j = 0; j < img.rgb.length; i += 4, j += 3) {
    rgba.data.set(img.rgb.subarray(j, j + 3), i);
    rgba.data[i + 3] = 255;
  }
  c.getContext('2d')!.putImageData(rgba, 0, 0);
  return new Uint8Array(await (await c.convertToBlob({ type: 'image/png' })).arrayBuffer());
}
