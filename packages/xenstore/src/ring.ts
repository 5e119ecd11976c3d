/**
 * The shared-page transport guests use: `struct xenstore_domain_interface`, a 1 KiB
 * request ring and a 1 KiB response ring with free-running 32-bit indices.
 *
 * The page and the event channel come through a {@link RingPort} that the hypervisor
 * implements; tests use an in-memory page. Everything in the page is guest-controlled, so
 * indices are validated on every use (`prod - cons` must not exceed the ring size) and a
 * malformed stream disables only this connection.
 *
 * @see xen/include/public/io/xs_wire.h (`struct xenstore_domain_interface`),
 *   docs/misc/xenstore-ring.txt
 * @module
 */
import type { XenstoreConnection } from './connection.ts';
import { XenstoreError } from './errors.ts';
import { encodeMessage, MessageReader, type XsMessage } from './wire/codec.ts';
import { XsType } from './wire/constants.ts';
import type { Xenstore } from './xenstore.ts';

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Responses a guest has not consumed above which its requests are left in the ring (it
 * must read before it may ask more), like xenstored's stalled connections.
 */
export const RING_BACKLOG_SOFT: number = 16 * 1024;

/** Unconsumed responses and events above which the ring is shut (a guest that never reads). */
export const RING_BACKLOG_HARD: number = 1024 * 1024;

/** Size of each ring (`XENSTORE_RING_SIZE`). */
export const XENSTORE_RING_SIZE = 1024;

/** Byte offsets of the fields of `struct xenstore_domain_interface`. */
export const XenstoreRingLayout = {
  /** `char req[1024]`: guest → daemon bytes. */
  req: 0,
  /** `char rsp[1024]`: daemon → guest bytes. */
  rsp: 1024,
  /** `XENSTORE_RING_IDX req_cons`. */
  req_cons: 2048,
  /** `XENSTORE_RING_IDX req_prod`. */
  req_prod: 2052,
  /** `XENSTORE_RING_IDX rsp_cons`. */
  rsp_cons: 2056,
  /** `XENSTORE_RING_IDX rsp_prod`. */
  rsp_prod: 2060,
  /** `uint32_t server_features`. */
  server_features: 2064,
  /** `uint32_t connection`. */
  connection: 2068,
  /** `uint32_t error`. */
  error: 2072,
} as const;

/** Values of the `error` field (`XENSTORE_ERROR_*`). */
export const XenstoreRingError = {
  /** `XENSTORE_ERROR_NONE`. */
  XENSTORE_ERROR_NONE: 0,
  /** `XENSTORE_ERROR_COMM`: a malformed message. */
  XENSTORE_ERROR_COMM: 1,
  /** `XENSTORE_ERROR_RINGIDX`: impossible ring indices. */
  XENSTORE_ERROR_RINGIDX: 2,
  /** `XENSTORE_ERROR_PROTO`: a protocol violation. */
  XENSTORE_ERROR_PROTO: 3,
} as const;

/** What a ring connection needs from the hypervisor: the mapped page and the event channel. */
export interface RingPort {
  /** The shared page (at least 2076 bytes, normally 4096) as mapped by the daemon. */
  readonly page: Uint8Array;
  /** Signals the domain's store event channel (`EVTCHNOP_send`). */
  notify(): void;
}

/** Serves one guest's xenstore ring. Call {@link RingConnection.kick} whenever the guest signals. */
export class RingConnection {
  /** The store connection behind the ring. */
  readonly conn: XenstoreConnection;
  private readonly xs: Xenstore;
  private readonly port: RingPort;
  private readonly view: DataView;
  private readonly reader: MessageReader = new MessageReader();
  /** Encoded responses not yet copied into the response ring. */
  private readonly pending: Uint8Array[] = [];
  /** For each of {@link pending}: whether it is a reply (not a watch event). */
  private readonly pendingReply: boolean[] = [];
  private pendingOffset = 0;
  private pendingBytes = 0;
  /** Set once the guest broke the protocol; the ring is then ignored. */
  private dead = false;
  /** Whether {@link RingConnection.kick} is running. */
  private inKick = false;
  /** Aligned index view of the page (little-endian hosts), else `undefined` (DataView path). */
  private readonly u32: Uint32Array | undefined;
  /** Reused copy of the request bytes of one kick. */
  private readonly scratch: Uint8Array = new Uint8Array(XENSTORE_RING_SIZE);
  /** Message handler, bound once (no closure per kick). */
  private readonly onMessage: (msg: XsMessage) => void;

  /** Connects domain `domid`'s ring (an unprivileged connection unless `domid` is 0). */
  constructor(xs: Xenstore, domid: number, port: RingPort) {
    if (port.page.length < 2076) {
      throw new XenstoreError(
        'INVALID_ARGUMENT',
        'ring page must hold struct xenstore_domain_interface',
      );
    }
    this.xs = xs;
    this.port = port;
    this.view = new DataView(port.page.buffer, port.page.byteOffset, port.page.byteLength);
    // Typed-array index loads beat DataView on the hot path (bench/foundation/le-access);
    // usable when the page is 4-byte aligned and the host is little-endian like the guest ABI.
    this.u32 =
      port.page.byteOffset % 4 === 0 && LITTLE_ENDIAN
        ? new Uint32Array(port.page.buffer, port.page.byteOffset, port.page.byteLength >> 2)
        : undefined;
    this.onMessage = (msg) => this.xs.handle(this.conn, msg);
    this.conn = xs.connect(domid, (msg) => {
      const bytes = encodeMessage(msg);
      this.pending.push(bytes);
      const reply = msg.type !== XsType.XS_WATCH_EVENT;
      this.pendingReply.push(reply);
      this.pendingBytes += bytes.length;
      // xenstored's accounting of queued output: memory, and replies as outstanding requests.
      this.conn.queuedBytes += bytes.length;
      if (reply) this.conn.outstanding++;
      if (this.pendingBytes > RING_BACKLOG_HARD && !this.inKick) {
        this.fail(XenstoreRingError.XENSTORE_ERROR_NONE);
        return;
      }
      // Watch events caused by other connections go out at once; replies to this ring's
      // own requests are copied once at the end of the kick.
      if (!this.inKick) this.flush();
    });
  }

  /** Whether the guest broke the protocol and the connection was shut. */
  get broken(): boolean {
    return this.dead;
  }

  /** Processes everything the guest queued and sends what fits of the responses. */
  kick(): void {
    if (this.dead) return;
    this.inKick = true;
    try {
      this.consume();
    } finally {
      this.inKick = false;
    }
    this.flush();
  }

  /** Reads a ring index (little-endian u32). */
  private get32(off: number): number {
    const u32 = this.u32;
    return u32 !== undefined ? (u32[off >> 2] as number) : this.view.getUint32(off, true);
  }

  /** Writes a ring index (little-endian u32). */
  private set32(off: number, v: number): void {
    const u32 = this.u32;
    if (u32 !== undefined) u32[off >> 2] = v;
    else this.view.setUint32(off, v, true);
  }

  private consume(): void {
    const page = this.port.page;
    const L = XenstoreRingLayout;
    const rspUsed = (this.get32(L.rsp_prod) - this.get32(L.rsp_cons)) >>> 0;
    if (rspUsed > XENSTORE_RING_SIZE) {
      this.fail(XenstoreRingError.XENSTORE_ERROR_RINGIDX);
      return;
    }
    for (;;) {
      // A guest that does not read its responses gets no more requests served. Replies
      // only count as outstanding until they are in the response ring, so copy what fits
      // before deciding (xenstored writes its output in the same loop iteration).
      if (this.backlog > RING_BACKLOG_SOFT || this.stalled()) {
        this.flush();
        if (this.dead || this.backlog > RING_BACKLOG_SOFT || this.stalled()) break;
      }
      const cons = this.get32(L.req_cons);
      const prod = this.get32(L.req_prod);
      const avail = (prod - cons) >>> 0;
      if (avail > XENSTORE_RING_SIZE) {
        this.fail(XenstoreRingError.XENSTORE_ERROR_RINGIDX);
        return;
      }
      if (avail === 0) break;
      // Copy out in at most two pieces (the ring wraps) into a reused scratch buffer: the
      // reader only keeps copies, and handlers copy what they store.
      const start = cons & (XENSTORE_RING_SIZE - 1);
      const first = Math.min(avail, XENSTORE_RING_SIZE - start);
      const chunk = this.scratch;
      chunk.set(page.subarray(L.req + start, L.req + start + first), 0);
      if (avail > first) chunk.set(page.subarray(L.req, L.req + avail - first), first);
      this.set32(L.req_cons, (cons + avail) >>> 0);
      const ok = this.reader.push(chunk.subarray(0, avail), this.onMessage);
      if (!ok) {
        this.fail(XenstoreRingError.XENSTORE_ERROR_COMM);
        return;
      }
      if (this.conn.closed) {
        this.fail(XenstoreRingError.XENSTORE_ERROR_NONE);
        return;
      }
    }
  }

  /** Copies queued responses into the response ring as far as the guest has made room. */
  flush(): void {
    if (this.dead) return;
    const L = XenstoreRingLayout;
    const page = this.port.page;
    let wrote = false;
    while (this.pending.length > 0) {
      const cons = this.get32(L.rsp_cons);
      const prod = this.get32(L.rsp_prod);
      const used = (prod - cons) >>> 0;
      if (used > XENSTORE_RING_SIZE) {
        this.fail(XenstoreRingError.XENSTORE_ERROR_RINGIDX);
        return;
      }
      const space = XENSTORE_RING_SIZE - used;
      if (space === 0) break;
      const msg = this.pending[0] as Uint8Array;
      const n = Math.min(space, msg.length - this.pendingOffset);
      const start = prod & (XENSTORE_RING_SIZE - 1);
      const first = Math.min(n, XENSTORE_RING_SIZE - start);
      const from = this.pendingOffset;
      page.set(msg.subarray(from, from + first), L.rsp + start);
      if (n > first) page.set(msg.subarray(from + first, from + n), L.rsp);
      this.set32(L.rsp_prod, (prod + n) >>> 0);
      wrote = true;
      this.pendingOffset += n;
      if (this.pendingOffset === msg.length) {
        this.pending.shift();
        if (this.pendingReply.shift()) this.conn.outstanding--;
        this.pendingOffset = 0;
        this.pendingBytes -= msg.length;
        this.conn.queuedBytes -= msg.length;
      }
    }
    if (wrote) this.port.notify();
  }

  /**
   * `domain_can_read()`: a guest with `outstanding` unread replies, or at its memory
   * quota, gets nothing more read until it catches up. Checked before each read of the
   * request ring (at most 1 KiB of requests).
   */
  private stalled(): boolean {
    const conn = this.conn;
    if (conn.privileged) return false;
    const xs = this.xs;
    if (conn.outstanding >= xs.quotas.outstanding) return true;
    return xs.memoryQuotaHit(conn.domid, xs.domainMemory(conn.domid));
  }

  /** Bytes of responses waiting for room in the response ring. */
  get backlog(): number {
    return this.pendingBytes - this.pendingOffset;
  }

  /** Disconnects the ring from the store. */
  close(): void {
    this.dead = true;
    this.xs.disconnect(this.conn);
  }

  private fail(code: number): void {
    if (code !== 0) this.view.setUint32(XenstoreRingLayout.error, code, true);
    this.xs.log(`xenstored: domain ${this.conn.domid} ring shut (error ${code})`);
    this.close();
  }
}
