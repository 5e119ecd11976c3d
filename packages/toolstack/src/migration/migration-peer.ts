/**
 * The TCP transport of `typevisor migrate` (xl uses ssh; the book's xend listened on port 8002,
 * and so does `typevisor daemon --migrate-listen`). The sender writes the migration stream; the
 * receiver restores the domain from it and answers with one JSON line — `{"ok":true,"domid":N}`
 * once the domain runs there, or `{"ok":false,"error":{"code","message"}}` — after which the
 * sender destroys its copy (or, on an error or a lost connection, resumes it).
 * @module
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { ToolstackError, type ToolstackErrorCode } from '../errors.ts';
import { restoreDomainImage } from '../host/domain-restore.ts';
import type { Host, HostDomain } from '../host/host.ts';
import type { MigrationChannel } from './migrate-domain.ts';
import { chunkSource } from './stream.ts';

/** The default migration port (xend's `xend-relocation-port`, as in the book). */
export const MIGRATE_DEFAULT_PORT = 8002;

/** Parses `HOST:PORT`, `HOST` or `:PORT` (defaults 127.0.0.1 and {@link MIGRATE_DEFAULT_PORT}). */
export function parseMigrateAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*))(?::(\d+))?$/.exec(text.trim());
  const host = m?.[1] ?? m?.[2] ?? '';
  const port = m?.[3] === undefined ? MIGRATE_DEFAULT_PORT : Number(m[3]);
  if (m === null || !(port >= 0 && port < 65536)) {
    throw new ToolstackError('USAGE', `"${text}" is not a HOST:PORT address`);
  }
  return { host: host === '' ? '127.0.0.1' : host, port };
}

/** A connection to a receiving host. */
export interface MigrationConnection extends MigrationChannel {
  /** Closes the connection. */
  close(): void;
}

/** Connects to a receiver at `host:port`; an unreachable one is an `IO` error saying so. */
export function connectMigration(host: string, port: number): Promise<MigrationConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    socket.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new ToolstackError(
          'IO',
          `cannot reach the migration receiver at ${host}:${port} (${err.code ?? err.message}); start one with 'typevisor daemon --migrate-listen ${host}:${port}'`,
        ),
      );
    });
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(new TcpMigrationConnection(socket, `${host}:${port}`));
    });
  });
}

class TcpMigrationConnection implements MigrationConnection {
  private readonly socket: Socket;
  private readonly peer: string;
  private failure: Error | undefined;
  private readonly answer: Promise<number>;

  constructor(socket: Socket, peer: string) {
    this.socket = socket;
    this.peer = peer;
    socket.setNoDelay(true);
    let text = '';
    this.answer = new Promise<number>((resolve, reject) => {
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        text += chunk;
        const nl = text.indexOf('\n');
        if (nl < 0) return;
        let msg: { ok?: unknown; domid?: unknown; error?: { code?: unknown; message?: unknown } };
        try {
          msg = JSON.parse(text.slice(0, nl)) as typeof msg;
        } catch {
          reject(new ToolstackError('IO', `the receiver at ${peer} sent a malformed answer`));
          return;
        }
        if (msg.ok === true && typeof msg.domid === 'number') resolve(msg.domid);
        else {
          const code = typeof msg.error?.code === 'string' ? msg.error.code : 'STATE';
          const message = typeof msg.error?.message === 'string' ? msg.error.message : '?';
          reject(
            new ToolstackError(
              code as ToolstackErrorCode,
              `the receiver at ${peer} refused the domain: ${message}`,
            ),
          );
        }
      });
      const lost = (why: string): void => {
        this.failure ??= new ToolstackError(
          'IO',
          `the migration peer ${peer} disconnected (${why}); the domain continues here`,
        );
        reject(this.failure);
      };
      socket.on('error', (err) => lost(err.message));
      socket.on('close', () => lost('connection closed'));
    });
    this.answer.catch(() => undefined);
  }

  send(chunk: Uint8Array): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.socket.write(chunk, (err) => {
        if (err)
          reject(
            this.failure ??
              new ToolstackError(
                'IO',
                `the migration peer ${this.peer} disconnected (${err.message}); the domain continues here`,
              ),
          );
        else resolve();
      });
    });
  }

  confirmed(): Promise<number> {
    return this.answer;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Options of {@link listenForMigrations}. */
export interface MigrationListenOptions {
  /** Log lines (a domain received, a migration refused). */
  readonly log?: (line: string) => void;
  /** Called with each domain received. */
  readonly onDomain?: (dom: HostDomain) => void;
  /** Receive the domains paused (`xl migrate -p`). */
  readonly paused?: boolean;
}

/** A listening migration receiver. */
export interface MigrationListener {
  /** The address it listens on. */
  readonly address: { readonly host: string; readonly port: number };
  /** Stops listening (migrations in progress finish). */
  close(): Promise<void>;
}

/**
 * Listens on `host:port` for migrations into `host`: each connection carries one domain's
 * stream, restored with {@link restoreDomainImage} and answered as the module comment says.
 */
export async function listenForMigrations(
  host: Host,
  address: { readonly host: string; readonly port: number },
  options: MigrationListenOptions = {},
): Promise<MigrationListener> {
  const log = options.log ?? (() => undefined);
  const server: Server = createServer((socket) => {
    const from = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    socket.on('error', () => undefined);
    restoreDomainImage(host, chunkSource(socket), { paused: options.paused === true }).then(
      (dom) => {
        log(`migration from ${from}: dom${dom.domid} (${dom.name}) received`);
        options.onDomain?.(dom);
        socket.end(`${JSON.stringify({ ok: true, domid: dom.domid })}\n`);
      },
      (err: unknown) => {
        const e = err instanceof ToolstackError ? err : new ToolstackError('STATE', String(err));
        const message = e.message.replace(/^toolstack: /, '');
        log(`migration from ${from} refused: ${message}`);
        socket.end(`${JSON.stringify({ ok: false, error: { code: e.code, message } })}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new ToolstackError(
          'IO',
          `cannot listen for migrations on ${address.host}:${address.port}: ${err.code ?? err.message}`,
        ),
      ),
    );
    server.listen(address.port, address.host, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
  server.on('error', (err) => log(`migration listener: ${err.message}`));
  const bound = server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : address.port;
  return {
    address: { host: address.host, port },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
