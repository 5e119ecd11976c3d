/**
 * The guest kernel/user mode of a 64-bit PV vCPU. Both run in ring 3; what tells them apart is
 * the page table in CR3 (the kernel's L4, or the user L4 from `MMUEXT_NEW_USER_BASEPTR`) and the
 * GS base (the kernel's in the CPU while in kernel mode, the user's from
 * `set_segment_base(SEGBASE_GS_USER)` while in user mode): Xen's `toggle_guest_mode` swaps both.
 * @see xen/arch/x86/pv/domain.c (toggle_guest_mode, _toggle_guest_pt)
 * @see xen/arch/x86/pv/iret.c (do_iret: a CS with RPL 3 returns to user mode)
 */
import type { PvCpuPort } from './ports.ts';

/** The PV state a mode switch swaps with the CPU's (`PvVcpuArch` fits). */
export interface GuestModeArchPort {
  /** The user GS base, swapped with the CPU's GS base on every switch. */
  gsUserBase: bigint;
  /** The kernel stack pointer from `stack_switch`, where a bounce from user mode starts. */
  readonly kernelSp: bigint;
}

/** {@link PvGuestMode} as plain data. */
export interface PvGuestModeState {
  /** True while the vCPU is in guest kernel mode (Xen's TF_kernel_mode). */
  readonly kernelMode: boolean;
  /** CR3 of the kernel page table, kept while in user mode (machine address). */
  readonly kernelCr3: number;
}

/** GS in the CPU model's segment arrays. */
const SEG_GS = 5;

/** One 64-bit PV vCPU's kernel/user mode. */
export class PvGuestMode {
  /** True in guest kernel mode (the state at boot). */
  kernelMode: boolean;
  /** The kernel page table's CR3 while in user mode (0 in kernel mode). */
  kernelCr3: number;
  private readonly cpu: PvCpuPort;
  private readonly arch: GuestModeArchPort;
  private readonly userBase: () => number;

  /**
   * A vCPU in kernel mode over `cpu`; `userBase` returns the MFN of the user L4 that
   * `MMUEXT_NEW_USER_BASEPTR` installed (validated and typed by the MMU), or -1 for none.
   */
  constructor(cpu: PvCpuPort, arch: GuestModeArchPort, userBase: () => number) {
    this.cpu = cpu;
    this.arch = arch;
    this.userBase = userBase;
    this.kernelMode = true;
    this.kernelCr3 = 0;
  }

  /** The user L4's MFN, or -1 when the kernel has not installed one. */
  userBaseMfn(): number {
    return this.userBase();
  }

  /** The kernel stack pointer from `stack_switch`, as an unsigned 64-bit value. */
  get kernelSp(): bigint {
    return BigInt.asUintN(64, this.arch.kernelSp);
  }

  /**
   * `toggle_guest_mode`: swaps the GS base with the saved one and CR3 between the kernel and the
   * user page table, flushing the TLB. Returns false — the caller crashes the domain, as Xen's
   * do_iret does — when switching to user mode without a user page table.
   */
  toggle(): boolean {
    const cpu = this.cpu;
    if (this.kernelMode) {
      const user = this.userBase();
      if (user < 0) return false;
      this.kernelCr3 = cpu.cr3;
      cpu.cr3 = user * 4096;
    } else {
      cpu.cr3 = this.kernelCr3;
      this.kernelCr3 = 0;
    }
    const gs = cpu.segBase[SEG_GS] ?? 0;
    cpu.segBase[SEG_GS] = Number(BigInt.asIntN(64, this.arch.gsUserBase));
    this.arch.gsUserBase = BigInt.asUintN(64, BigInt(gs));
    this.kernelMode = !this.kernelMode;
    cpu.flushTlb();
    return true;
  }

  /** The mode as plain data. */
  getState(): PvGuestModeState {
    return { kernelMode: this.kernelMode, kernelCr3: this.kernelCr3 };
  }

  /** Restores {@link PvGuestMode.getState} (the CPU state is restored separately). */
  restore(state: PvGuestModeState): void {
    this.kernelMode = state.kernelMode;
    this.kernelCr3 = state.kernelCr3;
  }
}
