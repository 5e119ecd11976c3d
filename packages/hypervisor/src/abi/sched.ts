/**
 * Scheduler-op commands and shutdown reasons.
 * @see xen/include/public/sched.h
 */

/** `HYPERVISOR_sched_op` command `yield`. @see xen/include/public/sched.h */
export const SCHEDOP_yield = 0;
/** `HYPERVISOR_sched_op` command `block`. @see xen/include/public/sched.h */
export const SCHEDOP_block = 1;
/** `HYPERVISOR_sched_op` command `shutdown`. @see xen/include/public/sched.h */
export const SCHEDOP_shutdown = 2;
/** `HYPERVISOR_sched_op` command `poll`. @see xen/include/public/sched.h */
export const SCHEDOP_poll = 3;
/** `HYPERVISOR_sched_op` command `remote_shutdown`. @see xen/include/public/sched.h */
export const SCHEDOP_remote_shutdown = 4;
/** `HYPERVISOR_sched_op` command `shutdown_code`. @see xen/include/public/sched.h */
export const SCHEDOP_shutdown_code = 5;
/** `HYPERVISOR_sched_op` command `watchdog`. @see xen/include/public/sched.h */
export const SCHEDOP_watchdog = 6;
/** `HYPERVISOR_sched_op` command `pin_override`. @see xen/include/public/sched.h */
export const SCHEDOP_pin_override = 7;
/** Shutdown reason `poweroff`. @see xen/include/public/sched.h */
export const SHUTDOWN_poweroff = 0;
/** Shutdown reason `reboot`. @see xen/include/public/sched.h */
export const SHUTDOWN_reboot = 1;
/** Shutdown reason `suspend`. @see xen/include/public/sched.h */
export const SHUTDOWN_suspend = 2;
/** Shutdown reason `crash`. @see xen/include/public/sched.h */
export const SHUTDOWN_crash = 3;
/** Shutdown reason `watchdog`. @see xen/include/public/sched.h */
export const SHUTDOWN_watchdog = 4;
/** Shutdown reason `soft_reset`. @see xen/include/public/sched.h */
export const SHUTDOWN_soft_reset = 5;
/** Largest valid shutdown reason. @see xen/include/public/sched.h */
export const SHUTDOWN_MAX = 5;
