/**
 * A block frontend (blkfront) in TypeScript, for native TypeScript domains and tests: performs
 * the blkif.h handshake, then turns reads, writes, flushes, barriers and discards into ring
 * requests with granted data pages.
 * @module
 */
import { SplitDriversError } from '../errors.ts';
import type { EventChannels, GrantIssuer, PageAllocator, XenbusClient } from '../ports.ts';
import { FrontRing } from '../ring/front-ring.ts';
import { sharedRingInit } from '../ring/ring-abi.ts';
import { parseXenbusState, switchState, waitForState, XenbusState } from '../xenbus/state.ts';
import {
  BLKIF_MAX_SEGMENTS_PER_REQUEST,
  BLKIF_OP,
  BLKIF_RSP,
  BLKIF_SECTOR_SIZE,
  BLKIF_SECTORS_PER_PAGE,
  BLKIF_SEGS_PER_INDIRECT_FRAME,
  type BlkifProtocol,
  VDISK,
} from './blkif-abi.ts';
import {
  type BlkifRequest,
  type BlkifResponse,
  type BlkifSegment,
  blkifCodecs,
  encodeSegment,
} from './blkif-codec.ts';

/** What a {@link Blkfront} needs. */
export interface BlkfrontOptions {
  /** Xenstore access of the frontend domain. */
  readonly xenbus: XenbusClient;
  /** The frontend directory (`/local/domain/<d>/device/vbd/<devid>`). */
  readonly frontendPath: string;
  /** Grant issuing of the frontend domain. */
  readonly grants: GrantIssuer;
  /** Page allocation of the frontend domain. */
  readonly pages: PageAllocator;
  /** Event channels of the frontend domain. */
  readonly events: EventChannels;
  /** The ABI to speak; default x86_64. */
  readonly protocol?: BlkifProtocol;
  /** Use indirect requests when the backend offers them; default true. */
  readonly useIndirect?: boolean;
}

/** What the backend published at connection. */
export interface BlkfrontInfo {
  /** Capacity in 512-byte sectors. */
  readonly sectors: number;
  /** Logical sector size. */
  readonly sectorSize: number;
  /** `VDISK_*` bits. */
  readonly info: number;
  /** Whether the device is read-only. */
  readonly readOnly: boolean;
  /** `feature-barrier`. */
  readonly barrier: boolean;
  /** `feature-flush-cache`. */
  readonly flushCache: boolean;
  /** `feature-discard`. */
  readonly discard: boolean;
  /** `feature-max-indirect-segments` (0 if absent). */
  readonly maxIndirectSegments: number;
}

/** The result of a read: the `BLKIF_RSP_*` status and, when okay, the data. */
export interface BlkReadResult {
  /** `BLKIF_RSP_*`. */
  readonly status: number;
  /** The sectors read (empty unless status is okay). */
  readonly data: Uint8Array;
}

interface Pending {
  readonly resolve: (status: number) => void;
}

/**
 * A blkfront for one virtual block device. I/O failures are `BLKIF_RSP_*` statuses in the
 * results, never exceptions; only misuse (I/O before connect, unaligned buffers) throws.
 */
export class Blkfront {
  /** Backend parameters, once connected. */
  info: BlkfrontInfo | undefined;
  private readonly opts: BlkfrontOptions;
  private backendPath = '';
  private backendId = -1;
  private ring: FrontRing<BlkifRequest, BlkifResponse> | undefined;
  private ringPage: Uint8Array | undefined;
  private ringRef = -1;
  private port = -1;
  private nextId = 1n;
  private readonly pending = new Map<bigint, Pending>();
  private slotWaiters: (() => void)[] = [];
  private unwatch: (() => Promise<void>) | undefined;

  /** Creates the frontend; call {@link Blkfront.connect}. */
  constructor(options: BlkfrontOptions) {
    this.opts = options;
    this.info = undefined;
  }

  /**
   * Runs the handshake: waits for the backend's InitWait, allocates and grants the ring,
   * allocates an unbound event channel, writes `ring-ref`, `event-channel`, `protocol` and
   * state Initialised, waits for the backend to connect, reads its geometry, and connects.
   * Resolves with the geometry, or undefined if the backend closed instead.
   */
  async connect(): Promise<BlkfrontInfo | undefined> {
    const { xenbus: xs, frontendPath: fe, grants, pages, events } = this.opts;
    this.backendPath = (await xs.read(`${fe}/backend`)) ?? '';
    this.backendId = Number((await xs.read(`${fe}/backend-id`)) ?? 'NaN');
    if (this.backendPath === '' || !Number.isInteger(this.backendId)) {
      throw new SplitDriversError('INVALID_STATE', `${fe} has no backend/backend-id`);
    }
    const early = await waitForState(
      xs,
      this.backendPath,
      (s) => s >= XenbusState.XenbusStateInitWait,
    );
    if (early >= XenbusState.XenbusStateClosing) return undefined;
    const protocol = this.opts.protocol ?? 'x86_64-abi';
    const codecs = blkifCodecs(protocol);
    if (codecs === undefined)
      throw new SplitDriversError('INVALID_ARGUMENT', `unknown protocol ${protocol}`);
    const page = pages.allocPage();
    sharedRingInit(page);
    this.ringPage = page;
    this.ring = new FrontRing(page, codecs.request, codecs.response);
    this.ringRef = grants.grantAccess(this.backendId, page, false);
    this.port = events.allocUnbound(this.backendId);
    events.onEvent(this.port, () => this.onEvent());
    await xs.write(`${fe}/ring-ref`, String(this.ringRef));
    await xs.write(`${fe}/event-channel`, String(this.port));
    await xs.write(`${fe}/protocol`, protocol);
    await switchState(xs, fe, XenbusState.XenbusStateInitialised);
    const bs = await waitForState(
      xs,
      this.backendPath,
      (s) => s >= XenbusState.XenbusStateConnected,
    );
    if (bs !== XenbusState.XenbusStateConnected) {
      await this.teardown();
      return undefined;
    }
    const num = async (key: string): Promise<number> => {
      const v = await xs.read(`${this.backendPath}/${key}`);
      return v !== undefined && /^\d+$/.test(v) ? Number(v) : 0;
    };
    const info = await num('info');
    const mode = await xs.read(`${this.backendPath}/mode`);
    this.info = {
      sectors: await num('sectors'),
      sectorSize: (await num('sector-size')) || BLKIF_SECTOR_SIZE,
      info,
      readOnly: (info & VDISK.VDISK_READONLY) !== 0 || mode === 'r',
      barrier: (await num('feature-barrier')) === 1,
      flushCache: (await num('feature-flush-cache')) === 1,
      discard: (await num('feature-discard')) === 1,
      maxIndirectSegments:
        this.opts.useIndirect === false ? 0 : await num('feature-max-indirect-segments'),
    };
    await switchState(xs, fe, XenbusState.XenbusStateConnected);
    this.unwatch = await xs.watch(`${this.backendPath}/state`, () => void this.onBackendState());
    return this.info;
  }

  /** Reads `count` 512-byte sectors from `sector`. */
  async read(sector: number, count: number): Promise<BlkReadResult> {
    const data = new Uint8Array(count * BLKIF_SECTOR_SIZE);
    const status = await this.transfer(BLKIF_OP.BLKIF_OP_READ, sector, data);
    return { status, data: status === BLKIF_RSP.BLKIF_RSP_OKAY ? data : new Uint8Array(0) };
  }

  /** Writes `data` (a multiple of 512 bytes) at `sector`. */
  write(sector: number, data: Uint8Array): Promise<number> {
    return this.transfer(BLKIF_OP.BLKIF_OP_WRITE, sector, data);
  }

  /** Writes `data` as a write barrier: ordered after everything before it, durable before anything after. */
  writeBarrier(sector: number, data: Uint8Array): Promise<number> {
    if (data.length > BLKIF_MAX_SEGMENTS_PER_REQUEST * 4096) {
      throw new SplitDriversError(
        'INVALID_ARGUMENT',
        'a barrier write must fit one request (44 KiB)',
      );
    }
    return this.transfer(BLKIF_OP.BLKIF_OP_WRITE_BARRIER, sector, data);
  }

  /** Flushes the backend's disk cache. */
  flush(): Promise<number> {
    return this.submit((id) => ({
      kind: 'rw',
      operation: BLKIF_OP.BLKIF_OP_FLUSH_DISKCACHE,
      nrSegments: 0,
      handle: 0,
      id,
      sectorNumber: 0n,
      segments: [],
    }));
  }

  /** Discards `count` sectors from `sector`. */
  discard(sector: number, count: number): Promise<number> {
    return this.submit((id) => ({
      kind: 'discard',
      operation: BLKIF_OP.BLKIF_OP_DISCARD,
      flag: 0,
      handle: 0,
      id,
      sectorNumber: BigInt(sector),
      nrSectors: BigInt(count),
    }));
  }

  /** Requests submitted and not yet answered. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Closes the device (Closing → Closed), revokes the ring grant and closes the event channel. */
  async close(): Promise<void> {
    const { xenbus: xs, frontendPath: fe } = this.opts;
    if (this.unwatch !== undefined) await this.unwatch();
    this.unwatch = undefined;
    if (parseXenbusState(await xs.read(`${fe}/state`)) !== XenbusState.XenbusStateClosed) {
      await switchState(xs, fe, XenbusState.XenbusStateClosing);
      await switchState(xs, fe, XenbusState.XenbusStateClosed);
    }
    await waitForState(xs, this.backendPath, (s) => s === XenbusState.XenbusStateClosed || s === 0);
    await this.teardown();
  }

  private async teardown(): Promise<void> {
    for (const p of this.pending.values()) p.resolve(BLKIF_RSP.BLKIF_RSP_ERROR);
    this.pending.clear();
    if (this.port >= 0) this.opts.events.close(this.port);
    this.port = -1;
    if (this.ringRef >= 0) this.opts.grants.endAccess(this.ringRef);
    this.ringRef = -1;
    if (this.ringPage !== undefined) this.opts.pages.freePage(this.ringPage);
    this.ringPage = undefined;
    this.ring = undefined;
    this.info = undefined;
  }

  private async onBackendState(): Promise<void> {
    const bs = parseXenbusState(await this.opts.xenbus.read(`${this.backendPath}/state`));
    if (bs === XenbusState.XenbusStateClosing && this.ring !== undefined) await this.close();
  }

  /** Splits a transfer into ring requests of whole pages and waits for all of them. */
  private async transfer(op: number, sector: number, data: Uint8Array): Promise<number> {
    if (data.length % BLKIF_SECTOR_SIZE !== 0) {
      throw new SplitDriversError('INVALID_ARGUMENT', 'transfer length must be a multiple of 512');
    }
    const info = this.info;
    if (info === undefined)
      throw new SplitDriversError('INVALID_STATE', 'blkfront is not connected');
    const perReq =
      info.maxIndirectSegments > 0 && op !== BLKIF_OP.BLKIF_OP_WRITE_BARRIER
        ? Math.min(info.maxIndirectSegments, 8 * BLKIF_SEGS_PER_INDIRECT_FRAME)
        : BLKIF_MAX_SEGMENTS_PER_REQUEST;
    const sectors = data.length / BLKIF_SECTOR_SIZE;
    const jobs: Promise<number>[] = [];
    for (let done = 0; done < sectors; ) {
      const n = Math.min(sectors - done, perReq * BLKIF_SECTORS_PER_PAGE);
      jobs.push(this.transferOne(op, sector + done, data.subarray(done * 512, (done + n) * 512)));
      done += n;
    }
    const statuses = await Promise.all(jobs);
    return statuses.find((s) => s !== BLKIF_RSP.BLKIF_RSP_OKAY) ?? BLKIF_RSP.BLKIF_RSP_OKAY;
  }

  private async transferOne(op: number, sector: number, chunk: Uint8Array): Promise<number> {
    const { grants, pages } = this.opts;
    const isRead = op === BLKIF_OP.BLKIF_OP_READ;
    const sectors = chunk.length / BLKIF_SECTOR_SIZE;
    const dataPages: Uint8Array[] = [];
    const segments: BlkifSegment[] = [];
    for (let s = 0; s < sectors; s += BLKIF_SECTORS_PER_PAGE) {
      const n = Math.min(BLKIF_SECTORS_PER_PAGE, sectors - s);
      const page = pages.allocPage();
      if (!isRead) page.set(chunk.subarray(s * 512, (s + n) * 512));
      dataPages.push(page);
      segments.push({
        gref: grants.grantAccess(this.backendId, page, !isRead),
        firstSect: 0,
        lastSect: n - 1,
      });
    }
    const indirectPages: Uint8Array[] = [];
    const indirectRefs: number[] = [];
    const direct = segments.length <= BLKIF_MAX_SEGMENTS_PER_REQUEST;
    if (!direct) {
      for (let i = 0; i < segments.length; i += BLKIF_SEGS_PER_INDIRECT_FRAME) {
        const page = pages.allocPage();
        const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
        const part = segments.slice(i, i + BLKIF_SEGS_PER_INDIRECT_FRAME);
        for (let j = 0; j < part.length; j++) encodeSegment(view, j * 8, part[j] as BlkifSegment);
        indirectPages.push(page);
        indirectRefs.push(grants.grantAccess(this.backendId, page, true));
      }
    }
    const status = await this.submit((id) =>
      direct
        ? {
            kind: 'rw',
            operation: op,
            nrSegments: segments.length,
            handle: 0,
            id,
            sectorNumber: BigInt(sector),
            segments,
          }
        : {
            kind: 'indirect',
            operation: BLKIF_OP.BLKIF_OP_INDIRECT,
            indirectOp: op,
            nrSegments: segments.length,
            id,
            sectorNumber: BigInt(sector),
            handle: 0,
            indirectGrefs: indirectRefs,
          },
    );
    if (isRead && status === BLKIF_RSP.BLKIF_RSP_OKAY) {
      for (let i = 0; i < dataPages.length; i++) {
        const n = Math.min(BLKIF_SECTORS_PER_PAGE, sectors - i * BLKIF_SECTORS_PER_PAGE);
        chunk.set(
          (dataPages[i] as Uint8Array).subarray(0, n * 512),
          i * BLKIF_SECTORS_PER_PAGE * 512,
        );
      }
    }
    for (const s of segments) grants.endAccess(s.gref);
    for (const r of indirectRefs) grants.endAccess(r);
    for (const p of [...dataPages, ...indirectPages]) pages.freePage(p);
    return status;
  }

  /** Puts one request on the ring (waiting for a free slot) and resolves with its status. */
  private async submit(make: (id: bigint) => BlkifRequest): Promise<number> {
    for (;;) {
      const ring = this.ring;
      if (ring === undefined || this.info === undefined) return BLKIF_RSP.BLKIF_RSP_ERROR;
      if (!ring.isFull()) break;
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    }
    const ring = this.ring as FrontRing<BlkifRequest, BlkifResponse>;
    const id = this.nextId;
    this.nextId = (this.nextId + 1n) & 0xffff_ffff_ffff_ffffn;
    const done = new Promise<number>((resolve) => this.pending.set(id, { resolve }));
    ring.putRequest(make(id));
    if (ring.pushRequestsAndCheckNotify()) this.opts.events.notify(this.port);
    return done;
  }

  private onEvent(): void {
    const ring = this.ring;
    if (ring === undefined) return;
    do {
      for (let rsp = ring.takeResponse(); rsp !== undefined; rsp = ring.takeResponse()) {
        const p = this.pending.get(rsp.id);
        if (p === undefined) continue; // unknown id from a confused backend: ignore
        this.pending.delete(rsp.id);
        p.resolve(rsp.status);
      }
    } while (ring.finalCheckForResponses());
    const waiters = this.slotWaiters;
    this.slotWaiters = [];
    for (const w of waiters) w();
  }
}
