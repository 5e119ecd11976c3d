import { type FileHandle, open } from 'node:fs/promises';
import type { ByteStore } from '../src/index.ts';

/** A ByteStore over a real file (node:fs), for checking images with qemu-img. */
export class FileByteStore implements ByteStore {
  /** Every store not yet closed, so a test file can close them all at the end. */
  private static readonly open_ = new Set<FileByteStore>();
  private readonly fh: FileHandle;

  private constructor(fh: FileHandle) {
    this.fh = fh;
  }

  static async open(path: string, create = false): Promise<FileByteStore> {
    const store = new FileByteStore(await open(path, create ? 'w+' : 'r+'));
    FileByteStore.open_.add(store);
    return store;
  }

  /** Closes every store still open. */
  static async closeAll(): Promise<void> {
    for (const s of [...FileByteStore.open_]) await s.close();
  }

  async size(): Promise<number> {
    return (await this.fh.stat()).size;
  }

  async read(offset: number, dest: Uint8Array): Promise<void> {
    dest.fill(0);
    let done = 0;
    while (done < dest.length) {
      const { bytesRead } = await this.fh.read(dest, done, dest.length - done, offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
  }

  async write(offset: number, src: Uint8Array): Promise<void> {
    let done = 0;
    while (done < src.length) {
      const { bytesWritten } = await this.fh.write(src, done, src.length - done, offset + done);
      done += bytesWritten;
    }
  }

  async flush(): Promise<void> {
    await this.fh.sync();
  }

  close(): Promise<void> {
    if (!FileByteStore.open_.delete(this)) return Promise.resolve();
    return this.fh.close();
  }
}
