/**
 * The compat (32-bit PAE PV) `struct vcpu_guest_context` that a 32-bit guest passes to
 * VCPUOP_initialise: its 2800-byte layout decoded, and the argument checks and selector fix-ups
 * of Xen's `arch_set_info_guest` for a compat vCPU that need no page tables. The page-table
 * part (the L3 in ctrlreg[3], in the "extended cr3" encoding) is typed by the loader
 * (`pv32-vcpu-context.ts`).
 *
 * @see xen/arch/x86/domain.c (arch_set_info_guest, the `compat` branches)
 * @see xen/include/public/arch-x86/xen-x86_32.h (cpu_user_regs, xen_pfn_to_cr3 / xen_cr3_to_pfn)
 * @see xen/include/public/arch-x86/xen.h (struct vcpu_guest_context, trap_info)
 */
import { XEN_EINVAL } from '../abi/errno.ts';
import { FIRST_RESERVED_GDT_ENTRY } from './vcpu-initialise.ts';

/** `sizeof(struct vcpu_guest_context)` for x86_32. @see xen/include/public/arch-x86/xen.h */
export const VCPU_GUEST_CONTEXT_SIZE_32 = 2800;

/** One `trap_info` of a compat context's virtual IDT (8 bytes: vector, flags, cs, address). */
export interface CompatContextTrap {
  /** The vector (the array index). */
  readonly vector: number;
  /** `trap_info.flags` (DPL in bits 0–1, 4 = mask events). */
  readonly flags: number;
  /** `trap_info.cs`, RPL 0 fixed up to 1 as Xen does. */
  readonly cs: number;
  /** Handler EIP (non-zero). */
  readonly address: number;
}

/** The decoded compat `struct vcpu_guest_context` (the fields a 32-bit PV vCPU uses). */
export interface VcpuGuestContext32 {
  /** `VGCF_*` flags. */
  readonly flags: number;
  /** General registers in the CPU model's order: EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI. */
  readonly gprs: readonly number[];
  /** `user_regs.eip`. */
  readonly eip: number;
  /** `user_regs.eflags`. */
  readonly eflags: number;
  /** `user_regs.cs` (RPL 0 fixed up to 1). */
  readonly cs: number;
  /** `user_regs.ss` (RPL 0 fixed up to 1). */
  readonly ss: number;
  /** `user_regs.es`, `ds`, `fs`, `gs` selectors. */
  readonly dataSelectors: readonly [number, number, number, number];
  /** Non-empty entries of `trap_ctxt[256]`. */
  readonly traps: readonly CompatContextTrap[];
  /** `ldt_base` (a linear address). */
  readonly ldtBase: number;
  /** `ldt_ents`. */
  readonly ldtEnts: number;
  /** `gdt_frames[16]` (machine frame numbers; the first `ceil(gdt_ents / 512)` are used). */
  readonly gdtFrames: readonly number[];
  /** `gdt_ents`. */
  readonly gdtEnts: number;
  /** `kernel_ss` (RPL 0 fixed up to 1). */
  readonly kernelSs: number;
  /** `kernel_sp`. */
  readonly kernelSp: number;
  /** `ctrlreg[8]`; ctrlreg[3] is the L3 in the extended-cr3 encoding. */
  readonly ctrlreg: readonly number[];
  /** `event_callback_cs` (RPL 0 fixed up to 1). */
  readonly eventCallbackCs: number;
  /** `event_callback_eip`. */
  readonly eventCallbackEip: number;
  /** `failsafe_callback_cs` (RPL 0 fixed up to 1). */
  readonly failsafeCallbackCs: number;
  /** `failsafe_callback_eip`. */
  readonly failsafeCallbackEip: number;
  /** `vm_assist`. */
  readonly vmAssist: number;
}

/** Byte offsets in compat `cpu_user_regs` of each CPU-order register. */
const GPR_OFFSETS = [24, 4, 8, 0, 44, 20, 12, 16];
const USER_REGS = 516;
const TRAP_CTXT = 584;
const LDT_BASE = 2632;
const GDT_FRAMES = 2640;
const GDT_ENTS = 2704;
const KERNEL_SS = 2708;
const CTRLREG = 2716;
const EVENT_CB = 2780;
/** Most LDT entries (`ldt_ents`) a context may ask for. */
const MAX_LDT_ENTS = 8192;

/**
 * `fixup_guest_code_selector` / `fixup_guest_stack_selector` for a compat domain: a selector
 * with RPL 0 (the guest thinking it is the ring-0 kernel) gets RPL 1.
 * @see xen/arch/x86/include/asm/x86_64/regs.h
 */
export function fixupCompatSelector(selector: number): number {
  const s = selector & 0xffff;
  return (s & 3) === 0 ? s | 1 : s;
}

/**
 * `xen_cr3_to_pfn` for x86_32 (`compat_cr3_to_pfn`): the "extended cr3" encoding keeps frame
 * bits 20–31 in CR3 bits 0–11, so a PAE L3 may live above 4 GiB.
 * @see xen/include/public/arch-x86/xen-x86_32.h
 */
export function compatCr3ToPfn(cr3: number): number {
  return ((cr3 >>> 12) | (cr3 << 20)) >>> 0;
}

/** `xen_pfn_to_cr3` for x86_32: the inverse of {@link compatCr3ToPfn}. */
export function compatPfnToCr3(pfn: number): number {
  return ((pfn << 12) | (pfn >>> 20)) >>> 0;
}

/**
 * Decodes a compat vcpu_guest_context from its 2800 bytes, applying Xen's selector fix-ups
 * (user CS/SS, kernel_ss, both callbacks' CS and every trap_ctxt CS).
 */
export function decodeVcpuGuestContext32(v: DataView): VcpuGuestContext32 {
  const u32 = (o: number): number => v.getUint32(o, true);
  const u16 = (o: number): number => v.getUint16(o, true);
  const traps: CompatContextTrap[] = [];
  for (let i = 0; i < 256; i++) {
    const at = TRAP_CTXT + i * 8;
    const address = u32(at + 4);
    if (address !== 0) {
      traps.push({
        vector: i,
        flags: v.getUint8(at + 1),
        cs: fixupCompatSelector(u16(at + 2)),
        address,
      });
    }
  }
  return {
    flags: u32(512),
    gprs: GPR_OFFSETS.map((o) => u32(USER_REGS + o)),
    eip: u32(USER_REGS + 32),
    eflags: u32(USER_REGS + 40),
    cs: fixupCompatSelector(u16(USER_REGS + 36)),
    ss: fixupCompatSelector(u16(USER_REGS + 48)),
    dataSelectors: [
      u16(USER_REGS + 52),
      u16(USER_REGS + 56),
      u16(USER_REGS + 60),
      u16(USER_REGS + 64),
    ],
    traps,
    ldtBase: u32(LDT_BASE),
    ldtEnts: u32(LDT_BASE + 4),
    gdtFrames: Array.from({ length: 16 }, (_, i) => u32(GDT_FRAMES + i * 4)),
    gdtEnts: u32(GDT_ENTS),
    kernelSs: fixupCompatSelector(u32(KERNEL_SS)),
    kernelSp: u32(KERNEL_SS + 4),
    ctrlreg: Array.from({ length: 8 }, (_, i) => u32(CTRLREG + i * 4)),
    eventCallbackCs: fixupCompatSelector(u32(EVENT_CB)),
    eventCallbackEip: u32(EVENT_CB + 4),
    failsafeCallbackCs: fixupCompatSelector(u32(EVENT_CB + 8)),
    failsafeCallbackEip: u32(EVENT_CB + 12),
    vmAssist: u32(EVENT_CB + 16),
  };
}

/**
 * The argument checks of `arch_set_info_guest` for a compat vCPU that need no page tables: an
 * LDT page-aligned with at most 8192 entries and at most {@link FIRST_RESERVED_GDT_ENTRY} GDT
 * entries. Typevisor also refuses, with -EINVAL, a context that would start outside ring 1 (a
 * user CS or SS whose RPL is 2 or 3 after the fix-up) and an L3 frame of 0: Xen accepts the
 * first and crashes the domain on the first exit to the guest; see DESIGN.md. Returns 0 or
 * -EINVAL.
 */
export function checkVcpuGuestContext32(c: VcpuGuestContext32): number {
  if ((c.ldtBase & 0xfff) !== 0 || c.ldtEnts > MAX_LDT_ENTS) return -XEN_EINVAL;
  if (c.gdtEnts > FIRST_RESERVED_GDT_ENTRY) return -XEN_EINVAL;
  if ((c.cs & 3) !== 1 || (c.ss & 3) !== 1) return -XEN_EINVAL;
  if (compatCr3ToPfn(c.ctrlreg[3] ?? 0) === 0) return -XEN_EINVAL;
  return 0;
}
