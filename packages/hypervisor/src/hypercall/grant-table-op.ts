/**
 * `HYPERVISOR_grant_table_op(cmd, uop, count)` (#20): walks the array of `count` argument structs
 * at `uop` in the caller's 32- or 64-bit layout, runs each element and writes its OUT fields back.
 * Per-element failures are GNTST_* in the element's `status`; the hypercall itself returns 0, or
 * -EFAULT when an element cannot be read or written (elements before it stay done), -EINVAL for
 * a negative count, a continuation argument, or count != 1 where Xen requires it, and -ENOSYS for
 * unknown and unimplemented sub-ops (dump_table, as in Xen 4.17, and non-empty batches of
 * transfer, unmap_and_replace and cache_flush; an empty batch returns 0 as in Xen).
 *
 * This file implements: map_grant_ref, unmap_grant_ref, setup_table, copy, query_size,
 * set_version, get_version, get_status_frames (v1: general error), swap_grant_ref.
 *
 * @see xen/common/grant_table.c (do_grant_table_op)
 * @see xen/include/public/grant_table.h
 */
import { XEN_EFAULT, XEN_EINVAL, XEN_ENOSYS } from '../abi/errno.ts';
import {
  GNTST_bad_virt_addr,
  GNTST_general_error,
  GNTTAB_LAYOUT_X86_32,
  GNTTAB_LAYOUT_X86_64,
  GNTTABOP_cache_flush,
  GNTTABOP_copy,
  GNTTABOP_get_status_frames,
  GNTTABOP_get_version,
  GNTTABOP_map_grant_ref,
  GNTTABOP_query_size,
  GNTTABOP_set_version,
  GNTTABOP_setup_table,
  GNTTABOP_swap_grant_ref,
  GNTTABOP_transfer,
  GNTTABOP_unmap_and_replace,
  GNTTABOP_unmap_grant_ref,
  type GnttabLayout,
} from '../abi/grant-table.ts';
import type { GrantTables } from '../grant-table/grant-tables.ts';
import {
  argView,
  copyFromGuest,
  copyToGuest,
  getU64,
  getULong,
  guestPointerOk,
  setU64,
} from '../internal/guest-struct.ts';
import type { HypercallContext } from './context.ts';

/** GNTTABOP_CMD_MASK: the low 12 bits of cmd; the rest is a continuation argument. */
const GNTTABOP_CMD_MASK = 0xfff;
/** Offsets of struct gnttab_get_status_frames fields that do not differ between ABIs. */
const STATUS_FRAMES_SIZE_32 = 12;
const STATUS_FRAMES_SIZE_64 = 16;
const STATUS_FRAMES_STATUS = 6;

const pfnBuf = /* @__PURE__ */ new Uint8Array(8);
const pfnView = /* @__PURE__ */ new DataView(pfnBuf.buffer);

/**
 * Runs `HYPERVISOR_grant_table_op(cmd, uop, count)` for the caller in `ctx`. Returns the
 * hypercall's return value; never throws for guest-chosen values.
 */
export function grantTableOp(
  grants: GrantTables,
  ctx: HypercallContext,
  cmd: number,
  uop: number,
  count: number,
): number {
  if (!Number.isSafeInteger(cmd) || cmd < 0) return -XEN_ENOSYS;
  if (!Number.isSafeInteger(count)) return -XEN_EINVAL;
  const n = count >>> 0;
  if (n > 0x7fffffff) return -XEN_EINVAL;
  const op = (cmd % 4096) & GNTTABOP_CMD_MASK;
  if (Math.floor(cmd / 4096) !== 0) return -XEN_EINVAL;
  const layout = ctx.abi === 'x86_32' ? GNTTAB_LAYOUT_X86_32 : GNTTAB_LAYOUT_X86_64;
  switch (op) {
    case GNTTABOP_map_grant_ref:
      return mapGrantRefs(grants, ctx, layout, uop, n);
    case GNTTABOP_unmap_grant_ref:
      return unmapGrantRefs(grants, ctx, layout, uop, n);
    case GNTTABOP_copy:
      return copies(grants, ctx, layout, uop, n);
    case GNTTABOP_setup_table:
      return n === 1 ? setupTable(grants, ctx, layout, uop) : -XEN_EINVAL;
    case GNTTABOP_query_size: {
      if (n !== 1) return -XEN_EINVAL;
      const s = layout.query_size;
      if (!copyFromGuest(ctx.guest, uop, s.size)) return -XEN_EFAULT;
      const r = grants.querySize(ctx.domid, argView.getUint16(s.dom, true));
      argView.setUint32(s.nr_frames, r.nrFrames, true);
      argView.setUint32(s.max_nr_frames, r.maxNrFrames, true);
      argView.setInt16(s.status, r.status, true);
      return copyToGuest(ctx.guest, uop, 0, s.size) ? 0 : -XEN_EFAULT;
    }
    case GNTTABOP_set_version: {
      if (n !== 1) return -XEN_EINVAL;
      const s = layout.set_version;
      if (!copyFromGuest(ctx.guest, uop, s.size)) return -XEN_EFAULT;
      const r = grants.setVersion(ctx.domid, argView.getUint32(s.version, true));
      argView.setUint32(s.version, r.version, true);
      return copyToGuest(ctx.guest, uop, 0, s.size) ? r.rc : -XEN_EFAULT;
    }
    case GNTTABOP_get_version: {
      if (n !== 1) return -XEN_EINVAL;
      const s = layout.get_version;
      if (!copyFromGuest(ctx.guest, uop, s.size)) return -XEN_EFAULT;
      const v = grants.getVersion(ctx.domid, argView.getUint16(s.dom, true));
      if (v < 0) return v;
      argView.setUint32(s.version, v, true);
      return copyToGuest(ctx.guest, uop, s.version, 4) ? 0 : -XEN_EFAULT;
    }
    case GNTTABOP_get_status_frames: {
      if (n !== 1) return -XEN_EINVAL;
      const size = layout.pfnSize === 4 ? STATUS_FRAMES_SIZE_32 : STATUS_FRAMES_SIZE_64;
      if (!copyFromGuest(ctx.guest, uop, size)) return -XEN_EFAULT;
      // Status frames exist only in grant-table v2.
      argView.setInt16(STATUS_FRAMES_STATUS, GNTST_general_error, true);
      return copyToGuest(ctx.guest, uop, STATUS_FRAMES_STATUS, 2) ? 0 : -XEN_EFAULT;
    }
    case GNTTABOP_swap_grant_ref: {
      const s = layout.swap_grant_ref;
      for (let i = 0; i < n; i++) {
        const at = uop + i * s.size;
        if (!copyFromGuest(ctx.guest, at, s.size)) return -XEN_EFAULT;
        const status = grants.swapGrantRef(
          ctx.domid,
          argView.getUint32(s.ref_a, true),
          argView.getUint32(s.ref_b, true),
        );
        argView.setInt16(s.status, status, true);
        if (!copyToGuest(ctx.guest, at, s.status, 2)) return -XEN_EFAULT;
      }
      return 0;
    }
    case GNTTABOP_transfer:
    case GNTTABOP_unmap_and_replace:
    case GNTTABOP_cache_flush:
      // Batched ops Xen supports but Typevisor does not yet: an empty batch succeeds, as in Xen.
      return n === 0 ? 0 : -XEN_ENOSYS;
    default:
      return -XEN_ENOSYS;
  }
}

function mapGrantRefs(
  grants: GrantTables,
  ctx: HypercallContext,
  layout: GnttabLayout,
  uop: number,
  n: number,
): number {
  const s = layout.map_grant_ref;
  for (let i = 0; i < n; i++) {
    const at = uop + i * s.size;
    if (!copyFromGuest(ctx.guest, at, s.size)) return -XEN_EFAULT;
    const r = grants.mapGrantRef(ctx.domid, {
      hostAddr: getU64(s.host_addr),
      flags: argView.getUint32(s.flags, true),
      ref: argView.getUint32(s.ref, true),
      dom: argView.getUint16(s.dom, true),
    });
    argView.setInt16(s.status, r.status, true);
    argView.setUint32(s.handle, r.handle, true);
    if (r.status === 0) setU64(s.dev_bus_addr, r.devBusAddr);
    if (!copyToGuest(ctx.guest, at, 0, s.size)) return -XEN_EFAULT;
  }
  return 0;
}

function unmapGrantRefs(
  grants: GrantTables,
  ctx: HypercallContext,
  layout: GnttabLayout,
  uop: number,
  n: number,
): number {
  const s = layout.unmap_grant_ref;
  for (let i = 0; i < n; i++) {
    const at = uop + i * s.size;
    if (!copyFromGuest(ctx.guest, at, s.size)) return -XEN_EFAULT;
    const status = grants.unmapGrantRef(ctx.domid, {
      hostAddr: getU64(s.host_addr),
      devBusAddr: getU64(s.dev_bus_addr),
      handle: argView.getUint32(s.handle, true),
    });
    argView.setInt16(s.status, status, true);
    if (!copyToGuest(ctx.guest, at, s.status, 2)) return -XEN_EFAULT;
  }
  return 0;
}

function copies(
  grants: GrantTables,
  ctx: HypercallContext,
  layout: GnttabLayout,
  uop: number,
  n: number,
): number {
  const s = layout.copy;
  const gmfnSize = layout.pfnSize;
  for (let i = 0; i < n; i++) {
    const at = uop + i * s.size;
    if (!copyFromGuest(ctx.guest, at, s.size)) return -XEN_EFAULT;
    const flags = argView.getUint16(s.flags, true);
    const status = grants.copy(ctx.domid, {
      source: {
        refOrGmfn: flags & 1 ? argView.getUint32(s.source_u, true) : getULong(s.source_u, gmfnSize),
        domid: argView.getUint16(s.source_domid, true),
        offset: argView.getUint16(s.source_offset, true),
      },
      dest: {
        refOrGmfn: flags & 2 ? argView.getUint32(s.dest_u, true) : getULong(s.dest_u, gmfnSize),
        domid: argView.getUint16(s.dest_domid, true),
        offset: argView.getUint16(s.dest_offset, true),
      },
      len: argView.getUint16(s.len, true),
      flags,
    });
    argView.setInt16(s.status, status, true);
    if (!copyToGuest(ctx.guest, at, s.status, 2)) return -XEN_EFAULT;
  }
  return 0;
}

function setupTable(
  grants: GrantTables,
  ctx: HypercallContext,
  layout: GnttabLayout,
  uop: number,
): number {
  const s = layout.setup_table;
  if (!copyFromGuest(ctx.guest, uop, s.size)) return -XEN_EFAULT;
  const nrFrames = argView.getUint32(s.nr_frames, true);
  const list = getULong(s.frame_list, layout.pfnSize);
  const r = grants.setupTable(ctx.domid, argView.getUint16(s.dom, true), nrFrames);
  let status = r.status;
  for (let i = 0; i < r.frames.length; i++) {
    const frame = r.frames[i] ?? 0;
    if (layout.pfnSize === 4) pfnView.setUint32(0, frame, true);
    else pfnView.setBigUint64(0, BigInt(frame), true);
    const at = list + i * layout.pfnSize;
    if (!guestPointerOk(at) || !ctx.guest.write(at, pfnBuf.subarray(0, layout.pfnSize)))
      status = GNTST_bad_virt_addr;
  }
  argView.setInt16(s.status, status, true);
  return copyToGuest(ctx.guest, uop, s.status, 2) ? 0 : -XEN_EFAULT;
}
