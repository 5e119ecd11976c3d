/**
 * The small 64-bit PV per-vCPU hypercalls that only change vCPU or domain state:
 * `vm_assist` (#21), `set_segment_base` (#25), `fpu_taskswitch` (#5) and `stack_switch` (#3).
 * The state they change lives behind a {@link PvArchPort} the PV vCPU implements.
 *
 * @see xen/common/domain.c (do_vm_assist), xen/arch/x86/pv/misc-hypercalls.c
 *   (do_set_segment_base, do_fpu_taskswitch, do_stack_switch), xen/include/public/xen.h
 */
import { XEN_EINVAL, XEN_ENOSYS } from '../abi/errno.ts';
import { isCanonical } from './guest-io.ts';

/** `VMASST_CMD_enable`. @see xen/include/public/xen.h */
export const VMASST_CMD_enable = 0;
/** `VMASST_CMD_disable`. @see xen/include/public/xen.h */
export const VMASST_CMD_disable = 1;
/**
 * The vm_assist types a 64-bit PV domain may toggle (Xen's `VM_ASSIST_VALID`): 4gb_segments (0),
 * 4gb_segments_notify (1), writable_pagetables (2), pae_extended_cr3 (3), architectural_iopl (4),
 * runstate_update_flag (5) and m2p_strict (32).
 * @see xen/arch/x86/include/asm/config.h (NATIVE_VM_ASSIST_VALID)
 */
export const PV64_VM_ASSIST_VALID: bigint = 0x3fn | (1n << 32n);

/** `SEGBASE_FS`. @see xen/include/public/arch-x86/xen-x86_64.h */
export const SEGBASE_FS = 0;
/** `SEGBASE_GS_USER`. @see xen/include/public/arch-x86/xen-x86_64.h */
export const SEGBASE_GS_USER = 1;
/** `SEGBASE_GS_KERNEL`. @see xen/include/public/arch-x86/xen-x86_64.h */
export const SEGBASE_GS_KERNEL = 2;
/** `SEGBASE_GS_USER_SEL`. @see xen/include/public/arch-x86/xen-x86_64.h */
export const SEGBASE_GS_USER_SEL = 3;

/** The vCPU and domain state these hypercalls change. */
export interface PvArchPort {
  /** The domain's enabled vm_assist types (bit n = type n). */
  vmAssist: bigint;
  /** Sets the FS base (SEGBASE_FS), the user GS base (GS_USER), or the kernel GS base. */
  setSegmentBase(which: number, base: bigint): void;
  /** Loads the user GS selector (SEGBASE_GS_USER_SEL). */
  setUserGsSelector(selector: number): void;
  /** Sets or clears CR0.TS as the guest sees it (fpu_taskswitch). */
  setTaskSwitched(ts: boolean): void;
  /** Records the kernel stack (stack_switch). */
  setKernelStack(ss: number, sp: bigint): void;
}

/** `HYPERVISOR_vm_assist(cmd, type)`: -ENOSYS for other commands, -EINVAL for other types. */
export function vmAssist(port: PvArchPort, cmd: number, type: number): number {
  if (cmd !== VMASST_CMD_enable && cmd !== VMASST_CMD_disable) return -XEN_ENOSYS;
  if (type >= 64 || ((PV64_VM_ASSIST_VALID >> BigInt(type)) & 1n) === 0n) return -XEN_EINVAL;
  const bit = 1n << BigInt(type);
  port.vmAssist = cmd === VMASST_CMD_enable ? port.vmAssist | bit : port.vmAssist & ~bit;
  return 0;
}

/** `HYPERVISOR_set_segment_base(which, base)`: -EINVAL for a non-canonical base or bad `which`. */
export function setSegmentBase(port: PvArchPort, which: number, base: bigint): number {
  switch (which) {
    case SEGBASE_FS:
    case SEGBASE_GS_USER:
    case SEGBASE_GS_KERNEL:
      if (!isCanonical(base)) return -XEN_EINVAL;
      port.setSegmentBase(which, BigInt.asUintN(64, base));
      return 0;
    case SEGBASE_GS_USER_SEL:
      // Xen loads the selector under a fixup that falls back to the null selector (Linux BUG()s
      // if this fails): never fails.
      port.setUserGsSelector(Number(BigInt.asUintN(16, base)));
      return 0;
    default:
      return -XEN_EINVAL;
  }
}

/** `HYPERVISOR_fpu_taskswitch(set)`: any non-zero `set` sets CR0.TS. Always 0. */
export function fpuTaskswitch(port: PvArchPort, set: number): number {
  port.setTaskSwitched(set !== 0);
  return 0;
}

/** `HYPERVISOR_stack_switch(ss, esp)`: records the kernel stack. Always 0 on x86_64. */
export function stackSwitch(port: PvArchPort, ss: number, sp: bigint): number {
  port.setKernelStack(ss & 0xffff, BigInt.asUintN(64, sp));
  return 0;
}
