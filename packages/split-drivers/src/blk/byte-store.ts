/**
 * The byte-addressed store disk images live in (a file, an object, a buffer), and raw disks on it.
 * @module
 */
import { SplitDriversError } from '../errors.ts';
import { BLKIF_SECTOR_SIZE } from './blkif-abi.ts';
import type { BlockStorage } from './storage.ts';

/**
 * An async, growable byte store: what an image format reads and writes. The tests implement it
 * with `node:fs`; the library ships {@link MemoryByteStore}.
 */
export interface ByteStore {
  /** Current size in bytes. */
  size(): Promise<number>;
  /** Fills `dest` from `offset`; bytes past the end read as zero. */
  read(offset: number, dest: Uint8Array): Promise<void>;
  /** Writes `src` at `offset`, growing the store if needed. */
  write(offset: number, src: Uint8Array): Promise<void>;
  /** Makes completed writes durable. */
  flush(): Promise<void>;
}

/** A {@link ByteStore} in memory (grows by doubling). */
export class MemoryByteStore implements ByteStore {
  private buf: Uint8Array;
  private length: number;

  /** Creates an empty store, or one holding a copy of `initial`. */
  constructor(initial?: Uint8Array) {
    this.buf = new Uint8Array(Math.max(4096, initial?.length ?? 0));
    this.length = initial?.length ?? 0;
    if (initial !== undefined) this.buf.set(initial);
  }

  /** A copy of the current contents. */
  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }

  /** Current size in bytes. */
  async size(): Promise<number> {
    return this.length;
  }

  /** Reads bytes (zeros past the end). */
  async read(offset: number, dest: Uint8Array): Promise<void> {
    dest.fill(0);
    if (offset < this.length)
      dest.set(this.buf.subarray(offset, Math.min(this.length, offset + dest.length)));
  }

  /** Writes bytes, growing as needed. */
  async write(offset: number, src: Uint8Array): Promise<void> {
    const end = offset + src.length;
    if (end > this.buf.length) {
      let cap = this.buf.length;
      while (cap < end) cap *= 2;
      const grown = new Uint8Array(cap);
      grown.set(this.buf.subarray(0, this.length));
      this.buf = grown;
    }
    this.buf.set(src, offset);
    if (end > this.length) this.length = end;
  }

  /** Nothing to do in memory. */
  async flush(): Promise<void> {}
}

/** A raw disk image: sector `n` is bytes `n × 512` of the store. */
export class RawStorage implements BlockStorage {
  /** Capacity in 512-byte sectors. */
  readonly sectors: number;
  /** Always 512. */
  readonly sectorSize: number;
  /** Whether writes are refused. */
  readonly readOnly: boolean;
  private readonly store: ByteStore;

  private constructor(store: ByteStore, sectors: number, readOnly: boolean) {
    this.store = store;
    this.sectors = sectors;
    this.sectorSize = BLKIF_SECTOR_SIZE;
    this.readOnly = readOnly;
  }

  /** Opens a raw image; its size (rounded down to whole sectors) is the disk size. */
  static async open(store: ByteStore, options: { readOnly?: boolean } = {}): Promise<RawStorage> {
    return new RawStorage(
      store,
      Math.floor((await store.size()) / BLKIF_SECTOR_SIZE),
      options.readOnly ?? false,
    );
  }

  private check(sector: number, bytes: number): void {
    if (
      !Number.isInteger(sector) ||
      sector < 0 ||
      sector * BLKIF_SECTOR_SIZE + bytes > this.sectors * BLKIF_SECTOR_SIZE
    ) {
      throw new SplitDriversError(
        'INVALID_ARGUMENT',
        `raw access at sector ${sector} is outside the disk`,
      );
    }
  }

  /** Reads sectors. */
  async read(sector: number, dest: Uint8Array): Promise<void> {
    this.check(sector, dest.length);
    await this.store.read(sector * BLKIF_SECTOR_SIZE, dest);
  }

  /** Writes sectors. */
  async write(sector: number, src: Uint8Array): Promise<void> {
    if (this.readOnly)
      throw new SplitDriversError('INVALID_STATE', 'write to a read-only raw image');
    this.check(sector, src.length);
    await this.store.write(sector * BLKIF_SECTOR_SIZE, src);
  }

  /** Flushes the store. */
  flush(): Promise<void> {
    return this.store.flush();
  }
}
