/**
 * A disk image file as the split-driver `ByteStore` that raw and qcow2 storage sit on.
 * @module
 */
import { type FileHandle, open } from 'node:fs/promises';
import type { ByteStore } from '@typevisor/split-drivers';
import { ToolstackError } from '../errors.ts';

/** A split-driver `ByteStore` over an open file (positional reads and writes, `fsync` on flush). */
export class FileByteStore implements ByteStore {
  /** The file's path. */
  readonly path: string;
  /** Whether the file was opened read-only. */
  readonly readOnly: boolean;
  private readonly fh: FileHandle;

  private constructor(path: string, fh: FileHandle, readOnly: boolean) {
    this.path = path;
    this.fh = fh;
    this.readOnly = readOnly;
  }

  /** Opens `path` (read-write unless `readOnly`); a missing file is a `NOT_FOUND` error. */
  static async open(path: string, readOnly: boolean): Promise<FileByteStore> {
    try {
      return new FileByteStore(path, await open(path, readOnly ? 'r' : 'r+'), readOnly);
    } catch (err) {
      throw new ToolstackError(
        (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'NOT_FOUND' : 'IO',
        `cannot open disk image ${path}: ${(err as Error).message}`,
      );
    }
  }

  /** The file's current size. */
  async size(): Promise<number> {
    return (await this.fh.stat()).size;
  }

  /** Reads `dest.length` bytes at `offset`; bytes past the end read as zero. */
  async read(offset: number, dest: Uint8Array): Promise<void> {
    let done = 0;
    while (done < dest.length) {
      const { bytesRead } = await this.fh.read(dest, done, dest.length - done, offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    dest.fill(0, done);
  }

  /** Writes `src` at `offset`. */
  async write(offset: number, src: Uint8Array): Promise<void> {
    if (this.readOnly) throw new ToolstackError('IO', `${this.path} is read-only`);
    let done = 0;
    while (done < src.length) {
      const { bytesWritten } = await this.fh.write(src, done, src.length - done, offset + done);
      done += bytesWritten;
    }
  }

  /** `fsync`s the file. */
  async flush(): Promise<void> {
    if (!this.readOnly) await this.fh.sync();
  }

  /** Closes the file. */
  async close(): Promise<void> {
    await this.fh.close();
  }
}
