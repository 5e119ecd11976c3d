/**
 * `VCPUOP_initialise`, `VCPUOP_up`, `VCPUOP_down` and `VCPUOP_is_up`: bringing a PV domain's
 * secondary vCPUs online. This file decodes and checks the 64-bit `struct vcpu_guest_context`
 * the guest passes to VCPUOP_initialise (the argument checks of Xen's `arch_set_info_guest` that
 * do not need the page tables) and runs the four commands over a {@link VcpuLifecyclePort}, the
 * domain's per-vCPU "initialised" and "down" flags.
 *
 * @see xen/common/domain.c (do_vcpu_op, default_initialise_vcpu)
 * @see xen/arch/x86/domain.c (arch_set_info_guest)
 * @see xen/include/public/arch-x86/xen.h (struct vcpu_guest_context), xen/include/public/vcpu.h
 */
import { XEN_EEXIST, XEN_EFAULT, XEN_EINVAL } from '../abi/errno.ts';
import { VCPUOP_down, VCPUOP_initialise, VCPUOP_is_up, VCPUOP_up } from '../abi/vcpu.ts';
import type { HypercallContext } from './context.ts';
import { isCanonical, readStruct } from './guest-io.ts';

/** `sizeof(struct vcpu_guest_context)` on x86_64. @see xen/include/public/arch-x86/xen.h */
export const VCPU_GUEST_CONTEXT_SIZE_64 = 5168;
/** `VGCF_i387_valid`. @see xen/include/public/arch-x86/xen.h */
export const VGCF_i387_valid = 1;
/** `VGCF_in_kernel`: the vCPU starts in kernel mode. @see xen/include/public/arch-x86/xen.h */
export const VGCF_in_kernel = 4;
/** `VGCF_online`. @see xen/include/public/arch-x86/xen.h */
export const VGCF_online = 32;
/** `FIRST_RESERVED_GDT_ENTRY`: the most GDT entries a guest may own (14 pages). */
export const FIRST_RESERVED_GDT_ENTRY = 7168; // 14 pages of 512
/** Most LDT entries (`ldt_ents`) a context may ask for. */
const MAX_LDT_ENTS = 8192;

/** One `trap_info` of the context's virtual IDT (indexed by vector). */
export interface ContextTrap {
  /** The vector (the array index; Xen ignores the struct's own `vector` byte here). */
  readonly vector: number;
  /** `trap_info.flags` (DPL in bits 0–1, 4 = mask events). */
  readonly flags: number;
  /** `trap_info.cs`. */
  readonly cs: number;
  /** Handler address (non-zero). */
  readonly address: bigint;
}

/** The decoded 64-bit `struct vcpu_guest_context` (the fields a PV vCPU uses). */
export interface VcpuGuestContext64 {
  /** `VGCF_*` flags. */
  readonly flags: bigint;
  /**
   * General registers in the CPU model's order: RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI,
   * R8–R15 (decoded from `cpu_user_regs`' own order).
   */
  readonly gprs: readonly bigint[];
  /** `user_regs.rip`. */
  readonly rip: bigint;
  /** `user_regs.rflags`. */
  readonly rflags: bigint;
  /** `user_regs.cs`. */
  readonly cs: number;
  /** `user_regs.ss`. */
  readonly ss: number;
  /** `user_regs.es`, `ds`, `fs`, `gs` selectors. */
  readonly dataSelectors: readonly [number, number, number, number];
  /** Non-empty entries of `trap_ctxt[256]`. */
  readonly traps: readonly ContextTrap[];
  /** `ldt_base` (a linear address). */
  readonly ldtBase: bigint;
  /** `ldt_ents`. */
  readonly ldtEnts: bigint;
  /** `gdt_frames[16]` (the first `ceil(gdt_ents / 512)` are used). */
  readonly gdtFrames: readonly bigint[];
  /** `gdt_ents`. */
  readonly gdtEnts: bigint;
  /** `kernel_ss`. */
  readonly kernelSs: number;
  /** `kernel_sp`. */
  readonly kernelSp: bigint;
  /** `ctrlreg[8]`: ctrlreg[3] the kernel page table, ctrlreg[1] the user one (machine addresses). */
  readonly ctrlreg: readonly bigint[];
  /** `event_callback_eip`. */
  readonly eventCallback: bigint;
  /** `failsafe_callback_eip`. */
  readonly failsafeCallback: bigint;
  /** `syscall_callback_eip`. */
  readonly syscallCallback: bigint;
  /** `vm_assist`. */
  readonly vmAssist: bigint;
  /** `fs_base`. */
  readonly fsBase: bigint;
  /** `gs_base_kernel`. */
  readonly gsBaseKernel: bigint;
  /** `gs_base_user`. */
  readonly gsBaseUser: bigint;
}

/** Byte offsets of `cpu_user_regs` fields (x86_64) for each CPU-order register. */
const GPR_OFFSETS = [80, 88, 96, 40, 152, 32, 104, 112, 72, 64, 56, 48, 24, 16, 8, 0];
const USER_REGS = 520;
const TRAP_CTXT = 720;
const LDT_BASE = 4816;
const GDT_FRAMES = 4832;
const GDT_ENTS = 4960;
const KERNEL_SS = 4968;
const CTRLREG = 4984;
const EVENT_CB = 5112;

/** Decodes a 64-bit vcpu_guest_context from its 5168 bytes. */
export function decodeVcpuGuestContext64(v: DataView): VcpuGuestContext64 {
  const u64 = (o: number): bigint => v.getBigUint64(o, true);
  const u16 = (o: number): number => v.getUint16(o, true);
  const traps: ContextTrap[] = [];
  for (let i = 0; i < 256; i++) {
    const at = TRAP_CTXT + i * 16;
    const address = u64(at + 8);
    if (address !== 0n)
      traps.push({ vector: i, flags: v.getUint8(at + 1), cs: u16(at + 2), address });
  }
  return {
    flags: u64(512),
    gprs: GPR_OFFSETS.map((o) => u64(USER_REGS + o)),
    rip: u64(USER_REGS + 128),
    rflags: u64(USER_REGS + 144),
    cs: u16(USER_REGS + 136),
    ss: u16(USER_REGS + 160),
    dataSelectors: [
      u16(USER_REGS + 168),
      u16(USER_REGS + 176),
      u16(USER_REGS + 184),
      u16(USER_REGS + 192),
    ],
    traps,
    ldtBase: u64(LDT_BASE),
    ldtEnts: u64(LDT_BASE + 8),
    gdtFrames: Array.from({ length: 16 }, (_, i) => u64(GDT_FRAMES + i * 8)),
    gdtEnts: u64(GDT_ENTS),
    kernelSs: Number(u64(KERNEL_SS) & 0xffffn),
    kernelSp: u64(KERNEL_SS + 8),
    ctrlreg: Array.from({ length: 8 }, (_, i) => u64(CTRLREG + i * 8)),
    eventCallback: u64(EVENT_CB),
    failsafeCallback: u64(EVENT_CB + 8),
    syscallCallback: u64(EVENT_CB + 16),
    vmAssist: u64(EVENT_CB + 24),
    fsBase: u64(EVENT_CB + 32),
    gsBaseKernel: u64(EVENT_CB + 40),
    gsBaseUser: u64(EVENT_CB + 48),
  };
}

/**
 * The argument checks of `arch_set_info_guest` for a 64-bit PV vCPU that need no page tables:
 * every code address and segment base canonical, an LDT page-aligned with at most 8192
 * entries, at most {@link FIRST_RESERVED_GDT_ENTRY} GDT entries, and a user page table when the
 * vCPU does not start in kernel mode. Returns 0 or -EINVAL.
 */
export function checkVcpuGuestContext64(c: VcpuGuestContext64): number {
  for (const a of [
    c.rip,
    c.eventCallback,
    c.failsafeCallback,
    c.syscallCallback,
    c.fsBase,
    c.gsBaseKernel,
    c.gsBaseUser,
    c.ldtBase,
    c.kernelSp,
  ]) {
    if (!isCanonical(a)) return -XEN_EINVAL;
  }
  for (const t of c.traps) if (!isCanonical(t.address)) return -XEN_EINVAL;
  if ((c.ldtBase & 0xfffn) !== 0n || c.ldtEnts > BigInt(MAX_LDT_ENTS)) return -XEN_EINVAL;
  if (c.gdtEnts > BigInt(FIRST_RESERVED_GDT_ENTRY)) return -XEN_EINVAL;
  if ((c.flags & BigInt(VGCF_in_kernel)) === 0n && c.ctrlreg[1] === 0n) return -XEN_EINVAL;
  return 0;
}

/**
 * A domain's vCPU lifecycle, as `do_vcpu_op` sees it. `vcpu` is always in range (checked
 * before any call).
 */
export interface VcpuLifecyclePort {
  /** Whether `vcpu` has a context (`v->is_initialised`): vCPU 0 from the builder, others from VCPUOP_initialise. */
  isInitialised(vcpu: number): boolean;
  /** Whether `vcpu` is up (not `_VPF_down`). */
  isUp(vcpu: number): boolean;
  /**
   * Loads the checked context `c` into the down, uninitialised `vcpu` (typing its page tables
   * as Xen does) and marks it initialised. Returns 0 or -errno (-EINVAL for a page table the
   * domain does not own or that does not validate).
   */
  initialise(vcpu: number, c: VcpuGuestContext64): number;
  /** Clears `_VPF_down` and makes the vCPU runnable. */
  up(vcpu: number): void;
  /** Sets `_VPF_down`: the vCPU stops at once (the caller's too, on return). */
  down(vcpu: number): void;
}

/** What {@link vcpuLifecycleOp} did besides its return value. */
export const VCPU_LIFECYCLE = {
  /** Nothing more. */ NONE: 0,
  /** The caller took itself down: stop running it. */ SELF_DOWN: 1,
  /** The last vCPU went down: the domain shuts down (SHUTDOWN_poweroff). */ LAST_DOWN: 2,
} as const;

/** Result of {@link vcpuLifecycleOp}. */
export interface VcpuLifecycleResult {
  /** The hypercall's return value. */
  rc: number;
  /** A {@link VCPU_LIFECYCLE} value. */
  effect: number;
}

/**
 * Runs VCPUOP_initialise / up / down / is_up for `vcpuid` (already checked to be in range) with
 * Xen's return values: initialise -EFAULT for an unreadable context, -EEXIST for an initialised
 * vCPU, -EINVAL for a bad context; up -EINVAL for an uninitialised vCPU; is_up 1 or 0; down of
 * the last vCPU that is up shuts the domain down. Returns null for other commands.
 */
export function vcpuLifecycleOp(
  port: VcpuLifecyclePort,
  vcpuCount: number,
  ctx: HypercallContext,
  cmd: number,
  vcpuid: number,
  arg: number,
  out: VcpuLifecycleResult,
): VcpuLifecycleResult | null {
  out.effect = VCPU_LIFECYCLE.NONE;
  switch (cmd) {
    case VCPUOP_initialise: {
      const v = readStruct(ctx.guest, arg, VCPU_GUEST_CONTEXT_SIZE_64);
      if (v === null) {
        out.rc = -XEN_EFAULT;
        return out;
      }
      if (port.isInitialised(vcpuid)) {
        out.rc = -XEN_EEXIST;
        return out;
      }
      const c = decodeVcpuGuestContext64(v);
      const rc = checkVcpuGuestContext64(c);
      out.rc = rc !== 0 ? rc : port.initialise(vcpuid, c);
      return out;
    }
    case VCPUOP_up:
      if (!port.isInitialised(vcpuid)) out.rc = -XEN_EINVAL;
      else {
        if (!port.isUp(vcpuid)) port.up(vcpuid);
        out.rc = 0;
      }
      return out;
    case VCPUOP_down: {
      out.rc = 0;
      let others = false;
      for (let i = 0; i < vcpuCount; i++) if (i !== vcpuid && port.isUp(i)) others = true;
      if (!others) {
        out.effect = VCPU_LIFECYCLE.LAST_DOWN; // domain_shutdown(d, SHUTDOWN_poweroff)
        return out;
      }
      if (port.isUp(vcpuid)) port.down(vcpuid);
      if (vcpuid === ctx.vcpu) out.effect = VCPU_LIFECYCLE.SELF_DOWN;
      return out;
    }
    case VCPUOP_is_up:
      out.rc = port.isUp(vcpuid) ? 1 : 0;
      return out;
    default:
      return null;
  }
}
