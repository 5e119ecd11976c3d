/**
 * Time sources: Xen system time (nanoseconds since the host booted) behind a one-method port,
 * with a deterministic implementation for tests and replay and a real-time one over any
 * millisecond clock the embedder has (`performance.now`, `Date.now`).
 *
 * @see xen/arch/x86/time.c (NOW(), get_s_time)
 */
import { HypervisorError } from '../errors.ts';

/**
 * Reads Xen system time. Structurally the same as the scheduler's `SchedClock`, so one clock
 * object can drive both.
 */
export interface SystemClock {
  /** Nanoseconds since the host booted; never decreases. */
  now(): number;
}

/**
 * One-shot timers in system-time nanoseconds, like Xen's `init_timer`/`set_timer`/`stop_timer`.
 * Structurally the same as the scheduler's `SchedTimers`.
 */
export interface TimerPort {
  /** Creates a disarmed timer that calls `callback` when it expires; returns its handle. */
  create(callback: () => void): number;
  /** Arms (or re-arms) the timer for absolute time `at`; a time in the past fires as soon as possible. */
  set(handle: number, at: number): void;
  /** Disarms the timer; harmless if it is not armed. */
  stop(handle: number): void;
  /** Frees the timer; it never fires again. */
  destroy(handle: number): void;
}

/**
 * A clock that only moves when told to, with one-shot timers that fire during
 * {@link DeterministicClock.advance} in deadline order (ties by arming order): same inputs,
 * same outputs.
 */
export class DeterministicClock implements SystemClock, TimerPort {
  private ns: number;
  private readonly callbacks: Array<(() => void) | undefined> = [];
  private readonly deadlines: number[] = [];
  private readonly armedAt: number[] = [];
  private arming = 0;

  /** Starts at `startNs` (default 0). */
  constructor(startNs = 0) {
    if (!Number.isSafeInteger(startNs) || startNs < 0) {
      throw new HypervisorError(
        'INVALID_ARGUMENT',
        `startNs must be a non-negative safe integer, got ${startNs}`,
      );
    }
    this.ns = startNs;
  }

  /** The current system time in ns. */
  now(): number {
    return this.ns;
  }

  /**
   * Moves time forward by `deltaNs` (a non-negative integer), firing every timer that falls due
   * on the way with the clock set to its deadline, and returns the new time.
   */
  advance(deltaNs: number): number {
    if (!Number.isSafeInteger(deltaNs) || deltaNs < 0) {
      throw new HypervisorError(
        'INVALID_ARGUMENT',
        `deltaNs must be a non-negative safe integer, got ${deltaNs}`,
      );
    }
    const end = this.ns + deltaNs;
    for (let h = this.nextDue(end); h >= 0; h = this.nextDue(end)) {
      this.ns = Math.max(this.ns, this.deadlines[h] ?? this.ns);
      this.deadlines[h] = -1;
      this.callbacks[h]?.();
    }
    this.ns = end;
    return this.ns;
  }

  /** Creates a disarmed timer. */
  create(callback: () => void): number {
    this.callbacks.push(callback);
    this.deadlines.push(-1);
    this.armedAt.push(0);
    return this.callbacks.length - 1;
  }

  /** Arms a timer for absolute time `at` (ns). */
  set(handle: number, at: number): void {
    if (this.callbacks[handle] === undefined)
      throw new HypervisorError('NOT_FOUND', `no timer ${handle}`);
    this.deadlines[handle] = Math.max(0, at);
    this.armedAt[handle] = this.arming++;
  }

  /** Disarms a timer. */
  stop(handle: number): void {
    if (this.deadlines[handle] !== undefined) this.deadlines[handle] = -1;
  }

  /** Frees a timer. */
  destroy(handle: number): void {
    this.stop(handle);
    this.callbacks[handle] = undefined;
  }

  /** The earliest armed timer's deadline in ns, or -1 when no timer is armed. */
  nextDeadline(): number {
    let best = -1;
    for (const at of this.deadlines) if (at >= 0 && (best < 0 || at < best)) best = at;
    return best;
  }

  /** The armed timer due soonest at or before `end`, or -1. */
  private nextDue(end: number): number {
    let best = -1;
    for (let h = 0; h < this.deadlines.length; h++) {
      const at = this.deadlines[h] ?? -1;
      if (at < 0 || at > end) continue;
      const bestAt = this.deadlines[best] ?? 0;
      if (
        best < 0 ||
        at < bestAt ||
        (at === bestAt && (this.armedAt[h] ?? 0) < (this.armedAt[best] ?? 0))
      )
        best = h;
    }
    return best;
  }
}

/**
 * System time from a real millisecond clock (fractions allowed), zero at construction and
 * monotonic even if the source steps backwards.
 *
 * @example
 * ```ts
 * const clock = new RealTimeClock(() => performance.now());
 * ```
 */
export class RealTimeClock implements SystemClock {
  private readonly source: () => number;
  private readonly origin: number;
  private last = 0;

  /** Wraps `nowMs`, a function returning milliseconds (any origin). */
  constructor(nowMs: () => number) {
    this.source = nowMs;
    this.origin = nowMs();
  }

  /** Nanoseconds since construction, never decreasing. */
  now(): number {
    const ns = Math.round((this.source() - this.origin) * 1e6);
    if (ns > this.last) this.last = ns;
    return this.last;
  }
}
