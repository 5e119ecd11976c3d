/**
 * A client connection to the store: a socket client (dom0, privileged), a guest's ring,
 * or an in-process user. It owns its watches and transactions.
 *
 * @see tools/xenstored/core.h (`struct connection`)
 * @module
 */
import type { Transaction } from './transaction.ts';
import type { XsMessage } from './wire/codec.ts';

/** A registered watch. */
export interface Watch {
  /** Canonical (absolute or `@…`) watched path. */
  readonly path: string;
  /** The client's token, echoed in events. */
  readonly token: string;
  /** Whether the client registered a relative path (events are then reported relative). */
  readonly relative: boolean;
}

/** How the store hands a connection's outgoing messages (replies and events) to its transport. */
export type MessageSink = (msg: XsMessage) => void;

/** One connection's state. Create connections with `Xenstore.connect()`. */
export class XenstoreConnection {
  /** Serial number, unique within the store; used for ordering and logs. */
  readonly serial: number;
  /** The domain this connection speaks for. */
  readonly domid: number;
  /** Whether the connection bypasses permission checks (dom0). */
  readonly privileged: boolean;
  /** The home path relative paths resolve against (`/local/domain/<domid>`). */
  readonly home: string;
  /** The domain this connection may act for (`XS_SET_TARGET`), if any. */
  target: number | undefined = undefined;
  /** Watches in registration order. */
  readonly watches: Watch[] = [];
  /** Open transactions by id. */
  readonly transactions: Map<number, Transaction> = new Map();
  /** The next transaction id to hand out. */
  nextTxId = 1;
  /** Whether the connection was closed; a closed connection sends nothing. */
  closed = false;
  /** Bytes of its watches' paths and tokens (xenstored's watch memory accounting). */
  watchMemory = 0;
  /**
   * Replies the transport holds that the client has not taken yet (`outstanding`
   * quota). Transports that queue (the guest ring) maintain it.
   */
  outstanding = 0;
  /** Bytes of replies and events (header included) the transport holds for the client. */
  queuedBytes = 0;
  /**
   * Whether this is a socket client without a domain (C xenstored's `conn->domain ==
   * NULL`): its memory counts for its domid, its watches and transactions do not appear in
   * `CONTROL quota <domid>`.
   */
  readonly socket: boolean;
  /** Outgoing message sink. */
  private readonly sink: MessageSink;

  /** Creates a connection; use `Xenstore.connect()` instead. */
  constructor(
    serial: number,
    domid: number,
    privileged: boolean,
    sink: MessageSink,
    socket = false,
  ) {
    this.serial = serial;
    this.domid = domid;
    this.privileged = privileged;
    this.socket = socket;
    this.home = `/local/domain/${domid}`;
    this.sink = sink;
  }

  /** Sends a message to the client (dropped once closed). */
  send(msg: XsMessage): void {
    if (!this.closed) this.sink(msg);
  }
}
