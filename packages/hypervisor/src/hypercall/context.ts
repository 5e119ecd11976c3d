/**
 * What a hypercall entry point knows about its caller.
 */
import type { GuestAbi } from '../abi/shared-info.ts';
import type { GuestBytes } from '../guest-memory.ts';

/** The calling domain and vCPU of a hypercall, and the memory its pointer arguments refer to. */
export interface HypercallContext {
  /** The calling domain. */
  readonly domid: number;
  /** The calling vCPU. */
  readonly vcpu: number;
  /** The caller's ABI, which selects the 32- or 64-bit argument layouts. */
  readonly abi: GuestAbi;
  /**
   * The caller's view of memory for pointer arguments (for a PV guest, its virtual address space
   * as translated by the MMU; without an MMU, its pseudo-physical memory).
   */
  readonly guest: GuestBytes;
}
