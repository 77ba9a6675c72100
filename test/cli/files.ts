// Test inputs written on the fly (images, model folder stand-ins) and readers for outputs.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { RgbImage } from '../../src/model/preprocess.ts';

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `diception-${tag}-`));
}

/** A fake SD3 folder and checkpoint: the commands only check that they exist. */
export function modelArgs(dir: string): string[] {
  mkdirSync(join(dir, 'sd3'), { recursive: true });
  writeFileSync(join(dir, 'diception.pth'), '');
  return ['--pretrained_model_path', join(dir, 'sd3'), '--diception_path', join(dir, 'diception.pth')];
}

/** A colourful test image (smooth gradients plus a square) written as PNG or JPEG by extension. */
export async function writeImage(path: string, width: number, height: number): Promise<RgbImage> {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const inSquare = x > width / 4 && x < width / 2 && y > height / 4 && y < height / 2;
      data[i] = Math.round((255 * x) / (width - 1));
      data[i + 1] = Math.round((255 * y) / (height - 1));
      data[i + 2] = inSquare ? 255 : 40;
    }
  }
  const img = sharp(data, { raw: { width, height, channels: 3 } });
  await (path.endsWith('.jpg') ? img.jpeg() : img.png()).toFile(path);
  return { data, width, height };
}

export async function readPixels(path: string): Promise<RgbImage & { format: string }> {
  const meta = await sharp(path).metadata();
  const { data, info } = await sharp(path).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height, format: meta.format ?? '' };
}
