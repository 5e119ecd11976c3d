import { HypervisorError } from '../errors.ts';
import type { SchedClock, SchedTimers } from './ports.ts';

/** The host timer functions {@link RealTime} needs; browsers, Node and Deno all provide them. */
interface HostTimerApi {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
  performance?: { now(): number };
}

/**
 * Wall-clock time for the scheduler: `now()` in nanoseconds since construction (from
 * `performance.now()`, else `Date.now()`), timers on the platform's `setTimeout`. Nothing here
 * is deterministic; tests use {@link VirtualTime}. Platform-neutral: it only reads timer
 * functions from `globalThis`.
 */
export class RealTime implements SchedClock, SchedTimers {
  readonly #api: HostTimerApi;
  readonly #origin: number;
  readonly #callbacks: Array<(() => void) | null> = [];
  readonly #ids: unknown[] = [];

  /** Starts the clock at 0; throws `INVALID_STATE` if the platform has no `setTimeout`. */
  constructor() {
    const g = globalThis as unknown as Partial<HostTimerApi>;
    if (typeof g.setTimeout !== 'function' || typeof g.clearTimeout !== 'function') {
      throw new HypervisorError(
        'INVALID_STATE',
        'RealTime needs setTimeout/clearTimeout on globalThis',
      );
    }
    this.#api = g as HostTimerApi;
    this.#origin = this.#ms();
  }

  /** Nanoseconds since construction, never decreasing. */
  now(): number {
    return Math.round((this.#ms() - this.#origin) * 1e6);
  }

  /** Creates a disarmed timer. */
  create(callback: () => void): number {
    this.#callbacks.push(callback);
    this.#ids.push(undefined);
    return this.#callbacks.length - 1;
  }

  /** Arms the timer for absolute time `at` (ns). */
  set(handle: number, at: number): void {
    this.stop(handle);
    const cb = this.#callbacks[handle] as () => void;
    const delayMs = Math.max(0, (at - this.now()) / 1e6);
    this.#ids[handle] = this.#api.setTimeout(() => {
      this.#ids[handle] = undefined;
      cb();
    }, delayMs);
  }

  /** Disarms the timer. */
  stop(handle: number): void {
    this.#check(handle);
    const id = this.#ids[handle];
    if (id !== undefined) {
      this.#api.clearTimeout(id);
      this.#ids[handle] = undefined;
    }
  }

  /** Frees the timer. */
  destroy(handle: number): void {
    this.stop(handle);
    this.#callbacks[handle] = null;
  }

  /** Disarms every timer (call before dropping a host that runs on real time). */
  stopAll(): void {
    for (let h = 0; h < this.#ids.length; h++) if (this.#callbacks[h] !== null) this.stop(h);
  }

  #ms(): number {
    const p = this.#api.performance ?? (globalThis as unknown as Partial<HostTimerApi>).performance;
    return p !== undefined ? p.now() : Date.now();
  }

  #check(handle: number): void {
    if (
      !Number.isInteger(handle) ||
      handle < 0 ||
      handle >= this.#callbacks.length ||
      this.#callbacks[handle] === null
    ) {
      throw new HypervisorError('NOT_FOUND', `no timer with handle ${handle}`);
    }
  }
}
