/**
 * The 64-bit PV additions to `HYPERVISOR_vcpu_op(cmd, vcpuid, arg)` (#24) on top of the timer
 * and vcpu_info subset in `vcpu-op.ts`: VCPUOP_is_up, VCPUOP_get_runstate_info,
 * VCPUOP_register_runstate_memory_area (which Linux requires to succeed), the
 * register_vcpu_info offset check, and the commands a domU gets refused (VCPUOP_up of a vCPU it
 * does not have is -ENOENT, VCPUOP_get_physid is -EINVAL for a domain that is not the
 * hardware domain).
 *
 * @see xen/common/domain.c (do_vcpu_op), xen/arch/x86/domain.c (arch_do_vcpu_op),
 *   xen/include/public/vcpu.h (struct vcpu_runstate_info)
 */
import { XEN_EFAULT, XEN_EINVAL, XEN_ENOENT, XEN_ENXIO } from '../abi/errno.ts';
import {
  VCPUOP_get_physid,
  VCPUOP_get_runstate_info,
  VCPUOP_is_up,
  VCPUOP_register_runstate_memory_area,
  VCPUOP_register_vcpu_info,
} from '../abi/vcpu.ts';
import type { GuestBytes } from '../guest-memory.ts';
import type { HypercallContext } from './context.ts';
import { readStruct, writeStruct } from './guest-io.ts';
import { type VcpuOpHost, vcpuOp } from './vcpu-op.ts';

/** Size of the 64-bit `struct vcpu_info` (the largest offset register_vcpu_info accepts is 4096 - 64). */
const VCPU_INFO_SIZE = 64;

/** A vCPU's runstate as `struct vcpu_runstate_info` reports it. */
export interface VcpuRunstate {
  /** RUNSTATE_* (0 running, 1 runnable, 2 blocked, 3 offline). */
  readonly state: number;
  /** System time (ns) of the last state change. */
  readonly stateEntryTime: bigint;
  /** Nanoseconds spent in each of the four states. */
  readonly time: readonly [bigint, bigint, bigint, bigint];
}

/** What the PV additions need besides {@link VcpuOpHost}. */
export interface PvVcpuOpPort {
  /** The runstate of `vcpu` of `domid`. */
  runstate(domid: number, vcpu: number): VcpuRunstate;
  /** Records where the guest wants its runstate kept up to date (0 = nowhere). */
  setRunstateArea(vcpu: number, address: number): void;
}

/** Writes `r` as a 48-byte `struct vcpu_runstate_info` at `address`; false if it faults. */
export function writeRunstate(guest: GuestBytes, address: number, r: VcpuRunstate): boolean {
  const out = new DataView(new ArrayBuffer(48));
  out.setUint32(0, r.state, true);
  out.setBigUint64(8, r.stateEntryTime, true);
  for (let i = 0; i < 4; i++) out.setBigUint64(16 + i * 8, r.time[i] ?? 0n, true);
  return writeStruct(guest, address, out);
}

/** Runs `HYPERVISOR_vcpu_op` for a 64-bit PV caller; never throws for guest-chosen values. */
export function pvVcpuOp(
  host: VcpuOpHost,
  port: PvVcpuOpPort,
  ctx: HypercallContext,
  cmd: number,
  vcpuid: number,
  arg: number,
): number {
  if (vcpuid >= host.evtchn.vcpuCount(ctx.domid)) return -XEN_ENOENT;
  switch (cmd) {
    case VCPUOP_is_up:
      return 1; // every vCPU of a domain created here is up
    case VCPUOP_get_runstate_info:
      return writeRunstate(ctx.guest, arg, port.runstate(ctx.domid, vcpuid)) ? 0 : -XEN_EFAULT;
    case VCPUOP_register_runstate_memory_area: {
      // Xen checks only that the area is guest-addressable, then writes it at once, ignoring a
      // fault (the guest may map it later; it is rewritten on every context switch).
      const v = readStruct(ctx.guest, arg, 8);
      if (v === null) return -XEN_EFAULT;
      const address = v.getBigUint64(0, true);
      if (address >= 1n << 47n) return -XEN_EFAULT;
      port.setRunstateArea(vcpuid, Number(address));
      if (address !== 0n)
        writeRunstate(ctx.guest, Number(address), port.runstate(ctx.domid, vcpuid));
      return 0;
    }
    case VCPUOP_register_vcpu_info: {
      const v = readStruct(ctx.guest, arg, 16);
      if (v === null) return -XEN_EFAULT;
      const offset = v.getUint32(8, true);
      if (offset < 4096 && offset > 4096 - VCPU_INFO_SIZE) return -XEN_ENXIO;
      return vcpuOp(host, ctx, cmd, vcpuid, arg);
    }
    case VCPUOP_get_physid:
      return -XEN_EINVAL; // the hardware domain's
    default:
      return vcpuOp(host, ctx, cmd, vcpuid, arg);
  }
}
