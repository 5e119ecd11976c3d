/**
 * Domain IDs, VIRQs and limits from Xen's main public header.
 * @see xen/include/public/xen.h
 */

/** First reserved domain ID; IDs at or above it are never real domains. @see xen/include/public/xen.h */
export const DOMID_FIRST_RESERVED = 0x7ff0;
/** The calling domain, as an argument to hypercalls. @see xen/include/public/xen.h */
export const DOMID_SELF = 0x7ff0;
/** The I/O pseudo-domain (owner of MMIO frames). @see xen/include/public/xen.h */
export const DOMID_IO = 0x7ff1;
/** The hypervisor pseudo-domain (owner of Xen heap frames). @see xen/include/public/xen.h */
export const DOMID_XEN = 0x7ff2;
/** The copy-on-write pseudo-domain. @see xen/include/public/xen.h */
export const DOMID_COW = 0x7ff3;
/** An invalid domain ID. @see xen/include/public/xen.h */
export const DOMID_INVALID = 0x7ff4;
/** Any domain (used where a remote domain is not yet known). @see xen/include/public/xen.h */
export const DOMID_ANY = 0x7ff5;
/** The idle domain. @see xen/include/public/xen.h */
export const DOMID_IDLE = 0x7fff;
/** Mask of the significant domain-ID bits. @see xen/include/public/xen.h */
export const DOMID_MASK = 0x7fff;
/** Number of vcpu_info slots in shared_info. @see xen/include/public/xen.h */
export const XEN_LEGACY_MAX_VCPUS = 32;
/** Per-vCPU VIRQ: timer tick (periodic or single-shot expiry). @see xen/include/public/xen.h */
export const VIRQ_TIMER = 0;
/** Per-vCPU VIRQ: request guest to dump debug information. @see xen/include/public/xen.h */
export const VIRQ_DEBUG = 1;
/** Global VIRQ: (dom0) bytes received on the emergency console. @see xen/include/public/xen.h */
export const VIRQ_CONSOLE = 2;
/** Global VIRQ: (dom0) exceptional event for some domain. @see xen/include/public/xen.h */
export const VIRQ_DOM_EXC = 3;
/** Global VIRQ: (dom0) trace buffer has records available. @see xen/include/public/xen.h */
export const VIRQ_TBUF = 4;
/** Global VIRQ: (dom0) a domain has paused for debugging. @see xen/include/public/xen.h */
export const VIRQ_DEBUGGER = 6;
/** Per-vCPU VIRQ: Xenoprofile data available. @see xen/include/public/xen.h */
export const VIRQ_XENOPROF = 7;
/** Global VIRQ: (dom0) Xen console ring updated. @see xen/include/public/xen.h */
export const VIRQ_CON_RING = 8;
/** Global VIRQ: (dom0) a physical CPU changed state. @see xen/include/public/xen.h */
export const VIRQ_PCPU_STATE = 9;
/** Global VIRQ: (dom0) a memory event is pending. @see xen/include/public/xen.h */
export const VIRQ_MEM_EVENT = 10;
/** Per-domain VIRQ: Argo interdomain message notification. @see xen/include/public/xen.h */
export const VIRQ_ARGO = 11;
/** Global VIRQ: (dom0) low on heap memory. @see xen/include/public/xen.h */
export const VIRQ_ENOMEM = 12;
/** Per-vCPU VIRQ: PMU interrupt. @see xen/include/public/xen.h */
export const VIRQ_XENPMU = 13;
/** First architecture-specific VIRQ (x86: VIRQ_MCA). @see xen/include/public/xen.h */
export const VIRQ_ARCH_0 = 16;
/** x86 machine-check VIRQ (VIRQ_ARCH_0), global. @see xen/include/public/xen.h */
export const VIRQ_MCA = 16;
/** Last architecture-specific VIRQ. @see xen/include/public/xen.h */
export const VIRQ_ARCH_7 = 23;
/** Number of VIRQs. @see xen/include/public/xen.h */
export const NR_VIRQS = 24;
