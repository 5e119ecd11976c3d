/**
 * The CLI's side of the control protocol: one connection to the daemon, requests matched to
 * replies by id, console events delivered to a listener.
 * @module
 */
import { connect, type Socket } from 'node:net';
import { ToolstackError } from '../errors.ts';
import { DAEMON_PROTOCOL_VERSION, LineReader, type RpcEvent, replyToError } from './protocol.ts';

/** A connection to a running daemon. */
export class DaemonClient {
  /** The control socket's path. */
  readonly socketPath: string;
  /** Receives console events (`console`, `console-end`). */
  onEvent: ((event: RpcEvent) => void) | undefined;
  /** Called once when the daemon closes the connection. */
  onClose: (() => void) | undefined;
  private readonly socket: Socket;
  private readonly pending: Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  > = new Map();
  private nextId = 1;
  private closed = false;

  private constructor(socketPath: string, socket: Socket) {
    this.socketPath = socketPath;
    this.socket = socket;
    const reader = new LineReader();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      reader.push(chunk, (line) => this.receive(line));
    });
    const end = (): void => {
      if (this.closed) return;
      this.closed = true;
      for (const p of this.pending.values())
        p.reject(new ToolstackError('IO', 'the daemon closed the connection'));
      this.pending.clear();
      this.onClose?.();
    };
    socket.on('close', end);
    socket.on('error', end);
  }

  /**
   * Connects to the daemon at `socketPath`. When nothing listens there the error says how to
   * start one.
   */
  static connect(socketPath: string): Promise<DaemonClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(socketPath);
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        resolve(new DaemonClient(socketPath, socket));
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        const why =
          err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
            ? 'no daemon is running'
            : err.message;
        reject(
          new ToolstackError(
            'STATE',
            `cannot reach the typevisor daemon at ${socketPath} (${why}); start it with 'typevisor daemon --detach'`,
          ),
        );
      });
    });
  }

  private receive(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (typeof msg.event === 'string') {
      this.onEvent?.(msg as unknown as RpcEvent);
      return;
    }
    const p = typeof msg.id === 'number' ? this.pending.get(msg.id) : undefined;
    if (p === undefined) return;
    this.pending.delete(msg.id as number);
    if (msg.ok === true) p.resolve(msg.result);
    else p.reject(replyToError(msg.error));
  }

  /** Calls `method` with `params`; rejects with the daemon's error as a ToolstackError. */
  call<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    if (this.closed)
      return Promise.reject(new ToolstackError('IO', 'the daemon connection is closed'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.socket.write(`${JSON.stringify({ v: DAEMON_PROTOCOL_VERSION, id, method, params })}\n`);
    });
  }

  /** Closes the connection. */
  close(): void {
    this.socket.end();
    this.socket.destroy();
  }
}
