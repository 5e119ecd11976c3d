/**
 * The xenstore daemon's unix-socket transport (node only). Every socket client is a
 * privileged dom0 connection, as with C xenstored's socket.
 *
 * @module
 */
import { chmodSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { XenstoreConnection } from '../connection.ts';
import { encodeMessage, MessageReader, type XsMessage } from '../wire/codec.ts';
import type { Xenstore } from '../xenstore.ts';

/** Options of {@link XenstoreServer}. */
export interface XenstoreServerOptions {
  /** Path of the unix socket to listen on (replaced if it exists). */
  readonly socketPath: string;
  /** The store to serve. */
  readonly xenstore: Xenstore;
  /** Receives log lines; default: discarded. */
  readonly log?: (line: string) => void;
  /**
   * Called before replies are written to any socket; a persistent daemon makes its
   * changes durable here (see `Journal.sync`), so nothing is acknowledged before it is on disk.
   */
  readonly beforeReply?: () => void;
  /**
   * Bytes of replies and events a client may leave unread before it is disconnected
   * (default 16 MiB), so a client that stops reading cannot exhaust the daemon's memory.
   */
  readonly maxBacklog?: number;
}

/** One socket client. */
class SocketClient {
  readonly reader: MessageReader = new MessageReader();
  readonly out: Uint8Array[] = [];
  outBytes = 0;
  flushScheduled = false;
  conn: XenstoreConnection | undefined;
  readonly socket: Socket;
  constructor(socket: Socket) {
    this.socket = socket;
  }
}

/** Serves a {@link Xenstore} on a unix socket with the xenstore wire protocol. */
export class XenstoreServer {
  private readonly options: XenstoreServerOptions;
  private readonly server: Server;
  private readonly clients: Set<SocketClient> = new Set();
  /** Clients with queued output, flushed once per received chunk (or by a microtask). */
  private readonly dirty: SocketClient[] = [];
  private flushScheduled = false;

  /** Creates the server; call {@link XenstoreServer.listen} to start it. */
  constructor(options: XenstoreServerOptions) {
    this.options = options;
    this.server = createServer((s) => this.accept(s));
  }

  /** Starts listening; resolves once the socket accepts connections. */
  listen(): Promise<void> {
    try {
      unlinkSync(this.options.socketPath);
    } catch {
      // No stale socket: nothing to remove.
    }
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.socketPath, () => {
        this.server.off('error', reject);
        try {
          chmodSync(this.options.socketPath, 0o600);
        } catch {
          // The socket may be on a filesystem without modes.
        }
        resolve();
      });
    });
  }

  /** Number of connected clients. */
  get clientCount(): number {
    return this.clients.size;
  }

  /** Stops accepting, closes every client and removes the socket. */
  close(): Promise<void> {
    for (const c of this.clients) this.drop(c, undefined);
    return new Promise((resolve) => {
      this.server.close(() => resolve());
    });
  }

  private log(line: string): void {
    this.options.log?.(line);
  }

  private accept(socket: Socket): void {
    const client = new SocketClient(socket);
    this.clients.add(client);
    socket.setNoDelay?.(true);
    const conn = this.options.xenstore.connect(0, (msg) => this.queue(client, msg), true);
    client.conn = conn;
    // Created once per client, not per received chunk.
    const onMessage = (msg: XsMessage): void => {
      if (client.conn === undefined) return;
      try {
        this.options.xenstore.handle(conn, msg);
      } catch (err) {
        // A bug, not bad input: report it, drop this client, keep serving the others.
        this.log(
          `xenstored: internal error on conn ${conn.serial}: ${String((err as Error)?.stack ?? err)}`,
        );
        this.drop(client, undefined);
      }
    };
    socket.on('data', (chunk: Buffer) => {
      if (client.conn === undefined) return;
      const ok = client.reader.push(chunk, onMessage);
      if (!ok) this.drop(client, 'oversized or malformed message');
      // One write per client per received chunk: replies to pipelined requests and the
      // watch events they caused go out together (bench-xenstore: read-pipelined).
      this.flushAll();
    });
    socket.on('error', () => this.drop(client, undefined));
    socket.on('close', () => this.drop(client, undefined));
  }

  private queue(client: SocketClient, msg: XsMessage): void {
    const bytes = encodeMessage(msg);
    client.out.push(bytes);
    client.outBytes += bytes.length;
    if (!client.flushScheduled) {
      client.flushScheduled = true;
      this.dirty.push(client);
      if (!this.flushScheduled) {
        // Output produced outside a socket's data handler (none today) still gets sent.
        this.flushScheduled = true;
        queueMicrotask(() => this.flushAll());
      }
    }
  }

  private flushAll(): void {
    this.flushScheduled = false;
    const dirty = this.dirty;
    if (dirty.length === 0) return;
    this.options.beforeReply?.();
    for (let i = 0; i < dirty.length; i++) this.flush(dirty[i] as SocketClient);
    dirty.length = 0;
  }

  private flush(client: SocketClient): void {
    client.flushScheduled = false;
    if (client.out.length === 0 || client.socket.destroyed) return;
    let buf: Uint8Array;
    if (client.out.length === 1) buf = client.out[0] as Uint8Array;
    else {
      buf = new Uint8Array(client.outBytes);
      let o = 0;
      for (const b of client.out) {
        buf.set(b, o);
        o += b.length;
      }
    }
    client.out.length = 0;
    client.outBytes = 0;
    this.options.beforeReply?.();
    client.socket.write(buf);
    if (client.socket.writableLength > (this.options.maxBacklog ?? 16 << 20)) {
      this.drop(client, 'client does not read its replies');
    }
  }

  private drop(client: SocketClient, reason: string | undefined): void {
    if (!this.clients.delete(client)) return;
    if (reason !== undefined) this.log(`xenstored: dropping connection: ${reason}`);
    if (client.conn !== undefined) this.options.xenstore.disconnect(client.conn);
    client.conn = undefined;
    this.flush(client);
    client.socket.destroy();
  }
}
