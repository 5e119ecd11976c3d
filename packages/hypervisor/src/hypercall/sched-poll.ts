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

/**
 * Checks a `struct sched_poll` at `arg` (24 bytes: ports handle @0, nr_ports @8, timeout @16;
 * the compat struct of an `x86_32` caller is 16 bytes: handle @0, nr_ports @4, timeout @8);
 * returns 0 (then yield) or -XEN_E*.
 */
export function schedPoll(evtchn: EventChannels, ctx: HypercallContext, arg: number): number {
  const compat = ctx.abi === 'x86_32';
  const p = readStruct(ctx.guest, arg, compat ? 16 : 24);
  if (p === null) return -XEN_EFAULT;
  const list = compat ? p.getUint32(0, true) : pointerField(p, 0);
  const n = p.getUint32(compat ? 4 : 8, true);
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
