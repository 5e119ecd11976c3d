/**
 * The I/O half of a block backend: consumes one connected ring, validates every request against
 * the protocol, the grants and the device, performs it on a {@link BlockStorage}, and responds.
 * Nothing here trusts the ring page: requests are copied out once, then checked.
 * @module
 */
import type { GrantMapper, GrantMapping } from '../ports.ts';
import { BackRing, type BackRingState } from '../ring/back-ring.ts';
import {
  BLKIF_DISCARD_SECURE,
  BLKIF_MAX_SEGMENTS_PER_REQUEST,
  BLKIF_OP,
  BLKIF_RSP,
  BLKIF_SECTOR_SIZE,
  BLKIF_SECTORS_PER_PAGE,
  BLKIF_SEGS_PER_INDIRECT_FRAME,
} from './blkif-abi.ts';
import {
  type BlkifCodecs,
  type BlkifDiscardRequest,
  type BlkifIndirectRequest,
  type BlkifRequest,
  type BlkifResponse,
  type BlkifSegment,
  decodeSegment,
} from './blkif-codec.ts';
import type { BlockStorage } from './storage.ts';

/** Per-device counters (what `xl block-list`/`xentop` show: requests, bytes, errors). */
export interface BlkbackMetrics {
  /** Requests consumed from the ring. */
  requests: number;
  /** Successful read requests. */
  reads: number;
  /** Successful write requests (including barrier/flush writes). */
  writes: number;
  /** Flushes performed (flush and barrier requests). */
  flushes: number;
  /** Successful discard requests. */
  discards: number;
  /** Bytes read from storage for the guest. */
  bytesRead: number;
  /** Bytes written to storage from the guest. */
  bytesWritten: number;
  /** Requests answered with `BLKIF_RSP_ERROR`. */
  errors: number;
  /** Requests answered with `BLKIF_RSP_EOPNOTSUPP`. */
  unsupported: number;
  /** Times the frontend corrupted ring indices (the ring is then abandoned). */
  ringOverflows: number;
}

/** What a {@link BlkbackQueue} serves and how. */
export interface BlkbackQueueOptions {
  /** The mapped shared ring page. */
  readonly ring: Uint8Array;
  /** Codecs of the frontend's `protocol`. */
  readonly codecs: BlkifCodecs;
  /** The frontend domain (granter of every ref in its requests). */
  readonly frontendDomid: number;
  /** Maps the frontend's data and indirect pages. */
  readonly mapper: GrantMapper;
  /** The device's storage. */
  readonly storage: BlockStorage;
  /** False for `mode=r` devices: every write-type request fails. */
  readonly writable: boolean;
  /** Raises the event channel to the frontend. */
  readonly notify: () => void;
  /** Advertised `feature-max-indirect-segments` (0 = no indirect support). */
  readonly maxIndirectSegments: number;
  /** Honour `BLKIF_OP_WRITE_BARRIER` (advertised as `feature-barrier`). */
  readonly barrier: boolean;
  /** Honour `BLKIF_OP_FLUSH_DISKCACHE` (advertised as `feature-flush-cache`). */
  readonly flushCache: boolean;
  /**
   * Awaited after each full batch so other devices (and, with a macrotask-based yield such as
   * `setImmediate`, timers and I/O) get a turn; default a microtask.
   */
  readonly yieldToOthers?: () => Promise<void>;
}

/** The JSON-safe state of a {@link BlkbackQueue}: its private ring indices and counters. */
export interface BlkbackQueueState {
  /** `req_cons` and `rsp_prod_pvt`. */
  ring: BackRingState;
  /** Whether the ring was abandoned. */
  broken: boolean;
  /** Counters. */
  metrics: BlkbackMetrics;
}

/** A new zeroed metrics record. */
export function emptyBlkbackMetrics(): BlkbackMetrics {
  return {
    requests: 0,
    reads: 0,
    writes: 0,
    flushes: 0,
    discards: 0,
    bytesRead: 0,
    bytesWritten: 0,
    errors: 0,
    unsupported: 0,
    ringOverflows: 0,
  };
}

const microtask = (): Promise<void> => Promise.resolve();
const OKAY = BLKIF_RSP.BLKIF_RSP_OKAY;
const ERROR = BLKIF_RSP.BLKIF_RSP_ERROR;
const EOPNOTSUPP = BLKIF_RSP.BLKIF_RSP_EOPNOTSUPP;

/**
 * Serves one blkif ring. Requests are handled one at a time in ring order, which trivially
 * honours barriers (every earlier request has completed) at the cost of no reordering; after at
 * most `size` requests the loop yields so one busy frontend cannot starve other devices.
 * @see xen/include/public/io/blkif.h
 */
export class BlkbackQueue {
  /** Counters for this ring. */
  readonly metrics: BlkbackMetrics;
  /** Set once the frontend corrupted the ring indices; the ring is no longer served. */
  broken: boolean;
  private readonly opts: BlkbackQueueOptions;
  private readonly ring: BackRing<BlkifRequest, BlkifResponse>;
  private running: boolean;
  private stopped: boolean;
  private idleWaiters: (() => void)[];

  /** Attaches to a mapped ring page; call {@link BlkbackQueue.kick} when the event channel fires. */
  constructor(
    options: BlkbackQueueOptions,
    metrics: BlkbackMetrics = emptyBlkbackMetrics(),
    state?: BlkbackQueueState,
  ) {
    this.opts = options;
    this.ring = new BackRing(
      options.ring,
      options.codecs.request,
      options.codecs.response,
      state?.ring,
    );
    this.metrics = metrics;
    if (state !== undefined) Object.assign(this.metrics, state.metrics);
    this.broken = state?.broken ?? false;
    this.running = false;
    this.stopped = false;
    this.idleWaiters = [];
  }

  /** Restores a queue (after save/restore or migration of the backend) on the same ring page. */
  static fromState(state: BlkbackQueueState, options: BlkbackQueueOptions): BlkbackQueue {
    return new BlkbackQueue(options, emptyBlkbackMetrics(), state);
  }

  /** The state to save; take it when {@link BlkbackQueue.idle} has resolved. */
  getState(): BlkbackQueueState {
    return { ring: this.ring.getState(), broken: this.broken, metrics: { ...this.metrics } };
  }

  /** Starts consuming requests unless already running (the event-channel handler). */
  kick(): void {
    if (this.running || this.broken || this.stopped) return;
    this.running = true;
    void this.run();
  }

  /** Stops serving after the request in progress; resolves once idle. */
  stop(): Promise<void> {
    this.stopped = true;
    return this.idle();
  }

  /** Resolves when no request is being processed. */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async run(): Promise<void> {
    const ring = this.ring;
    try {
      for (;;) {
        let n = 0;
        while (n < ring.size && !this.stopped) {
          if (ring.requestProdOverflow()) {
            // RING_REQUEST_PROD_OVERFLOW: a frontend that claims more requests than fit is
            // broken or hostile; stop serving this ring rather than guess.
            this.broken = true;
            this.metrics.ringOverflows++;
            return;
          }
          const req = ring.takeRequest();
          if (req === undefined) break;
          this.metrics.requests++;
          const rsp = await this.dispatch(req);
          if (rsp.status === ERROR) this.metrics.errors++;
          else if (rsp.status === EOPNOTSUPP) this.metrics.unsupported++;
          ring.putResponse(rsp);
          if (ring.pushResponsesAndCheckNotify()) this.opts.notify();
          n++;
        }
        if (this.stopped) return;
        if (n === ring.size) {
          await (this.opts.yieldToOthers ?? microtask)(); // let other devices run before the next batch
          continue;
        }
        if (!ring.finalCheckForRequests()) return;
      }
    } finally {
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Validates and performs one request; never throws. */
  private async dispatch(req: BlkifRequest): Promise<BlkifResponse> {
    if (req.kind === 'discard') {
      return { id: req.id, operation: req.operation, status: await this.discard(req) };
    }
    if (req.kind === 'indirect') {
      const op = req.indirectOp;
      if (op !== BLKIF_OP.BLKIF_OP_READ && op !== BLKIF_OP.BLKIF_OP_WRITE) {
        return { id: req.id, operation: op, status: ERROR };
      }
      const segments = this.indirectSegments(req);
      const status =
        segments === undefined ? ERROR : await this.readWrite(op, req.sectorNumber, segments);
      return { id: req.id, operation: op, status };
    }
    const op = req.operation;
    switch (op) {
      case BLKIF_OP.BLKIF_OP_READ:
      case BLKIF_OP.BLKIF_OP_WRITE:
      case BLKIF_OP.BLKIF_OP_WRITE_BARRIER:
      case BLKIF_OP.BLKIF_OP_FLUSH_DISKCACHE: {
        const status =
          req.nrSegments > BLKIF_MAX_SEGMENTS_PER_REQUEST
            ? ERROR
            : await this.readWrite(op, req.sectorNumber, req.segments);
        return { id: req.id, operation: op, status };
      }
      default:
        return { id: req.id, operation: op, status: EOPNOTSUPP };
    }
  }

  /** Reads the segment list of an indirect request out of its granted pages, or undefined if invalid. */
  private indirectSegments(req: BlkifIndirectRequest): BlkifSegment[] | undefined {
    const n = req.nrSegments;
    if (n === 0 || n > this.opts.maxIndirectSegments) return undefined;
    const pages = Math.ceil(n / BLKIF_SEGS_PER_INDIRECT_FRAME);
    const out: BlkifSegment[] = [];
    for (let p = 0; p < pages; p++) {
      const m = this.opts.mapper.mapGrant(this.opts.frontendDomid, req.indirectGrefs[p] ?? 0, true);
      if (typeof m === 'number') return undefined;
      try {
        const view = new DataView(m.page.buffer, m.page.byteOffset, m.page.byteLength);
        const count = Math.min(
          BLKIF_SEGS_PER_INDIRECT_FRAME,
          n - p * BLKIF_SEGS_PER_INDIRECT_FRAME,
        );
        for (let i = 0; i < count; i++) out.push(decodeSegment(view, i * 8));
      } finally {
        this.opts.mapper.unmapGrant(m);
      }
    }
    return out;
  }

  /** Read, write, barrier or flush with the given (already copied) segments. */
  private async readWrite(
    op: number,
    sector: bigint,
    segments: readonly BlkifSegment[],
  ): Promise<number> {
    const { storage, mapper, frontendDomid } = this.opts;
    const isRead = op === BLKIF_OP.BLKIF_OP_READ;
    const isBarrier = op === BLKIF_OP.BLKIF_OP_WRITE_BARRIER;
    const isFlush = op === BLKIF_OP.BLKIF_OP_FLUSH_DISKCACHE;
    if (isBarrier && !this.opts.barrier) return EOPNOTSUPP;
    if (isFlush && !this.opts.flushCache) return EOPNOTSUPP;
    if (segments.length === 0 && !isBarrier && !isFlush) return ERROR;
    if (!isRead && (!this.opts.writable || storage.readOnly)) return ERROR;

    // Validate every segment and the whole sector range before touching anything.
    const unit = storage.sectorSize / BLKIF_SECTOR_SIZE;
    let total = 0;
    for (const s of segments) {
      if (s.firstSect > s.lastSect || s.lastSect >= BLKIF_SECTORS_PER_PAGE) return ERROR;
      const n = s.lastSect - s.firstSect + 1;
      if (n % unit !== 0) return ERROR;
      total += n;
    }
    if (sector % BigInt(unit) !== 0n) return ERROR;
    if (sector + BigInt(total) > BigInt(storage.sectors)) return ERROR;

    // Map every grant (writable for reads: we write into the guest's pages).
    const maps: GrantMapping[] = [];
    try {
      for (const s of segments) {
        const m = mapper.mapGrant(frontendDomid, s.gref, !isRead);
        if (typeof m === 'number') return ERROR;
        maps.push(m);
      }
      const start = Number(sector);
      const buf = new Uint8Array(total * BLKIF_SECTOR_SIZE);
      if (isRead) {
        await storage.read(start, buf);
        let at = 0;
        for (let i = 0; i < segments.length; i++) {
          const s = segments[i] as BlkifSegment;
          const len = (s.lastSect - s.firstSect + 1) * BLKIF_SECTOR_SIZE;
          (maps[i] as GrantMapping).page.set(
            buf.subarray(at, at + len),
            s.firstSect * BLKIF_SECTOR_SIZE,
          );
          at += len;
        }
        this.metrics.reads++;
        this.metrics.bytesRead += buf.length;
        return OKAY;
      }
      let at = 0;
      for (let i = 0; i < segments.length; i++) {
        const s = segments[i] as BlkifSegment;
        const len = (s.lastSect - s.firstSect + 1) * BLKIF_SECTOR_SIZE;
        const from = s.firstSect * BLKIF_SECTOR_SIZE;
        buf.set((maps[i] as GrantMapping).page.subarray(from, from + len), at);
        at += len;
      }
      if (isBarrier || isFlush) {
        await storage.flush(); // everything before is durable first
        this.metrics.flushes++;
      }
      if (buf.length > 0) {
        await storage.write(start, buf);
        this.metrics.writes++;
        this.metrics.bytesWritten += buf.length;
      }
      if (isBarrier && buf.length > 0) await storage.flush(); // the barrier write is durable before later ones
      return OKAY;
    } catch {
      return ERROR; // storage failure
    } finally {
      for (const m of maps) mapper.unmapGrant(m);
    }
  }

  private async discard(req: BlkifDiscardRequest): Promise<number> {
    const { storage } = this.opts;
    if (storage.discard === undefined) return EOPNOTSUPP;
    if ((req.flag & BLKIF_DISCARD_SECURE) !== 0) return EOPNOTSUPP;
    if (!this.opts.writable || storage.readOnly) return ERROR;
    if (req.sectorNumber + req.nrSectors > BigInt(storage.sectors)) return ERROR;
    if (req.nrSectors === 0n) return OKAY;
    try {
      await storage.discard(Number(req.sectorNumber), Number(req.nrSectors));
      this.metrics.discards++;
      return OKAY;
    } catch {
      return ERROR;
    }
  }
}
