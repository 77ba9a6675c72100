// Test inputs written on the fly (images, model folder stand-ins) and readers for outputs.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { expect } from 'vitest';
import type { RgbImage } from '../../src/model/preprocess.ts';

const made: string[] = [];

export function tempDir(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), `diception-${tag}-`));
  made.push(dir);
  return dir;
}

/** For afterAll: removes every folder tempDir made in this test file. */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
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

/** Exact equality of large arrays, naming the first difference (toEqual is slow on millions). */
export function expectSame(a: ArrayLike<number>, b: ArrayLike<number>, label: string): void {
  expect(a.length, `${label} length`).toBe(b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) expect(a[i], `${label} element ${i}`).toBe(b[i]);
}
