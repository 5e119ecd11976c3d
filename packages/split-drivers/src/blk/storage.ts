/**
 * The storage port a block backend serves from, and an in-memory implementation.
 * @module
 */
import { SplitDriversError } from '../errors.ts';
import { BLKIF_SECTOR_SIZE } from './blkif-abi.ts';

/**
 * Storage behind a virtual block device, addressed in 512-byte sectors. Implementations may be
 * a memory buffer, a raw file or an image format; errors reject the promise and reach the guest
 * as `BLKIF_RSP_ERROR`.
 */
export interface BlockStorage {
  /** Capacity in 512-byte sectors (the `sectors` key). */
  readonly sectors: number;
  /** Logical sector size in bytes (the `sector-size` key): a power of two, at least 512. */
  readonly sectorSize: number;
  /** Whether the storage itself refuses writes (a read-only image). */
  readonly readOnly: boolean;
  /** Fills `dest` from byte offset `sector × 512`. */
  read(sector: number, dest: Uint8Array): Promise<void>;
  /** Writes `src` at byte offset `sector × 512`. */
  write(sector: number, src: Uint8Array): Promise<void>;
  /** Makes every completed write durable. */
  flush(): Promise<void>;
  /**
   * Discards a sector range: a hint that its data is no longer needed, so reads may return zeros
   * or the old data afterwards (`MemoryStorage` zeroes it); absent if unsupported.
   */
  discard?(sector: number, count: number): Promise<void>;
  /**
   * Bytes that discard works in (the `discard-granularity` key; a qcow2 cluster); default the
   * logical sector size.
   */
  readonly discardGranularity?: number;
}

/** Options of {@link MemoryStorage}. */
export interface MemoryStorageOptions {
  /** Logical sector size; default 512. */
  readonly sectorSize?: number;
  /** Refuse writes; default false. */
  readonly readOnly?: boolean;
  /** Initial contents (copied; its length must be a multiple of 512). */
  readonly contents?: Uint8Array;
}

/**
 * A disk in a `Uint8Array`. Writes land in a volatile cache that only {@link MemoryStorage.flush}
 * copies to {@link MemoryStorage.durable}, so tests can check that barriers and flushes reach
 * "stable storage".
 */
export class MemoryStorage implements BlockStorage {
  /** Capacity in 512-byte sectors. */
  readonly sectors: number;
  /** Logical sector size in bytes. */
  readonly sectorSize: number;
  /** Whether writes are refused. */
  readonly readOnly: boolean;
  /** The current contents as reads see them. */
  readonly data: Uint8Array;
  /** The contents as of the last flush (what survives a crash). */
  readonly durable: Uint8Array;
  /** Operation counters. */
  readonly counters: { reads: number; writes: number; flushes: number; discards: number };

  /** Creates a zeroed (or pre-filled) disk of `sectors` 512-byte sectors. */
  constructor(sectors: number, options: MemoryStorageOptions = {}) {
    if (!Number.isInteger(sectors) || sectors < 0 || sectors > 2 ** 31 / BLKIF_SECTOR_SIZE) {
      throw new SplitDriversError(
        'INVALID_ARGUMENT',
        `memory disk size ${sectors} sectors is out of range`,
      );
    }
    const sectorSize = options.sectorSize ?? BLKIF_SECTOR_SIZE;
    if (sectorSize < 512 || sectorSize > 4096 || (sectorSize & (sectorSize - 1)) !== 0) {
      throw new SplitDriversError(
        'INVALID_ARGUMENT',
        `sector size ${sectorSize} must be a power of two in 512..4096`,
      );
    }
    this.sectors = sectors;
    this.sectorSize = sectorSize;
    this.readOnly = options.readOnly ?? false;
    this.data = new Uint8Array(sectors * BLKIF_SECTOR_SIZE);
    if (options.contents !== undefined)
      this.data.set(options.contents.subarray(0, this.data.length));
    this.durable = this.data.slice();
    this.counters = { reads: 0, writes: 0, flushes: 0, discards: 0 };
  }

  private range(sector: number, bytes: number): number {
    const start = sector * BLKIF_SECTOR_SIZE;
    if (!Number.isInteger(sector) || sector < 0 || start + bytes > this.data.length) {
      throw new SplitDriversError(
        'INVALID_ARGUMENT',
        `access at sector ${sector} (+${bytes} bytes) is outside the disk`,
      );
    }
    return start;
  }

  /** Copies disk bytes into `dest`. */
  async read(sector: number, dest: Uint8Array): Promise<void> {
    const start = this.range(sector, dest.length);
    this.counters.reads++;
    dest.set(this.data.subarray(start, start + dest.length));
  }

  /** Copies `src` onto the disk (volatile until flushed). */
  async write(sector: number, src: Uint8Array): Promise<void> {
    if (this.readOnly)
      throw new SplitDriversError('INVALID_STATE', 'write to a read-only memory disk');
    const start = this.range(sector, src.length);
    this.counters.writes++;
    this.data.set(src, start);
  }

  /** Makes all writes durable. */
  async flush(): Promise<void> {
    this.counters.flushes++;
    this.durable.set(this.data);
  }

  /** Zeroes a sector range. */
  async discard(sector: number, count: number): Promise<void> {
    const start = this.range(sector, count * BLKIF_SECTOR_SIZE);
    this.counters.discards++;
    this.data.fill(0, start, start + count * BLKIF_SECTOR_SIZE);
  }
}
