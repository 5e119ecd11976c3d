/**
 * A network frontend (netfront) in TypeScript, for native TypeScript domains and tests: the
 * netif handshake, packet transmit from granted pages, and copy-mode receive into posted buffers.
 * @module
 */
import { SplitDriversError } from '../errors.ts';
import type { EventChannels, GrantIssuer, PageAllocator, XenbusClient } from '../ports.ts';
import { FrontRing } from '../ring/front-ring.ts';
import { sharedRingInit } from '../ring/ring-abi.ts';
import { switchState, waitForState, XenbusState } from '../xenbus/state.ts';
import {
  NETIF_RSP,
  NETRXF,
  NETTXF,
  type NetifRxRequest,
  type NetifRxResponse,
  type NetifTxRequest,
  type NetifTxResponse,
  netifExtraToTxSlot,
  netifRxRequestCodec,
  netifRxResponseCodec,
  netifTxRequestCodec,
  netifTxResponseCodec,
  XEN_NETIF_EXTRA_TYPE,
} from './netif.ts';

const PAGE = 4096;

/** What a {@link Netfront} needs. */
export interface NetfrontOptions {
  /** Xenstore access of the frontend domain. */
  readonly xenbus: XenbusClient;
  /** `/local/domain/<d>/device/vif/<devid>`. */
  readonly frontendPath: string;
  /** Grant issuing of the frontend domain. */
  readonly grants: GrantIssuer;
  /** Page allocation of the frontend domain. */
  readonly pages: PageAllocator;
  /** Event channels of the frontend domain. */
  readonly events: EventChannels;
  /**
   * Called with each received frame; `checksumVerified` when the backend flagged it
   * `NETRXF_data_validated` (its transport checksum is known good).
   */
  readonly onFrame: (frame: Uint8Array, checksumVerified: boolean) => void;
  /**
   * Ask for multicast control (`request-multicast-control`) if the backend offers it: then only
   * multicast frames subscribed to with {@link Netfront.subscribeMulticast} arrive. Default false.
   */
  readonly multicastControl?: boolean;
  /** Receive buffers to keep posted; default 64. */
  readonly rxBuffers?: number;
}

/** Per-frame transmit flags. */
export interface NetfrontSendOptions {
  /**
   * Checksum offload (`NETTXF_csum_blank`): the TCP/UDP checksum field is not filled in and the
   * backend completes it.
   */
  readonly checksumBlank?: boolean;
  /** `NETTXF_data_validated`: the frame's checksum is known good. */
  readonly dataValidated?: boolean;
}

interface TxPending {
  readonly refs: number[];
  readonly pages: Uint8Array[];
  remaining: number;
  status: number;
  readonly resolve: (status: number) => void;
}

/** A netfront for one VIF. Transmit results are `NETIF_RSP_*` values. */
export class Netfront {
  /** The MAC address from the frontend's `mac` key, once connected. */
  mac: string | undefined;
  private readonly opts: NetfrontOptions;
  private tx: FrontRing<NetifTxRequest, NetifTxResponse> | undefined;
  private rx: FrontRing<NetifRxRequest, NetifRxResponse> | undefined;
  private port = -1;
  private backendId = -1;
  private readonly txIds = new Map<number, TxPending>();
  private nextTxId = 0;
  private readonly rxBufs: { page: Uint8Array; ref: number }[] = [];
  private rxParts: Uint8Array[] = [];
  private rxVerified = true;
  private multicastOn = false;
  private txWaiters: (() => void)[] = [];

  /** Creates the frontend; call {@link Netfront.connect}. */
  constructor(options: NetfrontOptions) {
    this.opts = options;
    this.mac = undefined;
  }

  /** Runs the handshake and posts receive buffers; resolves false if the backend refused. */
  async connect(): Promise<boolean> {
    const { xenbus: xs, frontendPath: fe, grants, pages, events } = this.opts;
    const backend = (await xs.read(`${fe}/backend`)) ?? '';
    this.backendId = Number((await xs.read(`${fe}/backend-id`)) ?? 'NaN');
    if (backend === '' || !Number.isInteger(this.backendId)) {
      throw new SplitDriversError('INVALID_STATE', `${fe} has no backend/backend-id`);
    }
    const s = await waitForState(xs, backend, (st) => st >= XenbusState.XenbusStateInitWait);
    if (
      s >= XenbusState.XenbusStateClosing ||
      (await xs.read(`${backend}/feature-rx-copy`)) !== '1'
    )
      return false;
    const txPage = pages.allocPage();
    const rxPage = pages.allocPage();
    sharedRingInit(txPage);
    sharedRingInit(rxPage);
    this.tx = new FrontRing(txPage, netifTxRequestCodec, netifTxResponseCodec);
    this.rx = new FrontRing(rxPage, netifRxRequestCodec, netifRxResponseCodec);
    const want = Math.min(this.opts.rxBuffers ?? 64, this.rx.size);
    for (let i = 0; i < want; i++) {
      const page = pages.allocPage();
      this.rxBufs.push({ page, ref: grants.grantAccess(this.backendId, page, false) });
      this.rx.putRequest({ id: i, gref: this.rxBufs[i]?.ref ?? 0 });
    }
    this.rx.pushRequests();
    this.port = events.allocUnbound(this.backendId);
    events.onEvent(this.port, () => this.onEvent());
    await xs.write(`${fe}/tx-ring-ref`, String(grants.grantAccess(this.backendId, txPage, false)));
    await xs.write(`${fe}/rx-ring-ref`, String(grants.grantAccess(this.backendId, rxPage, false)));
    await xs.write(`${fe}/event-channel`, String(this.port));
    await xs.write(`${fe}/request-rx-copy`, '1');
    await xs.write(`${fe}/feature-rx-notify`, '1');
    if (
      this.opts.multicastControl === true &&
      (await xs.read(`${backend}/feature-multicast-control`)) === '1'
    ) {
      await xs.write(`${fe}/request-multicast-control`, '1');
      this.multicastOn = true;
    }
    this.mac = await xs.read(`${fe}/mac`);
    await switchState(xs, fe, XenbusState.XenbusStateConnected);
    const b = await waitForState(xs, backend, (st) => st >= XenbusState.XenbusStateConnected);
    return b === XenbusState.XenbusStateConnected;
  }

  /** Whether multicast control was negotiated (see {@link NetfrontOptions.multicastControl}). */
  get multicastControl(): boolean {
    return this.multicastOn;
  }

  /**
   * Subscribes to (or, with `subscribe` false, leaves) a multicast MAC: a tx request carrying a
   * `XEN_NETIF_EXTRA_TYPE_MCAST_ADD`/`_DEL` extra-info slot. Resolves with its status.
   */
  async subscribeMulticast(mac: string, subscribe = true): Promise<number> {
    if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(mac))
      throw new SplitDriversError('INVALID_ARGUMENT', `bad MAC ${mac}`);
    let ring = this.txRoom(2);
    while (ring === undefined) {
      await this.txSpace();
      ring = this.txRoom(2);
    }
    const data = new Uint8Array(mac.split(':').map((x) => Number.parseInt(x, 16)));
    const T = XEN_NETIF_EXTRA_TYPE;
    return new Promise<number>((resolve) => {
      const id = this.takeTxId({
        refs: [],
        pages: [],
        remaining: 1,
        status: NETIF_RSP.NETIF_RSP_OKAY,
        resolve,
      });
      ring.putRequest({ gref: 0, offset: 0, flags: NETTXF.NETTXF_extra_info, id, size: 0 });
      ring.putRequest(
        netifExtraToTxSlot({
          type: subscribe ? T.XEN_NETIF_EXTRA_TYPE_MCAST_ADD : T.XEN_NETIF_EXTRA_TYPE_MCAST_DEL,
          flags: 0,
          data,
        }),
      );
      if (ring.pushRequestsAndCheckNotify()) this.opts.events.notify(this.port);
    });
  }

  /**
   * The tx ring if `slots` requests fit now, else undefined. Callers loop on it and put their
   * requests in the same turn, with no `await` in between, so concurrent senders cannot both
   * claim the same free slots.
   */
  private txRoom(slots: number): FrontRing<NetifTxRequest, NetifTxResponse> | undefined {
    if (this.tx === undefined)
      throw new SplitDriversError('INVALID_STATE', 'netfront is not connected');
    return this.tx.freeRequests() >= slots ? this.tx : undefined;
  }

  private txSpace(): Promise<void> {
    return new Promise<void>((resolve) => this.txWaiters.push(resolve));
  }

  private takeTxId(pending: TxPending): number {
    const id = this.nextTxId;
    this.nextTxId = (this.nextTxId + 1) & 0xffff;
    this.txIds.set(id, pending);
    return id;
  }

  /** Transmits one Ethernet frame (split across pages if larger than one); resolves with its status. */
  async send(frame: Uint8Array, options: NetfrontSendOptions = {}): Promise<number> {
    if (frame.length === 0 || frame.length > 0xffff)
      throw new SplitDriversError('INVALID_ARGUMENT', 'bad frame length');
    const slots = Math.ceil(frame.length / PAGE);
    let ring = this.txRoom(slots);
    while (ring === undefined) {
      await this.txSpace();
      ring = this.txRoom(slots);
    }
    const { grants, pages } = this.opts;
    const firstFlags =
      (options.checksumBlank === true ? NETTXF.NETTXF_csum_blank : 0) |
      (options.dataValidated === true ? NETTXF.NETTXF_data_validated : 0);
    return new Promise<number>((resolve) => {
      const pending: TxPending = {
        refs: [],
        pages: [],
        remaining: slots,
        status: NETIF_RSP.NETIF_RSP_OKAY,
        resolve,
      };
      for (let i = 0; i < slots; i++) {
        const page = pages.allocPage();
        const part = frame.subarray(i * PAGE, (i + 1) * PAGE);
        page.set(part);
        const gref = grants.grantAccess(this.backendId, page, true);
        pending.refs.push(gref);
        pending.pages.push(page);
        const id = this.takeTxId(pending);
        ring.putRequest({
          gref,
          offset: 0,
          flags: (i < slots - 1 ? NETTXF.NETTXF_more_data : 0) | (i === 0 ? firstFlags : 0),
          id,
          size: i === 0 ? frame.length : part.length,
        });
      }
      if (ring.pushRequestsAndCheckNotify()) this.opts.events.notify(this.port);
    });
  }

  private onEvent(): void {
    const tx = this.tx;
    const rx = this.rx;
    if (tx === undefined || rx === undefined) return;
    do {
      for (let r = tx.takeResponse(); r !== undefined; r = tx.takeResponse()) {
        const p = this.txIds.get(r.id);
        if (p === undefined || r.status === NETIF_RSP.NETIF_RSP_NULL) continue;
        this.txIds.delete(r.id);
        if (r.status !== NETIF_RSP.NETIF_RSP_OKAY) p.status = r.status;
        if (--p.remaining === 0) {
          for (const ref of p.refs) this.opts.grants.endAccess(ref);
          for (const page of p.pages) this.opts.pages.freePage(page);
          p.resolve(p.status);
        }
      }
    } while (tx.finalCheckForResponses());
    let reposted = false;
    do {
      for (let r = rx.takeResponse(); r !== undefined; r = rx.takeResponse()) {
        const buf = this.rxBufs[r.id];
        if (buf !== undefined) {
          if (r.status > 0 && r.offset + r.status <= PAGE)
            this.rxParts.push(buf.page.slice(r.offset, r.offset + r.status));
          if ((r.flags & NETRXF.NETRXF_data_validated) === 0) this.rxVerified = false;
          if ((r.flags & NETRXF.NETRXF_more_data) === 0) {
            const parts = this.rxParts;
            const verified = this.rxVerified;
            this.rxParts = [];
            this.rxVerified = true;
            if (r.status > 0 && parts.length > 0) this.opts.onFrame(concat(parts), verified);
          }
          rx.putRequest({ id: r.id, gref: buf.ref });
          reposted = true;
        }
      }
    } while (rx.finalCheckForResponses());
    if (reposted && rx.pushRequestsAndCheckNotify()) this.opts.events.notify(this.port);
    const waiters = this.txWaiters;
    this.txWaiters = [];
    for (const w of waiters) w();
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
