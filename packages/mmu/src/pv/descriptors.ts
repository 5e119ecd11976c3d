/**
 * Validation of guest segment descriptors for PV GDT/LDT pages: a guest may not install
 * privileged descriptors. Not-present descriptors are harmless; DPL is raised to the guest
 * kernel's ring (1 for 32-bit, 3 for 64-bit guests); code/data segments are accepted (32-bit:
 * no L bit, and flat segments reaching into the hypervisor hole are widened to 4 GiB as Xen
 * does for old PAE Linux); type 0 is accepted (upper half of a 64-bit gate); the only system
 * descriptors allowed are call gates to guest (or Xen's flat kernel) code selectors, whose DPL
 * is forced to 0 so that their use traps for emulation.
 * @see xen/arch/x86/pv/descriptor-tables.c (check_descriptor), ../shared ABI notes §2.5
 * @module
 */
import { HYPERVISOR_COMPAT_VIRT_START } from '../abi.ts';

/** First GDT entry reserved by Xen; guest GDTs have at most this many entries. */
export const FIRST_RESERVED_GDT_ENTRY: 7168 = 7168;

const SEG_P = 1 << 15;
const SEG_S = 1 << 12;
const SEG_L = 1 << 21;
const SEG_G = 1 << 23;
const SEG_DPL = 3 << 13;
const SEG_TYPE = 0xf00;
const CALL_GATE = 0xc00;
/** Xen's flat kernel code selectors: ring-1 CS for 32-bit guests, FLAT_KERNEL_CS for 64-bit. */
const FLAT_RING1_CS = 0xe019;
const FLAT_KERNEL_CS = 0xe033;

/**
 * Checks descriptor `lo:hi` for a 32- or 64-bit PV guest. Returns false if it must be refused;
 * otherwise true with the (possibly fixed-up) descriptor in `out[0]` (low) and `out[1]` (high).
 */
export function checkDescriptor(is32: boolean, lo: number, hi: number, out: Int32Array): boolean {
  let a = lo | 0;
  let b = hi | 0;
  out[0] = a;
  out[1] = b;
  if ((b & SEG_P) === 0) return true;
  const kernelRing = is32 ? 1 : 3;
  let dpl = (b >>> 13) & 3;
  if (dpl < kernelRing) dpl = kernelRing;
  b = (b & ~SEG_DPL) | (dpl << 13);
  if ((b & SEG_S) !== 0) {
    if (is32) {
      if ((b & SEG_L) !== 0) return false;
      const base = ((b & 0xff000000) | ((b & 0xff) << 16) | (a >>> 16)) >>> 0;
      let limit = ((b & 0xf0000) | (a & 0xffff)) + 1;
      if ((b & SEG_G) !== 0) limit *= 4096;
      if (base === 0 && limit > HYPERVISOR_COMPAT_VIRT_START) {
        a |= 0xffff;
        b |= 0xf0000;
      }
    }
    out[0] = a;
    out[1] = b;
    return true;
  }
  const type = b & SEG_TYPE;
  if (type === 0) return true;
  if (type !== CALL_GATE) return false;
  let cs = a >>> 16;
  const okSelector =
    cs >>> 3 < FIRST_RESERVED_GDT_ENTRY ||
    cs === (is32 ? FLAT_RING1_CS : FLAT_KERNEL_CS) ||
    (cs & 4) !== 0;
  if (!okSelector) return false;
  // DPL 0 makes every use of the gate trap for emulation; the guest's DPL is kept in CS.RPL.
  b &= ~SEG_DPL;
  cs = (cs & ~3) | dpl;
  a = (a & 0xffff) | (cs << 16);
  if ((b & (is32 ? 0xe0 : 0xff)) !== 0) return false;
  out[0] = a;
  out[1] = b;
  return true;
}
