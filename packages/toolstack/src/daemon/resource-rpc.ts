/**
 * The daemon's resource methods: `mem-set`, `mem-max`, `sched-credit`, `sched-sedf` (and the
 * other resource verbs as they are added). `daemon.ts` routes every method named in
 * {@link RESOURCE_METHODS} here; DESIGN.md documents their parameters and results.
 * @module
 */
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
    setCredit(s, d.domid, {
      ...(weight === undefined ? {} : { weight }),
      ...(cap === undefined ? {} : { cap }),
    });
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
