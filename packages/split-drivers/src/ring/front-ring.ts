/**
 * The frontend half of a shared ring (`struct NAME_front_ring`): produces requests, consumes
 * responses. Implements RING_FULL, RING_PUSH_REQUESTS(_AND_CHECK_NOTIFY),
 * RING_HAS_UNCONSUMED_RESPONSES and RING_FINAL_CHECK_FOR_RESPONSES.
 * @module
 */
import { SplitDriversError } from '../errors.ts';
import { dist32, inc32, pageView } from '../internal/page-view.ts';
import type { RingCodec } from './codec.ts';
import { ringNeedsNotify, ringSizeFor, SRING_OFFSETS } from './ring-abi.ts';

/** The frontend's private ring indices (`req_prod_pvt`, `rsp_cons`), JSON-safe. */
export interface FrontRingState {
  /** Next request slot to fill (`req_prod_pvt`). */
  reqProdPvt: number;
  /** Next response to consume (`rsp_cons`). */
  rspCons: number;
}

/**
 * Frontend view of a shared ring page. The page is shared memory: a hostile backend may write
 * any value to `rsp_prod` at any time, so response counts are bounded by the requests this
 * frontend actually has outstanding.
 * @see xen/include/public/io/ring.h FRONT_RING_INIT
 */
export class FrontRing<Req, Rsp> {
  /** Number of entries (a power of two). */
  readonly size: number;
  /** `req_prod_pvt`: requests written but maybe not yet pushed. */
  reqProdPvt: number;
  /** `rsp_cons`: responses consumed so far. */
  rspCons: number;
  /** Set when the backend published more responses than there were requests (ring.h "overflow"). */
  overflowed: boolean;
  private readonly view: DataView;
  private readonly reqCodec: RingCodec<Req>;
  private readonly rspCodec: RingCodec<Rsp>;
  private readonly entrySize: number;

  /**
   * Attaches to a ring page. Call {@link sharedRingInit} first on a fresh page (the frontend owns
   * initialisation); `state` restores private indices saved with {@link FrontRing.getState}.
   */
  constructor(
    page: Uint8Array,
    reqCodec: RingCodec<Req>,
    rspCodec: RingCodec<Rsp>,
    state?: FrontRingState,
  ) {
    this.view = pageView(page);
    this.reqCodec = reqCodec;
    this.rspCodec = rspCodec;
    this.entrySize = Math.max(reqCodec.size, rspCodec.size);
    this.size = ringSizeFor(this.entrySize, page.byteLength);
    this.reqProdPvt = state === undefined ? 0 : state.reqProdPvt >>> 0;
    this.rspCons = state === undefined ? 0 : state.rspCons >>> 0;
    this.overflowed = false;
  }

  /** Restores a front ring from saved private indices. */
  static fromState<Req, Rsp>(
    state: FrontRingState,
    page: Uint8Array,
    reqCodec: RingCodec<Req>,
    rspCodec: RingCodec<Rsp>,
  ): FrontRing<Req, Rsp> {
    return new FrontRing(page, reqCodec, rspCodec, state);
  }

  /** The private indices, for save/restore. */
  getState(): FrontRingState {
    return { reqProdPvt: this.reqProdPvt, rspCons: this.rspCons };
  }

  /** Free request slots (`RING_FREE_REQUESTS`). */
  freeRequests(): number {
    return this.size - dist32(this.reqProdPvt, this.rspCons);
  }

  /** True when no request slot is free (`RING_FULL`). */
  isFull(): boolean {
    return this.freeRequests() === 0;
  }

  /** Requests written (pushed or not) whose responses have not been consumed. */
  outstanding(): number {
    return dist32(this.reqProdPvt, this.rspCons);
  }

  /** Byte offset in the page of the slot for ring index `idx`. */
  slotOffset(idx: number): number {
    return SRING_OFFSETS.ring + (idx & (this.size - 1)) * this.entrySize;
  }

  /** Writes a request into the next free slot (`RING_GET_REQUEST` + `req_prod_pvt++`); not yet visible. */
  putRequest(req: Req): void {
    if (this.isFull()) throw new SplitDriversError('INVALID_STATE', 'front ring is full');
    this.reqCodec.encode(this.view, this.slotOffset(this.reqProdPvt), req);
    this.reqProdPvt = inc32(this.reqProdPvt);
  }

  /** Publishes written requests without checking whether to notify (`RING_PUSH_REQUESTS`, as GRUB does). */
  pushRequests(): void {
    this.view.setUint32(SRING_OFFSETS.req_prod, this.reqProdPvt, true);
  }

  /**
   * Publishes written requests and says whether the backend must be notified
   * (`RING_PUSH_REQUESTS_AND_CHECK_NOTIFY`): iff its `req_event` lies in (old, new].
   */
  pushRequestsAndCheckNotify(): boolean {
    const oldProd = this.view.getUint32(SRING_OFFSETS.req_prod, true);
    const newProd = this.reqProdPvt;
    this.view.setUint32(SRING_OFFSETS.req_prod, newProd, true);
    return ringNeedsNotify(oldProd, newProd, this.view.getUint32(SRING_OFFSETS.req_event, true));
  }

  /**
   * Responses ready to consume (`RING_HAS_UNCONSUMED_RESPONSES`), never more than the requests
   * outstanding; a backend claiming more sets {@link FrontRing.overflowed}.
   */
  unconsumedResponses(): number {
    const avail = dist32(this.view.getUint32(SRING_OFFSETS.rsp_prod, true), this.rspCons);
    const limit = this.outstanding();
    if (avail > limit) {
      this.overflowed = true;
      return limit;
    }
    return avail;
  }

  /** Copies out and consumes the next response, or returns undefined if there is none. */
  takeResponse(): Rsp | undefined {
    if (this.unconsumedResponses() === 0) return undefined;
    const rsp = this.rspCodec.decode(this.view, this.slotOffset(this.rspCons));
    this.rspCons = inc32(this.rspCons);
    return rsp;
  }

  /**
   * `RING_FINAL_CHECK_FOR_RESPONSES`: true if responses are pending; otherwise asks for an event
   * at the next response (`rsp_event = rsp_cons + 1`) and checks once more, closing the race
   * with a backend that pushed in between.
   */
  finalCheckForResponses(): boolean {
    if (this.unconsumedResponses() > 0) return true;
    this.view.setUint32(SRING_OFFSETS.rsp_event, inc32(this.rspCons), true);
    return this.unconsumedResponses() > 0;
  }
}
