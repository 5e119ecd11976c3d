/**
 * The SMP part of `HYPERVISOR_vcpu_op` for a 32-bit PAE PV domain (`compat_vcpu_op`): the vCPU
 * id check against the domain's `max_vcpus`, VCPUOP_initialise with the 2800-byte compat
 * `vcpu_guest_context`, VCPUOP_up / down / is_up (shared with the 64-bit code) and
 * VCPUOP_get_runstate_info with the 44-byte compat `vcpu_runstate_info`. Other commands
 * (timers, vcpu_info) fall through to the per-vCPU families.
 *
 * @see xen/common/compat/domain.c (compat_vcpu_op), xen/common/domain.c (do_vcpu_op)
 * @see xen/include/public/vcpu.h (struct vcpu_runstate_info)
 */
import { XEN_EEXIST, XEN_EFAULT, XEN_EINVAL, XEN_ENOENT } from '../abi/errno.ts';
import { VCPUOP_get_runstate_info, VCPUOP_initialise } from '../abi/vcpu.ts';
import {
  checkVcpuGuestContext32,
  decodeVcpuGuestContext32,
  VCPU_GUEST_CONTEXT_SIZE_32,
  type VcpuGuestContext32,
} from './compat-vcpu-context.ts';
import type { HypercallContext } from './context.ts';
import { readStruct, writeStruct } from './guest-io.ts';
import type { VcpuRunstate } from './pv-vcpu-op.ts';
import {
  VCPU_LIFECYCLE,
  type VcpuLifecyclePort,
  type VcpuLifecycleResult,
  vcpuLifecycleOp,
} from './vcpu-initialise.ts';

/** `sizeof(struct vcpu_runstate_info)` for x86_32 (its u64 fields are 4-byte aligned). */
export const VCPU_RUNSTATE_INFO_SIZE_32 = 44;

/** A 32-bit PV domain's vCPUs as compat vcpu_op sees them. */
export interface Pv32SmpPort {
  /** The domain's `max_vcpus`: vCPU ids 0 .. count-1 exist. */
  readonly vcpuCount: number;
  /** Whether `vcpu` has a context (vCPU 0 from the builder, others from VCPUOP_initialise). */
  isInitialised(vcpu: number): boolean;
  /** Whether `vcpu` is up. */
  isUp(vcpu: number): boolean;
  /**
   * Loads the checked compat context `c` into the uninitialised `vcpu` (typing its L3 as Xen
   * does) and marks it initialised. Returns 0 or -errno.
   */
  initialise32(vcpu: number, c: VcpuGuestContext32): number;
  /** Clears `_VPF_down` and makes the vCPU runnable. */
  up(vcpu: number): void;
  /** Sets `_VPF_down`. */
  down(vcpu: number): void;
  /** The runstate of `vcpu` (in range). */
  runstate(vcpu: number): VcpuRunstate;
}

/** Writes `r` as a 44-byte compat `struct vcpu_runstate_info` at `address`; false if it faults. */
export function writeRunstate32(
  guest: HypercallContext['guest'],
  address: number,
  r: VcpuRunstate,
): boolean {
  const out = new DataView(new ArrayBuffer(VCPU_RUNSTATE_INFO_SIZE_32));
  out.setUint32(0, r.state, true);
  out.setBigUint64(4, r.stateEntryTime, true);
  for (let i = 0; i < 4; i++) out.setBigUint64(12 + i * 8, r.time[i] ?? 0n, true);
  return writeStruct(guest, address, out);
}

const result: VcpuLifecycleResult = { rc: 0, effect: VCPU_LIFECYCLE.NONE };

/** The up/down/is_up view of a {@link Pv32SmpPort} (its initialise is never called). */
function lifecycleView(port: Pv32SmpPort): VcpuLifecyclePort {
  return {
    isInitialised: (v) => port.isInitialised(v),
    isUp: (v) => port.isUp(v),
    initialise: () => -XEN_EINVAL,
    up: (v) => port.up(v),
    down: (v) => port.down(v),
  };
}

/**
 * Runs the SMP commands of compat `HYPERVISOR_vcpu_op(cmd, vcpuid, arg)`: -ENOENT for a vCPU
 * id the domain does not have (every command), initialise (-EFAULT for an unreadable context,
 * -EEXIST for an initialised vCPU, -EINVAL for a bad one), up / down / is_up as on 64-bit, and
 * get_runstate_info. Returns the result (reused; read it at once) or null for a command the
 * per-vCPU families handle. Never throws for guest-chosen values.
 */
export function compatSmpVcpuOp(
  port: Pv32SmpPort,
  ctx: HypercallContext,
  cmd: number,
  vcpuid: number,
  arg: number,
): VcpuLifecycleResult | null {
  result.effect = VCPU_LIFECYCLE.NONE;
  if (cmd < VCPUOP_initialise || cmd > VCPUOP_get_runstate_info) return null;
  if (!Number.isInteger(vcpuid) || vcpuid < 0 || vcpuid >= port.vcpuCount) {
    result.rc = -XEN_ENOENT;
    return result;
  }
  if (cmd === VCPUOP_get_runstate_info) {
    result.rc = writeRunstate32(ctx.guest, arg, port.runstate(vcpuid)) ? 0 : -XEN_EFAULT;
    return result;
  }
  if (cmd === VCPUOP_initialise) {
    const v = readStruct(ctx.guest, arg, VCPU_GUEST_CONTEXT_SIZE_32);
    if (v === null) result.rc = -XEN_EFAULT;
    else if (port.isInitialised(vcpuid)) result.rc = -XEN_EEXIST;
    else {
      const c = decodeVcpuGuestContext32(v);
      const rc = checkVcpuGuestContext32(c);
      result.rc = rc !== 0 ? rc : port.initialise32(vcpuid, c);
    }
    return result;
  }
  return vcpuLifecycleOp(lifecycleView(port), port.vcpuCount, ctx, cmd, vcpuid, arg, result);
}
