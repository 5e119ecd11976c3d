/**
 * The backend half of a shared ring (`struct NAME_back_ring`): consumes requests, produces
 * responses. Implements RING_HAS_UNCONSUMED_REQUESTS, RING_REQUEST_PROD_OVERFLOW,
 * RING_PUSH_RESPONSES(_AND_CHECK_NOTIFY) and RING_FINAL_CHECK_FOR_REQUESTS.
 * @module
 */
import { SplitDriversError } from '../errors.ts';
import { dist32, inc32, pageView } from '../internal/page-view.ts';
import type { RingCodec } from './codec.ts';
import { ringNeedsNotify, ringSizeFor, SRING_OFFSETS } from './ring-abi.ts';

/** The backend's private ring indices (`req_cons`, `rsp_prod_pvt`), JSON-safe. */
export interface BackRingState {
  /** Next request to consume (`req_cons`). */
  reqCons: number;
  /** Next response slot to fill (`rsp_prod_pvt`). */
  rspProdPvt: number;
}

/**
 * Backend view of a shared ring page written by a possibly hostile frontend. Whatever the
 * frontend writes to `req_prod`, the backend consumes at most `size` requests beyond the
 * responses it has produced, reads only inside the page (indices are masked), and decodes each
 * request once into a private copy.
 * @see xen/include/public/io/ring.h BACK_RING_INIT
 */
export class BackRing<Req, Rsp> {
  /** Number of entries (a power of two). */
  readonly size: number;
  /** `req_cons`: requests consumed so far. */
  reqCons: number;
  /** `rsp_prod_pvt`: responses written but maybe not yet pushed. */
  rspProdPvt: number;
  private readonly view: DataView;
  private readonly reqCodec: RingCodec<Req>;
  private readonly rspCodec: RingCodec<Rsp>;
  private readonly entrySize: number;

  /**
   * Attaches to a ring page the frontend initialised; `state` restores saved private indices.
   * Without it the backend starts after the last response on the page (`rsp_prod`): 0 on a fresh
   * ring, and on a ring the frontend kept across a backend restart (a restored or migrated
   * domain, quiesced with no request in flight) exactly where the previous backend stopped, so
   * no request is served twice.
   */
  constructor(
    page: Uint8Array,
    reqCodec: RingCodec<Req>,
    rspCodec: RingCodec<Rsp>,
    state?: BackRingState,
  ) {
    this.view = pageView(page);
    this.reqCodec = reqCodec;
    this.rspCodec = rspCodec;
    this.entrySize = Math.max(reqCodec.size, rspCodec.size);
    this.size = ringSizeFor(this.entrySize, page.byteLength);
    const resumeAt = this.view.getUint32(SRING_OFFSETS.rsp_prod, true);
    this.reqCons = state === undefined ? resumeAt : state.reqCons >>> 0;
    this.rspProdPvt = state === undefined ? resumeAt : state.rspProdPvt >>> 0;
  }

  /** Restores a back ring from saved private indices. */
  static fromState<Req, Rsp>(
    state: BackRingState,
    page: Uint8Array,
    reqCodec: RingCodec<Req>,
    rspCodec: RingCodec<Rsp>,
  ): BackRing<Req, Rsp> {
    return new BackRing(page, reqCodec, rspCodec, state);
  }

  /** The private indices, for save/restore. */
  getState(): BackRingState {
    return { reqCons: this.reqCons, rspProdPvt: this.rspProdPvt };
  }

  /** Byte offset in the page of the slot for ring index `idx`. */
  slotOffset(idx: number): number {
    return SRING_OFFSETS.ring + (idx & (this.size - 1)) * this.entrySize;
  }

  /**
   * Requests ready to consume (`RING_HAS_UNCONSUMED_REQUESTS`):
   * `min(req_prod − req_cons, size − (req_cons − rsp_prod_pvt))`, so never more than the free
   * response slots, whatever `req_prod` says.
   */
  unconsumedRequests(): number {
    const avail = dist32(this.view.getUint32(SRING_OFFSETS.req_prod, true), this.reqCons);
    const room = this.size - dist32(this.reqCons, this.rspProdPvt);
    return Math.min(avail, room);
  }

  /**
   * `RING_REQUEST_PROD_OVERFLOW`: the frontend claims more requests than the ring can hold
   * beyond our responses, which a well-behaved frontend never does.
   */
  requestProdOverflow(): boolean {
    return dist32(this.view.getUint32(SRING_OFFSETS.req_prod, true), this.rspProdPvt) > this.size;
  }

  /** Copies out and consumes the next request, or returns undefined if there is none. */
  takeRequest(): Req | undefined {
    if (this.unconsumedRequests() === 0) return undefined;
    const req = this.reqCodec.decode(this.view, this.slotOffset(this.reqCons));
    this.reqCons = inc32(this.reqCons);
    return req;
  }

  /**
   * Copies out the request `ahead` slots past `req_cons` without consuming it (undefined if not
   * yet available), for protocols whose requests span several slots (netif packets).
   */
  peekRequest(ahead: number): Req | undefined {
    if (ahead < 0 || ahead >= this.unconsumedRequests()) return undefined;
    return this.reqCodec.decode(this.view, this.slotOffset((this.reqCons + ahead) >>> 0));
  }

  /**
   * Asks for an event when the frontend produces beyond what it has produced so far (for a
   * consumer waiting for the rest of a multi-slot request); true if more arrived meanwhile.
   */
  requestEventAfterProduced(): boolean {
    const prod = this.view.getUint32(SRING_OFFSETS.req_prod, true);
    this.view.setUint32(SRING_OFFSETS.req_event, inc32(prod), true);
    return this.view.getUint32(SRING_OFFSETS.req_prod, true) !== prod;
  }

  /** Requests consumed that have no response yet. */
  pendingResponses(): number {
    return dist32(this.reqCons, this.rspProdPvt);
  }

  /** Writes a response into the next slot; not yet visible. Throws if no request awaits one. */
  putResponse(rsp: Rsp): void {
    if (this.pendingResponses() === 0) {
      throw new SplitDriversError('INVALID_STATE', 'back ring has no consumed request to answer');
    }
    this.rspCodec.encode(this.view, this.slotOffset(this.rspProdPvt), rsp);
    this.rspProdPvt = inc32(this.rspProdPvt);
  }

  /** Publishes written responses without a notification check (`RING_PUSH_RESPONSES`). */
  pushResponses(): void {
    this.view.setUint32(SRING_OFFSETS.rsp_prod, this.rspProdPvt, true);
  }

  /**
   * Publishes written responses and says whether the frontend must be notified
   * (`RING_PUSH_RESPONSES_AND_CHECK_NOTIFY`): iff its `rsp_event` lies in (old, new].
   */
  pushResponsesAndCheckNotify(): boolean {
    const oldProd = this.view.getUint32(SRING_OFFSETS.rsp_prod, true);
    const newProd = this.rspProdPvt;
    this.view.setUint32(SRING_OFFSETS.rsp_prod, newProd, true);
    return ringNeedsNotify(oldProd, newProd, this.view.getUint32(SRING_OFFSETS.rsp_event, true));
  }

  /**
   * `RING_FINAL_CHECK_FOR_REQUESTS`: true if requests are pending; otherwise asks for an event
   * at the next request (`req_event = req_cons + 1`) and checks once more.
   */
  finalCheckForRequests(): boolean {
    if (this.unconsumedRequests() > 0) return true;
    this.view.setUint32(SRING_OFFSETS.req_event, inc32(this.reqCons), true);
    return this.unconsumedRequests() > 0;
  }
}
