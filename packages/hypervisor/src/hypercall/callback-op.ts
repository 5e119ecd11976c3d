/**
 * `HYPERVISOR_callback_op(cmd, arg)` (#30) for 64-bit PV guests: registers the event, failsafe,
 * syscall, syscall32, sysenter and NMI entry points; only the NMI callback can be unregistered.
 *
 * @see xen/arch/x86/x86_64/traps.c (do_callback_op, register_guest_callback,
 *   unregister_guest_callback), xen/include/public/callback.h
 */
import { XEN_EFAULT, XEN_EINVAL, XEN_ENOSYS } from '../abi/errno.ts';
import type { HypercallContext } from './context.ts';
import { isCanonical, readStruct } from './guest-io.ts';

/** `CALLBACKOP_register`. @see xen/include/public/callback.h */
export const CALLBACKOP_register = 0;
/** `CALLBACKOP_unregister`. @see xen/include/public/callback.h */
export const CALLBACKOP_unregister = 1;

/** `CALLBACKTYPE_*`. @see xen/include/public/callback.h */
export const CALLBACKTYPE = {
  /** Event upcall entry. */ CALLBACKTYPE_event: 0,
  /** Failsafe entry (a bad segment on return to the guest). */ CALLBACKTYPE_failsafe: 1,
  /** 64-bit `syscall` from guest user mode. */ CALLBACKTYPE_syscall: 2,
  /** The old sysenter number, refused. */ CALLBACKTYPE_sysenter_deprecated: 3,
  /** NMI entry. */ CALLBACKTYPE_nmi: 4,
  /** `sysenter` from 32-bit guest user mode. */ CALLBACKTYPE_sysenter: 5,
  /** `syscall` from 32-bit guest user mode. */ CALLBACKTYPE_syscall32: 7,
} as const;

/** `CALLBACKF_mask_events`: enter the callback with events masked. @see xen/include/public/callback.h */
export const CALLBACKF_mask_events = 1;

/** Where registered callbacks go (the PV vCPU). */
export interface CallbackPort {
  /** Records callback `type` at `address` (canonical) with `CALLBACKF_*` `flags`. */
  registerCallback(type: number, address: bigint, flags: number): void;
  /** Drops the NMI callback. */
  unregisterNmi(): void;
}

/** Runs `HYPERVISOR_callback_op(cmd, arg)`; never throws for guest-chosen values. */
export function callbackOp(
  port: CallbackPort,
  ctx: HypercallContext,
  cmd: number,
  arg: number,
): number {
  switch (cmd) {
    case CALLBACKOP_register: {
      const r = readStruct(ctx.guest, arg, 16);
      if (r === null) return -XEN_EFAULT;
      const type = r.getUint16(0, true);
      const flags = r.getUint16(2, true);
      const address = r.getBigUint64(8, true);
      if (!isCanonical(address)) return -XEN_EINVAL;
      switch (type) {
        case CALLBACKTYPE.CALLBACKTYPE_event:
        case CALLBACKTYPE.CALLBACKTYPE_failsafe:
        case CALLBACKTYPE.CALLBACKTYPE_syscall:
        case CALLBACKTYPE.CALLBACKTYPE_syscall32:
        case CALLBACKTYPE.CALLBACKTYPE_sysenter:
        case CALLBACKTYPE.CALLBACKTYPE_nmi:
          port.registerCallback(type, address, flags);
          return 0;
        default:
          return -XEN_ENOSYS;
      }
    }
    case CALLBACKOP_unregister: {
      const r = readStruct(ctx.guest, arg, 4);
      if (r === null) return -XEN_EFAULT;
      switch (r.getUint16(0, true)) {
        case CALLBACKTYPE.CALLBACKTYPE_event:
        case CALLBACKTYPE.CALLBACKTYPE_failsafe:
        case CALLBACKTYPE.CALLBACKTYPE_syscall:
        case CALLBACKTYPE.CALLBACKTYPE_syscall32:
        case CALLBACKTYPE.CALLBACKTYPE_sysenter:
          return -XEN_EINVAL;
        case CALLBACKTYPE.CALLBACKTYPE_nmi:
          port.unregisterNmi();
          return 0;
        default:
          return -XEN_ENOSYS;
      }
    }
    default:
      return -XEN_ENOSYS;
  }
}
