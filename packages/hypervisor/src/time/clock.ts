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

/** A clock that only moves when told to: same inputs, same outputs. */
export class DeterministicClock implements SystemClock {
  private ns: number;

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

  /** Moves time forward by `deltaNs` (a non-negative integer) and returns the new time. */
  advance(deltaNs: number): number {
    if (!Number.isSafeInteger(deltaNs) || deltaNs < 0) {
      throw new HypervisorError(
        'INVALID_ARGUMENT',
        `deltaNs must be a non-negative safe integer, got ${deltaNs}`,
      );
    }
    this.ns += deltaNs;
    return this.ns;
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
