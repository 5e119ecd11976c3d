/**
 * `HYPERVISOR_memory_op` for a 32-bit PAE PV ("compat") caller: the same commands as the 64-bit
 * `memoryOp` over the same {@link MemoryReservationPort}, with the compat layouts —
 * `xen_memory_reservation` of 20 bytes (extent_start u32 @0, nr_extents u32 @4, extent_order
 * @8, mem_flags @12, domid u16 @16) with 4-byte extent entries, `xen_memory_map` of 8 bytes
 * ({u32 nr_entries; u32 buffer}), and a 12-byte `xen_machphys_mapping` describing the compat
 * M2P at 0xF5800000–0xFFE00000.
 * @see xen/common/compat/memory.c (compat_memory_op), xen/arch/x86/x86_64/compat/mm.c
 *   (compat_arch_memory_op), xen/include/public/memory.h
 */
import { XEN_EFAULT, XEN_ENOSYS, XEN_EPERM, XEN_ESRCH } from '../abi/errno.ts';
import { DOMID_SELF } from '../abi/xen.ts';
import type { HypercallContext } from '../hypercall/context.ts';
import {
  MEMOP_CMD_MASK,
  MEMOP_EXTENT_SHIFT,
  type MemoryOpPreemption,
  type MemoryReservationPort,
  XENMEM_current_reservation,
  XENMEM_decrease_reservation,
  XENMEM_increase_reservation,
  XENMEM_machine_memory_map,
  XENMEM_machphys_mapping,
  XENMEM_maximum_gpfn,
  XENMEM_maximum_ram_page,
  XENMEM_maximum_reservation,
  XENMEM_memory_map,
  XENMEM_populate_physmap,
} from '../hypercall/memory-op.ts';

/** MACH2PHYS_COMPAT_VIRT_START / _END: the compat M2P window. */
const COMPAT_M2P_START = 0xf5800000;
const COMPAT_M2P_END = 0xffe00000;

/** Reads `size` bytes at `address` of the caller's memory as a DataView, or null. */
function readStruct(ctx: HypercallContext, address: number, size: number): DataView | null {
  const b = new Uint8Array(size);
  return ctx.guest.read(address, b) ? new DataView(b.buffer) : null;
}

/** Writes one u32 at `address` of the caller's memory. */
function writeU32(ctx: HypercallContext, address: number, value: number): boolean {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, value >>> 0, true);
  return ctx.guest.write(address, b);
}

/** The target domain of a domid argument, or a negative errno (a domU manages only itself). */
function target(port: MemoryReservationPort, ctx: HypercallContext, domid: number): number {
  const d = domid === DOMID_SELF ? ctx.domid : domid;
  if (!port.exists(d)) return -XEN_ESRCH;
  return d === ctx.domid ? d : -XEN_EPERM;
}

/** increase/decrease_reservation and populate_physmap with the 20-byte compat reservation. */
function reservation(
  port: MemoryReservationPort,
  ctx: HypercallContext,
  op: number,
  start: number,
  arg: number,
  preempt: MemoryOpPreemption | null,
): number {
  const r = readStruct(ctx, arg, 18);
  if (r === null) return start; // as Xen: a failed copy reports the extents done, no errno
  const list = r.getUint32(0, true);
  const nr = r.getUint32(4, true);
  const order = r.getUint32(8, true);
  const d = target(port, ctx, r.getUint16(16, true));
  if (start >= nr || order !== 0 || d < 0) return start;
  const limit = preempt === null ? Number.POSITIVE_INFINITY : Math.max(1, preempt.limit);
  for (let i = start; i < nr; i++) {
    if (preempt !== null && i - start >= limit) {
      preempt.at = i;
      return i;
    }
    const at = list + i * 4;
    if (op === XENMEM_increase_reservation) {
      const mfn = port.increase(d);
      if (mfn < 0) return i;
      if (list !== 0 && !writeU32(ctx, at, mfn)) return i;
      continue;
    }
    if (list === 0) return i;
    const v = readStruct(ctx, at, 4);
    if (v === null) return i;
    const frame = v.getUint32(0, true);
    if (op === XENMEM_decrease_reservation) {
      if (port.decrease(d, frame) !== 0) return i;
      continue;
    }
    const mfn = port.populate(d, frame);
    if (mfn < 0 || !writeU32(ctx, at, mfn)) return i;
  }
  return nr;
}

/**
 * Runs `HYPERVISOR_memory_op(cmd, arg)` for a 32-bit PV caller. Returns a count, a value, 0 or
 * -XEN_E*; never throws for guest-chosen values. Without a port every command is -ENOSYS;
 * XENMEM_machphys_mfn_list (the compat M2P's frames) is not modelled (-ENOSYS). With
 * `preempt`, a long reservation command stops as `memoryOp`'s does.
 */
export function memoryOp32(
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
    case XENMEM_maximum_gpfn: {
      const v = readStruct(ctx, arg, 2);
      if (v === null) return -XEN_EFAULT;
      const d = target(port, ctx, v.getUint16(0, true));
      if (d < 0) return d;
      if (op === XENMEM_current_reservation) return port.currentReservation(d);
      if (op === XENMEM_maximum_reservation) return port.maximumReservation(d);
      return port.maximumGpfn(d);
    }
    case XENMEM_memory_map: {
      const m = readStruct(ctx, arg, 8);
      if (m === null) return -XEN_EFAULT;
      const map = port.memoryMap(ctx.domid);
      const n = Math.min(m.getUint32(0, true), map.length);
      if (n > 0) {
        const out = new Uint8Array(n * 20);
        const v = new DataView(out.buffer);
        map.slice(0, n).forEach((e, i) => {
          v.setBigUint64(i * 20, BigInt(e.addr), true);
          v.setBigUint64(i * 20 + 8, BigInt(e.size), true);
          v.setUint32(i * 20 + 16, e.type, true);
        });
        if (!ctx.guest.write(m.getUint32(4, true), out)) return -XEN_EFAULT;
      }
      return writeU32(ctx, arg, n) ? 0 : -XEN_EFAULT;
    }
    case XENMEM_machine_memory_map:
      return -XEN_EPERM; // the hardware domain's
    case XENMEM_machphys_mapping: {
      const out = new Uint8Array(12);
      const v = new DataView(out.buffer);
      v.setUint32(0, COMPAT_M2P_START, true);
      v.setUint32(4, COMPAT_M2P_END, true);
      v.setUint32(8, ((COMPAT_M2P_END - COMPAT_M2P_START) >>> 2) - 1, true);
      return ctx.guest.write(arg, out) ? 0 : -XEN_EFAULT;
    }
    default:
      return -XEN_ENOSYS;
  }
}
