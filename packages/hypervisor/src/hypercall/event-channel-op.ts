/**
 * `HYPERVISOR_event_channel_op(cmd, arg)` (#32) and the legacy `event_channel_op_compat(op)` (#16):
 * copy the argument struct in, run the operation, copy OUT fields back; -EFAULT on a bad pointer,
 * -ENOSYS for unknown commands and the FIFO ABI (init_control, expand_array, set_priority).
 *
 * This file implements: alloc_unbound, bind_interdomain, bind_virq, bind_pirq (refused), bind_ipi,
 * close, send, status, bind_vcpu, unmask, reset.
 *
 * @see xen/common/event_channel.c (do_event_channel_op)
 * @see xen/include/public/event_channel.h
 */
import { XEN_EFAULT, XEN_ENOSYS } from '../abi/errno.ts';
import {
  EVTCHNOP_alloc_unbound,
  EVTCHNOP_bind_interdomain,
  EVTCHNOP_bind_ipi,
  EVTCHNOP_bind_pirq,
  EVTCHNOP_bind_vcpu,
  EVTCHNOP_bind_virq,
  EVTCHNOP_close,
  EVTCHNOP_reset,
  EVTCHNOP_send,
  EVTCHNOP_status,
  EVTCHNOP_unmask,
  EVTCHNSTAT_interdomain,
  EVTCHNSTAT_unbound,
  EVTCHNSTAT_virq,
  EVTCHN_LAYOUT as L,
} from '../abi/event-channel.ts';
import type { EventChannels } from '../event-channel/event-channels.ts';
import type { GuestBytes } from '../guest-memory.ts';
import { argView, copyFromGuest, copyToGuest } from '../internal/guest-struct.ts';
import type { HypercallContext } from './context.ts';

/** Size of the legacy `struct evtchn_op { u32 cmd; union u; }`. */
const EVTCHN_OP_COMPAT_SIZE = 28;

/** Stores an allocated port in the OUT field and copies the struct back (errors pass through). */
function outPort(mem: GuestBytes, arg: number, size: number, field: number, value: number): number {
  if (value < 0) return value;
  argView.setUint32(field, value, true);
  return copyToGuest(mem, arg, 0, size) ? 0 : -XEN_EFAULT;
}

/**
 * Runs `HYPERVISOR_event_channel_op(cmd, arg)` for the caller in `ctx`. Returns the hypercall's
 * return value (0 or -XEN_E*); never throws for guest-chosen values.
 */
export function eventChannelOp(
  evtchn: EventChannels,
  ctx: HypercallContext,
  cmd: number,
  arg: number,
): number {
  const mem = ctx.guest;
  const self = ctx.domid;
  switch (cmd) {
    case EVTCHNOP_alloc_unbound: {
      const s = L.alloc_unbound;
      if (!copyFromGuest(mem, arg, s.size)) return -XEN_EFAULT;
      const rc = evtchn.allocUnbound(
        self,
        argView.getUint16(s.dom, true),
        argView.getUint16(s.remote_dom, true),
      );
      return outPort(mem, arg, s.size, s.port, rc);
    }
    case EVTCHNOP_bind_interdomain: {
      const s = L.bind_interdomain;
      if (!copyFromGuest(mem, arg, s.size)) return -XEN_EFAULT;
      const rc = evtchn.bindInterdomain(
        self,
        argView.getUint16(s.remote_dom, true),
        argView.getUint32(s.remote_port, true),
      );
      return outPort(mem, arg, s.size, s.local_port, rc);
    }
    case EVTCHNOP_bind_virq: {
      const s = L.bind_virq;
      if (!copyFromGuest(mem, arg, s.size)) return -XEN_EFAULT;
      const rc = evtchn.bindVirq(
        self,
        argView.getUint32(s.virq, true),
        argView.getUint32(s.vcpu, true),
      );
      return outPort(mem, arg, s.size, s.port, rc);
    }
    case EVTCHNOP_bind_pirq: {
      const s = L.bind_pirq;
      if (!copyFromGuest(mem, arg, s.size)) return -XEN_EFAULT;
      return outPort(
        mem,
        arg,
        s.size,
        s.port,
        evtchn.bindPirq(self, argView.getUint32(s.pirq, true)),
      );
    }
    case EVTCHNOP_bind_ipi: {
      const s = L.bind_ipi;
      if (!copyFromGuest(mem, arg, s.size)) return -XEN_EFAULT;
      return outPort(
        mem,
        arg,
        s.size,
        s.port,
        evtchn.bindIpi(self, argView.getUint32(s.vcpu, true)),
      );
    }
    case EVTCHNOP_close:
    case EVTCHNOP_send:
    case EVTCHNOP_unmask: {
      if (!copyFromGuest(mem, arg, L.port_only.size)) return -XEN_EFAULT;
      const p = argView.getUint32(L.port_only.port, true);
      if (cmd === EVTCHNOP_send) return evtchn.send(self, p);
      return cmd === EVTCHNOP_close ? evtchn.close(self, p) : evtchn.unmask(self, p);
    }
    case EVTCHNOP_status: {
      const s = L.status;
      if (!copyFromGuest(mem, arg, s.size)) return -XEN_EFAULT;
      const st = evtchn.status(
        self,
        argView.getUint16(s.dom, true),
        argView.getUint32(s.port, true),
      );
      if (typeof st === 'number') return st;
      argView.setUint32(s.status, st.status, true);
      argView.setUint32(s.vcpu, st.vcpu, true);
      argView.setUint32(s.u_dom, 0, true);
      argView.setUint32(s.u_port, 0, true);
      if (st.status === EVTCHNSTAT_unbound || st.status === EVTCHNSTAT_interdomain) {
        argView.setUint16(s.u_dom, st.dom, true);
        if (st.status === EVTCHNSTAT_interdomain) argView.setUint32(s.u_port, st.port, true);
      } else if (st.status === EVTCHNSTAT_virq) {
        argView.setUint32(s.u_virq, st.port, true);
      }
      return copyToGuest(mem, arg, 0, s.size) ? 0 : -XEN_EFAULT;
    }
    case EVTCHNOP_bind_vcpu: {
      const s = L.bind_vcpu;
      if (!copyFromGuest(mem, arg, s.size)) return -XEN_EFAULT;
      return evtchn.bindVcpu(
        self,
        argView.getUint32(s.port, true),
        argView.getUint32(s.vcpu, true),
      );
    }
    case EVTCHNOP_reset: {
      if (!copyFromGuest(mem, arg, L.reset.size)) return -XEN_EFAULT;
      return evtchn.reset(self, argView.getUint16(L.reset.dom, true));
    }
    default:
      return -XEN_ENOSYS;
  }
}

/**
 * Runs the legacy `HYPERVISOR_event_channel_op_compat(op)` (#16), whose argument is
 * `struct evtchn_op { u32 cmd; union u; }` (28 bytes); the union is processed in place.
 */
export function eventChannelOpCompat(
  evtchn: EventChannels,
  ctx: HypercallContext,
  arg: number,
): number {
  if (!copyFromGuest(ctx.guest, arg, EVTCHN_OP_COMPAT_SIZE)) return -XEN_EFAULT;
  return eventChannelOp(evtchn, ctx, argView.getUint32(0, true), arg + 4);
}
