// diception-webgpu for browsers and Workers: navigator.gpu, model files by URL (HTTP Range),
// File/Blob, a picked folder or a FileSystemDirectoryHandle; images decoded with
// createImageBitmap and an OffscreenCanvas.
import { decodeBlob, drawableToRgb, rgbaToRgb } from './api/image-browser.ts';
import { fetchImage, isRgbImage, loadModel, type DiceptionModel, type ImageInput, type LoadOptions } from './api/model.ts';
import type { RgbImage } from './model/preprocess.ts';

export * from './api/public.ts';
/** A PNG file's bytes from a predict() result's `rgb` (or any { width, height, rgb }). */
export { encodePng } from './api/image-browser.ts';

async function decode(image: ImageInput): Promise<RgbImage> {
  if (isRgbImage(image)) return image;
  if (typeof ImageData !== 'undefined' && image instanceof ImageData) return rgbaToRgb(image.data, image.width, image.height);
  if (image instanceof Blob) return decodeBlob(image);
  if (image instanceof Uint8Array || image instanceof ArrayBuffer) return decodeBlob(new Blob([image as BlobPart]), 'image bytes');
  if (typeof image === 'string' || image instanceof URL) {
    const url = String(image);
    return decodeBlob(await fetchImage(url), url);
  }
  if (typeof HTMLImageElement !== 'undefined' && image instanceof HTMLImageElement) {
    await image.decode().catch(() => {
      throw new Error(`image: ${image.currentSrc || image.src} cannot be decoded`);
    });
    const bmp = await createImageBitmap(image, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
    try {
      return drawableToRgb(bmp);
    } finally {
      bmp.close();
    }
  }
  if (typeof (image as ImageBitmap).width === 'number') return drawableToRgb(image as ImageBitmap);
  throw new Error('image: expected a URL, Blob/File, encoded bytes, ImageBitmap, ImageData, HTMLImageElement, OffscreenCanvas or { data, width, height } RGB bytes');
}

/** Opens and checks the model files and loads the models onto the GPU. */
export function loadDiception(options: LoadOptions): Promise<DiceptionModel> {
  return loadModel(options, decode);
}
