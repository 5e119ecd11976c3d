/**
 * The credit scheduler (credit1), as Xen's `common/sched/credit.c`: proportional fair share by
 * weight, optional caps, 30 ms time slices, 10 ms ticks, credit accounting once per slice,
 * BOOST/UNDER/OVER/IDLE priorities, one runqueue per pCPU, and idle pCPUs stealing work they
 * are allowed to run. See `README.md` beside this file for the differences from Xen.
 *
 * @see xen/common/sched/credit.c
 */

import { XEN_EINVAL } from '../abi/errno.ts';
import {
  CSCHED_CREDITS_PER_MSEC,
  CSCHED_CREDITS_PER_TSLICE,
  CSCHED_DEFAULT_TSLICE_MS,
  CSCHED_DEFAULT_WEIGHT,
  CSCHED_FLAG_VCPU_PARKED,
  CSCHED_FLAG_VCPU_YIELD,
  CSCHED_PRI_IDLE,
  CSCHED_PRI_TS_BOOST,
  CSCHED_PRI_TS_OVER,
  CSCHED_PRI_TS_UNDER,
  CSCHED_TICKS_PER_TSLICE,
  MILLISECS,
  XEN_DOMCTL_SCHEDOP_getinfo,
  XEN_SCHEDULER_CREDIT,
} from './constants.ts';
import { arr, badState, isIntIn, num, numOrNull, pair } from './internal/state-check.ts';
import type { SchedHost, SchedulerOps, TaskSlice, XenDomctlSchedulerOp } from './ops.ts';
import type { SchedDomain, SchedVcpu } from './vcpu.ts';

const NAME = 'credit';
const TSLICE_NS = CSCHED_DEFAULT_TSLICE_MS * MILLISECS;
const TICK_NS = TSLICE_NS / CSCHED_TICKS_PER_TSLICE;

/** Per-domain credit data (`struct csched_dom`). */
class CreditDom {
  readonly d: SchedDomain;
  weight = CSCHED_DEFAULT_WEIGHT;
  cap = 0;
  /** Active vCPUs (those earning credit), newest first like Xen's list_add. */
  readonly active: CreditVcpu[] = [];
  onActiveList = false;
  constructor(d: SchedDomain) {
    this.d = d;
  }
}

/** Per-vCPU credit data (`struct csched_vcpu`). */
class CreditVcpu {
  readonly v: SchedVcpu;
  readonly sdom: CreditDom;
  pri: number = CSCHED_PRI_TS_UNDER;
  credit = 0;
  /** Nanosecond-credits not yet converted to whole credits (Xen's `residual`). */
  residual = 0;
  startTime = 0;
  flags = 0;
  active = false;
  onRunq = false;
  constructor(v: SchedVcpu, sdom: CreditDom) {
    this.v = v;
    this.sdom = sdom;
  }
}

/** Plain-data state of one credit domain. */
export interface CreditDomainState {
  /** Domain id. */
  domid: number;
  /** Weight, 1–65535. */
  weight: number;
  /** Cap in percent of a pCPU, 0 = none. */
  cap: number;
  /** vCPU ids on the active (credit-earning) list, in list order. */
  active: number[];
}

/** Plain-data state of one credit vCPU. */
export interface CreditVcpuState {
  /** Domain id. */
  domid: number;
  /** vCPU number. */
  vcpuId: number;
  /** `CSCHED_PRI_TS_*` priority. */
  pri: number;
  /** Credits (negative when over its share). */
  credit: number;
  /** Sub-credit remainder of burnt time. */
  residual: number;
  /** When its credits were last burnt (ns). */
  startTime: number;
  /** `CSCHED_FLAG_VCPU_*` bits. */
  flags: number;
}

/** Plain-data state of the credit scheduler. */
export interface CreditState {
  /** Accounting carry-over (`credit_balance`). */
  creditBalance: number;
  /** Runqueue re-sort generation (`runq_sort`). */
  runqSort: number;
  /** Per pCPU: last generation sorted. */
  runqSortLast: number[];
  /** Next accounting time (ns), null if not armed. */
  nextAcct: number | null;
  /** Per pCPU: next tick time (ns), null if not armed. */
  nextTick: Array<number | null>;
  /** Active domains in list order. */
  activeDomains: number[];
  /** Per-domain parameters and active vCPU order. */
  domains: CreditDomainState[];
  /** Per-vCPU credit state. */
  vcpus: CreditVcpuState[];
  /** Per pCPU: runqueue order as `[domid, vcpuId]`. */
  runqs: Array<Array<[number, number]>>;
}

function svcOf(v: SchedVcpu): CreditVcpu {
  return v.priv as CreditVcpu;
}

/**
 * Xen's credit scheduler. Create one per {@link Scheduler} host (or pass `"credit"`).
 *
 * @see xen/common/sched/credit.c
 */
export class CreditScheduler implements SchedulerOps {
  /** "SMP Credit Scheduler". */
  readonly name: string = 'SMP Credit Scheduler';
  /** "credit". */
  readonly optName: string = NAME;
  /** `XEN_SCHEDULER_CREDIT`. */
  readonly schedId: number = XEN_SCHEDULER_CREDIT;

  #host: SchedHost | null = null;
  #runq: CreditVcpu[][] = [];
  #tickTimer: number[] = [];
  #nextTick: Float64Array = new Float64Array(0);
  #acctTimer = -1;
  #nextAcct = Number.POSITIVE_INFINITY;
  #activeDoms: CreditDom[] = [];
  /** Sum of weight × active vCPUs (`prv->weight`). */
  #weight = 0;
  #creditBalance = 0;
  #runqSort = 0;
  #runqSortLast: number[] = [];

  /** Sets up per-pCPU runqueues and arms the ticks and the accounting timer. */
  init(host: SchedHost): void {
    this.#host = host;
    const n = host.nrCpus;
    const now = host.clock.now();
    this.#runq = Array.from({ length: n }, () => []);
    this.#runqSortLast = new Array<number>(n).fill(0);
    this.#nextTick = new Float64Array(n);
    this.#tickTimer = [];
    for (let cpu = 0; cpu < n; cpu++) {
      const h = host.createTimer(() => this.#tick(cpu));
      this.#tickTimer.push(h);
      this.#nextTick[cpu] = now + TICK_NS;
      host.setTimer(h, now + TICK_NS);
    }
    this.#acctTimer = host.createTimer(() => this.#acct());
    this.#nextAcct = now + TSLICE_NS;
    host.setTimer(this.#acctTimer, this.#nextAcct);
  }

  /** Destroys the timers. */
  deinit(): void {
    const host = this.#hostOrThrow();
    for (const h of this.#tickTimer) host.destroyTimer(h);
    host.destroyTimer(this.#acctTimer);
    this.#tickTimer = [];
    this.#acctTimer = -1;
    this.#host = null;
  }

  /** Gives the domain weight 256 and no cap. */
  insertDomain(d: SchedDomain): void {
    d.priv = new CreditDom(d);
  }

  /** Drops the domain's data. */
  removeDomain(d: SchedDomain): void {
    const sdom = d.priv as CreditDom;
    if (sdom.onActiveList) this.#activeDoms.splice(this.#activeDoms.indexOf(sdom), 1);
    d.priv = null;
  }

  /** Allocates the vCPU's data: priority UNDER, zero credit, not yet accounting. */
  insertVcpu(v: SchedVcpu): void {
    v.priv = new CreditVcpu(v, v.domain.priv as CreditDom);
  }

  /** Takes the vCPU off its runqueue and the active lists, unparking it first (`csched_vcpu_remove`). */
  removeVcpu(v: SchedVcpu): void {
    const svc = svcOf(v);
    if ((svc.flags & CSCHED_FLAG_VCPU_PARKED) !== 0) {
      svc.flags &= ~CSCHED_FLAG_VCPU_PARKED;
      this.#hostOrThrow().unpauseVcpu(v);
    }
    if (svc.onRunq) this.#runqRemove(svc);
    if (svc.active) this.#acctStop(svc);
    v.priv = null;
  }

  /** `csched_vcpu_sleep`: preempt it if running, else dequeue it. */
  sleep(v: SchedVcpu): void {
    const svc = svcOf(v);
    const host = this.#hostOrThrow();
    if (host.curr(v.processor) === v) host.raiseSoftirq(v.processor);
    else if (svc.onRunq) this.#runqRemove(svc);
  }

  /** `csched_vcpu_wake`: BOOST a vCPU that was UNDER (and not parked), queue it, tickle pCPUs. */
  wake(v: SchedVcpu): void {
    const svc = svcOf(v);
    if (v.isRunning || svc.onRunq) return;
    if (svc.pri === CSCHED_PRI_TS_UNDER && (svc.flags & CSCHED_FLAG_VCPU_PARKED) === 0)
      svc.pri = CSCHED_PRI_TS_BOOST;
    this.#runqInsert(svc);
    this.#tickle(svc);
  }

  /** `csched_vcpu_yield`: queue behind one lower-priority vCPU at the next decision. */
  yield(v: SchedVcpu): void {
    svcOf(v).flags |= CSCHED_FLAG_VCPU_YIELD;
  }

  /** `csched_schedule`: burn the current vCPU's credits, requeue it, pick the runqueue head or steal. */
  doSchedule(cpu: number, now: number, out: TaskSlice): void {
    const host = this.#hostOrThrow();
    const prev = host.curr(cpu);
    if (prev !== null) {
      const sp = svcOf(prev);
      this.#burn(sp, now);
      if (prev.runnable()) this.#runqInsert(sp);
      sp.flags &= ~CSCHED_FLAG_VCPU_YIELD;
    }
    const q = this.#runq[cpu] as CreditVcpu[];
    let snext: CreditVcpu | null = q.length > 0 ? (q[0] as CreditVcpu) : null;
    if (snext !== null && snext.pri > CSCHED_PRI_TS_OVER) {
      q.shift();
      snext.onRunq = false;
    } else {
      snext = this.#loadBalance(cpu, snext);
    }
    if (snext === null) {
      out.task = null;
      out.time = -1;
    } else {
      snext.startTime = now;
      out.task = snext.v;
      out.time = TSLICE_NS;
    }
    // Work left queued here: let idle pCPUs that may run it come and steal it.
    if (q.length > 0) this.#tickleIdlersFor(q, cpu);
  }

  /** `csched_cpu_pick`: an idle pCPU in the affinity if there is one, else the least loaded. */
  pickCpu(v: SchedVcpu): number {
    const host = this.#hostOrThrow();
    const n = host.nrCpus;
    let best = -1;
    let bestLoad = Number.POSITIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const c = (v.processor + i) % n;
      if (v.affinity[c] !== 1) continue;
      const cur = host.curr(c);
      const load = (this.#runq[c] as CreditVcpu[]).length + (cur !== null && cur !== v ? 1 : 0);
      if (load < bestLoad) {
        best = c;
        bestLoad = load;
      }
    }
    return best < 0 ? v.processor : best;
  }

  /** `csched_dom_cntl`: get or put weight and cap. */
  adjust(d: SchedDomain, op: XenDomctlSchedulerOp): number {
    const sdom = d.priv as CreditDom;
    if (op.cmd === XEN_DOMCTL_SCHEDOP_getinfo) {
      op.u.credit = { weight: sdom.weight, cap: sdom.cap };
      return 0;
    }
    const c = op.u.credit;
    if (typeof c !== 'object' || c === null) return -XEN_EINVAL;
    const { weight, cap } = c;
    if (!isIntIn(weight, 0, 0xffff) || !isIntIn(cap, 0, 0xffff)) return -XEN_EINVAL;
    if (weight !== 0) {
      if (sdom.onActiveList) this.#weight += (weight - sdom.weight) * sdom.active.length;
      sdom.weight = weight;
    }
    if (cap !== 0xffff) sdom.cap = cap;
    return 0;
  }

  /** A queued vCPU may now be allowed on idle pCPUs: let them steal it (the host migrates it if it left its affinity). */
  adjustAffinity(v: SchedVcpu): void {
    const svc = svcOf(v);
    if (svc.onRunq) this.#tickleIdlersFor([svc], v.processor);
  }

  /** Plain-data state. */
  getState(): CreditState {
    const host = this.#hostOrThrow();
    const vcpus: CreditVcpuState[] = [];
    const domains: CreditDomainState[] = [];
    for (const d of host.domains()) {
      const sdom = d.priv as CreditDom;
      domains.push({
        domid: d.domid,
        weight: sdom.weight,
        cap: sdom.cap,
        active: sdom.active.map((s) => s.v.vcpuId),
      });
      for (const v of d.vcpus) {
        const s = svcOf(v);
        vcpus.push({
          domid: v.domid,
          vcpuId: v.vcpuId,
          pri: s.pri,
          credit: s.credit,
          residual: s.residual,
          startTime: s.startTime,
          flags: s.flags,
        });
      }
    }
    const fin = (t: number): number | null => (Number.isFinite(t) ? t : null);
    return {
      creditBalance: this.#creditBalance,
      runqSort: this.#runqSort,
      runqSortLast: [...this.#runqSortLast],
      nextAcct: fin(this.#nextAcct),
      nextTick: Array.from(this.#nextTick, fin),
      activeDomains: this.#activeDoms.map((s) => s.d.domid),
      domains,
      vcpus,
      runqs: this.#runq.map((q) => q.map((s): [number, number] => [s.v.domid, s.v.vcpuId])),
    };
  }

  /** Restores {@link CreditScheduler.getState} output. */
  restoreState(state: unknown): void {
    const host = this.#hostOrThrow();
    const n = host.nrCpus;
    const lookup = (p: unknown): CreditVcpu => {
      const [domid, vcpuId] = pair(NAME, p);
      const v = host.vcpu(domid, vcpuId) ?? badState(NAME, `unknown vCPU ${domid}.${vcpuId}`);
      return svcOf(v);
    };
    this.#creditBalance = num(NAME, state, 'creditBalance');
    this.#runqSort = num(NAME, state, 'runqSort');
    const last = arr(NAME, state, 'runqSortLast');
    const ticks = arr(NAME, state, 'nextTick');
    const runqs = arr(NAME, state, 'runqs');
    if (last.length !== n || ticks.length !== n || runqs.length !== n)
      badState(NAME, 'per-pCPU arrays have the wrong length');
    this.#runqSortLast = last.map((x) =>
      typeof x === 'number' ? x : badState(NAME, 'runqSortLast'),
    );
    for (const vs of arr(NAME, state, 'vcpus')) {
      const s = lookup([num(NAME, vs, 'domid'), num(NAME, vs, 'vcpuId')]);
      const pri = num(NAME, vs, 'pri');
      if (pri !== CSCHED_PRI_TS_BOOST && pri !== CSCHED_PRI_TS_UNDER && pri !== CSCHED_PRI_TS_OVER)
        badState(NAME, 'pri');
      s.pri = pri;
      s.credit = num(NAME, vs, 'credit');
      s.residual = num(NAME, vs, 'residual');
      s.startTime = num(NAME, vs, 'startTime');
      s.flags = num(NAME, vs, 'flags') & (CSCHED_FLAG_VCPU_PARKED | CSCHED_FLAG_VCPU_YIELD);
    }
    this.#activeDoms = [];
    this.#weight = 0;
    const byDomid = new Map<number, CreditDom>();
    for (const d of host.domains()) byDomid.set(d.domid, d.priv as CreditDom);
    for (const ds of arr(NAME, state, 'domains')) {
      const sdom = byDomid.get(num(NAME, ds, 'domid')) ?? badState(NAME, 'unknown domain');
      const weight = num(NAME, ds, 'weight');
      const cap = num(NAME, ds, 'cap');
      if (!isIntIn(weight, 1, 0xffff) || !isIntIn(cap, 0, 0xfffe))
        badState(NAME, 'weight or cap out of range');
      sdom.weight = weight;
      sdom.cap = cap;
      sdom.active.length = 0;
      for (const id of arr(NAME, ds, 'active')) {
        const s = lookup([sdom.d.domid, id]);
        if (s.active) badState(NAME, 'vCPU active twice');
        s.active = true;
        sdom.active.push(s);
      }
    }
    for (const domid of arr(NAME, state, 'activeDomains')) {
      const sdom = byDomid.get(domid as number) ?? badState(NAME, 'unknown active domain');
      if (sdom.onActiveList || sdom.active.length === 0) badState(NAME, 'bad active domain list');
      sdom.onActiveList = true;
      this.#activeDoms.push(sdom);
      this.#weight += sdom.weight * sdom.active.length;
    }
    for (const sdom of byDomid.values()) {
      if (sdom.active.length > 0 && !sdom.onActiveList)
        badState(NAME, 'domain with active vCPUs not on the active list');
    }
    for (let cpu = 0; cpu < n; cpu++) {
      const q = this.#runq[cpu] as CreditVcpu[];
      q.length = 0;
      for (const p of arr(NAME, runqs, String(cpu))) {
        const s = lookup(p);
        if (s.onRunq || s.v.isRunning || !s.v.runnable() || s.v.processor !== cpu)
          badState(NAME, 'bad runqueue entry');
        s.onRunq = true;
        q.push(s);
      }
    }
    for (const d of host.domains()) {
      for (const v of d.vcpus) {
        if (v.runnable() && !v.isRunning && !svcOf(v).onRunq)
          badState(NAME, `runnable vCPU ${v.domid}.${v.vcpuId} on no runqueue`);
      }
    }
    for (let cpu = 0; cpu < n; cpu++) {
      const t = numOrNull(NAME, ticks, String(cpu));
      this.#nextTick[cpu] = t ?? Number.POSITIVE_INFINITY;
      if (t === null) host.stopTimer(this.#tickTimer[cpu] as number);
      else host.setTimer(this.#tickTimer[cpu] as number, t);
    }
    const a = numOrNull(NAME, state, 'nextAcct');
    this.#nextAcct = a ?? Number.POSITIVE_INFINITY;
    if (a === null) host.stopTimer(this.#acctTimer);
    else host.setTimer(this.#acctTimer, a);
  }

  // ------------------------------------------------------------------ internals

  #hostOrThrow(): SchedHost {
    const h = this.#host;
    if (h === null) throw new Error('hypervisor: credit scheduler used before init()');
    return h;
  }

  /** `burn_credits`: 10 credits per ms run, keeping the sub-credit remainder. */
  #burn(svc: CreditVcpu, now: number): void {
    const delta = now - svc.startTime;
    if (delta <= 0) return;
    const val = delta * CSCHED_CREDITS_PER_MSEC + svc.residual;
    const credits = Math.floor(val / MILLISECS);
    svc.residual = val - credits * MILLISECS;
    svc.credit -= credits;
    svc.startTime = now;
  }

  /** `__runq_insert`: after every vCPU of higher or equal priority; a yielder goes one further. */
  #runqInsert(svc: CreditVcpu): void {
    const q = this.#runq[svc.v.processor] as CreditVcpu[];
    let i = 0;
    while (i < q.length && (q[i] as CreditVcpu).pri >= svc.pri) i++;
    if ((svc.flags & CSCHED_FLAG_VCPU_YIELD) !== 0 && i < q.length) i++;
    q.splice(i, 0, svc);
    svc.onRunq = true;
  }

  #runqRemove(svc: CreditVcpu): void {
    const q = this.#runq[svc.v.processor] as CreditVcpu[];
    const i = q.indexOf(svc);
    if (i >= 0) q.splice(i, 1);
    svc.onRunq = false;
  }

  /** `__runq_tickle`: preempt a lower-priority current vCPU; let idle pCPUs in the affinity steal. */
  #tickle(svc: CreditVcpu): void {
    const host = this.#hostOrThrow();
    const cpu = svc.v.processor;
    const cur = host.curr(cpu);
    const curPri = cur === null ? CSCHED_PRI_IDLE : svcOf(cur).pri;
    if (svc.pri > curPri) host.raiseSoftirq(cpu);
    if (curPri > CSCHED_PRI_IDLE) {
      const aff = svc.v.affinity;
      for (let c = 0; c < host.nrCpus; c++) {
        if (c !== cpu && aff[c] === 1 && host.curr(c) === null) host.raiseSoftirq(c);
      }
    }
  }

  #tickleIdlersFor(q: readonly CreditVcpu[], cpu: number): void {
    const host = this.#hostOrThrow();
    for (let c = 0; c < host.nrCpus; c++) {
      if (c === cpu || host.curr(c) !== null) continue;
      for (let i = 0; i < q.length; i++) {
        if ((q[i] as CreditVcpu).v.affinity[c] === 1) {
          host.raiseSoftirq(c);
          break;
        }
      }
    }
  }

  /**
   * `csched_load_balance`: the local head has no credit left (or there is none); steal the
   * first queued vCPU of higher priority from a peer that may run here, else take the head.
   */
  #loadBalance(cpu: number, snext: CreditVcpu | null): CreditVcpu | null {
    const host = this.#hostOrThrow();
    const n = host.nrCpus;
    const pri = snext === null ? CSCHED_PRI_IDLE : snext.pri;
    for (let i = 1; i < n; i++) {
      const pq = this.#runq[(cpu + i) % n] as CreditVcpu[];
      for (let j = 0; j < pq.length; j++) {
        const s = pq[j] as CreditVcpu;
        if (s.pri <= pri) break;
        if (s.v.affinity[cpu] === 1) {
          pq.splice(j, 1);
          s.onRunq = false;
          s.v.processor = cpu;
          return s;
        }
      }
    }
    if (snext !== null) {
      (this.#runq[cpu] as CreditVcpu[]).shift();
      snext.onRunq = false;
    }
    return snext;
  }

  /** `csched_tick`: un-BOOST and charge the running vCPU, start accounting it, re-sort if needed. */
  #tick(cpu: number): void {
    const host = this.#hostOrThrow();
    const now = host.clock.now();
    const cur = host.curr(cpu);
    if (cur !== null) {
      const svc = svcOf(cur);
      if (svc.pri === CSCHED_PRI_TS_BOOST) svc.pri = CSCHED_PRI_TS_UNDER;
      this.#burn(svc, now);
      if (!svc.active) this.#acctStart(svc);
    }
    if (this.#runqSortLast[cpu] !== this.#runqSort) {
      this.#runqSortLast[cpu] = this.#runqSort;
      (this.#runq[cpu] as CreditVcpu[]).sort((a, b) => b.pri - a.pri);
    }
    this.#nextTick[cpu] = now + TICK_NS;
    host.setTimer(this.#tickTimer[cpu] as number, now + TICK_NS);
  }

  #acctStart(svc: CreditVcpu): void {
    const sdom = svc.sdom;
    svc.active = true;
    sdom.active.unshift(svc);
    this.#weight += sdom.weight;
    if (!sdom.onActiveList) {
      sdom.onActiveList = true;
      this.#activeDoms.unshift(sdom);
    }
  }

  #acctStop(svc: CreditVcpu): void {
    const sdom = svc.sdom;
    svc.active = false;
    sdom.active.splice(sdom.active.indexOf(svc), 1);
    this.#weight -= sdom.weight;
    if (sdom.active.length === 0 && sdom.onActiveList) {
      sdom.onActiveList = false;
      this.#activeDoms.splice(this.#activeDoms.indexOf(sdom), 1);
    }
  }

  /** `csched_acct`: hand out `300 × nrCpus` credits by weight, apply caps, set UNDER/OVER, park/unpark. */
  #acct(): void {
    const host = this.#hostOrThrow();
    const now = host.clock.now();
    this.#nextAcct = now + TSLICE_NS;
    host.setTimer(this.#acctTimer, this.#nextAcct);
    const weightTotal = this.#weight;
    let creditTotal = CSCHED_CREDITS_PER_TSLICE * host.nrCpus;
    if (this.#creditBalance < 0) creditTotal -= this.#creditBalance;
    if (weightTotal === 0) {
      this.#creditBalance = 0;
      return;
    }
    let weightLeft = weightTotal;
    let creditBalance = 0;
    let creditXtra = false;
    let creditCap = 0;
    // Iterate over a snapshot: domains with spare credit move to the head of the list.
    for (const sdom of [...this.#activeDoms]) {
      const count = sdom.active.length;
      weightLeft -= sdom.weight * count;
      let creditPeak = count * CSCHED_CREDITS_PER_TSLICE;
      if (this.#creditBalance < 0) {
        creditPeak += Math.floor(
          (-this.#creditBalance * sdom.weight * count + (weightTotal - 1)) / weightTotal,
        );
      }
      if (sdom.cap !== 0) {
        creditCap = Math.floor((sdom.cap * CSCHED_CREDITS_PER_TSLICE + 99) / 100);
        if (creditCap < creditPeak) creditPeak = creditCap;
        creditCap = Math.floor((creditCap + (count - 1)) / count);
      }
      let creditFair = Math.floor(
        (creditTotal * sdom.weight * count + (weightTotal - 1)) / weightTotal,
      );
      if (creditFair < creditPeak) {
        creditXtra = true;
      } else {
        if (weightLeft !== 0) {
          this.#creditBalance += Math.floor(
            ((creditFair - creditPeak) * weightTotal + (weightLeft - 1)) / weightLeft,
          );
        }
        if (creditXtra) {
          const i = this.#activeDoms.indexOf(sdom);
          this.#activeDoms.splice(i, 1);
          this.#activeDoms.unshift(sdom);
        }
        creditFair = creditPeak;
      }
      creditFair = Math.floor((creditFair + (count - 1)) / count);
      for (const svc of [...sdom.active]) {
        svc.credit += creditFair;
        let credit = svc.credit;
        if (credit < 0) {
          svc.pri = CSCHED_PRI_TS_OVER;
          if (
            sdom.cap !== 0 &&
            credit < -creditCap &&
            (svc.flags & CSCHED_FLAG_VCPU_PARKED) === 0
          ) {
            svc.flags |= CSCHED_FLAG_VCPU_PARKED;
            host.pauseVcpu(svc.v);
          }
          if (credit < -CSCHED_CREDITS_PER_TSLICE) {
            credit = -CSCHED_CREDITS_PER_TSLICE;
            svc.credit = credit;
          }
        } else {
          svc.pri = CSCHED_PRI_TS_UNDER;
          if ((svc.flags & CSCHED_FLAG_VCPU_PARKED) !== 0) {
            host.unpauseVcpu(svc.v);
            svc.flags &= ~CSCHED_FLAG_VCPU_PARKED;
          }
          if (credit > CSCHED_CREDITS_PER_TSLICE) {
            this.#acctStop(svc);
            credit = Math.floor(credit / 2);
            svc.credit = credit;
          }
        }
        creditBalance += credit;
      }
    }
    this.#creditBalance = creditBalance;
    this.#runqSort++;
  }
}
