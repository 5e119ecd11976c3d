import { type FileHandle, open } from 'node:fs/promises';
import type { ByteStore } from '../src/index.ts';

/** A ByteStore over a real file (node:fs), for checking images with qemu-img. */
export class FileByteStore implements ByteStore {
  private readonly fh: FileHandle;

  private constructor(fh: FileHandle) {
    this.fh = fh;
  }

  static async open(path: string, create = false): Promise<FileByteStore> {
    return new FileByteStore(await open(path, create ? 'w+' : 'r+'));
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
    return this.fh.close();
  }
}
