/**
 * The ports the scheduler host stands on: a clock and one-shot timers, both in nanoseconds of
 * Xen system time. {@link VirtualTime} implements both deterministically; a real-time embedder
 * implements them over its event loop.
 *
 * @see xen/common/timer.c
 * @see xen/include/xen/time.h
 */

/** Reads the current system time, like Xen's `NOW()`. */
export interface SchedClock {
  /** Nanoseconds of system time; never decreases. */
  now(): number;
}

/**
 * One-shot timers, like Xen's `init_timer`/`set_timer`/`stop_timer`. A timer is created once
 * with its callback and then armed and disarmed any number of times, so steady-state scheduling
 * allocates nothing.
 */
export interface SchedTimers {
  /** Creates a disarmed timer that calls `callback` when it expires; returns its handle. */
  create(callback: () => void): number;
  /** Arms (or re-arms) the timer to expire at absolute time `at` (ns); a time in the past expires as soon as possible. */
  set(handle: number, at: number): void;
  /** Disarms the timer; harmless if it is not armed. */
  stop(handle: number): void;
  /** Frees the timer for good; it will never fire again. */
  destroy(handle: number): void;
}
