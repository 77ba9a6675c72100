// Image and file I/O for the commands (Node only): decoding with sharp, encoding by extension,
// side-by-side panels, and writes that never leave a partial file behind.
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { decodeRgb } from '../src/api/image-node.ts';
import type { RgbImage } from '../src/model/preprocess.ts';

/**
 * Any image sharp reads (a file, or bytes in memory) → 8-bit RGB, alpha dropped and grey
 * expanded like PIL's convert('RGB'). `autoOrient` applies the EXIF orientation as OpenCV's imread does (the batch
 * mode); PIL (the single-image mode) ignores it.
 */
export async function readRgb(path: string | Uint8Array, what: string, autoOrient = false): Promise<RgbImage> {
  try {
    return await decodeRgb(path, autoOrient);
  } catch (e) {
    const reason = typeof path === 'string' && !existsSync(path) ? 'file not found' : `not a readable image (${firstLine(e)})`;
    const name = typeof path === 'string' ? path : `the ${path.length}-byte body`;
    throw new Error(`${what}: cannot read ${name}: ${reason}; give a PNG, JPEG, WebP, TIFF or GIF file`);
  }
}

/** [left | right] side by side; both panels share a height. */
export function sideBySide(left: RgbImage, right: RgbImage): RgbImage {
  if (left.height !== right.height) throw new Error(`sideBySide: panel heights ${left.height} and ${right.height} differ`);
  const width = left.width + right.width;
  const data = new Uint8Array(width * left.height * 3);
  for (let y = 0; y < left.height; y++) {
    data.set(left.data.subarray(y * left.width * 3, (y + 1) * left.width * 3), y * width * 3);
    data.set(right.data.subarray(y * right.width * 3, (y + 1) * right.width * 3), (y * width + left.width) * 3);
  }
  return { data, width, height: left.height };
}

/** Output formats by file extension (PIL's save picks the format the same way). */
const FORMATS: Record<string, 'png' | 'jpeg' | 'webp' | 'tiff' | 'gif'> = {
  '.png': 'png', '.jpg': 'jpeg', '.jpeg': 'jpeg', '.webp': 'webp', '.tif': 'tiff', '.tiff': 'tiff', '.gif': 'gif',
};

export function canWrite(path: string): boolean {
  return extname(path).toLowerCase() in FORMATS;
}

export async function encodeImage(img: RgbImage, path: string): Promise<Uint8Array> {
  const format = FORMATS[extname(path).toLowerCase()];
  if (!format) throw new Error(`cannot write ${basename(path)}: unsupported extension (use .png or .jpg)`);
  const { default: sharp } = await import('sharp');
  const s = sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });
  // PIL's JPEG default quality is 75.
  const out = format === 'jpeg' ? s.jpeg({ quality: 75 }) : s.toFormat(format);
  return new Uint8Array(await out.toBuffer());
}

/** Write through a temporary file in the same folder and rename, so readers and resumed runs never see half a file. */
export async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new Error(`cannot write ${path}: ${firstLine(e)}`);
  }
}

/** Creates `dir` if needed and proves it is writable, before any model is loaded. */
export async function ensureWritableDir(dir: string, flag: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    const probe = join(dir, `.diception-write-test.${process.pid}`);
    await writeFile(probe, '');
    await rm(probe, { force: true });
  } catch (e) {
    throw new Error(`${flag}: cannot write to ${dir} (${firstLine(e)}); choose a writable folder`);
  }
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0];
}
