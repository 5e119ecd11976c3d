/**
 * `SCHEDOP_poll` of `HYPERVISOR_sched_op` (#29): wait until one of a list of event-channel ports
 * is pending or a timeout passes. The argument checks and their errnos are Xen's: -EFAULT for an
 * unreadable `struct sched_poll` or port list, -EINVAL for more than 128 ports or a port that is
 * not valid (port 0, or at or beyond the domain's port count).
 *
 * Deliberate difference: Typevisor does not park the vCPU on the ports. A valid poll returns 0
 * and the caller yields the physical CPU, so the guest resumes at the next scheduling point
 * (a spurious wakeup, which poll callers already handle by re-checking their ports).
 *
 * @see xen/common/sched/core.c (do_poll), xen/include/public/sched.h (struct sched_poll)
 */
import { XEN_EFAULT, XEN_EINVAL } from '../abi/errno.ts';
import type { EventChannels } from '../event-channel/event-channels.ts';
import type { HypercallContext } from './context.ts';
import { pointerField, readStruct } from './guest-io.ts';

/** Most ports one SCHEDOP_poll may name. @see xen/common/sched/core.c (do_poll) */
export const SCHED_POLL_MAX_PORTS = 128;

/** Checks a `struct sched_poll` at `arg`; returns 0 (then yield) or -XEN_E*. */
export function schedPoll(evtchn: EventChannels, ctx: HypercallContext, arg: number): number {
  const p = readStruct(ctx.guest, arg, 24);
  if (p === null) return -XEN_EFAULT;
  const list = pointerField(p, 0);
  const n = p.getUint32(8, true);
  if (n > SCHED_POLL_MAX_PORTS) return -XEN_EINVAL;
  const max = evtchn.hasDomain(ctx.domid) ? evtchn.maxPorts(ctx.domid) : 0;
  for (let i = 0; i < n; i++) {
    const v = readStruct(ctx.guest, list + i * 4, 4);
    if (v === null) return -XEN_EFAULT;
    const port = v.getUint32(0, true);
    if (port === 0 || port >= max) return -XEN_EINVAL;
  }
  return 0;
}
