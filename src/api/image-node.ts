// Node image decoding to RGB bytes with sharp (the CLI and the library's Node entry; never in
// the browser bundle).
import sharp from 'sharp';
import type { RgbImage } from '../model/preprocess.ts';

/**
 * A file path or encoded bytes → 8-bit RGB, alpha dropped and grey expanded like PIL's
 * convert('RGB'). `autoOrient` applies the EXIF orientation as OpenCV's imread does (the batch
 * mode); PIL (the single-image mode) ignores it. Throws sharp's own message.
 */
export async function decodeRgb(input: string | Uint8Array, autoOrient = false): Promise<RgbImage> {
  let img = sharp(input, { failOn: 'error' });
  if (autoOrient) img = img.rotate();
  const { data, info } = await img.toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.channels === 3) return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  const rgb = new Uint8Array(info.width * info.height * 3);
  for (let i = 0; i < info.width * info.height; i++) rgb.fill(data[i * info.channels], i * 3, i * 3 + 3);
  return { data: rgb, width: info.width, height: info.height };
}
