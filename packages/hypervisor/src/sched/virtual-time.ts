import { HypervisorError } from '../errors.ts';
import type { SchedClock, SchedTimers } from './ports.ts';

/**
 * Deterministic virtual time: a clock that only moves when told to, and timers that fire in
 * order of expiry, ties in the order the timers were created (so a host restored from saved
 * state, which re-creates its timers in the same order, fires them in the same order). Same
 * inputs, same outputs. Handles are never reused.
 *
 * Timers live in flat arrays and `nextDeadline()` scans them: the scheduler has a handful of
 * timers per pCPU, and a scan of a few dozen doubles is cheaper than heap bookkeeping at that
 * size (the sched benchmark runs 4 pCPUs with 9 timers).
 */
export class VirtualTime implements SchedClock, SchedTimers {
  #now: number;
  readonly #at: number[] = [];
  readonly #callbacks: Array<(() => void) | null> = [];

  /** Starts the clock at `start` nanoseconds (default 0). */
  constructor(start = 0) {
    if (!Number.isSafeInteger(start) || start < 0) {
      throw new HypervisorError(
        'INVALID_ARGUMENT',
        `virtual time must start at a safe non-negative integer, got ${start}`,
      );
    }
    this.#now = start;
  }

  /** The current virtual time in nanoseconds. */
  now(): number {
    return this.#now;
  }

  /** Creates a disarmed timer. */
  create(callback: () => void): number {
    const handle = this.#at.length;
    this.#at[handle] = Number.POSITIVE_INFINITY;
    this.#callbacks[handle] = callback;
    return handle;
  }

  /** Arms a timer at absolute time `at`; times in the past fire at the current time. */
  set(handle: number, at: number): void {
    this.#check(handle);
    this.#at[handle] = Math.max(at, this.#now);
  }

  /** Disarms a timer. */
  stop(handle: number): void {
    this.#check(handle);
    this.#at[handle] = Number.POSITIVE_INFINITY;
  }

  /** Frees a timer. */
  destroy(handle: number): void {
    this.#check(handle);
    this.#at[handle] = Number.POSITIVE_INFINITY;
    this.#callbacks[handle] = null;
  }

  /** The earliest armed expiry, or `Infinity` when no timer is armed. */
  nextDeadline(): number {
    let best = Number.POSITIVE_INFINITY;
    const at = this.#at;
    for (let i = 0; i < at.length; i++) {
      const t = at[i] as number;
      if (t < best) best = t;
    }
    return best;
  }

  /**
   * Moves the clock to `t`, firing every timer that expires at or before `t` in order (the clock
   * reads each timer's expiry while its callback runs). Timers armed by callbacks for times
   * `<= t` fire in the same call.
   */
  advanceTo(t: number): void {
    if (!(t >= this.#now)) {
      throw new HypervisorError(
        'INVALID_ARGUMENT',
        `virtual time cannot go back from ${this.#now} to ${t}`,
      );
    }
    for (;;) {
      const h = this.#earliest(t);
      if (h < 0) break;
      this.#now = this.#at[h] as number;
      this.#at[h] = Number.POSITIVE_INFINITY;
      const cb = this.#callbacks[h];
      if (cb) cb();
    }
    this.#now = t;
  }

  /** Advances the clock by `dt` nanoseconds, firing timers on the way. */
  advance(dt: number): void {
    this.advanceTo(this.#now + dt);
  }

  /** The timer due at or before `limit` that fires first (earliest, then oldest), or -1. */
  #earliest(limit: number): number {
    let best = -1;
    let bestAt = Number.POSITIVE_INFINITY;
    const at = this.#at;
    for (let i = 0; i < at.length; i++) {
      const t = at[i] as number;
      // Strictly earlier wins, so among equal expiries the lowest (oldest) handle fires first.
      if (t <= limit && t < bestAt) {
        best = i;
        bestAt = t;
      }
    }
    return best;
  }

  #check(handle: number): void {
    if (
      !Number.isInteger(handle) ||
      handle < 0 ||
      handle >= this.#at.length ||
      this.#callbacks[handle] === null
    ) {
      throw new HypervisorError('NOT_FOUND', `no timer with handle ${handle}`);
    }
  }
}
