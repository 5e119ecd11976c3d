/**
 * The context every request handler receives, and the handler table type.
 * @module
 */
import type { XenstoreConnection } from '../connection.ts';
import type { NodeAccess } from '../node.ts';
import type { Transaction } from '../transaction.ts';
import type { XsMessage } from '../wire/codec.ts';
import type { XsErrorName } from '../wire/constants.ts';
import type { Xenstore } from '../xenstore.ts';

/** One request being processed. */
export interface Request {
  /** The store. */
  readonly xs: Xenstore;
  /** The connection that sent it. */
  readonly conn: XenstoreConnection;
  /** The request message. */
  readonly msg: XsMessage;
  /** The transaction named by `tx_id`, if any. */
  readonly txn: Transaction | undefined;
  /** Where node reads and writes go: the transaction, or the main table. */
  readonly access: NodeAccess;
}

/** Returned by a handler that has already sent its reply itself (XS_WATCH). */
export const REPLIED: unique symbol = Symbol('replied');

/** What a handler produces: a reply payload, an error name, or {@link REPLIED}. */
export type HandlerResult = Uint8Array | XsErrorName | typeof REPLIED;

/** Flag: only privileged connections may send this type (`XS_FLAG_PRIV`). */
export const XS_FLAG_PRIV = 1;
/** Flag: `tx_id` is ignored for this type (`XS_FLAG_NOTID`). */
export const XS_FLAG_NOTID = 2;

/** One row of the message table (xenstored's `wire_funcs`). */
export interface WireFunc {
  /** Type name for logs (`READ`, `WRITE`, …). */
  readonly name: string;
  /** The handler. */
  readonly fn: (req: Request) => HandlerResult;
  /** `XS_FLAG_*` bits. */
  readonly flags: number;
}
