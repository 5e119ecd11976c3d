/**
 * A guest console log, as xenconsoled keeps in `/var/log/xen/console/guest-<name>.log`: guest
 * output appended to a {@link ByteStore} (a file in Node), optionally with a
 * `[YYYY-MM-DD HH:MM:SS] ` stamp at the start of every line (xenconsoled `--timestamp=guest`).
 * @module
 */
import type { ByteStore } from '../blk/byte-store.ts';
import { utf8Encode } from '../internal/utf8.ts';
import type { Clock } from '../ports.ts';

/** How a {@link ConsoleLog} writes. */
export interface ConsoleLogOptions {
  /** Stamp each line with the time it started (UTC); needs `clock`. Default false. */
  readonly timestamps?: boolean;
  /** Time source for stamps (milliseconds since the Unix epoch). */
  readonly clock?: Clock;
}

const NL = 0x0a;
const CR = 0x0d;

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** `[YYYY-MM-DD HH:MM:SS] ` for a time in ms since the epoch, in UTC. */
export function consoleTimestamp(ms: number): string {
  const d = new Date(ms);
  return (
    `[${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)} ` +
    `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}] `
  );
}

/**
 * Appends console output to a store, in order, without blocking the caller: writes are queued
 * and performed one after another; {@link ConsoleLog.flush} waits for them and makes them
 * durable. A failed write is kept in {@link ConsoleLog.lastError} and later output still goes
 * out (as xenconsoled keeps serving the guest when its log disk fills).
 */
export class ConsoleLog {
  /** Bytes appended so far (including timestamps). */
  bytesWritten: number;
  /** The last write or flush error, if any. */
  lastError: unknown;
  private readonly store: ByteStore;
  private readonly opts: ConsoleLogOptions;
  private offset: number;
  private atLineStart: boolean;
  private afterNewline: boolean;
  private chain: Promise<void>;

  private constructor(store: ByteStore, offset: number, options: ConsoleLogOptions) {
    this.store = store;
    this.opts = options;
    this.offset = offset;
    this.bytesWritten = 0;
    this.lastError = undefined;
    this.atLineStart = true;
    this.afterNewline = false;
    this.chain = Promise.resolve();
  }

  /** Opens a log that appends after what `store` already holds. */
  static async open(store: ByteStore, options: ConsoleLogOptions = {}): Promise<ConsoleLog> {
    return new ConsoleLog(store, await store.size(), options);
  }

  /**
   * Queues guest output. With timestamps, each line gets the stamp of the moment its first byte
   * arrived, and `\r` right after a `\n` is dropped (xenconsoled does the same, so CRLF output
   * gives clean lines).
   */
  write(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const out = this.opts.timestamps === true ? this.stamp(bytes) : bytes.slice();
    if (out.length === 0) return;
    const at = this.offset;
    this.offset += out.length;
    this.bytesWritten += out.length;
    this.chain = this.chain.then(() =>
      this.store.write(at, out).catch((e: unknown) => {
        this.lastError = e;
      }),
    );
  }

  /** Resolves once every queued write has completed and the store has flushed. */
  async flush(): Promise<void> {
    await this.chain;
    try {
      await this.store.flush();
    } catch (e) {
      this.lastError = e;
    }
  }

  private stamp(bytes: Uint8Array): Uint8Array {
    const ts = utf8Encode(consoleTimestamp(this.opts.clock?.now() ?? 0));
    const parts: Uint8Array[] = [];
    let start = 0;
    let i = 0;
    if (this.afterNewline) {
      while (i < bytes.length && bytes[i] === CR) i++;
      start = i;
      if (i < bytes.length) this.afterNewline = false;
    }
    for (; i < bytes.length; ) {
      if (this.atLineStart) {
        parts.push(ts);
        this.atLineStart = false;
      }
      let nl = bytes.indexOf(NL, i);
      if (nl < 0) nl = bytes.length - 1;
      parts.push(bytes.subarray(start, nl + 1));
      i = nl + 1;
      if (bytes[nl] === NL) {
        this.atLineStart = true;
        this.afterNewline = true;
        while (i < bytes.length && bytes[i] === CR) i++;
        if (i < bytes.length) this.afterNewline = false;
      }
      start = i;
    }
    let len = 0;
    for (const p of parts) len += p.length;
    const out = new Uint8Array(len);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}
