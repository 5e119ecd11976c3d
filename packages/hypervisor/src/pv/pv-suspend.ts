/**
 * Suspend and resume of a PV domain. A PV kernel suspends with
 * `SCHEDOP_shutdown(SHUTDOWN_suspend)` (start_info's MFN in the third argument): the domain is
 * then shut down with reason `suspend` — its vCPUs stop, its memory, event channels and grants
 * stay — until the toolstack either destroys it (after a save) or resumes it in place.
 *
 * Resuming is `XEN_DOMCTL_resumedomain` (`domain_resume`: the domain is no longer shut down and
 * its vCPUs run again). libxc's `xc_domain_resume(fast = 1)` first sets vCPU 0's return register
 * to 1, so the guest's suspend hypercall returns 1: "the suspend was cancelled, you are still
 * in the same domain, nothing moved". A domain restored from a save image into a new domain is
 * not shut down either, and its hypercall returns the 0 the saved context holds: "you are in a
 * new domain; read start_info again" (the restore has rewritten start_info's store and console
 * frames).
 *
 * @see xen/common/domain.c (domain_shutdown, domain_resume)
 * @see xen/common/domctl.c (XEN_DOMCTL_resumedomain)
 * @see tools/libs/guest/xg_resume.c (modify_returncode, xc_domain_resume)
 * @module
 */
import { XEN_EINVAL } from '../abi/errno.ts';
import { SHUTDOWN_suspend } from '../abi/sched.ts';
import type { PvCpuPort } from './ports.ts';

/** RAX (EAX for a 32-bit guest) in the CPU's register arrays. */
const RAX = 0;

/** What resuming needs of a vCPU (a `PvVcpu` or `Pv32Vcpu` fits). */
export interface SuspendableVcpu {
  /** The `SHUTDOWN_*` reason once the domain has shut down, else -1. */
  shutdownReason: number;
  /** The CPU model: the suspend hypercall's return value is in RAX / EAX. */
  readonly cpu: Pick<PvCpuPort, 'lo' | 'hi'>;
}

/** How a suspended domain goes on ({@link resumeSuspendedDomain}). */
export const RESUME_HOW = {
  /**
   * In a new domain, after a restore: the suspend hypercall returns 0 (the value the saved
   * context holds) and the guest reconnects from start_info.
   */
  NEW_DOMAIN: 0,
  /** In place (libxc's fast resume): the suspend hypercall returns 1, "cancelled". */
  CANCELLED: 1,
} as const;

/** A value of {@link RESUME_HOW}. */
export type ResumeHow = (typeof RESUME_HOW)[keyof typeof RESUME_HOW];

/**
 * Whether a domain (its vCPUs, vCPU 0 first) has suspended: it is shut down with reason
 * `SHUTDOWN_suspend`.
 */
export function isSuspended(vcpus: readonly SuspendableVcpu[]): boolean {
  return vcpus[0]?.shutdownReason === SHUTDOWN_suspend;
}

/**
 * Resumes a suspended domain (its vCPUs, vCPU 0 first): none is shut down afterwards, and with
 * {@link RESUME_HOW.CANCELLED} vCPU 0's suspend hypercall returns 1 (with `NEW_DOMAIN` it
 * returns what its saved context holds, 0). Returns 0, or `-XEN_EINVAL` when the domain has
 * not suspended (libxc refuses a fast resume then: "domain not in suspended state"); nothing
 * changes in that case. The caller makes the vCPUs runnable again (the scheduler's part).
 */
export function resumeSuspendedDomain(vcpus: readonly SuspendableVcpu[], how: ResumeHow): number {
  const first = vcpus[0];
  if (first === undefined || !isSuspended(vcpus)) return -XEN_EINVAL;
  if (how === RESUME_HOW.CANCELLED) {
    first.cpu.lo[RAX] = 1;
    first.cpu.hi[RAX] = 0;
  }
  for (const v of vcpus) v.shutdownReason = -1;
  return 0;
}
