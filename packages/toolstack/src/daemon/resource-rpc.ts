/**
 * The daemon's resource methods: `mem-set`, `mem-max`, `sched-credit`, `sched-sedf` (and the
 * other resource verbs as they are added). `daemon.ts` routes every method named in
 * {@link RESOURCE_METHODS} here; DESIGN.md documents their parameters and results.
 * @module
 */
import { isAbsolute, resolve } from 'node:path';
import { parseDiskSpec } from '../config/disk-spec.ts';
import { parseVifSpec } from '../config/vif-spec.ts';
import { ToolstackError } from '../errors.ts';
import type { Host, HostDomain } from '../host/host.ts';
import {
  type CreditParams,
  type CreditPoolParams,
  creditPool,
  getCredit,
  getSedf,
  type SedfParams,
  schedulerName,
  setCredit,
  setSedf,
} from '../host/host-sched.ts';

/** The methods {@link resourceRpc} serves. */
export const RESOURCE_METHODS: ReadonlySet<string> = new Set([
  'mem-set',
  'mem-max',
  'sched-credit',
  'sched-sedf',
  'block-attach',
  'block-detach',
  'network-attach',
  'network-detach',
  'network-list',
  'top',
]);

/** One row of `sched-credit`. */
export interface CreditRow extends CreditParams {
  /** Domain name. */
  readonly name: string;
  /** Domain ID. */
  readonly domid: number;
}

/** One row of `sched-sedf`. */
export interface SedfRow extends SedfParams {
  /** Domain name. */
  readonly name: string;
  /** Domain ID. */
  readonly domid: number;
}

/** What `sched-credit` and `sched-sedf` return. */
export interface SchedResult<Row> {
  /** The scheduler the host runs (`credit` or `sedf`). */
  readonly scheduler: string;
  /** The pool's parameters (credit only). */
  readonly pool?: CreditPoolParams;
  /** The domains' parameters (none when the host runs another scheduler and no domain was named). */
  readonly rows: readonly Row[];
}

type Params = Readonly<Record<string, unknown>>;

function isDom0(params: Params): boolean {
  return params.domain === '0' || params.domain === 0 || params.domain === 'Domain-0';
}

function domainOf(host: Host, params: Params, method: string): HostDomain {
  const v = params.domain;
  if (isDom0(params)) {
    throw new ToolstackError(
      'STATE',
      `Domain-0 is the daemon itself: ${method} does not apply to it`,
    );
  }
  if ((typeof v !== 'string' || v === '') && typeof v !== 'number')
    throw new ToolstackError('USAGE', 'parameter "domain" must be a non-empty string');
  return host.lookup(String(v));
}

function optInt(params: Params, key: string): number | undefined {
  const v = params[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v))
    throw new ToolstackError('USAGE', `parameter "${key}" must be an integer`);
  return v;
}

function reqStr(params: Params, key: string): string {
  const v = params[key];
  if (typeof v !== 'string' || v === '')
    throw new ToolstackError('USAGE', `parameter "${key}" must be a non-empty string`);
  return v;
}

function reqInt(params: Params, key: string): number {
  const v = optInt(params, key);
  if (v === undefined) throw new ToolstackError('USAGE', `parameter "${key}" is required`);
  return v;
}

function guests(host: Host): HostDomain[] {
  return [...host.domains.values()].sort((a, b) => a.domid - b.domid);
}

/** Serves one resource method; `method` must be in {@link RESOURCE_METHODS}. */
export async function resourceRpc(
  host: Host,
  method: string,
  params: Readonly<Record<string, unknown>>,
): Promise<unknown> {
  switch (method) {
    case 'mem-set': {
      const d = domainOf(host, params, method);
      await host.setMemoryTarget(d.domid, reqInt(params, 'kib'));
      return { domid: d.domid };
    }
    case 'mem-max': {
      const d = domainOf(host, params, method);
      await host.setMaxMemory(d.domid, reqInt(params, 'kib'));
      return { domid: d.domid };
    }
    case 'sched-credit':
      return schedCredit(host, params);
    case 'sched-sedf':
      return schedSedf(host, params);
    case 'block-attach': {
      const d = domainOf(host, params, method);
      const spec = parseDiskSpec(reqStr(params, 'spec'));
      const cwd = typeof params.cwd === 'string' ? params.cwd : '/';
      const target = isAbsolute(spec.target) ? spec.target : resolve(cwd, spec.target);
      await host.attachBlock(d.domid, { ...spec, target });
      return { domid: d.domid, vdev: spec.vdev };
    }
    case 'block-detach': {
      const d = domainOf(host, params, method);
      const timeoutMs = optInt(params, 'timeoutMs');
      const clean = await host.detachBlock(d.domid, reqStr(params, 'vdev'), timeoutMs);
      return { domid: d.domid, forced: !clean };
    }
    case 'network-attach': {
      const d = domainOf(host, params, method);
      const text = typeof params.spec === 'string' ? params.spec : '';
      const vif = await host.devices.attachVif(d.domid, parseVifSpec(text));
      return { domid: d.domid, devid: vif.devid, mac: vif.mac, bridge: vif.bridge };
    }
    case 'network-detach': {
      const d = domainOf(host, params, method);
      const which = reqStr(params, 'device');
      const timeoutMs = optInt(params, 'timeoutMs');
      try {
        const clean = await host.devices.detachVif(d.domid, which, timeoutMs);
        return { domid: d.domid, forced: !clean };
      } catch (err) {
        if (err instanceof ToolstackError && err.code === 'NOT_FOUND')
          throw new ToolstackError('NOT_FOUND', `Unknown device ${which}.`);
        throw err;
      }
    }
    case 'network-list':
      return host.devices.networkList(domainOf(host, params, method).domid);
    case 'top':
      return topSnapshot(host);
    default:
      throw new ToolstackError('USAGE', `unknown method "${method}"`);
  }
}

function schedCredit(host: Host, params: Params): SchedResult<CreditRow> {
  const s = host.scheduler;
  const weight = optInt(params, 'weight');
  const cap = optInt(params, 'cap');
  const scheduler = schedulerName(s);
  if (params.domain === undefined) {
    if (scheduler !== 'credit') return { scheduler, rows: [] };
    const rows: CreditRow[] = [{ name: 'Domain-0', domid: 0, weight: 256, cap: 0 }];
    for (const d of guests(host))
      rows.push({ name: d.name, domid: d.domid, ...getCredit(s, d.domid) });
    return { scheduler, pool: creditPool(s), rows };
  }
  if (isDom0(params)) {
    if (weight !== undefined || cap !== undefined) domainOf(host, params, 'sched-credit');
    if (scheduler !== 'credit') getCredit(s, 0); // the mismatch message
    return { scheduler, rows: [{ name: 'Domain-0', domid: 0, weight: 256, cap: 0 }] };
  }
  const d = domainOf(host, params, 'sched-credit');
  if (weight !== undefined || cap !== undefined) {
    // libxl allows a cap of up to 100% per vCPU the domain may have (max_vcpu_id + 1).
    setCredit(
      s,
      d.domid,
      { ...(weight === undefined ? {} : { weight }), ...(cap === undefined ? {} : { cap }) },
      Math.max(1, d.config.maxvcpus),
    );
  }
  return { scheduler, rows: [{ name: d.name, domid: d.domid, ...getCredit(s, d.domid) }] };
}

function schedSedf(host: Host, params: Params): SchedResult<SedfRow> {
  const s = host.scheduler;
  const scheduler = schedulerName(s);
  if (params.domain === undefined) {
    if (scheduler !== 'sedf') return { scheduler, rows: [] };
    return {
      scheduler,
      rows: guests(host).map((d) => ({ name: d.name, domid: d.domid, ...getSedf(s, d.domid) })),
    };
  }
  const d = domainOf(host, params, 'sched-sedf');
  const set: Partial<Record<keyof SedfParams, number>> = {};
  for (const k of ['period', 'slice', 'latency', 'extratime', 'weight'] as const) {
    const v = optInt(params, k);
    if (v !== undefined) set[k] = v;
  }
  if (Object.keys(set).length > 0) setSedf(s, d.domid, set);
  return { scheduler, rows: [{ name: d.name, domid: d.domid, ...getSedf(s, d.domid) }] };
}

/** One domain in a `top` snapshot (xentop's columns). */
export interface TopRow {
  /** Domain name. */
  readonly name: string;
  /** Domain ID. */
  readonly domid: number;
  /** xentop's state letters (`d s b c r p`, `-` when not set). */
  readonly state: string;
  /** CPU time so far (s). */
  readonly cpuSec: number;
  /** Current memory (KiB). */
  readonly memKiB: number;
  /** Maximum memory (KiB), or -1 for no limit. */
  readonly maxMemKiB: number;
  /** vCPUs. */
  readonly vcpus: number;
  /** Network interfaces. */
  readonly nets: number;
  /** KiB the domain sent on them. */
  readonly netTxKiB: number;
  /** KiB the domain received on them. */
  readonly netRxKiB: number;
  /** Virtual block devices. */
  readonly vbds: number;
  /** Requests that found the ring's backend out of resources (always 0 here). */
  readonly vbdOo: number;
  /** Read requests served. */
  readonly vbdRd: number;
  /** Write requests served. */
  readonly vbdWr: number;
  /** Sectors read. */
  readonly vbdRsect: number;
  /** Sectors written. */
  readonly vbdWsect: number;
}

/** What `top` returns: the host's totals and one row per domain. */
export interface TopSnapshot {
  /** System time of the snapshot (ns): CPU(%) is the CPU time delta over two snapshots. */
  readonly systemTimeNs: number;
  /** Machine memory (KiB). */
  readonly totalKiB: number;
  /** Free machine memory (KiB). */
  readonly freeKiB: number;
  /** Physical CPUs. */
  readonly cpus: number;
  /** The domains, dom0 first. */
  readonly rows: readonly TopRow[];
}

function topSnapshot(host: Host): TopSnapshot {
  const frames = host.machine.frames;
  const cpu = process.cpuUsage();
  const rss = Math.round(process.memoryUsage().rss / 1024);
  const rows: TopRow[] = [
    {
      name: 'Domain-0',
      domid: 0,
      state: '-----r',
      cpuSec: (cpu.user + cpu.system) / 1e6,
      memKiB: rss,
      maxMemKiB: -1,
      vcpus: 1,
      nets: 0,
      netTxKiB: 0,
      netRxKiB: 0,
      vbds: 0,
      vbdOo: 0,
      vbdRd: 0,
      vbdWr: 0,
      vbdRsect: 0,
      vbdWsect: 0,
    },
  ];
  for (const d of guests(host)) {
    const shut = d.shutdownReason >= 0;
    const state = [
      '-',
      shut && d.shutdownReason !== 3 ? 's' : '-',
      !shut && d.blocked ? 'b' : '-',
      d.shutdownReason === 3 ? 'c' : '-',
      !shut && !d.paused && !d.blocked ? 'r' : '-',
      !shut && d.paused ? 'p' : '-',
    ].join('');
    const net = host.devices.vifCounters(d.domid);
    let rd = 0;
    let wr = 0;
    let rsect = 0;
    let wsect = 0;
    let vbds = 0;
    for (const b of [...d.disks.values(), ...host.devices.hotVbds(d.domid)]) {
      vbds++;
      rd += b.metrics.reads;
      wr += b.metrics.writes;
      rsect += Math.floor(b.metrics.bytesRead / 512);
      wsect += Math.floor(b.metrics.bytesWritten / 512);
    }
    rows.push({
      name: d.name,
      domid: d.domid,
      state,
      cpuSec: d.instructions / 1e9,
      memKiB: host.currentMemoryKiB(d.domid),
      maxMemKiB: host.maxMemoryKiB(d.domid),
      vcpus: d.onlineVcpus,
      nets: host.devices.vifsOf(d.domid).length,
      netTxKiB: Math.floor(net.txBytes / 1024),
      netRxKiB: Math.floor(net.rxBytes / 1024),
      vbds,
      vbdOo: 0,
      vbdRd: rd,
      vbdWr: wr,
      vbdRsect: rsect,
      vbdWsect: wsect,
    });
  }
  return {
    systemTimeNs: host.nowNs(),
    totalKiB: frames.frames * 4,
    freeKiB: frames.freeFrames * 4,
    cpus: 1,
    rows,
  };
}
