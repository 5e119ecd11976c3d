/**
 * The xenbus half of a block backend (blkback): publishes the device's features and geometry,
 * follows the frontend through the blkif.h handshake, maps its ring, binds its event channel,
 * and tears down on close or hot-unplug.
 * @module
 */
import type { EventChannels, GrantMapper, GrantMapping, XenbusClient } from '../ports.ts';
import {
  isLegalTransition,
  parseXenbusState,
  XenbusState,
  type XenbusStateValue,
} from '../xenbus/state.ts';
import {
  type BlkbackMetrics,
  BlkbackQueue,
  type BlkbackQueueOptions,
  emptyBlkbackMetrics,
} from './blkback-queue.ts';
import { VDISK } from './blkif-abi.ts';
import { blkifCodecs } from './blkif-codec.ts';
import type { BlockStorage } from './storage.ts';

/** What a {@link Blkback} needs. */
export interface BlkbackOptions {
  /** Xenstore access of the backend domain. */
  readonly xenbus: XenbusClient;
  /** The backend directory the toolstack created (`/local/domain/<b>/backend/vbd/<f>/<devid>`). */
  readonly backendPath: string;
  /** Grant mapping in the backend domain. */
  readonly mapper: GrantMapper;
  /** Event channels of the backend domain. */
  readonly events: EventChannels;
  /** The device's storage. */
  readonly storage: BlockStorage;
  /** `feature-max-indirect-segments` to advertise; default 256, 0 disables indirect requests. */
  readonly maxIndirectSegments?: number;
  /** Passed to {@link BlkbackQueueOptions.yieldToOthers}. */
  readonly yieldToOthers?: () => Promise<void>;
}

const S = XenbusState;

/**
 * A block backend for one virtual block device. Call {@link Blkback.start} after the toolstack
 * has written the backend directory; the device then connects whenever its frontend does.
 * @see xen/include/public/io/blkif.h
 */
export class Blkback {
  /** Counters, kept across reconnections. */
  readonly metrics: BlkbackMetrics;
  /** Why the last connection attempt failed, if it did. */
  lastError: string | undefined;
  private readonly opts: BlkbackOptions;
  private readonly maxIndirect: number;
  private frontendPath = '';
  private frontendDomid = -1;
  private writable = false;
  private queue: BlkbackQueue | undefined;
  private ringMap: GrantMapping | undefined;
  private port = -1;
  private unwatches: (() => Promise<void>)[] = [];
  private chain: Promise<void> = Promise.resolve();

  /** Creates the backend; nothing happens until {@link Blkback.start}. */
  constructor(options: BlkbackOptions) {
    this.opts = options;
    this.maxIndirect = options.maxIndirectSegments ?? 256;
    this.metrics = emptyBlkbackMetrics();
    this.lastError = undefined;
  }

  /** Whether a frontend ring is currently being served. */
  get connected(): boolean {
    return this.queue !== undefined;
  }

  /** The queue serving the current connection (for tests and metrics), if connected. */
  get activeQueue(): BlkbackQueue | undefined {
    return this.queue;
  }

  /**
   * Reads `frontend`, `frontend-id` and `mode`, publishes the features and geometry
   * (`feature-*`, `sectors`, `sector-size`, `info`) and moves to InitWait, then follows the
   * frontend's `state`.
   */
  async start(): Promise<void> {
    const { xenbus: xs, backendPath: dir, storage } = this.opts;
    this.frontendPath = (await xs.read(`${dir}/frontend`)) ?? '';
    this.frontendDomid = Number((await xs.read(`${dir}/frontend-id`)) ?? '-1');
    const mode = (await xs.read(`${dir}/mode`)) ?? 'w';
    this.writable = mode.startsWith('w') && !storage.readOnly;
    const cdrom = (await xs.read(`${dir}/device-type`)) === 'cdrom';
    const info =
      (this.writable ? 0 : VDISK.VDISK_READONLY) |
      (cdrom ? VDISK.VDISK_CDROM | VDISK.VDISK_REMOVABLE : 0);
    const keys: [string, string][] = [
      ['feature-flush-cache', '1'],
      ['feature-barrier', '1'],
      ['feature-persistent', '0'],
      ['feature-max-indirect-segments', String(this.maxIndirect)],
      ['sectors', String(storage.sectors)],
      ['sector-size', String(storage.sectorSize)],
      ['physical-sector-size', String(storage.sectorSize)],
      ['info', String(info)],
    ];
    if (storage.discard !== undefined) {
      const granularity = storage.discardGranularity ?? storage.sectorSize;
      keys.push(['feature-discard', '1'], ['discard-granularity', String(granularity)]);
      keys.push(['discard-alignment', '0'], ['discard-secure', '0']);
    }
    for (const [k, v] of keys) await xs.write(`${dir}/${k}`, v);
    await this.moveTo(S.XenbusStateInitWait);
    this.unwatches.push(
      await xs.watch(`${this.frontendPath}/state`, () => this.serialize(() => this.onFrontend())),
    );
    this.unwatches.push(
      await xs.watch(`${dir}/state`, () => this.serialize(() => this.onOwnState())),
    );
  }

  /** Stops watching and disconnects (the directory is left to the toolstack). */
  async stop(): Promise<void> {
    for (const u of this.unwatches.splice(0)) await u();
    await this.serialize(() => this.disconnect());
  }

  private serialize(fn: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(fn, fn);
    return this.chain;
  }

  private async state(path: string): Promise<XenbusStateValue> {
    return parseXenbusState(await this.opts.xenbus.read(`${path}/state`));
  }

  /** Writes our state if the transition is legal; returns whether it did. */
  private async moveTo(to: XenbusStateValue): Promise<boolean> {
    const from = await this.state(this.opts.backendPath);
    if (from === to) return true;
    if (!isLegalTransition(from, to)) return false;
    await this.opts.xenbus.write(`${this.opts.backendPath}/state`, String(to));
    return true;
  }

  private async onFrontend(): Promise<void> {
    const fs = await this.state(this.frontendPath);
    const bs = await this.state(this.opts.backendPath);
    switch (fs) {
      case S.XenbusStateInitialising:
        if (bs === S.XenbusStateClosed) {
          // Frontend re-initialising after a close: offer the device again.
          await this.moveTo(S.XenbusStateInitialising);
          await this.moveTo(S.XenbusStateInitWait);
        }
        break;
      case S.XenbusStateInitialised:
      case S.XenbusStateConnected:
        if (
          this.queue === undefined &&
          (bs === S.XenbusStateInitWait || bs === S.XenbusStateInitialised)
        ) {
          await this.connect();
        }
        break;
      case S.XenbusStateClosing:
        await this.disconnect();
        await this.moveTo(S.XenbusStateClosing);
        break;
      case S.XenbusStateClosed:
      case S.XenbusStateUnknown:
        await this.disconnect();
        if (bs !== S.XenbusStateClosed) {
          await this.moveTo(S.XenbusStateClosing);
          await this.moveTo(S.XenbusStateClosed);
        }
        break;
      default:
        break;
    }
  }

  /** The toolstack set our state to Closing (hot-unplug): close now if no frontend is using us. */
  private async onOwnState(): Promise<void> {
    if ((await this.state(this.opts.backendPath)) !== S.XenbusStateClosing) return;
    const fs = await this.state(this.frontendPath);
    if (
      fs !== S.XenbusStateConnected &&
      fs !== S.XenbusStateClosing &&
      fs !== S.XenbusStateInitialised
    ) {
      await this.disconnect();
      await this.moveTo(S.XenbusStateClosed);
    }
  }

  private async fail(message: string): Promise<void> {
    this.lastError = message;
    await this.disconnect();
    await this.moveTo(S.XenbusStateClosing);
  }

  private async connect(): Promise<void> {
    const { xenbus: xs, mapper, events, storage } = this.opts;
    const fe = this.frontendPath;
    const refText = await xs.read(`${fe}/ring-ref`);
    const portText = await xs.read(`${fe}/event-channel`);
    if (
      refText === undefined ||
      !/^\d{1,10}$/.test(refText) ||
      portText === undefined ||
      !/^\d{1,10}$/.test(portText)
    ) {
      return this.fail(`bad ring-ref "${refText}" or event-channel "${portText}"`);
    }
    const protocol = await xs.read(`${fe}/protocol`);
    const codecs = blkifCodecs(protocol);
    if (codecs === undefined) return this.fail(`unknown protocol "${protocol}"`);
    const ring = mapper.mapGrant(this.frontendDomid, Number(refText), false);
    if (typeof ring === 'number') return this.fail(`cannot map ring-ref ${refText}: GNTST ${ring}`);
    const port = events.bindInterdomain(this.frontendDomid, Number(portText));
    if (port < 0) {
      mapper.unmapGrant(ring);
      return this.fail(`cannot bind event-channel ${portText}: ${port}`);
    }
    this.ringMap = ring;
    this.port = port;
    const queue = new BlkbackQueue(
      {
        ring: ring.page,
        codecs,
        frontendDomid: this.frontendDomid,
        mapper,
        storage,
        writable: this.writable,
        notify: () => events.notify(port),
        maxIndirectSegments: this.maxIndirect,
        barrier: true,
        flushCache: true,
        ...(this.opts.yieldToOthers === undefined
          ? {}
          : { yieldToOthers: this.opts.yieldToOthers }),
      },
      this.metrics,
    );
    this.queue = queue;
    events.onEvent(port, () => queue.kick());
    this.lastError = undefined;
    await this.moveTo(S.XenbusStateConnected);
    queue.kick();
  }

  private async disconnect(): Promise<void> {
    const queue = this.queue;
    if (queue === undefined) return;
    this.queue = undefined;
    await queue.stop();
    this.opts.events.close(this.port);
    this.port = -1;
    if (this.ringMap !== undefined) this.opts.mapper.unmapGrant(this.ringMap);
    this.ringMap = undefined;
  }
}
