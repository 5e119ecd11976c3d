/**
 * The SMP part of `HYPERVISOR_vcpu_op` for a PV domain with several vCPUs: the vCPU id check
 * against the domain's `max_vcpus`, VCPUOP_initialise / up / down / is_up over the domain's
 * lifecycle port, and VCPUOP_get_runstate_info for any of its vCPUs (the scheduler's runstate,
 * not the caller's). Other commands fall through to the per-vCPU families (`pv-vcpu-op.ts`).
 *
 * @see xen/common/domain.c (do_vcpu_op)
 */
import { XEN_EFAULT, XEN_ENOENT } from '../abi/errno.ts';
import { VCPUOP_get_runstate_info } from '../abi/vcpu.ts';
import type { HypercallContext } from './context.ts';
import { type VcpuRunstate, writeRunstate } from './pv-vcpu-op.ts';
import {
  VCPU_LIFECYCLE,
  type VcpuLifecyclePort,
  type VcpuLifecycleResult,
  vcpuLifecycleOp,
} from './vcpu-initialise.ts';

/** A PV domain's vCPUs as vcpu_op sees them: their number, lifecycle and runstates. */
export interface PvSmpPort extends VcpuLifecyclePort {
  /** The domain's `max_vcpus`: vCPU ids 0 .. count-1 exist. */
  readonly vcpuCount: number;
  /** The runstate of `vcpu` (in range). */
  runstate(vcpu: number): VcpuRunstate;
}

const result: VcpuLifecycleResult = { rc: 0, effect: VCPU_LIFECYCLE.NONE };

/**
 * Runs the SMP commands of `HYPERVISOR_vcpu_op(cmd, vcpuid, arg)`: -ENOENT for a vCPU id the
 * domain does not have (every command, as `domain_vcpu()` in do_vcpu_op), the lifecycle
 * commands, and get_runstate_info. Returns the result (reused; read it at once) or null for a
 * command the per-vCPU families handle.
 */
export function smpVcpuOp(
  port: PvSmpPort,
  ctx: HypercallContext,
  cmd: number,
  vcpuid: number,
  arg: number,
): VcpuLifecycleResult | null {
  result.effect = VCPU_LIFECYCLE.NONE;
  if (!Number.isInteger(vcpuid) || vcpuid < 0 || vcpuid >= port.vcpuCount) {
    result.rc = -XEN_ENOENT;
    return result;
  }
  if (cmd === VCPUOP_get_runstate_info) {
    result.rc = writeRunstate(ctx.guest, arg, port.runstate(vcpuid)) ? 0 : -XEN_EFAULT;
    return result;
  }
  return vcpuLifecycleOp(port, port.vcpuCount, ctx, cmd, vcpuid, arg, result);
}
