// Random-access byte sources. Weight files are read tensor by tensor through these, so a
// multi-GB file is never held whole in JS memory (Node: file handle; browser: Blob.slice or
// HTTP Range requests).

export interface ByteSource {
  /** Shown in error messages: a path, file name or URL. */
  readonly name: string;
  readonly size: number;
  /** Reads exactly `length` bytes at `offset`; throws if the source is shorter. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Optional: reads `target.length` bytes at `offset` into `target`, with no new allocation. */
  readInto?(offset: number, target: Uint8Array): Promise<void>;
  close?(): Promise<void>;
}

/** Fills `target` from `src` at `offset`, without an intermediate copy where the source allows. */
export async function readInto(src: ByteSource, offset: number, target: Uint8Array): Promise<void> {
  if (src.readInto) return src.readInto(offset, target);
  target.set(await src.read(offset, target.length));
}

export function checkRange(src: { name: string; size: number }, offset: number, length: number): void {
  if (offset < 0 || length < 0 || offset + length > src.size) {
    throw new Error(
      `${src.name}: read of ${length} bytes at offset ${offset} is past the end of the file (${src.size} bytes); the file is truncated or corrupt`,
    );
  }
}

export class MemorySource implements ByteSource {
  readonly size: number;
  constructor(readonly name: string, private readonly bytes: Uint8Array) {
    this.size = bytes.byteLength;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    return this.bytes.subarray(offset, offset + length);
  }
}

/** A browser File/Blob (from a file or directory picker). */
export class BlobSource implements ByteSource {
  readonly size: number;
  constructor(readonly name: string, private readonly blob: Blob) {
    this.size = blob.size;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    return new Uint8Array(await this.blob.slice(offset, offset + length).arrayBuffer());
  }
}

/** A URL served with HTTP Range support; size comes from a HEAD request. */
export class HttpRangeSource implements ByteSource {
  private constructor(readonly name: string, readonly size: number) {}
  static async open(url: string): Promise<HttpRangeSource> {
    const head = await fetch(url, { method: 'HEAD' });
    if (!head.ok) throw new Error(`${url}: HTTP ${head.status} ${head.statusText}`);
    const len = Number(head.headers.get('content-length'));
    if (!Number.isFinite(len)) throw new Error(`${url}: server sent no Content-Length`);
    return new HttpRangeSource(url, len);
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    if (length === 0) return new Uint8Array(0);
    const res = await fetch(this.name, { headers: { Range: `bytes=${offset}-${offset + length - 1}` } });
    if (res.status !== 206) {
      throw new Error(`${this.name}: expected HTTP 206 for a Range request, got ${res.status}; serve the files with Range support`);
    }
    const buf = new Uint8Array(await res.arrayBuffer());
    if (buf.byteLength !== length) throw new Error(`${this.name}: short Range response (${buf.byteLength} of ${length} bytes)`);
    return buf;
  }
}
