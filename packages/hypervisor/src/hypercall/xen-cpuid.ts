/**
 * Xen's hypervisor CPUID leaves (0x40000000–0x400000FF) as a PV guest reads them through the
 * forced-emulation prefix (`ud2; .ascii "xen"; cpuid`), and the prefix itself.
 *
 * - 0x40000000: EAX = the last Xen leaf (0x40000005), EBX/ECX/EDX = "XenVMMXenVMM".
 * - 0x40000001: EAX = version (major << 16 | minor).
 * - 0x40000002: EAX = hypercall pages (1), EBX = the hypercall-page MSR (0x40000000),
 *   ECX = XEN_CPUID_FEAT1_MMU_PT_UPDATE_PRESERVE_AD, EDX = 0.
 * - 0x40000003 subleaf 0 (time): EAX = TSC flags (not emulated, safe), EBX = tsc_mode (0,
 *   default), ECX = TSC kHz, EDX = incarnation (1). Other subleaves are zero here.
 * - 0x40000004 (HVM) is zero for a PV guest.
 * - 0x40000005 subleaf 0 (PV): EBX = the machine address width (`flsl(max MFN) + 12`).
 * - Leaves above the last one, up to 0x400000FF, are zero.
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

/** What the Xen leaves report about this hypervisor and machine. */
export interface XenCpuidInfo {
  /** Xen major version (4). */
  readonly major: number;
  /** Xen minor version (17). */
  readonly minor: number;
  /** TSC frequency in kHz. */
  readonly tscKhz: number;
  /** Number of machine frames (the highest MFN is one less). */
  readonly machineFrames: number;
}

/** `XEN_CPUID_TSC_MODE`-leaf flags: bit 1 = the TSC is safe (monotonic, not emulated). */
const TSC_SAFE = 2;

/** `flsl(x)`: position of the highest set bit, counting from 1 (0 for 0). */
function flsl(x: number): number {
  return x <= 0 ? 0 : Math.floor(Math.log2(x)) + 1;
}

/**
 * Fills `out` (EAX, EBX, ECX, EDX) with Xen leaf `leaf`, subleaf `subleaf`. Returns false for
 * leaves outside 0x40000000–0x400000FF (the CPU answers those).
 */
export function xenCpuidLeaf(
  leaf: number,
  subleaf: number,
  info: XenCpuidInfo,
  out: Int32Array,
): boolean {
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
      out[0] = ((info.major & 0xffff) << 16) | (info.minor & 0xffff);
      break;
    case 2:
      out[0] = 1;
      out[1] = 0x40000000;
      out[2] = 1;
      break;
    case 3:
      if (subleaf !== 0) break;
      out[0] = TSC_SAFE;
      out[2] = info.tscKhz | 0;
      out[3] = 1;
      break;
    case 5:
      if (subleaf !== 0) break;
      out[1] = flsl(info.machineFrames - 1) + 12;
      break;
    default:
      break;
  }
  return true;
}
