/**
 * The sEDF scheduler (Simple Earliest Deadline First) of Xen 3.x–4.5: each vCPU is guaranteed
 * `slice` ns of CPU in every `period`; among vCPUs with budget left the earliest deadline runs;
 * slack goes in 500 µs quanta to extra-time-aware vCPUs, first to those that lost time by
 * blocking briefly (penalty queue), then by weight or utilisation (utilisation queue). vCPUs stay
 * on their pCPU (no load balancing), as in Xen. See `README.md` beside this file.
 *
 * @see xen/common/sched_sedf.c (Xen 3.x–4.5)
 */

import { XEN_EINVAL } from '../abi/errno.ts';
import {
  EXTRA_AWARE,
  EXTRA_QUANTUM,
  MILLISECS,
  PERIOD_MAX,
  PERIOD_MIN,
  SLICE_MIN,
  WEIGHT_PERIOD,
  WEIGHT_SAFETY,
  XEN_DOMCTL_SCHEDOP_getinfo,
  XEN_SCHEDULER_SEDF,
} from './constants.ts';
import { arr, badState, isIntIn, num, pair } from './internal/state-check.ts';
import type { SchedHost, SchedulerOps, TaskSlice, XenDomctlSchedulerOp } from './ops.ts';
import type { SchedDomain, SchedVcpu } from './vcpu.ts';

const NAME = 'sedf';
const EXTRA_RUN_PEN = 2;
const EXTRA_RUN_UTIL = 4;
const EXTRA_WANT_PEN_Q = 8;
const SEDF_ASLEEP = 16;
/** Index of an extra queue: 0 penalty, 1 utilisation. */
type XQ = 0 | 1;
const EXTRA_PEN_Q: XQ = 0;
const EXTRA_UTIL_Q: XQ = 1;
const STATUS_MASK = EXTRA_AWARE | EXTRA_RUN_PEN | EXTRA_RUN_UTIL | EXTRA_WANT_PEN_Q | SEDF_ASLEEP;
const SECONDS = 1000 * MILLISECS;
const Q_NONE = 0;
const Q_RUN = 1;
const Q_WAIT = 2;

/** Per-vCPU sEDF data (`struct sedf_vcpu_info`). */
class SedfVcpu {
  readonly v: SchedVcpu;
  period = WEIGHT_PERIOD;
  slice = 0;
  periodOrig = WEIGHT_PERIOD;
  sliceOrig = 0;
  latency = 0;
  status = EXTRA_AWARE | SEDF_ASLEEP;
  weight = 0;
  extraweight = 1;
  deadlAbs = 0;
  schedStartAbs = 0;
  cputime = 0;
  blockAbs = 0;
  unblockAbs = 0;
  readonly score: [number, number] = [0, 0];
  shortBlockLostTot = 0;
  extraTimeTot = 0;
  /** Which of runq/waitq holds it. */
  queue = Q_NONE;
  readonly onExtra: [boolean, boolean] = [false, false];
  constructor(v: SchedVcpu) {
    this.v = v;
  }
}

/** Per-pCPU queues (`struct sedf_cpu_info`). */
interface SedfCpu {
  runq: SedfVcpu[];
  waitq: SedfVcpu[];
  extraq: [SedfVcpu[], SedfVcpu[]];
  currentSliceExpires: number;
}

/** Plain-data state of one sEDF vCPU. */
export interface SedfVcpuState {
  /** Domain id. */
  domid: number;
  /** vCPU number. */
  vcpuId: number;
  /** Current period (ns; shorter than `periodOrig` while latency-scaled). */
  period: number;
  /** Current slice (ns). */
  slice: number;
  /** Configured period (ns). */
  periodOrig: number;
  /** Configured slice (ns). */
  sliceOrig: number;
  /** Latency hint (ns). */
  latency: number;
  /** Status bits (EXTRA_AWARE, running-in-extra, wants-penalty-queue, asleep). */
  status: number;
  /** Real-time weight (0 if time-driven). */
  weight: number;
  /** Extra-time weight (0 if extra time goes by utilisation). */
  extraweight: number;
  /** Absolute deadline of the current period (ns). */
  deadlAbs: number;
  /** When it was last scheduled (ns). */
  schedStartAbs: number;
  /** Time used in the current period (ns). */
  cputime: number;
  /** When it last blocked (ns). */
  blockAbs: number;
  /** When it last woke (ns). */
  unblockAbs: number;
  /** Extra-time scores, penalty and utilisation queue. */
  score: [number, number];
  /** Slice time lost to a short block, still owed in extra time (ns). */
  shortBlockLostTot: number;
  /** Total extra time received (ns). */
  extraTimeTot: number;
}

/** Plain-data state of one sEDF pCPU: its queues as `[domid, vcpuId]` lists. */
export interface SedfCpuState {
  /** vCPUs in their current period with budget left, by deadline. */
  runq: Array<[number, number]>;
  /** vCPUs waiting for their next period, by period start. */
  waitq: Array<[number, number]>;
  /** Extra-time queues: penalty (0) and utilisation/weight (1), by score. */
  extraq: [Array<[number, number]>, Array<[number, number]>];
  /** When the current slice on this pCPU ends (ns). */
  currentSliceExpires: number;
}

/** Plain-data state of the sEDF scheduler. */
export interface SedfState {
  /** Per-vCPU state. */
  vcpus: SedfVcpuState[];
  /** Per pCPU: queue orders (`[domid, vcpuId]`) and when the current slice expires. */
  cpus: SedfCpuState[];
}

function infOf(v: SchedVcpu): SedfVcpu {
  return v.priv as SedfVcpu;
}

function periodBegin(inf: SedfVcpu): number {
  return inf.deadlAbs - inf.period;
}

function runnable(inf: SedfVcpu): boolean {
  return (inf.status & SEDF_ASLEEP) === 0;
}

function extraRuns(inf: SedfVcpu): boolean {
  return (inf.status & (EXTRA_RUN_PEN | EXTRA_RUN_UTIL)) !== 0;
}

/**
 * Xen's sEDF scheduler. Create one per {@link Scheduler} host (or pass `"sedf"`).
 *
 * @see xen/common/sched_sedf.c
 */
export class SedfScheduler implements SchedulerOps {
  /** "Simple EDF Scheduler". */
  readonly name: string = 'Simple EDF Scheduler';
  /** "sedf". */
  readonly optName: string = NAME;
  /** `XEN_SCHEDULER_SEDF`. */
  readonly schedId: number = XEN_SCHEDULER_SEDF;

  #host: SchedHost | null = null;
  #cpus: SedfCpu[] = [];

  /** Sets up the per-pCPU queues. sEDF needs no timers of its own. */
  init(host: SchedHost): void {
    this.#host = host;
    this.#cpus = Array.from({ length: host.nrCpus }, () => ({
      runq: [],
      waitq: [],
      extraq: [[], []] as [SedfVcpu[], SedfVcpu[]],
      currentSliceExpires: 0,
    }));
  }

  /** Forgets the host. */
  deinit(): void {
    this.#host = null;
  }

  /** sEDF keeps its parameters per vCPU; nothing per domain. */
  insertDomain(d: SchedDomain): void {
    d.priv = NAME;
  }

  /** Nothing to free. */
  removeDomain(d: SchedDomain): void {
    d.priv = null;
  }

  /**
   * `sedf_add_task`: dom0 gets 15 ms every 20 ms, others run best-effort in extra time with
   * weight 1; a vCPU added to a domain that has vCPUs copies their parameters.
   */
  insertVcpu(v: SchedVcpu): void {
    const inf = new SedfVcpu(v);
    const sibling = v.domain.vcpus.find((o) => o !== v && o.priv instanceof SedfVcpu);
    if (sibling !== undefined) {
      const s = infOf(sibling);
      inf.period = inf.periodOrig = s.periodOrig;
      inf.slice = inf.sliceOrig = s.sliceOrig;
      inf.latency = s.latency;
      inf.weight = s.weight;
      inf.extraweight = s.extraweight;
      inf.status = (s.status & EXTRA_AWARE) | SEDF_ASLEEP;
    } else if (v.domid === 0) {
      inf.period = inf.periodOrig = 20 * MILLISECS;
      inf.slice = inf.sliceOrig = 15 * MILLISECS;
      inf.extraweight = 0;
    }
    v.priv = inf;
  }

  /** Takes the vCPU off every queue. */
  removeVcpu(v: SchedVcpu): void {
    const inf = infOf(v);
    this.#delFromQueue(inf);
    if (inf.onExtra[EXTRA_PEN_Q]) this.#extraqDel(inf, EXTRA_PEN_Q);
    if (inf.onExtra[EXTRA_UTIL_Q]) this.#extraqDel(inf, EXTRA_UTIL_Q);
    v.priv = null;
  }

  /** `sedf_sleep`. */
  sleep(v: SchedVcpu): void {
    const host = this.#hostOrThrow();
    const inf = infOf(v);
    inf.status |= SEDF_ASLEEP;
    if (host.curr(v.processor) === v) {
      host.raiseSoftirq(v.processor);
    } else {
      this.#delFromQueue(inf);
      if (inf.onExtra[EXTRA_UTIL_Q]) this.#extraqDel(inf, EXTRA_UTIL_Q);
      if (inf.onExtra[EXTRA_PEN_Q]) this.#extraqDel(inf, EXTRA_PEN_Q);
    }
  }

  /** `sedf_wake`: short/long unblocking, latency scaling, extra queues, preemption check. */
  wake(v: SchedVcpu): void {
    const host = this.#hostOrThrow();
    const inf = infOf(v);
    const now = host.clock.now();
    if (inf.queue !== Q_NONE || v.isRunning) {
      inf.status &= ~SEDF_ASLEEP;
      return;
    }
    inf.status &= ~SEDF_ASLEEP;
    if (inf.deadlAbs === 0) inf.deadlAbs = now + inf.slice;
    if (now < periodBegin(inf)) {
      // Woken during extra time, before its next period.
      if ((inf.status & EXTRA_WANT_PEN_Q) !== 0 && !inf.onExtra[EXTRA_PEN_Q])
        this.#extraqAddSortUpdate(inf, EXTRA_PEN_Q, 0);
      this.#extraqCheckAddUnblocked(inf);
    } else if (now < inf.deadlAbs) {
      this.#unblockShortExtraSupport(inf);
      this.#extraqCheckAddUnblocked(inf);
    } else {
      this.#unblockLong(inf, now);
      this.#extraqCheckAddUnblocked(inf);
    }
    inf.unblockAbs = now;
    if (periodBegin(inf) > now) this.#addToWaitq(inf);
    else this.#addToRunq(inf);
    const cpu = v.processor;
    if (this.#shouldSwitch(host.curr(cpu), inf, cpu)) host.raiseSoftirq(cpu);
  }

  /** sEDF has no yield operation; the host still reschedules the pCPU. */
  yield(_v: SchedVcpu): void {}

  /** `sedf_do_schedule`. */
  doSchedule(cpu: number, now: number, out: TaskSlice): void {
    const host = this.#hostOrThrow();
    const c = this.#cpus[cpu] as SedfCpu;
    const prev = host.curr(cpu);
    if (prev !== null) {
      const inf = infOf(prev);
      if (!prev.runnable()) inf.status |= SEDF_ASLEEP;
      if ((inf.status & SEDF_ASLEEP) !== 0) inf.blockAbs = now;
      if (extraRuns(inf)) this.#deschedExtra(now, inf);
      else this.#deschedEdf(now, inf);
    }
    this.#updateQueues(now, c);
    let task: SedfVcpu | null;
    let time: number;
    const head = c.runq[0];
    const wait = c.waitq[0];
    if (head !== undefined) {
      task = head;
      time =
        wait !== undefined
          ? Math.min(now + head.slice - head.cputime, periodBegin(wait)) - now
          : head.slice - head.cputime;
    } else if (wait !== undefined) {
      const endXt = periodBegin(wait);
      task = null;
      time = endXt - now;
      if (endXt - now >= EXTRA_QUANTUM) {
        const pen = c.extraq[EXTRA_PEN_Q][0];
        const util = c.extraq[EXTRA_UTIL_Q][0];
        if (pen !== undefined) {
          pen.status |= EXTRA_RUN_PEN;
          task = pen;
          time = EXTRA_QUANTUM;
        } else if (util !== undefined) {
          util.status |= EXTRA_RUN_UTIL;
          task = util;
          time = EXTRA_QUANTUM;
        }
      }
    } else {
      task = null;
      time = SECONDS;
    }
    if (time <= 0) time = EXTRA_QUANTUM;
    if (task !== null) task.schedStartAbs = now;
    c.currentSliceExpires = now + time;
    out.task = task === null ? null : task.v;
    out.time = time;
  }

  /** `sedf_pick_cpu`: the (vcpuId mod n)-th pCPU of the affinity. */
  pickCpu(v: SchedVcpu): number {
    const n = this.#hostOrThrow().nrCpus;
    let count = 0;
    for (let c = 0; c < n; c++) count += v.affinity[c] as number;
    let k = count === 0 ? 0 : v.vcpuId % count;
    for (let c = 0; c < n; c++) if (v.affinity[c] === 1 && k-- === 0) return c;
    return v.processor;
  }

  /** `sedf_adjust`: get or put period, slice, latency, extratime and weight. */
  adjust(d: SchedDomain, op: XenDomctlSchedulerOp): number {
    const first = d.vcpus[0];
    if (op.cmd === XEN_DOMCTL_SCHEDOP_getinfo) {
      if (first === undefined) return -XEN_EINVAL;
      const inf = infOf(first);
      op.u.sedf = {
        period: inf.period,
        slice: inf.slice,
        latency: inf.latency,
        extratime: inf.status & EXTRA_AWARE,
        weight: inf.weight,
      };
      return 0;
    }
    const s = op.u.sedf;
    if (typeof s !== 'object' || s === null) return -XEN_EINVAL;
    const { period, slice, latency, extratime, weight } = s;
    const T = Number.MAX_SAFE_INTEGER;
    if (!isIntIn(period, 0, T) || !isIntIn(slice, 0, T) || !isIntIn(latency, 0, T))
      return -XEN_EINVAL;
    if (!isIntIn(extratime, 0, 0xffffffff) || !isIntIn(weight, 0, 0xffff)) return -XEN_EINVAL;
    if (period === 0 && weight === 0) return -XEN_EINVAL;
    if (weight !== 0) {
      if ((extratime & EXTRA_AWARE) !== 0 && period === 0) {
        for (const v of d.vcpus) {
          const inf = infOf(v);
          inf.extraweight = weight;
          inf.weight = 0;
          inf.slice = inf.sliceOrig = 0;
          inf.period = inf.periodOrig = WEIGHT_PERIOD;
        }
      } else {
        for (const v of d.vcpus) infOf(v).weight = weight;
      }
    } else {
      if (period > PERIOD_MAX || period < PERIOD_MIN || slice > period || slice < SLICE_MIN)
        return -XEN_EINVAL;
      for (const v of d.vcpus) {
        const inf = infOf(v);
        inf.weight = 0;
        inf.extraweight = 0;
        inf.period = inf.periodOrig = period;
        inf.slice = inf.sliceOrig = slice;
      }
    }
    this.#adjustWeights();
    for (const v of d.vcpus) {
      const inf = infOf(v);
      inf.status = (inf.status & ~EXTRA_AWARE) | (extratime & EXTRA_AWARE);
      inf.latency = latency;
      this.#extraqCheck(inf);
      if (v.isRunning) this.#hostOrThrow().raiseSoftirq(v.processor);
    }
    return 0;
  }

  /** Nothing to do: the host moves the vCPU with sleep, pick_cpu and wake. */
  adjustAffinity(_v: SchedVcpu): void {}

  /** Plain-data state. */
  getState(): SedfState {
    const host = this.#hostOrThrow();
    const vcpus: SedfVcpuState[] = [];
    for (const d of host.domains()) {
      for (const v of d.vcpus) {
        const i = infOf(v);
        vcpus.push({
          domid: v.domid,
          vcpuId: v.vcpuId,
          period: i.period,
          slice: i.slice,
          periodOrig: i.periodOrig,
          sliceOrig: i.sliceOrig,
          latency: i.latency,
          status: i.status,
          weight: i.weight,
          extraweight: i.extraweight,
          deadlAbs: i.deadlAbs,
          schedStartAbs: i.schedStartAbs,
          cputime: i.cputime,
          blockAbs: i.blockAbs,
          unblockAbs: i.unblockAbs,
          score: [i.score[0], i.score[1]],
          shortBlockLostTot: i.shortBlockLostTot,
          extraTimeTot: i.extraTimeTot,
        });
      }
    }
    const ids = (q: readonly SedfVcpu[]): Array<[number, number]> =>
      q.map((i) => [i.v.domid, i.v.vcpuId]);
    return {
      vcpus,
      cpus: this.#cpus.map((c) => ({
        runq: ids(c.runq),
        waitq: ids(c.waitq),
        extraq: [ids(c.extraq[0]), ids(c.extraq[1])],
        currentSliceExpires: c.currentSliceExpires,
      })),
    };
  }

  /** Restores {@link SedfScheduler.getState} output. */
  restoreState(state: unknown): void {
    const host = this.#hostOrThrow();
    const lookup = (p: unknown): SedfVcpu => {
      const [domid, vcpuId] = pair(NAME, p);
      const v = host.vcpu(domid, vcpuId) ?? badState(NAME, `unknown vCPU ${domid}.${vcpuId}`);
      return infOf(v);
    };
    for (const vs of arr(NAME, state, 'vcpus')) {
      const i = lookup([num(NAME, vs, 'domid'), num(NAME, vs, 'vcpuId')]);
      i.period = num(NAME, vs, 'period');
      i.slice = num(NAME, vs, 'slice');
      i.periodOrig = num(NAME, vs, 'periodOrig');
      i.sliceOrig = num(NAME, vs, 'sliceOrig');
      if (!(i.period > 0 && i.periodOrig > 0 && i.slice >= 0 && i.sliceOrig >= 0))
        badState(NAME, 'period or slice');
      i.latency = num(NAME, vs, 'latency');
      i.status = num(NAME, vs, 'status') & STATUS_MASK;
      i.weight = num(NAME, vs, 'weight');
      i.extraweight = num(NAME, vs, 'extraweight');
      i.deadlAbs = num(NAME, vs, 'deadlAbs');
      i.schedStartAbs = num(NAME, vs, 'schedStartAbs');
      i.cputime = num(NAME, vs, 'cputime');
      i.blockAbs = num(NAME, vs, 'blockAbs');
      i.unblockAbs = num(NAME, vs, 'unblockAbs');
      const score = arr(NAME, vs, 'score');
      i.score[0] = num(NAME, score, '0');
      i.score[1] = num(NAME, score, '1');
      i.shortBlockLostTot = num(NAME, vs, 'shortBlockLostTot');
      i.extraTimeTot = num(NAME, vs, 'extraTimeTot');
    }
    const cpus = arr(NAME, state, 'cpus');
    if (cpus.length !== this.#cpus.length) badState(NAME, 'cpus length');
    for (let cpu = 0; cpu < cpus.length; cpu++) {
      const cs = cpus[cpu];
      const c = this.#cpus[cpu] as SedfCpu;
      const fill = (list: unknown[], into: SedfVcpu[], check: (i: SedfVcpu) => void): void => {
        into.length = 0;
        for (const p of list) {
          const i = lookup(p);
          if (i.v.processor !== cpu) badState(NAME, 'queued on a pCPU it is not assigned to');
          check(i);
          into.push(i);
        }
      };
      fill(arr(NAME, cs, 'runq'), c.runq, (i) => {
        if (i.queue !== Q_NONE) badState(NAME, 'vCPU queued twice');
        i.queue = Q_RUN;
      });
      fill(arr(NAME, cs, 'waitq'), c.waitq, (i) => {
        if (i.queue !== Q_NONE) badState(NAME, 'vCPU queued twice');
        i.queue = Q_WAIT;
      });
      const xq = arr(NAME, cs, 'extraq');
      for (const q of [EXTRA_PEN_Q, EXTRA_UTIL_Q]) {
        fill(arr(NAME, xq, String(q)), c.extraq[q] as SedfVcpu[], (i) => {
          if (i.onExtra[q]) badState(NAME, 'vCPU on an extra queue twice');
          i.onExtra[q] = true;
        });
      }
      c.currentSliceExpires = num(NAME, cs, 'currentSliceExpires');
    }
    for (const d of host.domains()) {
      for (const v of d.vcpus) {
        const i = infOf(v);
        if (v.runnable() !== runnable(i) && !v.isRunning)
          badState(NAME, `vCPU ${v.domid}.${v.vcpuId} asleep flag`);
        if (runnable(i) && i.queue === Q_NONE)
          badState(NAME, `runnable vCPU ${v.domid}.${v.vcpuId} on no queue`);
      }
    }
  }

  // ------------------------------------------------------------------ internals

  #hostOrThrow(): SchedHost {
    const h = this.#host;
    if (h === null) throw new Error('hypervisor: sEDF scheduler used before init()');
    return h;
  }

  #cpuOf(inf: SedfVcpu): SedfCpu {
    return this.#cpus[inf.v.processor] as SedfCpu;
  }

  #delFromQueue(inf: SedfVcpu): void {
    if (inf.queue === Q_NONE) return;
    const c = this.#cpuOf(inf);
    const q = inf.queue === Q_RUN ? c.runq : c.waitq;
    const i = q.indexOf(inf);
    if (i >= 0) q.splice(i, 1);
    inf.queue = Q_NONE;
  }

  /** Sorted insert: before the first element that compares greater (stable for equal keys). */
  #insertSorted(q: SedfVcpu[], inf: SedfVcpu, key: (i: SedfVcpu) => number): void {
    const k = key(inf);
    let i = 0;
    while (i < q.length && key(q[i] as SedfVcpu) <= k) i++;
    q.splice(i, 0, inf);
  }

  #addToWaitq(inf: SedfVcpu): void {
    this.#insertSorted(this.#cpuOf(inf).waitq, inf, periodBegin);
    inf.queue = Q_WAIT;
  }

  #addToRunq(inf: SedfVcpu): void {
    this.#insertSorted(this.#cpuOf(inf).runq, inf, (i) => i.deadlAbs);
    inf.queue = Q_RUN;
  }

  #extraqDel(inf: SedfVcpu, q: XQ): void {
    const list = this.#cpuOf(inf).extraq[q] as SedfVcpu[];
    const i = list.indexOf(inf);
    if (i >= 0) list.splice(i, 1);
    inf.onExtra[q] = false;
  }

  /**
   * `extraq_add_sort_update`: insert by score (lowest first) and charge everyone else the
   * score `sub` the re-inserted vCPU just used: weighted round robin.
   */
  #extraqAddSortUpdate(inf: SedfVcpu, q: XQ, sub: number): void {
    const list = this.#cpuOf(inf).extraq[q] as SedfVcpu[];
    let i = 0;
    for (; i < list.length; i++) {
      const cur = list[i] as SedfVcpu;
      cur.score[q] -= sub;
      if (inf.score[q] < cur.score[q]) break;
    }
    const at = i;
    if (sub !== 0) for (i = at + 1; i < list.length; i++) (list[i] as SedfVcpu).score[q] -= sub;
    list.splice(at, 0, inf);
    inf.onExtra[q] = true;
  }

  /** `extraq_check`: join or leave the utilisation queue after a change of `EXTRA_AWARE`. */
  #extraqCheck(inf: SedfVcpu): void {
    if (inf.onExtra[EXTRA_UTIL_Q]) {
      if ((inf.status & EXTRA_AWARE) === 0 && !extraRuns(inf)) this.#extraqDel(inf, EXTRA_UTIL_Q);
    } else if ((inf.status & EXTRA_AWARE) !== 0 && runnable(inf)) {
      this.#extraqAddSortUpdate(inf, EXTRA_UTIL_Q, 0);
    }
  }

  #extraqCheckAddUnblocked(inf: SedfVcpu): void {
    if ((inf.status & EXTRA_AWARE) !== 0 && !inf.onExtra[EXTRA_UTIL_Q])
      this.#extraqAddSortUpdate(inf, EXTRA_UTIL_Q, 0);
  }

  /** `unblock_short_extra_support`: no more real time this period; owe the lost slice as extra time. */
  #unblockShortExtraSupport(inf: SedfVcpu): void {
    inf.deadlAbs += inf.period;
    if (inf.blockAbs !== 0) {
      let pen = inf.slice - inf.cputime;
      if (pen < 0) pen = 0;
      inf.shortBlockLostTot = pen;
      if (pen !== 0) {
        inf.score[EXTRA_PEN_Q] = Math.floor((inf.period * 1024) / pen);
        if (inf.onExtra[EXTRA_PEN_Q]) this.#extraqDel(inf, EXTRA_PEN_Q);
        else inf.status |= EXTRA_WANT_PEN_Q;
        this.#extraqAddSortUpdate(inf, EXTRA_PEN_Q, 0);
      }
    }
    inf.cputime = 0;
  }

  /**
   * Long unblocking: a new period starts now (`unblock_long_cons_b`); with a latency hint
   * shorter than the period, the period is first scaled down to the hint with the slice scaled
   * alike (`unblock_long_burst`), and doubles back after each completed slice.
   */
  #unblockLong(inf: SedfVcpu, now: number): void {
    if (inf.latency !== 0 && inf.period > inf.latency && inf.sliceOrig > 0) {
      inf.period = inf.latency;
      inf.slice = Math.floor((inf.period * inf.sliceOrig) / inf.periodOrig);
      if (inf.slice === 0) {
        inf.period = inf.periodOrig;
        inf.slice = inf.sliceOrig;
      }
    }
    inf.deadlAbs = now + inf.period;
    inf.cputime = 0;
  }

  /** `desched_edf_dom`: charge the slice; a finished slice moves the deadline on a period. */
  #deschedEdf(now: number, inf: SedfVcpu): void {
    inf.cputime += now - inf.schedStartAbs;
    if (inf.cputime < inf.slice && runnable(inf)) return;
    this.#delFromQueue(inf);
    if (inf.cputime >= inf.slice) {
      inf.cputime -= inf.slice;
      if (inf.period < inf.periodOrig) {
        inf.period *= 2;
        inf.slice *= 2;
        if (inf.period > inf.periodOrig || inf.slice > inf.sliceOrig) {
          inf.period = inf.periodOrig;
          inf.slice = inf.sliceOrig;
        }
      }
      inf.deadlAbs += inf.period;
    }
    if (runnable(inf)) {
      this.#addToWaitq(inf);
    } else {
      if (inf.onExtra[EXTRA_PEN_Q]) this.#extraqDel(inf, EXTRA_PEN_Q);
      if (inf.onExtra[EXTRA_UTIL_Q]) this.#extraqDel(inf, EXTRA_UTIL_Q);
    }
  }

  /** `desched_extra_dom`: rescore and requeue a vCPU that ran a quantum of extra time. */
  #deschedExtra(now: number, inf: SedfVcpu): void {
    const i = (inf.status & EXTRA_RUN_PEN) !== 0 ? EXTRA_PEN_Q : EXTRA_UTIL_Q;
    inf.status &= ~(EXTRA_RUN_PEN | EXTRA_RUN_UTIL);
    inf.cputime = 0;
    inf.extraTimeTot += now - inf.schedStartAbs;
    if (inf.onExtra[i]) this.#extraqDel(inf, i);
    let oldscore = inf.score[i];
    let requeue = true;
    if (i === EXTRA_PEN_Q) {
      inf.shortBlockLostTot -= now - inf.schedStartAbs;
      if (inf.shortBlockLostTot <= 0) {
        inf.shortBlockLostTot = 0;
        inf.status &= ~EXTRA_WANT_PEN_Q;
        requeue = false;
      } else {
        inf.score[EXTRA_PEN_Q] = Math.floor((inf.period * 1024) / inf.shortBlockLostTot);
        oldscore = 0;
      }
    } else if (inf.extraweight === 0) {
      inf.score[EXTRA_UTIL_Q] =
        inf.slice > 0 ? Math.floor((inf.period * 1024) / inf.slice) : inf.period * 1024;
    } else {
      inf.score[EXTRA_UTIL_Q] = Math.floor((1 << 17) / inf.extraweight);
    }
    if (runnable(inf)) {
      const wants =
        i === EXTRA_UTIL_Q
          ? (inf.status & EXTRA_AWARE) !== 0
          : (inf.status & EXTRA_WANT_PEN_Q) !== 0;
      if (requeue && wants) this.#extraqAddSortUpdate(inf, i, oldscore);
    } else {
      this.#delFromQueue(inf);
      const other = i === EXTRA_PEN_Q ? EXTRA_UTIL_Q : EXTRA_PEN_Q;
      if (inf.onExtra[other]) this.#extraqDel(inf, other);
    }
  }

  /** `update_queues`: start periods that began; renew vCPUs that missed a deadline or have no slice. */
  #updateQueues(now: number, c: SedfCpu): void {
    while (c.waitq.length > 0) {
      const w = c.waitq[0] as SedfVcpu;
      if (periodBegin(w) > now) break;
      c.waitq.shift();
      w.queue = Q_NONE;
      this.#addToRunq(w);
    }
    const k = 0;
    while (k < c.runq.length) {
      const r = c.runq[k] as SedfVcpu;
      if (r.slice === 0) {
        c.runq.splice(k, 1);
        r.queue = Q_NONE;
        r.deadlAbs += r.period;
        if (periodBegin(r) < now)
          r.deadlAbs += Math.ceil((now - periodBegin(r)) / r.period) * r.period;
        this.#addToWaitq(r);
        continue;
      }
      if (r.deadlAbs < now || r.cputime > r.slice) {
        c.runq.splice(k, 1);
        r.queue = Q_NONE;
        r.deadlAbs += r.period;
        if (r.deadlAbs < now) r.deadlAbs += Math.ceil((now - r.deadlAbs) / r.period) * r.period;
        r.cputime = 0;
        if (periodBegin(r) > now) this.#addToWaitq(r);
        else this.#addToRunq(r);
        // The runq changed under us; Xen keeps walking from the same point.
        continue;
      }
      break;
    }
  }

  /** `should_switch`: does waking `other` warrant an early decision on `cpu`? */
  #shouldSwitch(cur: SchedVcpu | null, other: SedfVcpu, cpu: number): boolean {
    if (cur === null) return true;
    const ci = infOf(cur);
    if (periodBegin(other) < (this.#cpus[cpu] as SedfCpu).currentSliceExpires) return true;
    if ((ci.status & EXTRA_RUN_PEN) !== 0) {
      return (
        (other.status & EXTRA_WANT_PEN_Q) !== 0 && other.score[EXTRA_PEN_Q] < ci.score[EXTRA_PEN_Q]
      );
    }
    if ((ci.status & EXTRA_RUN_UTIL) !== 0) return (other.status & EXTRA_WANT_PEN_Q) !== 0;
    return false;
  }

  /** `sedf_adjust_weights`: weight-driven vCPUs share what time-driven ones leave of each pCPU. */
  #adjustWeights(): void {
    const host = this.#hostOrThrow();
    const n = host.nrCpus;
    const sumw = new Float64Array(n);
    const sumt = new Float64Array(n);
    for (const d of host.domains()) {
      for (const v of d.vcpus) {
        const i = infOf(v);
        if (i.weight !== 0) sumw[v.processor] = (sumw[v.processor] as number) + i.weight;
        else
          sumt[v.processor] =
            (sumt[v.processor] as number) +
            Math.floor((WEIGHT_PERIOD * i.sliceOrig) / i.periodOrig);
      }
    }
    for (const d of host.domains()) {
      for (const v of d.vcpus) {
        const i = infOf(v);
        if (i.weight === 0) continue;
        const free = WEIGHT_PERIOD - WEIGHT_SAFETY - (sumt[v.processor] as number);
        i.period = i.periodOrig = WEIGHT_PERIOD;
        i.slice = i.sliceOrig = Math.max(
          0,
          Math.floor((i.weight * free) / (sumw[v.processor] as number)),
        );
      }
    }
  }
}
