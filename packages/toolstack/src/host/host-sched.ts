/**
 * `xl sched-credit` and `xl sched-sedf` over the hypervisor's scheduler, with libxl's checks and
 * messages: XEN_DOMCTL_scheduler_op getinfo/putinfo for the credit and sEDF schedulers, sEDF
 * times in milliseconds at the toolstack and nanoseconds in the hypervisor as libxl converts
 * them.
 *
 * @see tools/xl/xl_sched.c (main_sched_credit, main_sched_sedf in Xen ≤ 4.5)
 * @see tools/libs/light/libxl_sched.c (sched_credit_domain_set, sched_sedf_domain_set)
 * @module
 */
import {
  CSCHED_DEFAULT_TSLICE_MS,
  type Scheduler,
  XEN_DOMCTL_SCHEDOP_getinfo,
  XEN_DOMCTL_SCHEDOP_putinfo,
  XEN_SCHEDULER_CREDIT,
  XEN_SCHEDULER_SEDF,
  type XenDomctlSchedulerOp,
} from '@typevisor/hypervisor';
import { ToolstackError } from '../errors.ts';

/** A domain's credit parameters (`libxl_domain_sched_params` for credit). */
export interface CreditParams {
  /** Relative weight, 1–65535. */
  readonly weight: number;
  /** Cap in percent of one CPU, 0 = none. */
  readonly cap: number;
}

/** A domain's sEDF parameters as xl shows them (times in ms). */
export interface SedfParams {
  /** Period (ms). */
  readonly period: number;
  /** Guaranteed slice per period (ms). */
  readonly slice: number;
  /** Latency hint (ms). */
  readonly latency: number;
  /** 1 when the domain may run in extra time. */
  readonly extratime: number;
  /** Weight (0 when the domain is time-driven). */
  readonly weight: number;
}

/** The credit scheduler's pool parameters (`xl sched-credit -s`). */
export interface CreditPoolParams {
  /** Time slice (ms). */
  readonly tslice: number;
  /** Context-switch rate limit (µs); 0: none (this scheduler has no rate limit). */
  readonly ratelimit: number;
  /** vCPU migration delay (µs). */
  readonly migrationDelay: number;
}

const MS = 1_000_000;

/** The scheduler the host runs: `credit` or `sedf` (Xen's `sched=` names). */
export function schedulerName(s: Scheduler): string {
  return s.ops.optName;
}

function mismatch(s: Scheduler, want: string): ToolstackError {
  return new ToolstackError(
    'STATE',
    `libxl_domain_sched_params_get returned ${schedulerName(s)} not ${want}.`,
  );
}

function errno(rc: number, domid: number, what: string): ToolstackError {
  return new ToolstackError(
    rc === -3 ? 'NOT_FOUND' : 'STATE',
    `${what} failed for domain ${domid} (Xen errno ${-rc})`,
  );
}

/** A domain's credit weight and cap (getinfo). */
export function getCredit(s: Scheduler, domid: number): CreditParams {
  if (schedulerName(s) !== 'credit') throw mismatch(s, 'credit');
  const op: XenDomctlSchedulerOp = {
    sched_id: XEN_SCHEDULER_CREDIT,
    cmd: XEN_DOMCTL_SCHEDOP_getinfo,
    u: {},
  };
  const rc = s.schedulerOp(domid, op);
  if (rc < 0 || op.u.credit === undefined) throw errno(rc, domid, 'getting credit parameters');
  return { weight: op.u.credit.weight, cap: op.u.credit.cap };
}

/**
 * Sets a domain's credit weight and/or cap with libxl's range checks (weight 1–65535, cap 0 to
 * 100 per vCPU); an omitted value stays as it is.
 */
export function setCredit(
  s: Scheduler,
  domid: number,
  params: { readonly weight?: number; readonly cap?: number },
  vcpus = 1,
): void {
  if (schedulerName(s) !== 'credit') throw mismatch(s, 'credit');
  const { weight, cap } = params;
  if (weight !== undefined && (!Number.isInteger(weight) || weight < 1 || weight > 65535)) {
    throw new ToolstackError(
      'CONFIG',
      'Cpu weight out of range, valid values are within range from 1 to 65535',
    );
  }
  if (cap !== undefined && (!Number.isInteger(cap) || cap < 0 || cap > vcpus * 100)) {
    throw new ToolstackError(
      'CONFIG',
      `Cpu cap out of range, valid range is from 0 to ${vcpus * 100} for specified number of vcpus`,
    );
  }
  const rc = s.schedulerOp(domid, {
    sched_id: XEN_SCHEDULER_CREDIT,
    cmd: XEN_DOMCTL_SCHEDOP_putinfo,
    u: { credit: { weight: weight ?? 0, cap: cap ?? 0xffff } },
  });
  if (rc < 0) throw errno(rc, domid, 'setting credit parameters');
}

/** The credit pool's parameters. */
export function creditPool(s: Scheduler): CreditPoolParams {
  if (schedulerName(s) !== 'credit') throw mismatch(s, 'credit');
  return { tslice: CSCHED_DEFAULT_TSLICE_MS, ratelimit: 0, migrationDelay: 0 };
}

/** A domain's sEDF parameters (getinfo, nanoseconds shown as milliseconds as libxl does). */
export function getSedf(s: Scheduler, domid: number): SedfParams {
  if (schedulerName(s) !== 'sedf') throw mismatch(s, 'sedf');
  const op: XenDomctlSchedulerOp = {
    sched_id: XEN_SCHEDULER_SEDF,
    cmd: XEN_DOMCTL_SCHEDOP_getinfo,
    u: {},
  };
  const rc = s.schedulerOp(domid, op);
  const p = op.u.sedf;
  if (rc < 0 || p === undefined) throw errno(rc, domid, 'getting sedf parameters');
  return {
    period: Math.floor(p.period / MS),
    slice: Math.floor(p.slice / MS),
    latency: Math.floor(p.latency / MS),
    extratime: p.extratime,
    weight: p.weight,
  };
}

/**
 * Sets sEDF parameters as `xl sched-sedf -d DOM` does: `period`/`slice` make the domain
 * time-driven (weight 0), `weight` makes it weight-driven (period and slice 0); omitted values
 * keep their current setting. The hypervisor validates (period 10 µs–10 s, slice ≤ period).
 */
export function setSedf(s: Scheduler, domid: number, params: Partial<SedfParams>): void {
  const cur = getSedf(s, domid);
  const { period, slice, latency, extratime, weight } = params;
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0))
      throw new ToolstackError('CONFIG', `invalid sedf ${k}: ${v}`);
  }
  const timeDriven = period !== undefined || slice !== undefined;
  const next = {
    period: weight !== undefined ? 0 : (period ?? cur.period) * MS,
    slice: weight !== undefined ? 0 : (slice ?? cur.slice) * MS,
    latency: (latency ?? cur.latency) * MS,
    extratime: extratime ?? cur.extratime,
    weight: weight ?? (timeDriven ? 0 : cur.weight),
  };
  const rc = s.schedulerOp(domid, {
    sched_id: XEN_SCHEDULER_SEDF,
    cmd: XEN_DOMCTL_SCHEDOP_putinfo,
    u: { sedf: next },
  });
  if (rc < 0) {
    throw new ToolstackError(
      'STATE',
      `setting domain sched sedf: Xen errno ${-rc} (period ${next.period / MS} ms, slice ${next.slice / MS} ms, weight ${next.weight})`,
    );
  }
}
