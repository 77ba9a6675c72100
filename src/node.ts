// diception-webgpu for Node: importing it sets up Dawn (the `webgpu` package); model files by
// path or URL (HTTP Range); images decoded with sharp.
import './runtime/node.ts';
import { decodeRgb } from './api/image-node.ts';
import { fetchImage, isRgbImage, loadModel, type DiceptionModel, type ImageInput, type LoadOptions } from './api/model.ts';
import type { RgbImage } from './model/preprocess.ts';

export * from './api/public.ts';
/** A PNG file's bytes from a predict() result's `rgb` (or any { width, height, rgb }). */
export { encodePng } from './api/image-node.ts';

const firstLine = (e: unknown) => String((e as Error)?.message ?? e).split('\n')[0];

async function decode(image: ImageInput): Promise<RgbImage> {
  if (isRgbImage(image)) return image;
  let input: string | Uint8Array;
  let name: string;
  if (typeof image === 'string' || (image instanceof URL && image.protocol === 'file:')) {
    input = name = typeof image === 'string' ? image : decodeURIComponent(image.pathname);
  } else if (image instanceof URL) {
    name = image.href;
    input = new Uint8Array(await (await fetchImage(name)).arrayBuffer());
  } else if (image instanceof Uint8Array || image instanceof ArrayBuffer || image instanceof Blob) {
    name = 'image bytes';
    input = image instanceof Blob ? new Uint8Array(await image.arrayBuffer()) : new Uint8Array(image);
  } else {
    throw new Error('image: in Node give a file path, a file: or http(s) URL, encoded bytes (Buffer, Uint8Array, ArrayBuffer, Blob) or { data, width, height } RGB bytes');
  }
  try {
    return await decodeRgb(input);
  } catch (e) {
    throw new Error(`image: cannot read ${name}: ${firstLine(e)}; give a PNG, JPEG, WebP, TIFF or GIF file`);
  }
}

/** Opens and checks the model files and loads the models onto the GPU. */
export function loadDiception(options: LoadOptions): Promise<DiceptionModel> {
  return loadModel(options, decode);
}
