/**
 * The scheduler's one-shot timers on the host's system time, kept apart from the guests' timers
 * so that "every guest is blocked and no guest timer is armed" can still be recognised as idle
 * while the scheduler's accounting tick is armed.
 * @module
 */
import type { SchedTimers } from '@typevisor/hypervisor';

/** A set of one-shot timers fired by {@link SchedTimerSet.fireDue}. */
export class SchedTimerSet implements SchedTimers {
  private readonly callbacks: ((() => void) | undefined)[] = [];
  private readonly deadlines: number[] = [];

  /** Registers a timer; returns its handle. */
  create(callback: () => void): number {
    this.callbacks.push(callback);
    this.deadlines.push(-1);
    return this.callbacks.length - 1;
  }

  /** Arms timer `handle` for system time `at` (ns). */
  set(handle: number, at: number): void {
    if (handle >= 0 && handle < this.deadlines.length) this.deadlines[handle] = at;
  }

  /** Disarms timer `handle`. */
  stop(handle: number): void {
    if (handle >= 0 && handle < this.deadlines.length) this.deadlines[handle] = -1;
  }

  /** Forgets timer `handle`. */
  destroy(handle: number): void {
    this.stop(handle);
    this.callbacks[handle] = undefined;
  }

  /** The earliest armed deadline, or -1. */
  nextDeadline(): number {
    let best = -1;
    for (const at of this.deadlines) if (at >= 0 && (best < 0 || at < best)) best = at;
    return best;
  }

  /** Fires, earliest first, every armed timer due at or before `now`. */
  fireDue(now: number): void {
    for (;;) {
      let best = -1;
      for (let h = 0; h < this.deadlines.length; h++) {
        const at = this.deadlines[h] ?? -1;
        if (at >= 0 && at <= now && (best < 0 || at < (this.deadlines[best] ?? 0))) best = h;
      }
      if (best < 0) return;
      this.deadlines[best] = -1;
      this.callbacks[best]?.();
    }
  }
}
