// A minimal zip reader for PyTorch checkpoints: torch.save writes every entry uncompressed
// ("stored"), so an entry is just a byte range of the archive and tensors can be read in place.
// Only the central directory is trusted for sizes (local headers may defer them to a data
// descriptor); each local header is still checked against it before its data is used.
import type { ByteSource } from '../source.ts';

export interface ZipEntry {
  name: string;
  /** Bytes of (uncompressed) data. */
  size: number;
  compressedSize: number;
  method: number;
  flags: number;
  crc32: number;
  headerOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
/** Central directories above this are refused (torch writes ~100 bytes per tensor). */
const MAX_CENTRAL_DIR = 256 * 2 ** 20;
/** Entries read whole (data.pkl, version, byteorder) above this are refused. */
export const MAX_WHOLE_ENTRY = 256 * 2 ** 20;

let crcTable: Uint32Array | undefined;

export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function u64(dv: DataView, at: number, what: () => string): number {
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${what()} is ${v}, beyond any real file size`);
  return Number(v);
}

export class ZipArchive {
  private readonly offsets = new Map<string, Promise<number>>();

  private constructor(
    readonly source: ByteSource,
    readonly entries: Map<string, ZipEntry>,
    /** Where the central directory starts: every entry's data must end before it. */
    private readonly dataEnd: number,
  ) {}

  static async open(source: ByteSource): Promise<ZipArchive> {
    const bad = (what: string) => new Error(`${source.name}: not a valid zip archive: ${what}`);
    if (source.size < EOCD_SIZE) throw bad(`only ${source.size} bytes, too short for a zip (truncated?)`);

    // The end-of-central-directory record sits at the end, possibly followed by a comment.
    const tailLen = Math.min(source.size, EOCD_SIZE + MAX_COMMENT);
    const tailStart = source.size - tailLen;
    const tail = await source.read(tailStart, tailLen);
    const tv = view(tail);
    let eocd = -1;
    for (let i = tailLen - EOCD_SIZE; i >= 0; i--) {
      if (tv.getUint32(i, true) === SIG_EOCD && i + EOCD_SIZE + tv.getUint16(i + 20, true) === tailLen) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw bad('no end-of-central-directory record (the file is truncated or not a zip)');
    const eocdPos = tailStart + eocd;
    if (tv.getUint16(eocd + 4, true) !== 0 || tv.getUint16(eocd + 6, true) !== 0) throw bad('multi-disk archives are not supported');
    let count = tv.getUint16(eocd + 10, true);
    let cdSize = tv.getUint32(eocd + 12, true);
    let cdOffset = tv.getUint32(eocd + 16, true);
    let cdLimit = eocdPos;

    // Zip64: a locator 20 bytes before the EOCD points at the 64-bit record.
    if (eocdPos >= 20) {
      const loc = view(await source.read(eocdPos - 20, 20));
      if (loc.getUint32(0, true) === SIG_ZIP64_LOCATOR) {
        const recPos = u64(loc, 8, () => `${source.name}: zip64 record offset`);
        if (recPos + 56 > eocdPos - 20) throw bad(`zip64 end record at ${recPos} lies outside the archive`);
        const rec = view(await source.read(recPos, 56));
        if (rec.getUint32(0, true) !== SIG_ZIP64_EOCD) throw bad(`no zip64 end record at offset ${recPos}`);
        const what = (f: string) => () => `${source.name}: zip64 ${f}`;
        count = u64(rec, 32, what('entry count'));
        cdSize = u64(rec, 40, what('central directory size'));
        cdOffset = u64(rec, 48, what('central directory offset'));
        cdLimit = recPos;
      }
    }
    if (cdOffset + cdSize > cdLimit) {
      throw bad(`central directory (${cdSize} bytes at ${cdOffset}) runs past its end record at ${cdLimit} (truncated or corrupt)`);
    }
    if (cdSize > MAX_CENTRAL_DIR) throw bad(`central directory of ${cdSize} bytes exceeds ${MAX_CENTRAL_DIR}`);
    if (count * 46 > cdSize) throw bad(`${count} entries cannot fit a central directory of ${cdSize} bytes`);

    const cd = await source.read(cdOffset, cdSize);
    const dv = view(cd);
    const names = new TextDecoder('utf-8');
    const entries = new Map<string, ZipEntry>();
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cdSize || dv.getUint32(p, true) !== SIG_CENTRAL) throw bad(`central directory entry ${i} at offset ${cdOffset + p} is malformed`);
      const nameLen = dv.getUint16(p + 28, true);
      const extraLen = dv.getUint16(p + 30, true);
      const commentLen = dv.getUint16(p + 32, true);
      const next = p + 46 + nameLen + extraLen + commentLen;
      if (next > cdSize) throw bad(`central directory entry ${i} runs past the directory`);
      const name = names.decode(cd.subarray(p + 46, p + 46 + nameLen));
      const e: ZipEntry = {
        name,
        flags: dv.getUint16(p + 8, true),
        method: dv.getUint16(p + 10, true),
        crc32: dv.getUint32(p + 16, true),
        compressedSize: dv.getUint32(p + 20, true),
        size: dv.getUint32(p + 24, true),
        headerOffset: dv.getUint32(p + 42, true),
      };
      // Zip64 extra field: 64-bit values for exactly the fields saturated at 0xffffffff.
      if (e.size === 0xffffffff || e.compressedSize === 0xffffffff || e.headerOffset === 0xffffffff) {
        let q = p + 46 + nameLen;
        const end = q + extraLen;
        let found = false;
        while (q + 4 <= end) {
          const id = dv.getUint16(q, true);
          const len = dv.getUint16(q + 2, true);
          if (q + 4 + len > end) break;
          if (id === 0x0001) {
            let r = q + 4;
            const take = (f: string) => {
              if (r + 8 > q + 4 + len) throw bad(`entry '${name}': zip64 extra field lacks the ${f}`);
              const v = u64(dv, r, () => `${source.name}: entry '${name}' ${f}`);
              r += 8;
              return v;
            };
            if (e.size === 0xffffffff) e.size = take('size');
            if (e.compressedSize === 0xffffffff) e.compressedSize = take('compressed size');
            if (e.headerOffset === 0xffffffff) e.headerOffset = take('local header offset');
            found = true;
            break;
          }
          q += 4 + len;
        }
        if (!found) throw bad(`entry '${name}' has 32-bit fields saturated but no zip64 extra field`);
      }
      if (e.headerOffset + 30 + nameLen > cdOffset) {
        throw bad(`entry '${name}': local header offset ${e.headerOffset} is outside the data area (0..${cdOffset})`);
      }
      if (entries.has(name)) throw bad(`entry '${name}' appears twice`);
      entries.set(name, e);
      p = next;
    }
    return new ZipArchive(source, entries, cdOffset);
  }

  /** The archive's own name for an entry, for messages. */
  where(e: ZipEntry): string {
    return `${this.source.name}: entry '${e.name}'`;
  }

  /** Absolute offset of an entry's data, after checking its local header (memoised). */
  dataOffset(e: ZipEntry): Promise<number> {
    let p = this.offsets.get(e.name);
    if (!p) {
      p = this.checkLocal(e);
      this.offsets.set(e.name, p);
    }
    return p;
  }

  private async checkLocal(e: ZipEntry): Promise<number> {
    const where = this.where(e);
    if (e.flags & 1) throw new Error(`${where} is encrypted`);
    if (e.method !== 0) {
      throw new Error(`${where} is compressed (zip method ${e.method}); torch.save stores entries uncompressed, so this archive was rewritten by another tool`);
    }
    if (e.compressedSize !== e.size) throw new Error(`${where} is stored but its sizes differ (${e.compressedSize} vs ${e.size})`);
    const h = view(await this.source.read(e.headerOffset, 30));
    if (h.getUint32(0, true) !== SIG_LOCAL) throw new Error(`${where}: no local file header at offset ${e.headerOffset} (corrupt central directory)`);
    const nameLen = h.getUint16(26, true);
    const extraLen = h.getUint16(28, true);
    const localName = await this.source.read(e.headerOffset + 30, Math.min(nameLen, this.dataEnd - e.headerOffset - 30));
    if (nameLen !== new TextEncoder().encode(e.name).length || new TextDecoder().decode(localName) !== e.name) {
      throw new Error(`${where}: local header at offset ${e.headerOffset} names '${new TextDecoder().decode(localName)}' (corrupt central directory)`);
    }
    if (h.getUint16(8, true) !== e.method) throw new Error(`${where}: local and central headers disagree on the compression method`);
    // Without a data descriptor (flag bit 3) the local header repeats CRC and sizes (or defers them to zip64 extra).
    if (!(e.flags & 8)) {
      const crc = h.getUint32(14, true);
      const size = h.getUint32(22, true);
      if (crc !== e.crc32 || (size !== 0xffffffff && size !== e.size)) {
        throw new Error(`${where}: local header (crc ${crc.toString(16)}, ${size} bytes) disagrees with the central directory (crc ${e.crc32.toString(16)}, ${e.size} bytes)`);
      }
    }
    const start = e.headerOffset + 30 + nameLen + extraLen;
    if (start + e.size > this.dataEnd) {
      throw new Error(`${where}: its ${e.size} bytes at offset ${start} run past the data area (${this.dataEnd} bytes): truncated or corrupt`);
    }
    return start;
  }

  /** Reads a small entry whole and verifies its CRC-32. */
  async read(e: ZipEntry): Promise<Uint8Array> {
    if (e.size > MAX_WHOLE_ENTRY) throw new Error(`${this.where(e)} is ${e.size} bytes, too large to read whole (limit ${MAX_WHOLE_ENTRY})`);
    const bytes = await this.source.read(await this.dataOffset(e), e.size);
    const crc = crc32(bytes);
    if (crc !== e.crc32) throw new Error(`${this.where(e)}: CRC-32 mismatch (stored ${e.crc32.toString(16)}, computed ${crc.toString(16)}): the archive is corrupt`);
    return bytes;
  }
}
