/**
 * The control protocol between the `typevisor` CLI and its host daemon: JSON lines over a unix
 * socket. Each line is one message; requests carry an `id` the reply echoes; the daemon also
 * sends unsolicited events (console output) on connections that asked for them. DESIGN.md
 * documents every method.
 * @module
 */
import { ToolstackError, type ToolstackErrorCode } from '../errors.ts';

/** Version of the control protocol; a daemon refuses requests with another `v`. */
export const DAEMON_PROTOCOL_VERSION = 1;

/** The longest line either side accepts (bytes); a longer one closes the connection. */
export const MAX_RPC_LINE: number = 4 << 20;

/** A request from a client. */
export interface RpcRequest {
  /** Protocol version ({@link DAEMON_PROTOCOL_VERSION}). */
  readonly v: number;
  /** Chosen by the client, echoed in the reply. */
  readonly id: number;
  /** The method name (`list`, `create`, …). */
  readonly method: string;
  /** The method's parameters. */
  readonly params?: Readonly<Record<string, unknown>>;
}

/** The daemon's reply to one request. */
export interface RpcReply {
  /** Protocol version. */
  readonly v: number;
  /** The request's `id` (null when the request could not be parsed). */
  readonly id: number | null;
  /** Whether the method succeeded. */
  readonly ok: boolean;
  /** The method's result when `ok`. */
  readonly result?: unknown;
  /** What went wrong when not `ok`. */
  readonly error?: { readonly code: ToolstackErrorCode; readonly message: string };
}

/** An unsolicited message from the daemon. */
export interface RpcEvent {
  /** Protocol version. */
  readonly v: number;
  /**
   * `console` (output bytes), `console-end` (the domain is gone), or `progress` (of a save,
   * restore or migration the client asked for; `data` is JSON, `domid` -1).
   */
  readonly event: 'console' | 'console-end' | 'progress';
  /** The domain the event is about. */
  readonly domid: number;
  /** Base64 console bytes (`console`), or why the console ended (`console-end`). */
  readonly data: string;
}

const CODES: ReadonlySet<string> = new Set(['USAGE', 'CONFIG', 'NOT_FOUND', 'IO', 'STATE']);

/** Turns an error into the `error` member of a reply (a {@link ToolstackError} keeps its code). */
export function errorToReply(err: unknown): { code: ToolstackErrorCode; message: string } {
  if (err instanceof ToolstackError) {
    return { code: err.code, message: err.message.replace(/^toolstack: /, '') };
  }
  return { code: 'STATE', message: `internal error: ${(err as Error)?.message ?? String(err)}` };
}

/** Turns a reply's `error` back into a {@link ToolstackError} on the client side. */
export function replyToError(error: unknown): ToolstackError {
  const e = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  const code = typeof e.code === 'string' && CODES.has(e.code) ? e.code : 'STATE';
  const message = typeof e.message === 'string' ? e.message : 'the daemon reported an error';
  return new ToolstackError(code as ToolstackErrorCode, message);
}

/**
 * Splits a byte stream into lines. Returns false (and stops) when a line exceeds
 * {@link MAX_RPC_LINE}.
 */
export class LineReader {
  private pending = '';

  /** Feeds a chunk; calls `onLine` for each complete line. */
  push(chunk: string, onLine: (line: string) => void): boolean {
    this.pending += chunk;
    let nl = this.pending.indexOf('\n');
    while (nl >= 0) {
      const line = this.pending.slice(0, nl);
      this.pending = this.pending.slice(nl + 1);
      if (line.trim() !== '') onLine(line);
      nl = this.pending.indexOf('\n');
    }
    return this.pending.length <= MAX_RPC_LINE;
  }
}
