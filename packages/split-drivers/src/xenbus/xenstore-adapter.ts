/**
 * Adapts a xenstore client shaped like `@typevisor/xenstore`'s `XenstoreClient` (strings that
 * throw `ENOENT`, watches as async iterators) to the {@link XenbusClient} port drivers use.
 * The shape is declared here, so this package does not depend on the xenstore package.
 * @module
 */
import type { XenbusClient } from '../ports.ts';

/** A watch as an async iterator of `{ path }` events that `close()` unregisters. */
export interface XenstoreWatchLike extends AsyncIterableIterator<{ readonly path: string }> {
  /** Unregisters the watch (`XS_UNWATCH`). */
  close(): Promise<void>;
}

/** The part of a xenstore client the adapter uses. */
export interface XenstoreClientLike {
  /** `XS_READ` as a string; rejects with an error whose `errno` is `ENOENT` if missing. */
  readString(path: string): Promise<string>;
  /** `XS_WRITE`. */
  write(path: string, value: string): Promise<void>;
  /** `XS_DIRECTORY`; rejects with `ENOENT` if missing. */
  directory(path: string): Promise<string[]>;
  /** `XS_RM`; rejects with `ENOENT` if missing. */
  rm(path: string): Promise<void>;
  /** `XS_WATCH`; the first event is the one sent at registration. */
  watch(path: string): Promise<XenstoreWatchLike>;
}

function isEnoent(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { errno?: unknown }).errno === 'ENOENT';
}

/** Wraps a xenstore client as a {@link XenbusClient}: missing nodes read as undefined / empty. */
export function xenbusClientFromXenstore(xs: XenstoreClientLike): XenbusClient {
  return {
    read: (path) =>
      xs.readString(path).catch((err: unknown) => {
        if (isEnoent(err)) return undefined;
        throw err;
      }),
    write: (path, value) => xs.write(path, value),
    directory: (path) =>
      xs.directory(path).catch((err: unknown) => {
        if (isEnoent(err)) return [];
        throw err;
      }),
    remove: (path) =>
      xs.rm(path).catch((err: unknown) => {
        if (!isEnoent(err)) throw err;
      }),
    watch: async (path, callback) => {
      const w = await xs.watch(path);
      void (async () => {
        for await (const ev of w) callback(ev.path);
      })();
      return () => w.close();
    },
  };
}
