/**
 * The ring half of a network backend (netback) for one VIF: copies packets from the guest's tx
 * ring into the bridge, and frames from the bridge into the buffers the guest posts on its rx
 * ring (copy mode, `feature-rx-copy`), with checksum offload, extra-info slots, multicast
 * control, a receive queue and Linux-style transmit shaping.
 * @see xen/include/public/io/netif.h
 * @module
 */
import type { Clock, GrantMapper, GrantMapping } from '../ports.ts';
import { BackRing, type BackRingState } from '../ring/back-ring.ts';
import { completeTransportChecksum } from './checksum.ts';
import {
  NETIF_RSP,
  NETRXF,
  NETTXF,
  type NetifExtraInfo,
  type NetifRxRequest,
  type NetifRxResponse,
  type NetifTxRequest,
  type NetifTxResponse,
  netifExtraFromTxSlot,
  netifRxRequestCodec,
  netifRxResponseCodec,
  netifTxRequestCodec,
  netifTxResponseCodec,
  XEN_NETIF_EXTRA_FLAG_MORE,
  XEN_NETIF_EXTRA_TYPE,
  XEN_NETIF_NR_SLOTS_MIN,
} from './netif.ts';

const PAGE = 4096;
const ETH_HLEN = 14;
/** Multicast addresses one VIF may subscribe to (Linux `XEN_NETBK_MCAST_MAX`). */
export const XEN_NETBK_MCAST_MAX = 64;
/** Receive queue {@link Netback} gives each VIF: half a ring of pages (Linux `XENVIF_RX_QUEUE_BYTES`). */
export const NETBACK_RX_QUEUE_BYTES: number = 128 * 4096;

/** Per-VIF counters (as `xl network-list` / xentop show). */
export interface NetbackMetrics {
  /** Packets taken from the guest's tx ring and handed to the bridge. */
  txPackets: number;
  /** Bytes of those packets. */
  txBytes: number;
  /** Malformed tx packets (bad grant, bad offsets, too many slots), answered with NETIF_RSP_ERROR. */
  txErrors: number;
  /** Frames copied into the guest's rx buffers. */
  rxPackets: number;
  /** Bytes of those frames. */
  rxBytes: number;
  /** Frames dropped because the guest had no rx buffer posted (or a bad one). */
  rxDrops: number;
  /** Times the frontend corrupted ring indices (the VIF stops). */
  ringOverflows: number;
  /** Tx packets whose blank checksum netback filled in (`NETTXF_csum_blank`). */
  txChecksumsFilled: number;
  /** Multicast frames not delivered because the guest did not subscribe (multicast control). */
  rxFiltered: number;
}

/** A new zeroed metrics record. */
export function emptyNetbackMetrics(): NetbackMetrics {
  return {
    txPackets: 0,
    txBytes: 0,
    txErrors: 0,
    rxPackets: 0,
    rxBytes: 0,
    rxDrops: 0,
    ringOverflows: 0,
    txChecksumsFilled: 0,
    rxFiltered: 0,
  };
}

/** The JSON-safe state of a {@link NetbackVif}. */
export interface NetbackVifState {
  /** Tx ring private indices. */
  tx: BackRingState;
  /** Rx ring private indices. */
  rx: BackRingState;
  /** Whether the VIF was disabled. */
  broken: boolean;
  /** Counters. */
  metrics: NetbackMetrics;
  /** Subscribed multicast MACs (`aa:bb:cc:dd:ee:ff`), when multicast control is on. */
  multicast: string[];
}

/** Sets a one-shot timer: calls `fn` after `delayMs` milliseconds (e.g. `setTimeout`). */
export type SetTimer = (delayMs: number, fn: () => void) => void;

/**
 * Transmit shaping as Linux netback does for xl's `rate=`: a credit of `bytesPerInterval` per
 * `intervalMs`; a packet that does not fit waits (the guest's ring backs up) until the next
 * interval, rather than being dropped.
 */
export interface NetbackRateLimit {
  /** Credit per interval in bytes (libxl's first `rate` number). */
  readonly bytesPerInterval: number;
  /** Interval in milliseconds (libxl's second `rate` number is in µs). */
  readonly intervalMs: number;
  /** Time source. */
  readonly clock: Clock;
  /** Wakes the VIF at the next interval. */
  readonly setTimer: SetTimer;
}

/** What a {@link NetbackVif} serves. */
export interface NetbackVifOptions {
  /** Mapped tx ring page. */
  readonly txRing: Uint8Array;
  /** Mapped rx ring page. */
  readonly rxRing: Uint8Array;
  /** The guest domain. */
  readonly frontendDomid: number;
  /** Maps the guest's packet pages. */
  readonly mapper: GrantMapper;
  /** Raises the event channel to the guest. */
  readonly notify: () => void;
  /**
   * Sends a frame into the bridge; `checksumVerified` when netback filled in the checksum or the
   * guest flagged the packet `NETTXF_data_validated`.
   */
  readonly transmit: (frame: Uint8Array, checksumVerified: boolean) => void;
  /**
   * The frontend asked for multicast control (`request-multicast-control`): it subscribes with
   * `XEN_NETIF_EXTRA_TYPE_MCAST_ADD`/`_DEL` extras and receives only the multicast frames it
   * subscribed to. Default false (every multicast frame is delivered, extras refused).
   */
  readonly multicastControl?: boolean;
  /** Counters to add to (e.g. kept by {@link Netback} across reconnections); default a new record. */
  readonly metrics?: NetbackMetrics;
  /**
   * Bytes of frames held while the guest has no receive buffer posted, delivered in order as it
   * posts more (Linux netback keeps up to half a ring of pages, {@link NETBACK_RX_QUEUE_BYTES});
   * default 0: such frames are dropped at once.
   */
  readonly rxQueueBytes?: number;
  /** Shape transmit to a rate (xl `rate=`), delaying packets; default unlimited. */
  readonly rateLimit?: NetbackRateLimit;
  /** Packets handled per turn before yielding to other VIFs (round-robin); default 64. */
  readonly budget?: number;
  /** Awaited when the budget is used up; default a microtask (see `BlkbackQueueOptions`). */
  readonly yieldToOthers?: () => Promise<void>;
}

/** The ring half of netback for one VIF. */
export class NetbackVif {
  /** Counters. */
  readonly metrics: NetbackMetrics;
  /** Set once the guest corrupted ring indices. */
  broken: boolean;
  private readonly opts: NetbackVifOptions;
  private readonly tx: BackRing<NetifTxRequest, NetifTxResponse>;
  private readonly rx: BackRing<NetifRxRequest, NetifRxResponse>;
  private readonly multicast: Set<string>;
  private rxQueue: { frame: Uint8Array; verified: boolean }[] = [];
  private rxQueued = 0;
  private credit = 0;
  private creditWindowStart = 0;
  private creditTimerPending = false;
  private running = false;
  private stopped = false;

  /** Attaches to the mapped rings, resuming from `state` if given (see {@link NetbackVif.fromState}). */
  constructor(options: NetbackVifOptions, state?: NetbackVifState) {
    this.opts = options;
    this.tx = new BackRing(options.txRing, netifTxRequestCodec, netifTxResponseCodec, state?.tx);
    this.rx = new BackRing(options.rxRing, netifRxRequestCodec, netifRxResponseCodec, state?.rx);
    this.broken = state?.broken ?? false;
    this.metrics = options.metrics ?? emptyNetbackMetrics();
    if (state !== undefined) Object.assign(this.metrics, state.metrics);
    this.multicast = new Set(state?.multicast ?? []);
    const rl = options.rateLimit;
    if (rl !== undefined) {
      this.credit = rl.bytesPerInterval;
      this.creditWindowStart = rl.clock.now();
    }
  }

  /** Restores a VIF (after save/restore of the backend) on the same ring pages. */
  static fromState(state: NetbackVifState, options: NetbackVifOptions): NetbackVif {
    return new NetbackVif(options, state);
  }

  /** The state to save: private ring indices, counters, multicast subscriptions. */
  getState(): NetbackVifState {
    return {
      tx: this.tx.getState(),
      rx: this.rx.getState(),
      broken: this.broken,
      metrics: { ...this.metrics },
      multicast: [...this.multicast],
    };
  }

  /** The multicast MACs the guest subscribed to (multicast control). */
  get multicastAddresses(): readonly string[] {
    return [...this.multicast];
  }

  /** Stops serving; frames waiting for receive buffers are dropped. */
  stop(): void {
    this.stopped = true;
    this.metrics.rxDrops += this.rxQueue.length;
    this.rxQueue = [];
    this.rxQueued = 0;
  }

  /** Frames waiting for the guest to post receive buffers. */
  get rxQueueLength(): number {
    return this.rxQueue.length;
  }

  /**
   * Event-channel handler: delivers queued frames into newly posted receive buffers and
   * processes the tx ring.
   */
  kick(): void {
    if (this.broken || this.stopped) return;
    this.flushRx();
    if (this.running) return;
    this.running = true;
    void this.runTx().finally(() => {
      this.running = false;
    });
  }

  private async runTx(): Promise<void> {
    const budget = this.opts.budget ?? 64;
    const ring = this.tx;
    for (;;) {
      let n = 0;
      let stalled = false;
      while (n < budget && !this.stopped && !this.broken) {
        if (ring.requestProdOverflow()) {
          this.broken = true;
          this.metrics.ringOverflows++;
          return;
        }
        if (this.rateLimited()) return; // woken by the credit timer
        if (!this.txPacket()) {
          stalled = true;
          break;
        }
        n++;
      }
      if (this.stopped || this.broken) return;
      if (!stalled) {
        await (this.opts.yieldToOthers ?? (() => Promise.resolve()))(); // budget used: round-robin
        continue;
      }
      if (ring.unconsumedRequests() === 0) {
        if (!ring.finalCheckForRequests()) return;
      } else if (!ring.requestEventAfterProduced()) {
        return; // half a packet: sleep until the frontend pushes the rest
      }
    }
  }

  /**
   * Linux's `tx_credit_exceeded`: whether the next packet must wait for credit. Credit is
   * replenished once per interval (to at most one interval's worth, or one packet up to 128 KiB
   * if that is larger); if it still does not cover the packet, a timer at the next interval
   * resumes the VIF.
   */
  private rateLimited(): boolean {
    const rl = this.opts.rateLimit;
    if (rl === undefined) return false;
    if (this.creditTimerPending) return true;
    const next = this.tx.peekRequest(0);
    if (next === undefined || next.size <= this.credit) return false;
    const now = rl.clock.now();
    const nextCredit = this.creditWindowStart + rl.intervalMs;
    if (now >= nextCredit) {
      this.creditWindowStart = now;
      this.addCredit(rl);
    }
    if (next.size <= this.credit) return false;
    this.creditWindowStart = nextCredit;
    this.creditTimerPending = true;
    rl.setTimer(Math.max(0, nextCredit - now), () => {
      // xenvif_tx_credit_callback: the new window's credit, then resume.
      this.creditTimerPending = false;
      this.addCredit(rl);
      this.kick();
    });
    return true;
  }

  /** Linux's `tx_add_credit`: one interval's credit, capped at one window (or one packet). */
  private addCredit(rl: NetbackRateLimit): void {
    const next = this.tx.peekRequest(0);
    const maxBurst = Math.max(Math.min(next?.size ?? 0, 131072), rl.bytesPerInterval);
    this.credit = Math.min(this.credit + rl.bytesPerInterval, maxBurst);
  }

  /** Consumes one packet (all its slots); false if no complete packet is available. */
  private txPacket(): boolean {
    const ring = this.tx;
    // Find the slots of one packet (fragments and extra-info slots) before consuming any.
    const slots: { req: NetifTxRequest; extra: boolean }[] = [];
    let more = true;
    let extraNext = false;
    while (more || extraNext) {
      if (slots.length >= XEN_NETIF_NR_SLOTS_MIN + 4) {
        // Far more slots than any packet needs: a broken or hostile frontend (Linux netback
        // disables the VIF here too).
        this.broken = true;
        this.metrics.txErrors++;
        return false;
      }
      const req = ring.peekRequest(slots.length);
      if (req === undefined) return false; // the rest of the packet has not been pushed yet
      if (extraNext) {
        slots.push({ req, extra: true });
        extraNext = (netifExtraFromTxSlot(req).flags & XEN_NETIF_EXTRA_FLAG_MORE) !== 0;
        continue;
      }
      slots.push({ req, extra: false });
      more = (req.flags & NETTXF.NETTXF_more_data) !== 0;
      extraNext = (req.flags & NETTXF.NETTXF_extra_info) !== 0;
    }
    for (let k = 0; k < slots.length; k++) ring.takeRequest();
    if (this.opts.rateLimit !== undefined)
      this.credit = Math.max(0, this.credit - (slots[0]?.req.size ?? 0));
    const frags = slots.filter((s) => !s.extra).map((s) => s.req);
    const extras = slots.filter((s) => s.extra).map((s) => netifExtraFromTxSlot(s.req));
    const status = this.packet(frags, extras);
    for (const s of slots)
      ring.putResponse({ id: s.req.id, status: s.extra ? NETIF_RSP.NETIF_RSP_NULL : status });
    if (ring.pushResponsesAndCheckNotify()) this.opts.notify();
    return true;
  }

  /**
   * Acts on one consumed packet and its extra-info slots; returns the response status. As in
   * Linux netback, a request carrying a multicast extra is a control message, not a packet.
   */
  private packet(frags: NetifTxRequest[], extras: NetifExtraInfo[]): number {
    const T = XEN_NETIF_EXTRA_TYPE;
    let control = false;
    for (const e of extras) {
      if (
        e.type === T.XEN_NETIF_EXTRA_TYPE_MCAST_ADD ||
        e.type === T.XEN_NETIF_EXTRA_TYPE_MCAST_DEL
      ) {
        if (this.opts.multicastControl !== true) return this.txError();
        control = true;
      } else if (e.type !== T.XEN_NETIF_EXTRA_TYPE_HASH) {
        // NONE and unknown types are protocol errors; GSO was not offered (feature-gso-* = 0).
        return this.txError();
      }
    }
    if (!control) return this.forward(frags);
    for (const e of extras) {
      const mac = macOf(e.data, 0);
      if (e.type === T.XEN_NETIF_EXTRA_TYPE_MCAST_ADD) {
        if (!this.multicast.has(mac) && this.multicast.size >= XEN_NETBK_MCAST_MAX)
          return this.txError();
        this.multicast.add(mac);
      } else if (e.type === T.XEN_NETIF_EXTRA_TYPE_MCAST_DEL) {
        this.multicast.delete(mac);
      }
    }
    return NETIF_RSP.NETIF_RSP_OKAY;
  }

  /** Validates, copies and forwards one packet; returns its response status. */
  private forward(frags: NetifTxRequest[]): number {
    const first = frags[0];
    if (first === undefined || frags.length > XEN_NETIF_NR_SLOTS_MIN) return this.txError();
    let restSize = 0;
    for (let i = 1; i < frags.length; i++) restSize += (frags[i] as NetifTxRequest).size;
    const total = first.size;
    const firstSize = total - restSize;
    if (total < ETH_HLEN || firstSize <= 0) return this.txError();
    const frame = new Uint8Array(total);
    let at = 0;
    for (let i = 0; i < frags.length; i++) {
      const f = frags[i] as NetifTxRequest;
      const size = i === 0 ? firstSize : f.size;
      if (f.offset + size > PAGE) return this.txError();
      const m = this.opts.mapper.mapGrant(this.opts.frontendDomid, f.gref, true);
      if (typeof m === 'number') return this.txError();
      frame.set(m.page.subarray(f.offset, f.offset + size), at);
      this.opts.mapper.unmapGrant(m);
      at += size;
    }
    let verified = (first.flags & NETTXF.NETTXF_data_validated) !== 0;
    if ((first.flags & NETTXF.NETTXF_csum_blank) !== 0) {
      // Checksum offload: the guest left the TCP/UDP checksum for us to fill in.
      if (!completeTransportChecksum(frame)) return this.txError();
      this.metrics.txChecksumsFilled++;
      verified = true;
    }
    this.metrics.txPackets++;
    this.metrics.txBytes += total;
    this.opts.transmit(frame, verified);
    return NETIF_RSP.NETIF_RSP_OKAY;
  }

  private txError(): number {
    this.metrics.txErrors++;
    return NETIF_RSP.NETIF_RSP_ERROR;
  }

  /**
   * Bridge delivery: copies a frame into the guest's posted rx buffers (one page per slot,
   * `NETRXF_more_data` between them), flagged `NETRXF_data_validated` if `checksumVerified`.
   * Returns false, dropping the frame, if not enough buffers are posted or one is bad, or if
   * multicast control is on and the guest did not subscribe to the frame's multicast address.
   */
  deliver(frame: Uint8Array, checksumVerified = false): boolean {
    const ring = this.rx;
    if (this.broken || this.stopped || ring.requestProdOverflow()) {
      this.metrics.rxDrops++;
      return false;
    }
    if (
      this.opts.multicastControl === true &&
      ((frame[0] ?? 0) & 1) !== 0 &&
      !isBroadcast(frame) &&
      !this.multicast.has(macOf(frame, 0))
    ) {
      this.metrics.rxFiltered++;
      return false;
    }
    if (this.rxQueue.length > 0) this.flushRx();
    if (this.rxQueue.length === 0 && ring.unconsumedRequests() >= slotsFor(frame))
      return this.copyToGuest(frame, checksumVerified);
    const max = this.opts.rxQueueBytes ?? 0;
    if (this.rxQueued + frame.length > max) {
      this.metrics.rxDrops++;
      return false;
    }
    // Wait for buffers: ask the guest to signal when it posts the next one (req_event).
    this.rxQueue.push({ frame, verified: checksumVerified });
    this.rxQueued += frame.length;
    if (ring.finalCheckForRequests()) this.flushRx();
    return true;
  }

  /** Moves queued frames into posted buffers, in order, while there are enough. */
  private flushRx(): void {
    const ring = this.rx;
    while (this.rxQueue.length > 0) {
      if (ring.requestProdOverflow()) {
        this.broken = true;
        this.metrics.ringOverflows++;
        this.metrics.rxDrops += this.rxQueue.length;
        this.rxQueue = [];
        this.rxQueued = 0;
        return;
      }
      const head = this.rxQueue[0] as { frame: Uint8Array; verified: boolean };
      const slots = slotsFor(head.frame);
      if (ring.unconsumedRequests() < slots) {
        ring.finalCheckForRequests(); // req_event = req_cons + 1: wake us on the next post
        if (ring.unconsumedRequests() < slots) return;
      }
      this.rxQueue.shift();
      this.rxQueued -= head.frame.length;
      this.copyToGuest(head.frame, head.verified);
    }
  }

  /** Copies a frame into the next posted buffers (enough are known to be posted). */
  private copyToGuest(frame: Uint8Array, checksumVerified: boolean): boolean {
    const ring = this.rx;
    const slots = slotsFor(frame);
    let ok = true;
    for (let i = 0; i < slots; i++) {
      const req = ring.takeRequest() as NetifRxRequest;
      const part = frame.subarray(i * PAGE, Math.min(frame.length, (i + 1) * PAGE));
      let status: number = part.length;
      if (ok) {
        const m: GrantMapping | number = this.opts.mapper.mapGrant(
          this.opts.frontendDomid,
          req.gref,
          false,
        );
        if (typeof m === 'number') {
          ok = false;
          status = NETIF_RSP.NETIF_RSP_ERROR;
        } else {
          m.page.set(part, 0);
          this.opts.mapper.unmapGrant(m);
        }
      } else {
        status = NETIF_RSP.NETIF_RSP_ERROR;
      }
      const flags =
        (i < slots - 1 ? NETRXF.NETRXF_more_data : 0) |
        (checksumVerified ? NETRXF.NETRXF_data_validated : 0);
      ring.putResponse({ id: req.id, offset: 0, flags, status });
    }
    if (ring.pushResponsesAndCheckNotify()) this.opts.notify();
    if (!ok) {
      this.metrics.rxDrops++;
      return false;
    }
    this.metrics.rxPackets++;
    this.metrics.rxBytes += frame.length;
    return true;
  }
}

/** Receive slots a frame takes: one page each. */
function slotsFor(frame: Uint8Array): number {
  return Math.max(1, Math.ceil(frame.length / PAGE));
}

function macOf(b: Uint8Array, at: number): string {
  let s = '';
  for (let i = 0; i < 6; i++)
    s += (i === 0 ? '' : ':') + (b[at + i] ?? 0).toString(16).padStart(2, '0');
  return s;
}

function isBroadcast(f: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (f[i] !== 0xff) return false;
  return true;
}
