/**
 * Event-channel hypercall sub-ops, channel states and argument layouts (identical on both x86 ABIs).
 * @see xen/include/public/event_channel.h
 */

/** `HYPERVISOR_event_channel_op` command `bind_interdomain`. @see xen/include/public/event_channel.h */
export const EVTCHNOP_bind_interdomain = 0;
/** `HYPERVISOR_event_channel_op` command `bind_virq`. @see xen/include/public/event_channel.h */
export const EVTCHNOP_bind_virq = 1;
/** `HYPERVISOR_event_channel_op` command `bind_pirq`. @see xen/include/public/event_channel.h */
export const EVTCHNOP_bind_pirq = 2;
/** `HYPERVISOR_event_channel_op` command `close`. @see xen/include/public/event_channel.h */
export const EVTCHNOP_close = 3;
/** `HYPERVISOR_event_channel_op` command `send`. @see xen/include/public/event_channel.h */
export const EVTCHNOP_send = 4;
/** `HYPERVISOR_event_channel_op` command `status`. @see xen/include/public/event_channel.h */
export const EVTCHNOP_status = 5;
/** `HYPERVISOR_event_channel_op` command `alloc_unbound`. @see xen/include/public/event_channel.h */
export const EVTCHNOP_alloc_unbound = 6;
/** `HYPERVISOR_event_channel_op` command `bind_ipi`. @see xen/include/public/event_channel.h */
export const EVTCHNOP_bind_ipi = 7;
/** `HYPERVISOR_event_channel_op` command `bind_vcpu`. @see xen/include/public/event_channel.h */
export const EVTCHNOP_bind_vcpu = 8;
/** `HYPERVISOR_event_channel_op` command `unmask`. @see xen/include/public/event_channel.h */
export const EVTCHNOP_unmask = 9;
/** `HYPERVISOR_event_channel_op` command `reset`. @see xen/include/public/event_channel.h */
export const EVTCHNOP_reset = 10;
/** `HYPERVISOR_event_channel_op` command `init_control`. @see xen/include/public/event_channel.h */
export const EVTCHNOP_init_control = 11;
/** `HYPERVISOR_event_channel_op` command `expand_array`. @see xen/include/public/event_channel.h */
export const EVTCHNOP_expand_array = 12;
/** `HYPERVISOR_event_channel_op` command `set_priority`. @see xen/include/public/event_channel.h */
export const EVTCHNOP_set_priority = 13;
/** EVTCHNOP_status: channel is not in use. @see xen/include/public/event_channel.h */
export const EVTCHNSTAT_closed = 0;
/** EVTCHNOP_status: channel is waiting for a remote connection. @see xen/include/public/event_channel.h */
export const EVTCHNSTAT_unbound = 1;
/** EVTCHNOP_status: channel is connected to a remote domain. @see xen/include/public/event_channel.h */
export const EVTCHNSTAT_interdomain = 2;
/** EVTCHNOP_status: channel is bound to a physical IRQ. @see xen/include/public/event_channel.h */
export const EVTCHNSTAT_pirq = 3;
/** EVTCHNOP_status: channel is bound to a virtual IRQ. @see xen/include/public/event_channel.h */
export const EVTCHNSTAT_virq = 4;
/** EVTCHNOP_status: channel is bound to a virtual IPI line. @see xen/include/public/event_channel.h */
export const EVTCHNSTAT_ipi = 5;
/** 2-level ABI port count for 32-bit guests (32-bit words squared). @see xen/include/public/event_channel.h */
export const EVTCHN_2L_NR_CHANNELS_X86_32 = 1024;
/** 2-level ABI port count for 64-bit guests (64-bit words squared). @see xen/include/public/event_channel.h */
export const EVTCHN_2L_NR_CHANNELS_X86_64 = 4096;

/**
 * Byte offsets of a guest argument struct's fields, keyed by Xen's field names, plus its `size`.
 */
export type StructLayout<Field extends string> = { readonly [K in Field | 'size']: number };

/**
 * Byte offsets and sizes of the event-channel argument structs (same on x86_32 and x86_64).
 * @see xen/include/public/event_channel.h
 */
export const EVTCHN_LAYOUT: {
  /** struct evtchn_alloc_unbound. */
  readonly alloc_unbound: StructLayout<'dom' | 'remote_dom' | 'port'>;
  /** struct evtchn_bind_interdomain. */
  readonly bind_interdomain: StructLayout<'remote_dom' | 'remote_port' | 'local_port'>;
  /** struct evtchn_bind_virq. */
  readonly bind_virq: StructLayout<'virq' | 'vcpu' | 'port'>;
  /** struct evtchn_bind_pirq. */
  readonly bind_pirq: StructLayout<'pirq' | 'flags' | 'port'>;
  /** struct evtchn_bind_ipi. */
  readonly bind_ipi: StructLayout<'vcpu' | 'port'>;
  /** struct evtchn_close, evtchn_send and evtchn_unmask (one port field). */
  readonly port_only: StructLayout<'port'>;
  /** struct evtchn_status. */
  readonly status: StructLayout<'dom' | 'port' | 'status' | 'vcpu' | 'u_dom' | 'u_port' | 'u_virq'>;
  /** struct evtchn_bind_vcpu. */
  readonly bind_vcpu: StructLayout<'port' | 'vcpu'>;
  /** struct evtchn_reset. */
  readonly reset: StructLayout<'dom'>;
} = {
  alloc_unbound: { size: 8, dom: 0, remote_dom: 2, port: 4 },
  bind_interdomain: { size: 12, remote_dom: 0, remote_port: 4, local_port: 8 },
  bind_virq: { size: 12, virq: 0, vcpu: 4, port: 8 },
  bind_pirq: { size: 12, pirq: 0, flags: 4, port: 8 },
  bind_ipi: { size: 8, vcpu: 0, port: 4 },
  port_only: { size: 4, port: 0 },
  status: { size: 24, dom: 0, port: 4, status: 8, vcpu: 12, u_dom: 16, u_port: 20, u_virq: 16 },
  bind_vcpu: { size: 8, port: 0, vcpu: 4 },
  reset: { size: 2, dom: 0 },
};
