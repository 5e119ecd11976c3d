/**
 * qcow2 disk images (versions 2 and 3) as {@link BlockStorage}, with backing files
 * (copy-on-write overlays, as `qemu-img create -b base.qcow2` makes). Clusters are allocated at
 * the end of the file with 16-bit refcounts kept exact, so `qemu-img check` finds no leaks.
 * Discard frees whole allocated clusters. Not implemented: compressed or encrypted clusters,
 * internal snapshots (images with snapshots open read-only), external data files.
 * @see https://gitlab.com/qemu-project/qemu/-/blob/master/docs/interop/qcow2.txt
 * @module
 */
import { SplitDriversError } from '../errors.ts';
import { utf8Decode, utf8Encode } from '../internal/utf8.ts';
import { BLKIF_SECTOR_SIZE } from './blkif-abi.ts';
import type { ByteStore } from './byte-store.ts';
import type { BlockStorage } from './storage.ts';

/** `QFI\xfb`. */
export const QCOW2_MAGIC = 0x514649fb;
/** Header extension: backing file format name. */
const EXT_BACKING_FORMAT = 0xe2792aca;
const OFFSET_MASK = 0x00ff_ffff_ffff_fe00n;
const COPIED = 1n << 63n;
const COMPRESSED = 1n << 62n;
const ZERO = 1n;

/** The fields of a qcow2 header this implementation uses. */
export interface Qcow2Header {
  /** 2 or 3. */
  readonly version: number;
  /** log2 of the cluster size (9..21). */
  readonly clusterBits: number;
  /** Virtual disk size in bytes. */
  readonly size: number;
  /** Entries in the L1 table. */
  readonly l1Size: number;
  /** File offset of the L1 table. */
  readonly l1TableOffset: number;
  /** File offset of the refcount table. */
  readonly refcountTableOffset: number;
  /** Clusters the refcount table occupies. */
  readonly refcountTableClusters: number;
  /** Internal snapshots. */
  readonly nbSnapshots: number;
  /** log2 of refcount width in bits (4 = 16-bit, the only width written). */
  readonly refcountOrder: number;
  /** Backing file name, if any. */
  readonly backingFile: string | undefined;
  /** Backing file format from the header extension, if any. */
  readonly backingFormat: string | undefined;
}

/** Opens a backing image by the name and format recorded in an overlay. */
export type BackingOpener = (name: string, format: string | undefined) => Promise<BlockStorage>;

/** Options of {@link Qcow2Storage.create}. */
export interface Qcow2CreateOptions {
  /** Virtual size in bytes (a multiple of 512). */
  readonly size: number;
  /** log2 cluster size; default 16 (64 KiB), as qemu-img. */
  readonly clusterBits?: number;
  /** Backing file name to record, making this a copy-on-write overlay. */
  readonly backingFile?: string;
  /** Backing file format to record (`qcow2`, `raw`). */
  readonly backingFormat?: string;
}

/** Options of {@link Qcow2Storage.open}. */
export interface Qcow2OpenOptions {
  /** Open read-only (a backing image, or `mode=r`). */
  readonly readOnly?: boolean;
  /** Opens the backing file of an overlay; required when the image has one. */
  readonly openBacking?: BackingOpener;
}

function bad(message: string): SplitDriversError {
  return new SplitDriversError('BAD_IMAGE', `qcow2: ${message}`);
}

/** Parses a qcow2 header from the first cluster's bytes. */
export function parseQcow2Header(bytes: Uint8Array): Qcow2Header {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 72 || v.getUint32(0) !== QCOW2_MAGIC)
    throw bad('not a qcow2 image (bad magic)');
  const version = v.getUint32(4);
  if (version !== 2 && version !== 3)
    throw new SplitDriversError('UNSUPPORTED', `qcow2: version ${version}`);
  const clusterBits = v.getUint32(20);
  if (clusterBits < 9 || clusterBits > 21) throw bad(`cluster_bits ${clusterBits} out of range`);
  if (v.getUint32(32) !== 0) throw new SplitDriversError('UNSUPPORTED', 'qcow2: encrypted images');
  let refcountOrder = 4;
  let headerLength = 72;
  if (version === 3) {
    if (bytes.length < 104) throw bad('short v3 header');
    const incompatible = v.getBigUint64(72);
    if (incompatible !== 0n) {
      throw new SplitDriversError(
        'UNSUPPORTED',
        `qcow2: incompatible features 0x${incompatible.toString(16)}`,
      );
    }
    refcountOrder = v.getUint32(96);
    headerLength = v.getUint32(100);
  }
  const cluster = 2 ** clusterBits;
  // Header extensions (v3 only: right after the header; v2 images may have them too).
  let backingFormat: string | undefined;
  let off = headerLength;
  while (off + 8 <= Math.min(bytes.length, cluster)) {
    const type = v.getUint32(off);
    const len = v.getUint32(off + 4);
    if (type === 0) break;
    if (off + 8 + len > bytes.length) throw bad('header extension overruns the header cluster');
    if (type === EXT_BACKING_FORMAT)
      backingFormat = utf8Decode(bytes.subarray(off + 8, off + 8 + len));
    off += 8 + Math.ceil(len / 8) * 8;
  }
  const backingOffset = Number(v.getBigUint64(8));
  const backingSize = v.getUint32(16);
  let backingFile: string | undefined;
  if (backingOffset !== 0) {
    if (backingSize > 1023 || backingOffset + backingSize > bytes.length)
      throw bad('backing file name out of range');
    backingFile = utf8Decode(bytes.subarray(backingOffset, backingOffset + backingSize));
  }
  return {
    version,
    clusterBits,
    size: Number(v.getBigUint64(24)),
    l1Size: v.getUint32(36),
    l1TableOffset: Number(v.getBigUint64(40)),
    refcountTableOffset: Number(v.getBigUint64(48)),
    refcountTableClusters: v.getUint32(56),
    nbSnapshots: v.getUint32(60),
    refcountOrder,
    backingFile,
    backingFormat,
  };
}

/**
 * A qcow2 image as block storage. Operations are serialised (one metadata update at a time);
 * data is written before the L2 entry that points to it, L2 tables before L1 entries, and
 * refcounts before any use, so a crash leaves at worst leaked clusters.
 */
export class Qcow2Storage implements BlockStorage {
  /** Capacity in 512-byte sectors. */
  readonly sectors: number;
  /** Always 512. */
  readonly sectorSize: number;
  /** The cluster size: discard frees whole clusters only (the `discard-granularity` key). */
  readonly discardGranularity: number;
  /** Whether writes are refused. */
  readonly readOnly: boolean;
  /** The parsed header. */
  readonly header: Qcow2Header;
  /** The backing image of an overlay. */
  readonly backing: BlockStorage | undefined;
  private readonly store: ByteStore;
  private readonly cluster: number;
  private readonly l2Entries: number;
  private readonly l1: DataView;
  private readonly refTable: DataView;
  private readonly l2Cache = new Map<number, Uint8Array>();
  private readonly refBlockCache = new Map<number, Uint8Array>();
  private end: number;
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    store: ByteStore,
    header: Qcow2Header,
    l1: Uint8Array,
    refTable: Uint8Array,
    end: number,
    readOnly: boolean,
    backing: BlockStorage | undefined,
  ) {
    this.store = store;
    this.header = header;
    this.cluster = 2 ** header.clusterBits;
    this.l2Entries = this.cluster / 8;
    this.l1 = new DataView(l1.buffer);
    this.refTable = new DataView(refTable.buffer);
    this.end = end;
    this.readOnly = readOnly;
    this.backing = backing;
    this.sectors = Math.floor(header.size / BLKIF_SECTOR_SIZE);
    this.sectorSize = BLKIF_SECTOR_SIZE;
    this.discardGranularity = this.cluster;
  }

  /** Opens an existing image (and, through `openBacking`, its backing file). */
  static async open(store: ByteStore, options: Qcow2OpenOptions = {}): Promise<Qcow2Storage> {
    const first = new Uint8Array(4096);
    await store.read(0, first);
    let header = parseQcow2Header(first);
    const cluster = 2 ** header.clusterBits;
    if (cluster > first.length) {
      const whole = new Uint8Array(cluster);
      await store.read(0, whole);
      header = parseQcow2Header(whole);
    }
    const fileSize = await store.size();
    const maxL1 = Math.ceil(header.size / (cluster * (cluster / 8)));
    if (header.l1Size < maxL1 || header.l1Size > 32 * 1024 * 1024)
      throw bad(`l1_size ${header.l1Size} does not cover the disk`);
    if (header.l1TableOffset % cluster !== 0 || header.refcountTableOffset % cluster !== 0)
      throw bad('unaligned tables');
    const l1 = new Uint8Array(header.l1Size * 8);
    await store.read(header.l1TableOffset, l1);
    const refTable = new Uint8Array(header.refcountTableClusters * cluster);
    await store.read(header.refcountTableOffset, refTable);
    let readOnly = options.readOnly ?? false;
    if (header.nbSnapshots > 0 || header.refcountOrder !== 4) readOnly = true;
    let backing: BlockStorage | undefined;
    if (header.backingFile !== undefined) {
      if (options.openBacking === undefined) {
        throw new SplitDriversError(
          'INVALID_ARGUMENT',
          `qcow2: image has backing file "${header.backingFile}" but no openBacking`,
        );
      }
      backing = await options.openBacking(header.backingFile, header.backingFormat);
    }
    const end = Math.ceil(fileSize / cluster) * cluster;
    return new Qcow2Storage(store, header, l1, refTable, end, readOnly, backing);
  }

  /**
   * Writes a new, empty version-3 image (64 KiB clusters unless told otherwise) and opens it.
   * Layout: header, refcount table, one refcount block, then the L1 table.
   */
  static async create(
    store: ByteStore,
    options: Qcow2CreateOptions,
    open: Qcow2OpenOptions = {},
  ): Promise<Qcow2Storage> {
    const clusterBits = options.clusterBits ?? 16;
    if (clusterBits < 9 || clusterBits > 21)
      throw new SplitDriversError('INVALID_ARGUMENT', 'cluster bits must be 9..21');
    if (options.size % BLKIF_SECTOR_SIZE !== 0 || options.size < 0) {
      throw new SplitDriversError('INVALID_ARGUMENT', 'qcow2 size must be a multiple of 512');
    }
    const c = 2 ** clusterBits;
    const l1Size = Math.max(1, Math.ceil(options.size / (c * (c / 8))));
    const l1Clusters = Math.ceil((l1Size * 8) / c);
    const header = new Uint8Array(c);
    const v = new DataView(header.buffer);
    v.setUint32(0, QCOW2_MAGIC);
    v.setUint32(4, 3);
    v.setUint32(20, clusterBits);
    v.setBigUint64(24, BigInt(options.size));
    v.setUint32(36, l1Size);
    v.setBigUint64(40, BigInt(3 * c));
    v.setBigUint64(48, BigInt(c));
    v.setUint32(56, 1);
    v.setUint32(96, 4);
    v.setUint32(100, 104);
    let off = 104;
    if (options.backingFormat !== undefined) {
      const fmt = utf8Encode(options.backingFormat);
      v.setUint32(off, EXT_BACKING_FORMAT);
      v.setUint32(off + 4, fmt.length);
      header.set(fmt, off + 8);
      off += 8 + Math.ceil(fmt.length / 8) * 8;
    }
    off += 8; // end-of-extensions marker (type 0, length 0)
    if (options.backingFile !== undefined) {
      const name = utf8Encode(options.backingFile);
      if (name.length > 1023 || off + name.length > c)
        throw new SplitDriversError('INVALID_ARGUMENT', 'backing file name too long');
      header.set(name, off);
      v.setBigUint64(8, BigInt(off));
      v.setUint32(16, name.length);
    }
    const used = 3 + l1Clusters;
    const refTable = new Uint8Array(c);
    new DataView(refTable.buffer).setBigUint64(0, BigInt(2 * c));
    const refBlock = new Uint8Array(c);
    const rb = new DataView(refBlock.buffer);
    if (used > c / 2)
      throw new SplitDriversError(
        'INVALID_ARGUMENT',
        'qcow2 image too large for its first refcount block',
      );
    for (let i = 0; i < used; i++) rb.setUint16(i * 2, 1);
    await store.write(0, header);
    await store.write(c, refTable);
    await store.write(2 * c, refBlock);
    await store.write(3 * c, new Uint8Array(l1Clusters * c));
    await store.flush();
    return Qcow2Storage.open(store, open);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private checkRange(sector: number, bytes: number): void {
    if (
      !Number.isInteger(sector) ||
      sector < 0 ||
      sector * BLKIF_SECTOR_SIZE + bytes > this.header.size
    ) {
      throw new SplitDriversError(
        'INVALID_ARGUMENT',
        `qcow2 access at sector ${sector} is outside the disk`,
      );
    }
  }

  /** Reads sectors, from this image, its backing file, or zeros. */
  read(sector: number, dest: Uint8Array): Promise<void> {
    this.checkRange(sector, dest.length);
    return this.serial(async () => {
      let done = 0;
      while (done < dest.length) {
        const vOff = sector * BLKIF_SECTOR_SIZE + done;
        const inCluster = vOff % this.cluster;
        const len = Math.min(this.cluster - inCluster, dest.length - done);
        await this.readWithin(vOff, dest.subarray(done, done + len));
        done += len;
      }
    });
  }

  /** Writes sectors, allocating (and copying up from the backing file) as needed. */
  write(sector: number, src: Uint8Array): Promise<void> {
    if (this.readOnly)
      return Promise.reject(
        new SplitDriversError('INVALID_STATE', 'write to a read-only qcow2 image'),
      );
    this.checkRange(sector, src.length);
    return this.serial(async () => {
      let done = 0;
      while (done < src.length) {
        const vOff = sector * BLKIF_SECTOR_SIZE + done;
        const inCluster = vOff % this.cluster;
        const len = Math.min(this.cluster - inCluster, src.length - done);
        await this.writeWithin(vOff, src.subarray(done, done + len));
        done += len;
      }
    });
  }

  /**
   * Discards the allocated clusters wholly inside a sector range: each data cluster is freed
   * (refcount 0) and reads as zeros afterwards — version 3 marks it a zero cluster, so a backing
   * file does not show through; version 2 unallocates it unless the image has a backing file
   * (then it is kept: discard is only a hint). Partial clusters at either end, unallocated,
   * compressed and shared clusters are left as they are. Each L2 entry is written before the
   * refcount drops, so a crash can only leak a cluster.
   */
  discard(sector: number, count: number): Promise<void> {
    if (this.readOnly)
      return Promise.reject(
        new SplitDriversError('INVALID_STATE', 'discard on a read-only qcow2 image'),
      );
    if (!Number.isInteger(count) || count < 0)
      return Promise.reject(
        new SplitDriversError('INVALID_ARGUMENT', `bad discard count ${count}`),
      );
    this.checkRange(sector, count * BLKIF_SECTOR_SIZE);
    const v3 = this.header.version === 3;
    if (!v3 && this.backing !== undefined) return Promise.resolve();
    return this.serial(async () => {
      const c = this.cluster;
      const first = Math.ceil((sector * BLKIF_SECTOR_SIZE) / c);
      const end = Math.floor(((sector + count) * BLKIF_SECTOR_SIZE) / c);
      for (let ci = first; ci < end; ci++) {
        const l1e = this.l1Entry(Math.floor(ci / this.l2Entries));
        const l2Off = Number(l1e & OFFSET_MASK);
        if (l2Off === 0 || (l1e & COPIED) === 0n) continue;
        const table = await this.l2Table(l2Off);
        const tv = new DataView(table.buffer);
        const slot = (ci % this.l2Entries) * 8;
        const entry = tv.getBigUint64(slot);
        const dataOff = Number(entry & OFFSET_MASK);
        if (dataOff === 0 || (entry & COMPRESSED) !== 0n || (entry & COPIED) === 0n) continue;
        tv.setBigUint64(slot, v3 ? ZERO : 0n);
        await this.store.write(l2Off + slot, table.subarray(slot, slot + 8));
        await this.setRefcount(dataOff, 0);
      }
    });
  }

  /** Flushes the file. */
  flush(): Promise<void> {
    return this.serial(() => this.store.flush());
  }

  private l1Entry(index: number): bigint {
    return index < this.header.l1Size ? this.l1.getBigUint64(index * 8) : 0n;
  }

  private async l2Table(offset: number): Promise<Uint8Array> {
    let t = this.l2Cache.get(offset);
    if (t === undefined) {
      if (offset % this.cluster !== 0) throw bad(`unaligned L2 table at ${offset}`);
      t = new Uint8Array(this.cluster);
      await this.store.read(offset, t);
      this.l2Cache.set(offset, t);
    }
    return t;
  }

  /** The L2 entry for a virtual offset (0n if unallocated). */
  private async l2Entry(vOff: number): Promise<bigint> {
    const clusterIndex = Math.floor(vOff / this.cluster);
    const l1e = this.l1Entry(Math.floor(clusterIndex / this.l2Entries));
    const l2Off = Number(l1e & OFFSET_MASK);
    if (l2Off === 0) return 0n;
    const t = await this.l2Table(l2Off);
    return new DataView(t.buffer).getBigUint64((clusterIndex % this.l2Entries) * 8);
  }

  private async readWithin(vOff: number, dest: Uint8Array): Promise<void> {
    const entry = await this.l2Entry(vOff);
    if ((entry & COMPRESSED) !== 0n)
      throw new SplitDriversError('UNSUPPORTED', 'qcow2: compressed clusters');
    const off = Number(entry & OFFSET_MASK);
    if ((entry & ZERO) !== 0n && this.header.version === 3) {
      dest.fill(0);
    } else if (off !== 0) {
      await this.store.read(off + (vOff % this.cluster), dest);
    } else {
      await this.readBacking(vOff, dest);
    }
  }

  private async readBacking(vOff: number, dest: Uint8Array): Promise<void> {
    dest.fill(0);
    const b = this.backing;
    if (b === undefined) return;
    const backingBytes = b.sectors * BLKIF_SECTOR_SIZE;
    if (vOff >= backingBytes) return;
    const len = Math.min(dest.length, backingBytes - vOff);
    await b.read(vOff / BLKIF_SECTOR_SIZE, dest.subarray(0, len));
  }

  private async writeWithin(vOff: number, src: Uint8Array): Promise<void> {
    const c = this.cluster;
    const clusterIndex = Math.floor(vOff / c);
    const l1Index = Math.floor(clusterIndex / this.l2Entries);
    let l1e = this.l1Entry(l1Index);
    let l2Off = Number(l1e & OFFSET_MASK);
    if (l2Off === 0) {
      l2Off = await this.allocCluster();
      const fresh = new Uint8Array(c);
      await this.store.write(l2Off, fresh);
      this.l2Cache.set(l2Off, fresh);
      l1e = BigInt(l2Off) | COPIED;
      this.l1.setBigUint64(l1Index * 8, l1e);
      const bytes = new Uint8Array(8);
      new DataView(bytes.buffer).setBigUint64(0, l1e);
      await this.store.write(this.header.l1TableOffset + l1Index * 8, bytes);
    } else if ((l1e & COPIED) === 0n) {
      throw new SplitDriversError('UNSUPPORTED', 'qcow2: shared L2 tables (snapshots)');
    }
    const table = await this.l2Table(l2Off);
    const tv = new DataView(table.buffer);
    const slot = (clusterIndex % this.l2Entries) * 8;
    const entry = tv.getBigUint64(slot);
    const dataOff = Number(entry & OFFSET_MASK);
    const inCluster = vOff % c;
    if (dataOff !== 0 && (entry & COPIED) !== 0n && (entry & (ZERO | COMPRESSED)) === 0n) {
      await this.store.write(dataOff + inCluster, src);
      return;
    }
    if ((entry & COMPRESSED) !== 0n)
      throw new SplitDriversError('UNSUPPORTED', 'qcow2: compressed clusters');
    // Copy-on-write: build the whole cluster from what reads see now, then overlay the write.
    const whole = new Uint8Array(c);
    if (src.length < c) await this.readWithin(vOff - inCluster, whole);
    whole.set(src, inCluster);
    const reuse = dataOff !== 0 && (entry & COPIED) !== 0n; // preallocated zero cluster
    const target = reuse ? dataOff : await this.allocCluster();
    await this.store.write(target, whole);
    const newEntry = BigInt(target) | COPIED;
    tv.setBigUint64(slot, newEntry);
    await this.store.write(l2Off + slot, table.subarray(slot, slot + 8));
  }

  /** Allocates a cluster at the end of the file with refcount 1 (refcount written first). */
  private async allocCluster(): Promise<number> {
    const off = this.end;
    this.end += this.cluster;
    await this.setRefcount(off, 1);
    return off;
  }

  private async setRefcount(off: number, value: number): Promise<void> {
    const c = this.cluster;
    const perBlock = c / 2; // 16-bit refcounts
    const clusterIndex = off / c;
    const blockIndex = Math.floor(clusterIndex / perBlock);
    if ((blockIndex + 1) * 8 > this.refTable.byteLength) {
      throw new SplitDriversError(
        'UNSUPPORTED',
        'qcow2: refcount table full (growing it is not implemented)',
      );
    }
    let blockOff = Number(this.refTable.getBigUint64(blockIndex * 8) & OFFSET_MASK);
    let block: Uint8Array | undefined;
    if (blockOff === 0) {
      blockOff = this.end;
      this.end += c;
      block = new Uint8Array(c);
      await this.store.write(blockOff, block);
      this.refBlockCache.set(blockOff, block);
      this.refTable.setBigUint64(blockIndex * 8, BigInt(blockOff));
      await this.store.write(
        this.header.refcountTableOffset + blockIndex * 8,
        new Uint8Array(this.refTable.buffer, blockIndex * 8, 8).slice(),
      );
      await this.setRefcount(blockOff, 1);
    }
    block = this.refBlockCache.get(blockOff);
    if (block === undefined) {
      block = new Uint8Array(c);
      await this.store.read(blockOff, block);
      this.refBlockCache.set(blockOff, block);
    }
    const at = (clusterIndex % perBlock) * 2;
    new DataView(block.buffer).setUint16(at, value);
    await this.store.write(blockOff + at, block.subarray(at, at + 2));
  }
}
