/**
 * Scheduler identifiers, domctl sub-commands and the tuning constants of Xen's credit (credit1)
 * and sEDF schedulers. Names keep Xen's spelling.
 *
 * @see xen/include/public/domctl.h
 * @see xen/common/sched/credit.c
 * @see xen/common/sched_sedf.c (Xen 3.x–4.5)
 */

/** `sched_id` of the sEDF scheduler. @see xen/include/public/domctl.h */
export const XEN_SCHEDULER_SEDF = 4;
/** `sched_id` of the credit (credit1) scheduler. @see xen/include/public/domctl.h */
export const XEN_SCHEDULER_CREDIT = 5;
/** `sched_id` of credit2 (not implemented here; listed so callers can name it). @see xen/include/public/domctl.h */
export const XEN_SCHEDULER_CREDIT2 = 6;
/** `sched_id` of ARINC 653 (not implemented here). @see xen/include/public/domctl.h */
export const XEN_SCHEDULER_ARINC653 = 7;
/** `sched_id` of RTDS (not implemented here). @see xen/include/public/domctl.h */
export const XEN_SCHEDULER_RTDS = 8;
/** `sched_id` of the null scheduler (not implemented here). @see xen/include/public/domctl.h */
export const XEN_SCHEDULER_NULL = 9;

/** `XEN_DOMCTL_scheduler_op` command: set a domain's parameters. @see xen/include/public/domctl.h */
export const XEN_DOMCTL_SCHEDOP_putinfo = 0;
/** `XEN_DOMCTL_scheduler_op` command: read a domain's parameters. @see xen/include/public/domctl.h */
export const XEN_DOMCTL_SCHEDOP_getinfo = 1;

/** Nanoseconds in a millisecond (Xen's `MILLISECS(1)`). @see xen/include/xen/time.h */
export const MILLISECS = 1_000_000;
/** Nanoseconds in a microsecond (Xen's `MICROSECS(1)`). @see xen/include/xen/time.h */
export const MICROSECS = 1_000;

/** Credit: default domain weight. @see xen/common/sched/credit.c */
export const CSCHED_DEFAULT_WEIGHT = 256;
/** Credit: scheduler ticks per time slice (so a tick is 10 ms). @see xen/common/sched/credit.c */
export const CSCHED_TICKS_PER_TSLICE = 3;
/** Credit: default time slice in milliseconds; credits are also accounted once per slice. @see xen/common/sched/credit.c */
export const CSCHED_DEFAULT_TSLICE_MS = 30;
/** Credit: credits burnt per millisecond of running. @see xen/common/sched/credit.c */
export const CSCHED_CREDITS_PER_MSEC = 10;
/** Credit: credits handed out per pCPU per accounting period (`credits_per_tslice`, 300). @see xen/common/sched/credit.c */
export const CSCHED_CREDITS_PER_TSLICE: number = CSCHED_CREDITS_PER_MSEC * CSCHED_DEFAULT_TSLICE_MS;
/** Credit priority: time-share vCPU that just woke up. @see xen/common/sched/credit.c */
export const CSCHED_PRI_TS_BOOST = 0;
/** Credit priority: time-share vCPU with credits left. @see xen/common/sched/credit.c */
export const CSCHED_PRI_TS_UNDER = -1;
/** Credit priority: time-share vCPU that has used its credits. @see xen/common/sched/credit.c */
export const CSCHED_PRI_TS_OVER = -2;
/** Credit priority: the idle vCPU. @see xen/common/sched/credit.c */
export const CSCHED_PRI_IDLE = -64;
/** Credit vCPU flag: parked because its domain went over its cap. @see xen/common/sched/credit.c */
export const CSCHED_FLAG_VCPU_PARKED = 0x1;
/** Credit vCPU flag: yielded; queued behind one lower-priority vCPU once. @see xen/common/sched/credit.c */
export const CSCHED_FLAG_VCPU_YIELD = 0x2;

/** sEDF: quantum of extra time handed out at once (500 µs). @see xen/common/sched_sedf.c */
export const EXTRA_QUANTUM: number = 500 * MICROSECS;
/** sEDF: period used for weight-driven and best-effort domains (100 ms). @see xen/common/sched_sedf.c */
export const WEIGHT_PERIOD: number = 100 * MILLISECS;
/** sEDF: share of WEIGHT_PERIOD kept back when slices are derived from weights (5 ms). @see xen/common/sched_sedf.c */
export const WEIGHT_SAFETY: number = 5 * MILLISECS;
/** sEDF: longest accepted period (10 s). @see xen/common/sched_sedf.c (Xen 4.x) */
export const PERIOD_MAX: number = 10_000 * MILLISECS;
/** sEDF: shortest accepted period (10 µs). @see xen/common/sched_sedf.c (Xen 4.x) */
export const PERIOD_MIN: number = 10 * MICROSECS;
/** sEDF: shortest accepted slice (5 µs). @see xen/common/sched_sedf.c (Xen 4.x) */
export const SLICE_MIN: number = 5 * MICROSECS;
/** sEDF `extratime` flag bit: the domain may run in extra (slack) time. @see xen/common/sched_sedf.c */
export const EXTRA_AWARE = 1;

/** Shortest scheduler timer the host arms, like credit's `CSCHED_MIN_TIMER` (stops zero-length slices from looping). */
export const SCHED_MIN_TIMER: number = 1 * MICROSECS;
