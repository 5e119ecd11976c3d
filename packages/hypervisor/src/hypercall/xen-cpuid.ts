/**
 * Xen's hypervisor CPUID leaves (0x40000000–0x400000FF) as a PV guest reads them through the
 * forced-emulation prefix (`ud2; .ascii "xen"; cpuid`), and the prefix itself.
 *
 * - 0x40000000: EAX = the last Xen leaf (0x40000005), EBX/ECX/EDX = "XenVMMXenVMM".
 * - 0x40000001: EAX = version (major << 16 | minor).
 * - 0x40000002: EAX = hypercall pages (1), EBX = the hypercall-page MSR (0x40000000),
 *   ECX = XEN_CPUID_FEAT1_MMU_PT_UPDATE_PRESERVE_AD, EDX = 0.
 * - 0x40000003–0x40000005 (TSC, HVM and PV-specific leaves): zero here (a PV domU with the
 *   default tsc_mode sees no TSC scaling data; the HVM leaf does not apply).
 *
 * @see xen/arch/x86/traps.c (cpuid_hypervisor_leaves), xen/arch/x86/pv/emul-inv-op.c,
 *   xen/include/public/arch-x86/cpuid.h
 */

/** The forced-emulation prefix: `ud2` (0F 0B) then the bytes "xen". */
export const XEN_EMULATE_PREFIX: readonly number[] = [0x0f, 0x0b, 0x78, 0x65, 0x6e];
/** `XEN_CPUID_FIRST_LEAF`. @see xen/include/public/arch-x86/cpuid.h */
export const XEN_CPUID_FIRST_LEAF = 0x40000000;
/** The last leaf Xen 4.17 reports in 0x40000000's EAX. */
export const XEN_CPUID_LAST_LEAF = 0x40000005;
/** `XEN_CPUID_SIGNATURE_EBX/ECX/EDX` ("XenV", "MXen", "VMM\0"... as "XenVMMXenVMM"). */
const SIG_EBX = 0x566e6558;
const SIG_ECX = 0x65584d4d;
const SIG_EDX = 0x4d4d566e;

/**
 * Fills `out` (EAX, EBX, ECX, EDX) with Xen leaf `leaf` for a hypervisor of version
 * `major.minor`. Returns false for leaves outside 0x40000000–0x400000FF (the CPU answers those).
 */
export function xenCpuidLeaf(leaf: number, major: number, minor: number, out: Int32Array): boolean {
  const l = leaf >>> 0;
  if (l < XEN_CPUID_FIRST_LEAF || l > XEN_CPUID_FIRST_LEAF + 0xff) return false;
  out.fill(0);
  switch (l - XEN_CPUID_FIRST_LEAF) {
    case 0:
      out[0] = XEN_CPUID_LAST_LEAF;
      out[1] = SIG_EBX;
      out[2] = SIG_ECX;
      out[3] = SIG_EDX;
      break;
    case 1:
      out[0] = ((major & 0xffff) << 16) | (minor & 0xffff);
      break;
    case 2:
      out[0] = 1;
      out[1] = 0x40000000;
      out[2] = 1;
      break;
    default:
      break;
  }
  return true;
}
