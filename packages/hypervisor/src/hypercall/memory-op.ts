/**
 * `HYPERVISOR_memory_op(cmd, arg)` (#12) for 64-bit PV guests: the reservation commands a balloon
 * driver uses (increase_reservation, decrease_reservation, populate_physmap), the reservation and
 * RAM queries (current/maximum_reservation, maximum_ram_page, maximum_gpfn), the pseudo-physical
 * memory map, and the M2P queries (machphys_mfn_list, machphys_mapping). Frames come from a
 * {@link MemoryReservationPort} the toolstack implements over its machine memory.
 *
 * Xen's conventions kept here: the reservation commands return how many extents they completed
 * (0 for a foreign domain, a domain that does not exist, a bad extent order, an unreadable
 * argument or list: the guest sees "nothing done", never an errno), the start extent rides in the upper bits
 * of `cmd` (MEMOP_EXTENT_SHIFT), and a PV guest names frames by MFN (decrease_reservation) and
 * gets MFNs back (increase_reservation, populate_physmap).
 *
 * @see xen/common/memory.c (do_memory_op, increase_reservation, decrease_reservation,
 *   populate_physmap), xen/arch/x86/x86_64/mm.c (subarch_memory_op),
 *   xen/arch/x86/mm.c (arch_memory_op), xen/include/public/memory.h
 */
import { XEN_EFAULT, XEN_ENOSYS, XEN_EPERM, XEN_ESRCH } from '../abi/errno.ts';
import type { HypercallContext } from './context.ts';
import { pointerField, readStruct, writeStruct } from './guest-io.ts';

/** `XENMEM_increase_reservation`. @see xen/include/public/memory.h */
export const XENMEM_increase_reservation = 0;
/** `XENMEM_decrease_reservation`. @see xen/include/public/memory.h */
export const XENMEM_decrease_reservation = 1;
/** `XENMEM_maximum_ram_page`. @see xen/include/public/memory.h */
export const XENMEM_maximum_ram_page = 2;
/** `XENMEM_current_reservation`. @see xen/include/public/memory.h */
export const XENMEM_current_reservation = 3;
/** `XENMEM_maximum_reservation`. @see xen/include/public/memory.h */
export const XENMEM_maximum_reservation = 4;
/** `XENMEM_machphys_mfn_list`. @see xen/include/public/memory.h */
export const XENMEM_machphys_mfn_list = 5;
/** `XENMEM_populate_physmap`. @see xen/include/public/memory.h */
export const XENMEM_populate_physmap = 6;
/** `XENMEM_memory_map`. @see xen/include/public/memory.h */
export const XENMEM_memory_map = 9;
/** `XENMEM_machine_memory_map` (privileged). @see xen/include/public/memory.h */
export const XENMEM_machine_memory_map = 10;
/** `XENMEM_machphys_mapping`. @see xen/include/public/memory.h */
export const XENMEM_machphys_mapping = 12;
/** `XENMEM_maximum_gpfn`. @see xen/include/public/memory.h */
export const XENMEM_maximum_gpfn = 14;
/** `MEMOP_EXTENT_SHIFT`: `cmd >> 6` is the extent to continue from. @see xen/include/public/memory.h */
export const MEMOP_EXTENT_SHIFT = 6;
/** `MEMOP_CMD_MASK`. @see xen/include/public/memory.h */
export const MEMOP_CMD_MASK = 0x3f;
/** `DOMID_SELF`. @see xen/include/public/xen.h */
const DOMID_SELF = 0x7ff0;
/** `MACH2PHYS_VIRT_START` for 64-bit PV. @see xen/include/public/arch-x86/xen-x86_64.h */
const MACH2PHYS_VIRT_START = 0xffff800000000000n;
/** `MACH2PHYS_VIRT_END` for 64-bit PV. @see xen/include/public/arch-x86/xen-x86_64.h */
const MACH2PHYS_VIRT_END = 0xffff804000000000n;
/** Frames one M2P extent (2 MiB of 8-byte entries) covers, as machphys_mfn_list reports them. */
const M2P_FRAMES_PER_EXTENT = 512;

/** One `struct e820entry` of a domain's pseudo-physical memory map. */
export interface E820Entry {
  /** Start address. */
  readonly addr: number;
  /** Length in bytes. */
  readonly size: number;
  /** E820 type (1 = RAM). */
  readonly type: number;
}

/**
 * What memory_op needs from the memory owner (the toolstack implements it over its machine
 * memory and frame table). Results are frame numbers, counts, or negative Xen errnos; nothing
 * here may throw for guest-chosen numbers.
 */
export interface MemoryReservationPort {
  /** Whether domain `domid` exists. */
  exists(domid: number): boolean;
  /** Pages the domain owns now (`tot_pages`). */
  currentReservation(domid: number): number;
  /** Pages the domain may own (`max_pages`). */
  maximumReservation(domid: number): number;
  /** The highest machine frame number plus one (`max_page`). */
  maximumRamPage(): number;
  /** The highest guest frame the domain reports (PV: shared_info's `arch.max_pfn`, less one). */
  maximumGpfn(domid: number): number;
  /** The domain's pseudo-physical memory map (XENMEM_memory_map). */
  memoryMap(domid: number): readonly E820Entry[];
  /** The machine frames holding the M2P table, in order (XENMEM_machphys_mfn_list). */
  m2pFrames(): readonly number[];
  /** Allocates one frame for `domid` (increase_reservation): its MFN, or a negative errno. */
  increase(domid: number): number;
  /**
   * Allocates one frame for `domid` at pseudo-physical `gpfn` and points the M2P entry at it
   * (populate_physmap): its MFN, or a negative errno.
   */
  populate(domid: number, gpfn: number): number;
  /** Frees frame `mfn` of `domid` (decrease_reservation): 0, or a negative errno if not its own. */
  decrease(domid: number, mfn: number): number;
}

/**
 * Preemption of the reservation commands (Xen's `hypercall_preempt_check` between extents):
 * after `limit` extents of one invocation, the command stops and sets `at` to the extent to
 * continue from (the caller then re-executes memory_op with `cmd | at << MEMOP_EXTENT_SHIFT`,
 * as `hypercall_create_continuation` does); `at` stays -1 when it was not preempted.
 */
export interface MemoryOpPreemption {
  /** Extents one invocation may complete (at least one is always done). */
  readonly limit: number;
  /** Set to the extent to continue from when preempted, else -1. */
  at: number;
}

/** Resolves a domid argument: the target domain, or a negative errno as Xen's lookups give. */
function target(port: MemoryReservationPort, ctx: HypercallContext, domid: number): number {
  const d = domid === DOMID_SELF ? ctx.domid : domid;
  if (!port.exists(d)) return -XEN_ESRCH;
  if (d !== ctx.domid) return -XEN_EPERM; // XSM_TARGET: a domU only manages itself
  return d;
}

/** XENMEM_increase/decrease_reservation and populate_physmap. */
function reservation(
  port: MemoryReservationPort,
  ctx: HypercallContext,
  op: number,
  start: number,
  arg: number,
  preempt: MemoryOpPreemption | null,
): number {
  const r = readStruct(ctx.guest, arg, 26);
  if (r === null) return start; // Xen: copy_from_guest fails -> "start_extent done", no errno
  const list = pointerField(r, 0);
  const listNull = list === 0; // increase_reservation then reports no frames
  const nr = r.getBigUint64(8, true);
  const order = r.getUint32(16, true);
  const domid = r.getUint16(24, true);
  if (BigInt(start) >= nr) return start;
  // Extents larger than a page are not supported here (frames are not contiguous): nothing done.
  if (order !== 0) return start;
  const d = target(port, ctx, domid);
  if (d < 0) return start;
  if (list < 0) return start; // outside the guest's half: guest_handle_subrange_okay fails
  const count = nr > 0x7fffffffn ? 0x7fffffff : Number(nr);
  const cell = new DataView(new ArrayBuffer(8));
  const limit = preempt === null ? Number.POSITIVE_INFINITY : Math.max(1, preempt.limit);
  for (let i = start; i < count; i++) {
    if (preempt !== null && i - start >= limit) {
      preempt.at = i;
      return i;
    }
    const at = list + i * 8;
    if (op === XENMEM_increase_reservation) {
      const mfn = port.increase(d);
      if (mfn < 0) return i;
      if (!listNull) {
        cell.setBigUint64(0, BigInt(mfn), true);
        if (!writeStruct(ctx.guest, at, cell)) return i;
      }
      continue;
    }
    // A null list is not special here: Xen copies from guest address 0 like any other.
    const v = readStruct(ctx.guest, at, 8);
    if (v === null) return i;
    const frame = v.getBigUint64(0, true);
    if (frame > 0xfffffffffn) return i;
    if (op === XENMEM_decrease_reservation) {
      if (port.decrease(d, Number(frame)) !== 0) return i;
      continue;
    }
    const mfn = port.populate(d, Number(frame));
    if (mfn < 0) return i;
    cell.setBigUint64(0, BigInt(mfn), true);
    if (!writeStruct(ctx.guest, at, cell)) return i;
  }
  return count;
}

/** XENMEM_current_reservation / maximum_reservation / maximum_gpfn: `arg` points at a domid. */
function query(
  port: MemoryReservationPort,
  ctx: HypercallContext,
  op: number,
  arg: number,
): number {
  const v = readStruct(ctx.guest, arg, 2);
  if (v === null) return -XEN_EFAULT;
  const d = target(port, ctx, v.getUint16(0, true));
  if (d < 0) return d;
  if (op === XENMEM_current_reservation) return port.currentReservation(d);
  if (op === XENMEM_maximum_reservation) return port.maximumReservation(d);
  return port.maximumGpfn(d);
}

/** XENMEM_memory_map: copies as many entries as fit and writes back how many it copied. */
function memoryMap(port: MemoryReservationPort, ctx: HypercallContext, arg: number): number {
  const m = readStruct(ctx.guest, arg, 16);
  if (m === null) return -XEN_EFAULT;
  const map = port.memoryMap(ctx.domid);
  const n = Math.min(m.getUint32(0, true), map.length);
  if (n > 0) {
    const buf = pointerField(m, 8);
    const out = new DataView(new ArrayBuffer(n * 20));
    for (let i = 0; i < n; i++) {
      const e = map[i] as E820Entry;
      out.setBigUint64(i * 20, BigInt(e.addr), true);
      out.setBigUint64(i * 20 + 8, BigInt(e.size), true);
      out.setUint32(i * 20 + 16, e.type, true);
    }
    if (!writeStruct(ctx.guest, buf, out)) return -XEN_EFAULT;
  }
  const nr = new DataView(new ArrayBuffer(4));
  nr.setUint32(0, n, true);
  return writeStruct(ctx.guest, arg, nr) ? 0 : -XEN_EFAULT;
}

/** XENMEM_machphys_mfn_list: the first frame of each 2 MiB M2P extent, up to max_extents. */
function machphysMfnList(port: MemoryReservationPort, ctx: HypercallContext, arg: number): number {
  const m = readStruct(ctx.guest, arg, 20);
  if (m === null) return -XEN_EFAULT;
  const frames = port.m2pFrames();
  const extents = Math.ceil(frames.length / M2P_FRAMES_PER_EXTENT);
  const n = Math.min(m.getUint32(0, true), extents);
  if (n > 0) {
    const out = new DataView(new ArrayBuffer(n * 8));
    for (let i = 0; i < n; i++)
      out.setBigUint64(i * 8, BigInt(frames[i * M2P_FRAMES_PER_EXTENT] ?? 0), true);
    if (!writeStruct(ctx.guest, pointerField(m, 8), out)) return -XEN_EFAULT;
  }
  const nr = new DataView(new ArrayBuffer(4));
  nr.setUint32(0, n, true);
  return writeStruct(ctx.guest, arg + 16, nr) ? 0 : -XEN_EFAULT;
}

/** XENMEM_machphys_mapping: where the read-only M2P lives and the highest MFN it covers. */
function machphysMapping(port: MemoryReservationPort, ctx: HypercallContext, arg: number): number {
  const out = new DataView(new ArrayBuffer(24));
  out.setBigUint64(0, MACH2PHYS_VIRT_START, true);
  out.setBigUint64(8, MACH2PHYS_VIRT_END, true);
  out.setBigUint64(16, BigInt(Math.max(0, port.maximumRamPage() - 1)), true);
  return writeStruct(ctx.guest, arg, out) ? 0 : -XEN_EFAULT;
}

/**
 * Runs `HYPERVISOR_memory_op(cmd, arg)` for a 64-bit PV caller. Returns a count, a value, 0 or
 * -XEN_E*; never throws for guest-chosen values. Without a port every command is -ENOSYS. With
 * `preempt`, a long reservation command stops after `preempt.limit` extents (see
 * {@link MemoryOpPreemption}).
 */
export function memoryOp(
  port: MemoryReservationPort | null,
  ctx: HypercallContext,
  cmd: number,
  arg: number,
  preempt: MemoryOpPreemption | null = null,
): number {
  if (port === null) return -XEN_ENOSYS;
  const op = cmd & MEMOP_CMD_MASK;
  const start = cmd >>> MEMOP_EXTENT_SHIFT;
  switch (op) {
    case XENMEM_increase_reservation:
    case XENMEM_decrease_reservation:
    case XENMEM_populate_physmap:
      return reservation(port, ctx, op, start, arg, preempt);
    case XENMEM_maximum_ram_page:
      return port.maximumRamPage();
    case XENMEM_current_reservation:
    case XENMEM_maximum_reservation:
    case XENMEM_maximum_gpfn:
      return query(port, ctx, op, arg);
    case XENMEM_memory_map:
      return memoryMap(port, ctx, arg);
    case XENMEM_machine_memory_map:
      return -XEN_EPERM; // the hardware domain's
    case XENMEM_machphys_mfn_list:
      return machphysMfnList(port, ctx, arg);
    case XENMEM_machphys_mapping:
      return machphysMapping(port, ctx, arg);
    default:
      return -XEN_ENOSYS;
  }
}
