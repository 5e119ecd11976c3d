/**
 * The xenbus half of a network backend (netback): publishes the features, follows the frontend
 * through the netif.h handshake, maps its rings, binds its event channel and joins the bridge
 * with the VIF's anti-spoofing and rate settings; {@link NetbackVif} serves the rings.
 * @module
 */
import type { Clock, EventChannels, GrantMapper, GrantMapping, XenbusClient } from '../ports.ts';
import {
  isLegalTransition,
  parseXenbusState,
  XenbusState,
  type XenbusStateValue,
} from '../xenbus/state.ts';
import type { LearningBridge } from './bridge.ts';
import {
  emptyNetbackMetrics,
  NETBACK_RX_QUEUE_BYTES,
  type NetbackMetrics,
  NetbackVif,
  type SetTimer,
} from './netback-vif.ts';

/** What a {@link Netback} needs. */
export interface NetbackOptions {
  /** Xenstore access of the backend domain. */
  readonly xenbus: XenbusClient;
  /** `/local/domain/<b>/backend/vif/<f>/<devid>`. */
  readonly backendPath: string;
  /** Grant mapping of the backend domain. */
  readonly mapper: GrantMapper;
  /** Event channels of the backend domain. */
  readonly events: EventChannels;
  /** The bridge the VIF joins when connected. */
  readonly bridge: LearningBridge;
  /** Access VLAN on the bridge; default 1. */
  readonly vlan?: number;
  /** Passed to {@link NetbackVifOptions.yieldToOthers}. */
  readonly yieldToOthers?: () => Promise<void>;
  /**
   * With `clock`, shapes the `rate` key in netback by delaying packets as Linux does
   * ({@link NetbackRateLimit}); without them the bridge drops frames over the rate instead.
   */
  readonly setTimer?: SetTimer;
  /** Time source for {@link NetbackOptions.setTimer} shaping. */
  readonly clock?: Clock;
}

const S = XenbusState;

/**
 * The xenbus side of netback: publishes `feature-rx-copy` and friends, waits for the frontend's
 * `tx-ring-ref`, `rx-ring-ref`, `event-channel` and `request-rx-copy`, then maps, binds and joins
 * the bridge with anti-spoofing from the backend's `mac` and `ip` keys and the rate limit from
 * `rate` (`<bytes per interval>,<interval in µs>`, as libxl writes it).
 */
export class Netback {
  /** Counters of the VIF, kept across reconnections. */
  readonly metrics: NetbackMetrics;
  /** The serving VIF, when connected. */
  vif: NetbackVif | undefined;
  /** The bridge port id, when connected. */
  portId: number | undefined;
  /** Why the last connection attempt failed. */
  lastError: string | undefined;
  private readonly opts: NetbackOptions;
  private frontendPath = '';
  private frontendDomid = -1;
  private maps: GrantMapping[] = [];
  private port = -1;
  private unwatch: (() => Promise<void>) | undefined;
  private chain: Promise<void> = Promise.resolve();

  /** Creates the backend; call {@link Netback.start}. */
  constructor(options: NetbackOptions) {
    this.opts = options;
    this.metrics = emptyNetbackMetrics();
    this.vif = undefined;
    this.portId = undefined;
    this.lastError = undefined;
  }

  /** Publishes features, moves to InitWait and follows the frontend. */
  async start(): Promise<void> {
    const { xenbus: xs, backendPath: dir } = this.opts;
    this.frontendPath = (await xs.read(`${dir}/frontend`)) ?? '';
    this.frontendDomid = Number((await xs.read(`${dir}/frontend-id`)) ?? '-1');
    for (const [k, v] of [
      ['feature-rx-copy', '1'],
      ['feature-rx-flip', '0'],
      ['feature-sg', '0'],
      ['feature-gso-tcpv4', '0'],
      ['feature-ipv6-csum-offload', '1'],
      ['feature-multicast-control', '1'],
      ['feature-split-event-channels', '0'],
    ] as const) {
      await xs.write(`${dir}/${k}`, v);
    }
    await this.moveTo(S.XenbusStateInitWait);
    this.unwatch = await xs.watch(`${this.frontendPath}/state`, () => {
      const next = (): Promise<void> => this.onFrontend();
      this.chain = this.chain.then(next, next);
    });
  }

  /** Stops watching and disconnects. */
  async stop(): Promise<void> {
    if (this.unwatch !== undefined) await this.unwatch();
    this.unwatch = undefined;
    await this.chain;
    this.disconnect();
  }

  private async moveTo(to: XenbusStateValue): Promise<void> {
    const path = `${this.opts.backendPath}/state`;
    const from = parseXenbusState(await this.opts.xenbus.read(path));
    if (from !== to && isLegalTransition(from, to)) await this.opts.xenbus.write(path, String(to));
  }

  private async onFrontend(): Promise<void> {
    const fs = parseXenbusState(await this.opts.xenbus.read(`${this.frontendPath}/state`));
    if (
      (fs === S.XenbusStateInitialised || fs === S.XenbusStateConnected) &&
      this.vif === undefined
    ) {
      await this.connect();
    } else if (
      fs === S.XenbusStateClosing ||
      fs === S.XenbusStateClosed ||
      fs === S.XenbusStateUnknown
    ) {
      this.disconnect();
      await this.moveTo(S.XenbusStateClosing);
      if (fs !== S.XenbusStateClosing) await this.moveTo(S.XenbusStateClosed);
    }
  }

  private async fail(message: string): Promise<void> {
    this.lastError = message;
    this.disconnect();
    await this.moveTo(S.XenbusStateClosing);
  }

  private async connect(): Promise<void> {
    const { xenbus: xs, mapper, events, bridge, backendPath: dir } = this.opts;
    const fe = this.frontendPath;
    const num = async (path: string): Promise<number | undefined> => {
      const v = await xs.read(path);
      return v !== undefined && /^\d{1,10}$/.test(v) ? Number(v) : undefined;
    };
    const txRef = await num(`${fe}/tx-ring-ref`);
    const rxRef = await num(`${fe}/rx-ring-ref`);
    const evtchn = await num(`${fe}/event-channel`);
    if (txRef === undefined || rxRef === undefined || evtchn === undefined)
      return this.fail('missing ring refs or event channel');
    if ((await xs.read(`${fe}/request-rx-copy`)) !== '1')
      return this.fail('frontend does not request rx-copy');
    const tx = mapper.mapGrant(this.frontendDomid, txRef, false);
    if (typeof tx === 'number') return this.fail(`cannot map tx-ring-ref ${txRef}`);
    this.maps.push(tx);
    const rx = mapper.mapGrant(this.frontendDomid, rxRef, false);
    if (typeof rx === 'number') return this.fail(`cannot map rx-ring-ref ${rxRef}`);
    this.maps.push(rx);
    const port = events.bindInterdomain(this.frontendDomid, evtchn);
    if (port < 0) return this.fail(`cannot bind event-channel ${evtchn}`);
    this.port = port;
    const mac = (await xs.read(`${dir}/mac`)) ?? (await xs.read(`${fe}/mac`));
    const ip = await xs.read(`${dir}/ip`);
    // libxl writes `<bytes per interval>,<interval µs>`; anything else (or a zero) means no limit.
    const rate = /^([1-9]\d{0,14}),([1-9]\d{0,14})$/.exec((await xs.read(`${dir}/rate`)) ?? '');
    const { clock, setTimer } = this.opts;
    const shaped = rate !== null && clock !== undefined && setTimer !== undefined;
    const multicastControl = (await xs.read(`${fe}/request-multicast-control`)) === '1';
    let vif: NetbackVif | undefined;
    let portId: number;
    try {
      portId = bridge.addPort({
        name: `vif${this.frontendDomid}.${dir.slice(dir.lastIndexOf('/') + 1)}`,
        ...(this.opts.vlan === undefined ? {} : { vlan: this.opts.vlan }),
        ...(mac === undefined ? {} : { allowedMacs: [mac] }),
        ...(ip === undefined ? {} : { allowedIps: ip.split(/\s+/).filter((x) => x !== '') }),
        ...(rate === null || shaped
          ? {}
          : {
              rateBytesPerSecond: (Number(rate[1]) * 1e6) / Number(rate[2]),
              rateIntervalMs: Number(rate[2]) / 1000,
            }),
        deliver: (frame, verified) => vif?.deliver(frame, verified) ?? false,
      });
    } catch (e) {
      // A malformed `mac`/`ip` value (the frontend's `mac` key is guest-written) fails this
      // device, not the backend.
      return this.fail(`cannot join the bridge: ${e instanceof Error ? e.message : String(e)}`);
    }
    vif = new NetbackVif({
      txRing: tx.page,
      rxRing: rx.page,
      frontendDomid: this.frontendDomid,
      mapper,
      notify: () => events.notify(port),
      transmit: (frame, verified) => void bridge.transmit(portId, frame, verified),
      multicastControl,
      metrics: this.metrics,
      rxQueueBytes: NETBACK_RX_QUEUE_BYTES,
      ...(shaped
        ? {
            rateLimit: {
              bytesPerInterval: Number(rate[1]),
              intervalMs: Number(rate[2]) / 1000,
              clock,
              setTimer,
            },
          }
        : {}),
      ...(this.opts.yieldToOthers === undefined ? {} : { yieldToOthers: this.opts.yieldToOthers }),
    });
    this.vif = vif;
    this.portId = portId;
    events.onEvent(port, () => vif?.kick());
    this.lastError = undefined;
    await this.moveTo(S.XenbusStateConnected);
    vif.kick();
  }

  private disconnect(): void {
    this.vif?.stop();
    this.vif = undefined;
    if (this.portId !== undefined) this.opts.bridge.removePort(this.portId);
    this.portId = undefined;
    if (this.port >= 0) this.opts.events.close(this.port);
    this.port = -1;
    for (const m of this.maps.splice(0)) this.opts.mapper.unmapGrant(m);
  }
}
