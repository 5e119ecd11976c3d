/**
 * Host RAM ("machine memory"), allocated lazily in 2 MiB chunks so that a large machine address
 * space costs only what is written. Frames are 4 KiB; a machine frame number (MFN) indexes them.
 * @module
 */
import { MmuError } from './errors.ts';

/** Bytes per page frame. */
export const PAGE_SIZE: 4096 = 4096;
/** log2 of {@link PAGE_SIZE}. */
export const PAGE_SHIFT: 12 = 12;
/** log2 of the number of frames per lazily allocated chunk (512 frames = 2 MiB). */
export const CHUNK_FRAME_SHIFT: 9 = 9;
/** Frames per lazily allocated chunk. */
export const CHUNK_FRAMES: 512 = 512;
/** Bytes per lazily allocated chunk. */
export const CHUNK_BYTES: number = CHUNK_FRAMES * PAGE_SIZE;

/** Largest supported machine: 2^31 frames would overflow int32 frame arithmetic; cap at 2^28 (1 TiB). */
const MAX_FRAMES = 1 << 28;

/**
 * Told about every frame about to be written through {@link MachineMemory}'s writers (a
 * `DirtyLog` in log-dirty mode satisfies it).
 */
export interface FrameWriteWatch {
  /** Frame `mfn` is being written. */
  markMfn(mfn: number): void;
}

/** Options for {@link MachineMemory}. */
export interface MachineMemoryOptions {
  /** Size of the machine address space in bytes; a multiple of 2 MiB, at most 1 TiB. */
  readonly bytes: number;
}

/**
 * Machine memory. Reads of never-written chunks return zero without allocating; the first
 * write to a chunk allocates it. Hot paths index the chunk views directly:
 * `i32Chunks[mfn >> 9][((mfn & 511) << 10) | (offset >> 2)]` (one shared zero chunk stands in
 * for unallocated chunks on reads, so reads need no branch; writers call {@link chunkForWrite}).
 */
export class MachineMemory {
  /** Number of 4 KiB frames in the machine. */
  readonly frames: number;
  /** Number of 2 MiB chunks. */
  readonly chunks: number;
  /** Byte views per chunk; unallocated chunks share one zero-filled view (never written). */
  readonly u8Chunks: Uint8Array[];
  /** Int32 views per chunk, aliasing {@link u8Chunks}. */
  readonly i32Chunks: Int32Array[];
  /** Whether each chunk has its own storage yet (1) or is the shared zero chunk (0). */
  readonly allocated: Uint8Array;
  /** Number of chunks with their own storage. */
  allocatedChunks: number;
  /**
   * Told about every frame a writer of this class writes ({@link chunkForWrite} and
   * {@link clearFrame}); null (the default) costs one compare. Views handed out by
   * `chunkForWrite` callers are not seen after that call: log-dirty treats such frames itself.
   */
  writeWatch: FrameWriteWatch | null;
  private readonly zeroU8: Uint8Array;
  private readonly zeroI32: Int32Array;

  /** Creates a machine of `options.bytes` bytes; nothing is allocated until written. */
  constructor(options: MachineMemoryOptions) {
    const bytes = options.bytes;
    if (!Number.isSafeInteger(bytes) || bytes <= 0 || bytes % CHUNK_BYTES !== 0) {
      throw new MmuError(
        'INVALID_ARGUMENT',
        `machine size ${bytes} is not a positive multiple of 2 MiB`,
      );
    }
    const frames = bytes / PAGE_SIZE;
    if (frames > MAX_FRAMES)
      throw new MmuError('INVALID_ARGUMENT', `machine size ${bytes} exceeds 1 TiB`);
    this.frames = frames;
    this.chunks = frames / CHUNK_FRAMES;
    const zero = new ArrayBuffer(CHUNK_BYTES);
    this.zeroU8 = new Uint8Array(zero);
    this.zeroI32 = new Int32Array(zero);
    this.u8Chunks = new Array<Uint8Array>(this.chunks).fill(this.zeroU8);
    this.i32Chunks = new Array<Int32Array>(this.chunks).fill(this.zeroI32);
    this.allocated = new Uint8Array(this.chunks);
    this.allocatedChunks = 0;
    this.writeWatch = null;
  }

  /** Returns the chunk index holding `mfn`, allocating its storage if needed (for writers). */
  chunkForWrite(mfn: number): number {
    const c = mfn >>> CHUNK_FRAME_SHIFT;
    if (this.allocated[c] === 0) this.allocateChunk(c);
    if (this.writeWatch !== null) this.writeWatch.markMfn(mfn);
    return c;
  }

  private allocateChunk(c: number): void {
    if (c >= this.chunks)
      throw new MmuError('INVALID_ARGUMENT', `chunk ${c} is outside the machine`);
    const buf = new ArrayBuffer(CHUNK_BYTES);
    this.u8Chunks[c] = new Uint8Array(buf);
    this.i32Chunks[c] = new Int32Array(buf);
    this.allocated[c] = 1;
    this.allocatedChunks++;
  }

  /** Reads the little-endian int32 at 4-byte-aligned `offset` within frame `mfn`. */
  read32(mfn: number, offset: number): number {
    return this.i32Chunks[mfn >>> CHUNK_FRAME_SHIFT][((mfn & 511) << 10) | (offset >>> 2)];
  }

  /** Writes the int32 `value` at 4-byte-aligned `offset` within frame `mfn`. */
  write32(mfn: number, offset: number, value: number): void {
    this.i32Chunks[this.chunkForWrite(mfn)][((mfn & 511) << 10) | (offset >>> 2)] = value;
  }

  /** Reads the byte at `offset` within frame `mfn`. */
  read8(mfn: number, offset: number): number {
    return this.u8Chunks[mfn >>> CHUNK_FRAME_SHIFT][((mfn & 511) << 12) | offset];
  }

  /** Writes the byte `value` at `offset` within frame `mfn`. */
  write8(mfn: number, offset: number, value: number): void {
    this.u8Chunks[this.chunkForWrite(mfn)][((mfn & 511) << 12) | offset] = value;
  }

  /** Reads the int32 at machine address `ma` (any alignment; aligned accesses take the fast path). */
  readMa32(ma: number): number {
    const mfn = Math.floor(ma / PAGE_SIZE);
    const off = ma - mfn * PAGE_SIZE;
    if ((off & 3) === 0) return this.read32(mfn, off);
    let v = 0;
    for (let i = 3; i >= 0; i--) v = (v << 8) | this.readMa8(ma + i);
    return v;
  }

  /** Writes the int32 `value` at machine address `ma` (any alignment). */
  writeMa32(ma: number, value: number): void {
    const mfn = Math.floor(ma / PAGE_SIZE);
    const off = ma - mfn * PAGE_SIZE;
    if ((off & 3) === 0) {
      this.write32(mfn, off, value);
      return;
    }
    for (let i = 0; i < 4; i++) this.writeMa8(ma + i, (value >>> (i * 8)) & 0xff);
  }

  /** Reads the byte at machine address `ma`. */
  readMa8(ma: number): number {
    const mfn = Math.floor(ma / PAGE_SIZE);
    return this.read8(mfn, ma - mfn * PAGE_SIZE);
  }

  /** Writes the byte `value` at machine address `ma`. */
  writeMa8(ma: number, value: number): void {
    const mfn = Math.floor(ma / PAGE_SIZE);
    this.write8(mfn, ma - mfn * PAGE_SIZE, value);
  }

  /** Zero-fills frame `mfn` (free if its chunk was never written). */
  clearFrame(mfn: number): void {
    const c = mfn >>> CHUNK_FRAME_SHIFT;
    if (this.writeWatch !== null) this.writeWatch.markMfn(mfn);
    if (this.allocated[c] === 0) return;
    const base = (mfn & 511) << 10;
    this.i32Chunks[c].fill(0, base, base + 1024);
  }

  /** Copies frame `src` over frame `dst`. */
  copyFrame(dst: number, src: number): void {
    const s = this.i32Chunks[src >>> CHUNK_FRAME_SHIFT];
    const sb = (src & 511) << 10;
    const d = this.i32Chunks[this.chunkForWrite(dst)];
    d.set(s.subarray(sb, sb + 1024), (dst & 511) << 10);
  }

  /** Copies `bytes` into frame `mfn` at `offset` (cold path: loaders, tests). */
  writeBytes(mfn: number, offset: number, bytes: Uint8Array): void {
    if (offset < 0 || offset + bytes.length > PAGE_SIZE) {
      throw new MmuError('INVALID_ARGUMENT', 'writeBytes crosses a frame boundary');
    }
    this.u8Chunks[this.chunkForWrite(mfn)].set(bytes, ((mfn & 511) << 12) + offset);
  }

  /** Whether frame `mfn` holds exactly `words` (1024 int32): a CPU's decode cache checks code pages with it. */
  frameEquals(mfn: number, words: Int32Array): boolean {
    const w = this.i32Chunks[mfn >>> CHUNK_FRAME_SHIFT];
    const base = (mfn & 511) << 10;
    for (let k = 0; k < 1024; k++) if (w[base + k] !== words[k]) return false;
    return true;
  }

  /** Copies frame `mfn` into `out` (1024 int32). */
  readFrameWords(mfn: number, out: Int32Array): void {
    const base = (mfn & 511) << 10;
    out.set(this.i32Chunks[mfn >>> CHUNK_FRAME_SHIFT].subarray(base, base + 1024));
  }

  /** Returns a copy of frame `mfn`'s 4096 bytes (cold path: save, tests). */
  readFrame(mfn: number): Uint8Array {
    const base = (mfn & 511) << 12;
    return this.u8Chunks[mfn >>> CHUNK_FRAME_SHIFT].slice(base, base + PAGE_SIZE);
  }
}
