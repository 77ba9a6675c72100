// pycocotools' RLE encoding, written independently of the decoder under test.
import type { Mask } from '../../src/model/sa1b.ts';

/** Column-major run lengths of a row-major mask, starting with a 0-run (pycocotools' encode). */
export function runs(m: Mask): number[] {
  const out: number[] = [];
  let cur = 0;
  let len = 0;
  for (let x = 0; x < m.width; x++) {
    for (let y = 0; y < m.height; y++) {
      const v = m.data[y * m.width + x];
      if (v !== cur) {
        out.push(len);
        cur = v;
        len = 0;
      }
      len++;
    }
  }
  out.push(len);
  return out;
}

/** pycocotools' compressed string: deltas from the count two back, 5-bit groups, sign in bit 4. */
export function compress(counts: number[]): string {
  let s = '';
  counts.forEach((c, i) => {
    let x = i > 2 ? c - counts[i - 2] : c;
    for (let more = true; more; ) {
      let ch = x & 0x1f;
      x >>= 5;
      more = ch & 0x10 ? x !== -1 : x !== 0;
      if (more) ch |= 0x20;
      s += String.fromCharCode(ch + 48);
    }
  });
  return s;
}
