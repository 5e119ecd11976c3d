/**
 * The timer and vcpu_info subset of `HYPERVISOR_vcpu_op(cmd, vcpuid, arg)` (#24), and
 * `HYPERVISOR_set_timer_op` (#15), over {@link VcpuTimers} and {@link EventChannels}. Other
 * vcpu_op commands need domain and vCPU objects that do not exist yet and return -ENOSYS.
 *
 * This file implements: VCPUOP_set_periodic_timer, stop_periodic_timer, set_singleshot_timer,
 * stop_singleshot_timer, register_vcpu_info; set_timer_op (64-bit value or 32-bit lo/hi pair).
 *
 * @see xen/common/domain.c (do_vcpu_op)
 * @see xen/common/sched/core.c (do_set_timer_op)
 * @see xen/include/public/vcpu.h
 */
import { XEN_EFAULT, XEN_EINVAL, XEN_ENOENT, XEN_ENOSYS } from '../abi/errno.ts';
import {
  VCPUOP_register_vcpu_info,
  VCPUOP_set_periodic_timer,
  VCPUOP_set_singleshot_timer,
  VCPUOP_stop_periodic_timer,
  VCPUOP_stop_singleshot_timer,
} from '../abi/vcpu.ts';
import type { EventChannels } from '../event-channel/event-channels.ts';
import { PAGE_SIZE } from '../guest-memory.ts';
import { argView, copyFromGuest } from '../internal/guest-struct.ts';
import type { VcpuTimers } from '../time/vcpu-timers.ts';
import type { HypercallContext } from './context.ts';

/** The services vcpu_op's timer subset runs on. */
export interface VcpuOpHost {
  /** Event channels (vcpu_info registration, vCPU count). */
  readonly evtchn: EventChannels;
  /** Guest timers. */
  readonly timers: VcpuTimers;
}

/**
 * Runs the implemented subset of `HYPERVISOR_vcpu_op(cmd, vcpuid, arg)` for the caller in
 * `ctx`. Returns 0 or -XEN_E*: -ENOENT for a vCPU the domain does not have, -EINVAL for
 * single-shot operations on another vCPU than the caller (as Xen), -EFAULT for bad pointers.
 */
export function vcpuOp(
  host: VcpuOpHost,
  ctx: HypercallContext,
  cmd: number,
  vcpuid: number,
  arg: number,
): number {
  if (!Number.isInteger(vcpuid) || vcpuid < 0 || vcpuid >= host.evtchn.vcpuCount(ctx.domid))
    return -XEN_ENOENT;
  switch (cmd) {
    case VCPUOP_set_periodic_timer:
      if (!copyFromGuest(ctx.guest, arg, 8)) return -XEN_EFAULT;
      return host.timers.setPeriodic(ctx.domid, vcpuid, argView.getBigUint64(0, true));
    case VCPUOP_stop_periodic_timer:
      return host.timers.stopPeriodic(ctx.domid, vcpuid);
    case VCPUOP_set_singleshot_timer:
      if (vcpuid !== ctx.vcpu) return -XEN_EINVAL;
      if (!copyFromGuest(ctx.guest, arg, 12)) return -XEN_EFAULT;
      return host.timers.setSingleshot(
        ctx.domid,
        vcpuid,
        argView.getBigUint64(0, true),
        argView.getUint32(8, true),
      );
    case VCPUOP_stop_singleshot_timer:
      if (vcpuid !== ctx.vcpu) return -XEN_EINVAL;
      return host.timers.stopSingleshot(ctx.domid, vcpuid);
    case VCPUOP_register_vcpu_info: {
      if (!copyFromGuest(ctx.guest, arg, 16)) return -XEN_EFAULT;
      const mfn = argView.getBigUint64(0, true);
      const offset = argView.getUint32(8, true);
      if (mfn >= 2n ** 40n || offset >= PAGE_SIZE) return -XEN_EINVAL;
      return host.evtchn.registerVcpuInfo(ctx.domid, vcpuid, Number(mfn) * PAGE_SIZE + offset);
    }
    default:
      return -XEN_ENOSYS;
  }
}

/**
 * `HYPERVISOR_set_timer_op`: on x86_64 `lo` is the whole 64-bit deadline (pass `hi` = 0); on
 * x86_32 the deadline arrives split as (lo, hi). Returns 0.
 */
export function setTimerOp(
  timers: VcpuTimers,
  ctx: HypercallContext,
  lo: bigint,
  hi: bigint,
): number {
  const deadline =
    ctx.abi === 'x86_32'
      ? (BigInt.asUintN(32, hi) << 32n) | BigInt.asUintN(32, lo)
      : BigInt.asUintN(64, lo);
  return timers.setTimerOp(ctx.domid, ctx.vcpu, deadline);
}
