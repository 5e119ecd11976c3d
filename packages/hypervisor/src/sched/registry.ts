import { HypervisorError } from '../errors.ts';
import { CreditScheduler } from './credit.ts';
import type { SchedulerOps } from './ops.ts';
import { SedfScheduler } from './sedf.ts';

/** The `optName`s {@link createSchedulerOps} knows, like the `sched=` boot option. */
export const SCHEDULER_NAMES: readonly string[] = ['credit', 'sedf'];

/**
 * Creates a fresh scheduler by its `optName` ("credit" or "sedf"), as Xen's `sched=` option
 * selects one of the registered schedulers. Throws `INVALID_ARGUMENT` for an unknown name.
 *
 * @see xen/common/sched/core.c (scheduler_init, REGISTER_SCHEDULER)
 */
export function createSchedulerOps(optName: string): SchedulerOps {
  switch (optName) {
    case 'credit':
      return new CreditScheduler();
    case 'sedf':
      return new SedfScheduler();
    default:
      throw new HypervisorError(
        'INVALID_ARGUMENT',
        `unknown scheduler "${optName}" (known: ${SCHEDULER_NAMES.join(', ')})`,
      );
  }
}
