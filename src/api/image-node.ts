// Node image decoding to RGB bytes with sharp (the CLI and the library's Node entry; never in
// the browser bundle).
import type { RgbImage } from '../model/preprocess.ts';
import type { RgbPixels } from './model.ts';

// Loaded on first use: it is the slowest package to load, and `diception --help` needs none.
const loadSharp = async () => (await import('sharp')).default;

/** A PNG file's bytes. */
export async function encodePng(img: RgbPixels): Promise<Uint8Array> {
  const sharp = await loadSharp();
  return new Uint8Array(await sharp(img.rgb, { raw: { width: img.width, height: img.height, channels: 3 } }).png().toBuffer());
}

/**
 * A file path or encoded bytes → 8-bit RGB, alpha dropped and grey expanded like PIL's
 * convert('RGB'). `autoOrient` applies the EXIF orientation as OpenCV's imread does (the batch
 * mode); PIL (the single-image mode) ignores it. Throws sharp's own message.
 */
export async function decodeRgb(input: string | Uint8Array, autoOrient = false): Promise<RgbImage> {
  const sharp = await loadSharp();
  let img = sharp(input, { failOn: 'error' });
  if (autoOrient) img = img.rotate();
  const { data, info } = await img.toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.channels === 3) return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  const rgb = new Uint8Array(info.width * info.height * 3);
  for (let i = 0; i < info.width * info.height; i++) rgb.fill(data[i * info.channels], i * 3, i * 3 + 3);
  return { data: rgb, width: info.width, height: info.height };
}
