/**
 * Grant tables, version 1, as Xen's `grant_table.c`: per-domain shared grant frames of 8-byte
 * entries living in the granter's memory, setup_table, query_size, set/get_version,
 * map_grant_ref/unmap_grant_ref (host mappings for native backends, with a handle that gives
 * access to the frame), copy, and the GTF_reading/GTF_writing flag protocol.
 *
 * Guest-visible failures are GNTST_* status codes or -XEN_E* values, never exceptions.
 *
 * @see xen/common/grant_table.c
 * @see xen/include/public/grant_table.h
 */
import { XEN_EINVAL, XEN_ENOSYS, XEN_EPERM, XEN_ESRCH } from '../abi/errno.ts';
import {
  GNTCOPY_dest_gref,
  GNTCOPY_source_gref,
  GNTMAP_device_map,
  GNTMAP_host_map,
  GNTMAP_readonly,
  GNTST_bad_copy_arg,
  GNTST_bad_dev_addr,
  GNTST_bad_domain,
  GNTST_bad_gntref,
  GNTST_bad_handle,
  GNTST_bad_page,
  GNTST_eagain,
  GNTST_general_error,
  GNTST_no_device_space,
  GNTST_okay,
  GNTST_permission_denied,
  GRANT_ENTRY_V1,
  GTF_permit_access,
  GTF_reading,
  GTF_readonly,
  GTF_sub_page,
  GTF_type_mask,
  GTF_writing,
  INITIAL_NR_GRANT_FRAMES,
} from '../abi/grant-table.ts';
import { DOMID_FIRST_RESERVED, DOMID_SELF } from '../abi/xen.ts';
import { HypervisorError } from '../errors.ts';
import { type GuestMemory, PAGE_SIZE } from '../guest-memory.ts';

/** Pin counters packed in one u32 per active entry, as Xen's GNTPIN_*. */
const GNTPIN_hstr_inc = 1 << 0;
const GNTPIN_hstw_inc = 1 << 8;
const GNTPIN_devr_inc = 1 << 16;
const GNTPIN_devw_inc = 1 << 24;
const GNTPIN_hstw_mask = 0xff << 8;
const GNTPIN_devw_mask = 0xff << 24;
const GNTPIN_overflow = 0x80808080;

/** How a domain takes part in grant tables. */
export interface GrantDomainConfig {
  /** The domain's ID (below DOMID_FIRST_RESERVED). */
  readonly domid: number;
  /** Whether it is a control domain that may act for others (dom0). Default false. */
  readonly privileged?: boolean;
  /** The domain's pseudo-physical memory (grant frames and granted frames live here). */
  readonly memory: GuestMemory;
  /**
   * The frames (in `memory`) that hold the shared grant table, in order; their count is the
   * domain's max_grant_frames. setup_table hands these frame numbers to the guest.
   */
  readonly grantFrames: readonly number[];
  /** Frames in use initially (default INITIAL_NR_GRANT_FRAMES = 1). */
  readonly nrFrames?: number;
  /** Maximum simultaneous mappings this domain may hold (maptrack size). Default 4096. */
  readonly maxMaptrack?: number;
  /**
   * How this domain's GNTMAP_host_map mappings reach its address space (a PV domain: PTEs through
   * the MMU). Absent for native backends, which use {@link GrantTables.mapping} instead.
   */
  readonly hostMapper?: GrantHostMapper;
}

/**
 * The port through which host mappings of granted frames are installed in a mapper's address
 * space, as Xen's `create_grant_host_mapping` / `replace_grant_host_mapping` edit PV page tables.
 */
export interface GrantHostMapper {
  /**
   * Maps `frame` of domain `granter` at `hostAddr` for domain `mapper` (GNTMAP_* `flags` tell
   * readonly, application map, contains_pte). Returns GNTST_okay or a GNTST_* failure, after which
   * the grant is unpinned again.
   */
  map(mapper: number, hostAddr: number, granter: number, frame: number, flags: number): number;
  /** Removes that mapping; returns GNTST_okay or a GNTST_* failure (the mapping then stays). */
  unmap(mapper: number, hostAddr: number, granter: number, frame: number, flags: number): number;
}

/**
 * Told when a writable mapping of a granted frame goes away, as Xen's `gnttab_mark_dirty` on
 * unmap: the mapper may have written the frame, which log-dirty mode must then report.
 * @see xen/common/grant_table.c (unmap_common_complete, gnttab_mark_dirty)
 */
export interface GrantDirtyPort {
  /** Frame `frame` of domain `granter` was mapped writable and may have been written. */
  grantFrameWritten(granter: number, frame: number): void;
}

/** IN fields of a map_grant_ref. */
export interface MapGrantRefArgs {
  /** Where the caller maps the frame (a virtual address for PV guests; a token for native backends). */
  readonly hostAddr: number;
  /** GNTMAP_* flags. */
  readonly flags: number;
  /** The grant reference in the granter's table. */
  readonly ref: number;
  /** The granting domain. */
  readonly dom: number;
}

/** OUT fields of a map_grant_ref. */
export interface MapGrantRefResult {
  /** GNTST_* status. */
  readonly status: number;
  /** The mapping handle (valid when status is GNTST_okay). */
  readonly handle: number;
  /** Bus address of the frame for GNTMAP_device_map (frame << 12), else 0. */
  readonly devBusAddr: number;
}

/** IN fields of an unmap_grant_ref. */
export interface UnmapGrantRefArgs {
  /** The host address used at map time (0 = leave the host mapping). */
  readonly hostAddr: number;
  /** The device bus address returned at map time (0 = leave the device mapping). */
  readonly devBusAddr: number;
  /** The handle returned by map_grant_ref. */
  readonly handle: number;
}

/** OUT fields of GNTTABOP_setup_table. */
export interface SetupTableResult {
  /** GNTST_* status. */
  readonly status: number;
  /** Frame numbers of the table's first `nr_frames` frames (empty on failure). */
  readonly frames: number[];
}

/** OUT fields of GNTTABOP_query_size. */
export interface QuerySizeResult {
  /** GNTST_* status. */
  readonly status: number;
  /** Frames in use. */
  readonly nrFrames: number;
  /** max_grant_frames. */
  readonly maxNrFrames: number;
}

/** Result of GNTTABOP_set_version. */
export interface SetVersionResult {
  /** The hypercall return value: 0, -ENOSYS (version 2) or -EINVAL. */
  readonly rc: number;
  /** The table's version afterwards (copied back to the guest). */
  readonly version: number;
}

/** One side of a grant copy (`struct gnttab_copy_ptr`). */
export interface GrantCopyPtr {
  /** Grant reference (when the matching GNTCOPY_*_gref flag is set) or frame of DOMID_SELF. */
  readonly refOrGmfn: number;
  /** The domain (DOMID_SELF for frame copies). */
  readonly domid: number;
  /** Byte offset within the page. */
  readonly offset: number;
}

/** IN fields of one grant copy. */
export interface GrantCopyArgs {
  /** Where to copy from. */
  readonly source: GrantCopyPtr;
  /** Where to copy to. */
  readonly dest: GrantCopyPtr;
  /** Bytes to copy. */
  readonly len: number;
  /** GNTCOPY_source_gref and/or GNTCOPY_dest_gref. */
  readonly flags: number;
}

/** Access to a frame mapped with map_grant_ref, for native (TypeScript) backends. */
export interface GrantMapping {
  /** The granting domain. */
  readonly granter: number;
  /** The grant reference. */
  readonly ref: number;
  /** The granted frame, in the granter's memory. */
  readonly frame: number;
  /** Whether the mapping is read-only. */
  readonly readonly: boolean;
  /** Copies bytes out of the frame at `offset`; false if unmapped or out of the page. */
  read(offset: number, dst: Uint8Array): boolean;
  /** Copies bytes into the frame at `offset`; false if unmapped, read-only or out of the page. */
  write(offset: number, src: Uint8Array): boolean;
}

/** One live mapping in {@link GrantDomainState}. */
export interface MaptrackRecord {
  /** The handle. */
  readonly handle: number;
  /** The granting domain. */
  readonly granter: number;
  /** The grant reference. */
  readonly ref: number;
  /** GNTMAP_* flags still in effect (device_map/host_map/readonly). */
  readonly flags: number;
  /** The host address given at map time. */
  readonly hostAddr: number;
}

/** One pinned (active) grant entry in {@link GrantDomainState}. */
export interface ActiveRecord {
  /** The grant reference. */
  readonly ref: number;
  /** Packed GNTPIN counters (host read, host write, device read, device write; a byte each). */
  readonly pin: number;
  /** The domain holding the pins. */
  readonly domid: number;
  /** The pinned frame. */
  readonly frame: number;
}

/** Plain-data state of one domain's grant table (the entries themselves live in guest memory). */
export interface GrantDomainState {
  /** The domain's ID. */
  readonly domid: number;
  /** Whether it is privileged. */
  readonly privileged: boolean;
  /** The grant-table frames (max_grant_frames = their count). */
  readonly grantFrames: readonly number[];
  /** Frames in use. */
  readonly nrFrames: number;
  /** Maptrack capacity. */
  readonly maxMaptrack: number;
  /** Active (pinned) entries of this domain's table. */
  readonly active: readonly ActiveRecord[];
  /** Mappings this domain holds of other domains' grants. */
  readonly maptrack: readonly MaptrackRecord[];
}

/** Plain-data state of all grant tables. */
export interface GrantTablesState {
  /** One entry per domain, in domid order. */
  readonly domains: readonly GrantDomainState[];
}

interface MapEntry {
  flags: number;
  readonly granter: GrantDomain;
  readonly ref: number;
  readonly hostAddr: number;
  mapping: GrantMapping | undefined;
}

class GrantDomain {
  readonly domid: number;
  readonly privileged: boolean;
  readonly memory: GuestMemory;
  readonly grantFrames: readonly number[];
  readonly maxEntries: number;
  readonly maxMaptrack: number;
  nrFrames: number;
  /** Active entries, by ref (Xen's `act`), only present while pinned. */
  readonly pin: Uint32Array;
  readonly actDomid: Int32Array;
  readonly actFrame: Float64Array;
  readonly maptrack: Array<MapEntry | undefined> = [];
  readonly hostMapper: GrantHostMapper | undefined;
  dying = false;

  constructor(config: GrantDomainConfig) {
    const { domid, grantFrames } = config;
    if (!Number.isInteger(domid) || domid < 0 || domid >= DOMID_FIRST_RESERVED) {
      throw new HypervisorError('INVALID_ARGUMENT', `domid ${domid} is not a real domain id`);
    }
    if (grantFrames.length < 1 || !grantFrames.every((f) => Number.isInteger(f) && f >= 0)) {
      throw new HypervisorError(
        'INVALID_ARGUMENT',
        `d${domid}: grantFrames must be one or more frame numbers`,
      );
    }
    const nrFrames = config.nrFrames ?? Math.min(INITIAL_NR_GRANT_FRAMES, grantFrames.length);
    if (!Number.isInteger(nrFrames) || nrFrames < 0 || nrFrames > grantFrames.length) {
      throw new HypervisorError(
        'INVALID_ARGUMENT',
        `d${domid}: nrFrames ${nrFrames} outside 0..${grantFrames.length}`,
      );
    }
    const maxMaptrack = config.maxMaptrack ?? 4096;
    if (!Number.isInteger(maxMaptrack) || maxMaptrack < 0) {
      throw new HypervisorError('INVALID_ARGUMENT', `d${domid}: bad maxMaptrack ${maxMaptrack}`);
    }
    this.domid = domid;
    this.privileged = config.privileged === true;
    this.memory = config.memory;
    this.grantFrames = [...grantFrames];
    this.nrFrames = nrFrames;
    this.maxMaptrack = maxMaptrack;
    this.hostMapper = config.hostMapper;
    this.maxEntries = grantFrames.length * GRANT_ENTRY_V1.perFrame;
    this.pin = new Uint32Array(this.maxEntries);
    this.actDomid = new Int32Array(this.maxEntries).fill(-1);
    this.actFrame = new Float64Array(this.maxEntries);
  }

  nrEntries(): number {
    return this.nrFrames * GRANT_ENTRY_V1.perFrame;
  }

  entryAddress(ref: number): number {
    return (this.grantFrames[ref >>> 9] ?? 0) * PAGE_SIZE + (ref & 511) * GRANT_ENTRY_V1.size;
  }
}

const entryBuf = /* @__PURE__ */ new Uint8Array(8);
const entryView = /* @__PURE__ */ new DataView(entryBuf.buffer);
const flagsBuf = /* @__PURE__ */ new Uint8Array(2);
const copyBuf = /* @__PURE__ */ new Uint8Array(PAGE_SIZE);

function isU32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}

/**
 * The host's grant tables.
 *
 * @example
 * ```ts
 * const mem1 = new PagedGuestMemory(8);
 * const mem0 = new PagedGuestMemory(8);
 * const grants = new GrantTables();
 * grants.addDomain({ domid: 0, privileged: true, memory: mem0, grantFrames: [7] });
 * grants.addDomain({ domid: 1, memory: mem1, grantFrames: [7] });
 * // domU 1 grants its frame 3 to dom0: domid and frame first, then flags.
 * const entry = new DataView(mem1.bytes.buffer, 7 * 4096 + 8 * 8, 8);
 * entry.setUint16(2, 0, true);
 * entry.setUint32(4, 3, true);
 * entry.setUint16(0, GTF_permit_access, true);
 * const { status, handle } = grants.mapGrantRef(0, { hostAddr: 0x1000, flags: GNTMAP_host_map, ref: 8, dom: 1 });
 * grants.mapping(0, handle)?.write(0, new Uint8Array([1, 2, 3])); // lands in domU frame 3
 * ```
 */
export class GrantTables {
  private readonly domains = new Map<number, GrantDomain>();
  /** Told about writable mappings as they are unmapped (log-dirty); null by default. */
  dirtyPort: GrantDirtyPort | null = null;

  /**
   * Restores grant tables from {@link GrantTables.getState} output, each domain's memory and
   * (for PV mappers) its host mapper; the mappings themselves are part of the mapper's page
   * tables and are not re-installed.
   */
  static fromState(
    state: GrantTablesState,
    ports: {
      memoryOf: (domid: number) => GuestMemory;
      hostMapperOf?: (domid: number) => GrantHostMapper | undefined;
    },
  ): GrantTables {
    const grants = new GrantTables();
    for (const ds of state.domains) {
      const hostMapper = ports.hostMapperOf?.(ds.domid);
      const d = grants.attach({
        ...(hostMapper === undefined ? {} : { hostMapper }),
        domid: ds.domid,
        privileged: ds.privileged,
        memory: ports.memoryOf(ds.domid),
        grantFrames: ds.grantFrames,
        nrFrames: ds.nrFrames,
        maxMaptrack: ds.maxMaptrack,
      });
      for (const a of ds.active) {
        if (!(isU32(a.ref) && a.ref < d.maxEntries))
          throw new HypervisorError('INVALID_STATE', `bad active ref ${a.ref}`);
        d.pin[a.ref] = a.pin;
        d.actDomid[a.ref] = a.domid;
        d.actFrame[a.ref] = a.frame;
      }
    }
    for (const ds of state.domains) {
      const d = grants.domains.get(ds.domid);
      if (!d) continue;
      for (const m of ds.maptrack) {
        const granter = grants.domains.get(m.granter);
        if (!granter || !(isU32(m.handle) && m.handle < d.maxMaptrack)) {
          throw new HypervisorError(
            'INVALID_STATE',
            `d${ds.domid}: bad maptrack record ${m.handle}`,
          );
        }
        d.maptrack[m.handle] = {
          flags: m.flags,
          granter,
          ref: m.ref,
          hostAddr: m.hostAddr,
          mapping: undefined,
        };
      }
    }
    return grants;
  }

  /** Plain, JSON-safe state (domains being destroyed are not included). */
  getState(): GrantTablesState {
    const domains: GrantDomainState[] = [];
    for (const d of [...this.domains.values()].sort((a, b) => a.domid - b.domid)) {
      const active: ActiveRecord[] = [];
      for (let ref = 0; ref < d.maxEntries; ref++) {
        const pin = d.pin[ref] ?? 0;
        if (pin !== 0)
          active.push({ ref, pin, domid: d.actDomid[ref] ?? -1, frame: d.actFrame[ref] ?? 0 });
      }
      const maptrack: MaptrackRecord[] = [];
      d.maptrack.forEach((m, handle) => {
        if (m)
          maptrack.push({
            handle,
            granter: m.granter.domid,
            ref: m.ref,
            flags: m.flags,
            hostAddr: m.hostAddr,
          });
      });
      domains.push({
        domid: d.domid,
        privileged: d.privileged,
        grantFrames: [...d.grantFrames],
        nrFrames: d.nrFrames,
        maxMaptrack: d.maxMaptrack,
        active,
        maptrack,
      });
    }
    return { domains };
  }

  /** Adds a domain's grant table. Throws if the domid is taken. */
  addDomain(config: GrantDomainConfig): void {
    this.attach(config);
  }

  /**
   * Removes a domain: its own mappings of others' grants are released (flags cleared as on
   * unmap, Xen's gnttab_release_mappings); mappings others hold of its grants stay usable until
   * they are unmapped, as Xen keeps a dying domain's pages referenced.
   */
  removeDomain(domid: number): void {
    const d = this.domains.get(domid);
    if (!d) return;
    d.maptrack.forEach((m, handle) => {
      if (m) this.unmapCommon(d, handle, m, m.flags & (GNTMAP_host_map | GNTMAP_device_map));
    });
    d.dying = true;
    this.domains.delete(domid);
  }

  /** Whether a domain is known. */
  hasDomain(domid: number): boolean {
    return this.domains.has(domid);
  }

  /**
   * GNTTABOP_setup_table: grows `dom`'s table to at least `nrFrames` frames and returns their
   * frame numbers. `status` is GNTST_bad_domain, GNTST_permission_denied or GNTST_general_error
   * (more than max_grant_frames) on failure.
   */
  setupTable(caller: number, dom: number, nrFrames: number): SetupTableResult {
    const cd = this.domain(caller);
    const d = this.lookupAny(cd, dom);
    if (!d) return { status: GNTST_bad_domain, frames: [] };
    if (d !== cd && !cd.privileged) return { status: GNTST_permission_denied, frames: [] };
    if (!isU32(nrFrames) || nrFrames > d.grantFrames.length)
      return { status: GNTST_general_error, frames: [] };
    if (nrFrames > d.nrFrames) d.nrFrames = nrFrames;
    return { status: GNTST_okay, frames: d.grantFrames.slice(0, nrFrames) };
  }

  /** GNTTABOP_query_size: current and maximum frame counts of `dom`'s table. */
  querySize(caller: number, dom: number): QuerySizeResult {
    const cd = this.domain(caller);
    const d = this.lookupAny(cd, dom);
    if (!d) return { status: GNTST_bad_domain, nrFrames: 0, maxNrFrames: 0 };
    if (d !== cd && !cd.privileged)
      return { status: GNTST_permission_denied, nrFrames: 0, maxNrFrames: 0 };
    return { status: GNTST_okay, nrFrames: d.nrFrames, maxNrFrames: d.grantFrames.length };
  }

  /**
   * GNTTABOP_set_version: only version 1 exists here (max_grant_version = 1), so asking for 2
   * returns -ENOSYS as Xen does ("behave as before set_version was introduced"); other values
   * -EINVAL. `version` is the table's version afterwards.
   */
  setVersion(caller: number, version: number): SetVersionResult {
    this.domain(caller);
    if (version !== 1 && version !== 2) return { rc: -XEN_EINVAL, version: 1 };
    if (version === 2) return { rc: -XEN_ENOSYS, version: 1 };
    return { rc: 0, version: 1 };
  }

  /** GNTTABOP_get_version: the table version of `dom` (always 1) or -errno. */
  getVersion(caller: number, dom: number): number {
    const cd = this.domain(caller);
    const d = this.lookupAny(cd, dom);
    if (!d) return -XEN_ESRCH;
    if (d !== cd && !cd.privileged) return -XEN_EPERM;
    return 1;
  }

  /** GNTTABOP_map_grant_ref for one element: pins the grant and returns a handle. */
  mapGrantRef(caller: number, args: MapGrantRefArgs): MapGrantRefResult {
    const ld = this.domain(caller);
    const { flags, ref, dom, hostAddr } = args;
    if ((flags & (GNTMAP_device_map | GNTMAP_host_map)) === 0) return fail(GNTST_bad_gntref);
    const rd = dom === DOMID_SELF ? undefined : this.domains.get(dom);
    if (!rd) return fail(GNTST_bad_domain);
    const handle = this.getMaptrackHandle(ld);
    if (handle < 0) return fail(GNTST_no_device_space);
    if (!isU32(ref) || ref >= rd.nrEntries()) return fail(GNTST_bad_gntref);
    const readonly = (flags & GNTMAP_readonly) !== 0;
    const pin = rd.pin[ref] ?? 0;
    if (pin !== 0 && (rd.actDomid[ref] !== ld.domid || (pin & GNTPIN_overflow) !== 0))
      return fail(GNTST_general_error);
    if (pin === 0 || (!readonly && (pin & (GNTPIN_hstw_mask | GNTPIN_devw_mask)) === 0)) {
      const rc = this.setStatus(rd, ref, readonly, true, ld.domid, pin);
      if (rc !== GNTST_okay) return fail(rc);
      if (pin === 0) {
        const frame = entryView.getUint32(4, true);
        if (!rd.memory.hasFrame(frame)) {
          this.clearFlags(rd, ref, GTF_reading | GTF_writing);
          return fail(GNTST_bad_page);
        }
        rd.actDomid[ref] = ld.domid;
        rd.actFrame[ref] = frame;
      }
    }
    let inc = 0;
    if (flags & GNTMAP_device_map) inc += readonly ? GNTPIN_devr_inc : GNTPIN_devw_inc;
    if (flags & GNTMAP_host_map) inc += readonly ? GNTPIN_hstr_inc : GNTPIN_hstw_inc;
    rd.pin[ref] = pin + inc;
    const frame = rd.actFrame[ref] ?? 0;
    if (flags & GNTMAP_host_map && ld.hostMapper !== undefined) {
      const rc = ld.hostMapper.map(ld.domid, hostAddr, rd.domid, frame, flags);
      if (rc !== GNTST_okay) {
        // undo_out: drop the pins just taken and the flags they set.
        rd.pin[ref] = pin;
        this.reduceStatusForPin(rd, ref, readonly);
        return fail(rc < 0 && rc >= -13 ? rc : GNTST_general_error);
      }
    }
    ld.maptrack[handle] = {
      flags: flags & (GNTMAP_device_map | GNTMAP_host_map | GNTMAP_readonly),
      granter: rd,
      ref,
      hostAddr: Number.isSafeInteger(hostAddr) ? hostAddr : 0,
      mapping: undefined,
    };
    return {
      status: GNTST_okay,
      handle,
      devBusAddr: flags & GNTMAP_device_map ? frame * PAGE_SIZE : 0,
    };
  }

  /**
   * GNTTABOP_unmap_grant_ref for one element: drops the host mapping (if `hostAddr` is non-zero
   * and matches) and/or the device mapping (if `devBusAddr` is non-zero and matches), clearing
   * GTF_writing/GTF_reading in the granter's entry when the last such pin goes. Returns GNTST_*.
   */
  unmapGrantRef(caller: number, args: UnmapGrantRefArgs): number {
    const ld = this.domain(caller);
    const { handle, hostAddr, devBusAddr } = args;
    if (!isU32(handle) || handle >= ld.maptrack.length) return GNTST_bad_handle;
    const m = ld.maptrack[handle];
    if (!m || m.flags === 0) return GNTST_bad_handle;
    const rd = m.granter;
    const frame = rd.actFrame[m.ref] ?? 0;
    let done = 0;
    if (devBusAddr !== 0 && m.flags & GNTMAP_device_map) {
      if (devBusAddr !== frame * PAGE_SIZE) return GNTST_bad_dev_addr;
      done |= GNTMAP_device_map;
    }
    if (hostAddr !== 0 && m.flags & GNTMAP_host_map) {
      if (ld.hostMapper !== undefined) {
        const rc = ld.hostMapper.unmap(ld.domid, hostAddr, rd.domid, frame, m.flags);
        if (rc !== GNTST_okay) return rc < 0 && rc >= -13 ? rc : GNTST_general_error;
      } else if (hostAddr !== m.hostAddr) {
        return GNTST_general_error;
      }
      done |= GNTMAP_host_map;
    }
    this.unmapCommon(ld, handle, m, done);
    return GNTST_okay;
  }

  /** GNTTABOP_copy for one element. Returns GNTST_*. */
  copy(caller: number, op: GrantCopyArgs): number {
    const cd = this.domain(caller);
    const { source, dest, len, flags } = op;
    const srcGref = (flags & GNTCOPY_source_gref) !== 0;
    const dstGref = (flags & GNTCOPY_dest_gref) !== 0;
    // gnttab_copy_lock_domains: only DOMID_SELF may be addressed by frame.
    if (source.domid !== DOMID_SELF && !srcGref) return GNTST_permission_denied;
    const sd = source.domid === DOMID_SELF ? cd : this.domains.get(source.domid);
    if (!sd) return GNTST_bad_domain;
    if (dest.domid !== DOMID_SELF && !dstGref) return GNTST_permission_denied;
    const dd = dest.domid === DOMID_SELF ? cd : this.domains.get(dest.domid);
    if (!dd) return GNTST_bad_domain;
    if (!isU32(len) || !isU32(source.offset) || !isU32(dest.offset)) return GNTST_bad_copy_arg;
    // Claim the source (read-only pin for grants).
    const srcFrame = srcGref
      ? this.acquireForCopy(sd, source.refOrGmfn, cd.domid, true)
      : this.ownFrame(sd, source.refOrGmfn);
    if (srcFrame < 0) return srcFrame;
    const dstFrame = dstGref
      ? this.acquireForCopy(dd, dest.refOrGmfn, cd.domid, false)
      : this.ownFrame(dd, dest.refOrGmfn);
    if (dstFrame < 0) {
      if (srcGref) this.releaseForCopy(sd, source.refOrGmfn, true);
      return dstFrame;
    }
    let rc: number = GNTST_okay;
    if (source.offset + len > PAGE_SIZE || dest.offset + len > PAGE_SIZE) {
      rc = GNTST_bad_copy_arg;
    } else if (len > 0) {
      const chunk = copyBuf.subarray(0, len);
      if (
        !sd.memory.read(srcFrame * PAGE_SIZE + source.offset, chunk) ||
        !dd.memory.write(dstFrame * PAGE_SIZE + dest.offset, chunk)
      ) {
        rc = GNTST_general_error;
      }
    }
    if (dstGref) this.releaseForCopy(dd, dest.refOrGmfn, false);
    if (srcGref) this.releaseForCopy(sd, source.refOrGmfn, true);
    return rc;
  }

  /**
   * GNTTABOP_swap_grant_ref for one element: exchanges two entries of the caller's own table
   * unless either is in use (GNTST_eagain). Returns GNTST_*.
   */
  swapGrantRef(caller: number, refA: number, refB: number): number {
    const d = this.domain(caller);
    const n = d.nrEntries();
    if (!isU32(refA) || refA >= n || !isU32(refB) || refB >= n) return GNTST_bad_gntref;
    if (refA === refB) return GNTST_okay;
    if ((d.pin[refA] ?? 0) !== 0 || (d.pin[refB] ?? 0) !== 0) return GNTST_eagain;
    const a = new Uint8Array(GRANT_ENTRY_V1.size);
    const b = new Uint8Array(GRANT_ENTRY_V1.size);
    if (!d.memory.read(d.entryAddress(refA), a) || !d.memory.read(d.entryAddress(refB), b))
      return GNTST_general_error;
    d.memory.write(d.entryAddress(refA), b);
    d.memory.write(d.entryAddress(refB), a);
    return GNTST_okay;
  }

  /**
   * Access to the frame behind mapping `handle` of domain `caller` (for native backends), or
   * `undefined` if there is no such host mapping. The object stops working once unmapped.
   */
  mapping(caller: number, handle: number): GrantMapping | undefined {
    const ld = this.domain(caller);
    const m = isU32(handle) ? ld.maptrack[handle] : undefined;
    if (!m || (m.flags & GNTMAP_host_map) === 0) return undefined;
    if (m.mapping) return m.mapping;
    const rd = m.granter;
    const entry = m;
    const base = (rd.actFrame[m.ref] ?? 0) * PAGE_SIZE;
    const readonly = (m.flags & GNTMAP_readonly) !== 0;
    const live = (offset: number, length: number): boolean =>
      (entry.flags & GNTMAP_host_map) !== 0 &&
      Number.isInteger(offset) &&
      offset >= 0 &&
      offset + length <= PAGE_SIZE;
    m.mapping = {
      granter: rd.domid,
      ref: m.ref,
      frame: rd.actFrame[m.ref] ?? 0,
      readonly,
      read: (offset, dst) => live(offset, dst.length) && rd.memory.read(base + offset, dst),
      write: (offset, src) =>
        !readonly && live(offset, src.length) && rd.memory.write(base + offset, src),
    };
    return m.mapping;
  }

  private attach(config: GrantDomainConfig): GrantDomain {
    if (this.domains.has(config.domid)) {
      throw new HypervisorError(
        'INVALID_STATE',
        `domain ${config.domid} already has a grant table`,
      );
    }
    const d = new GrantDomain(config);
    this.domains.set(d.domid, d);
    return d;
  }

  private domain(domid: number): GrantDomain {
    const d = this.domains.get(domid);
    if (!d) throw new HypervisorError('NOT_FOUND', `no grant-table domain ${domid}`);
    return d;
  }

  private lookupAny(caller: GrantDomain, dom: number): GrantDomain | undefined {
    return dom === DOMID_SELF ? caller : this.domains.get(dom);
  }

  private getMaptrackHandle(d: GrantDomain): number {
    const mt = d.maptrack;
    for (let h = 0; h < mt.length; h++) if (mt[h] === undefined) return h;
    return mt.length < d.maxMaptrack ? mt.length : -1;
  }

  /** Reads entry `ref` of `rd` into entryBuf; false if the grant frame cannot be read. */
  private readEntry(rd: GrantDomain, ref: number): boolean {
    return rd.memory.read(rd.entryAddress(ref), entryBuf);
  }

  /**
   * _set_status_v1: check the entry's type/domid (when not yet pinned) and readonly flag, then
   * set GTF_reading (and GTF_writing unless `readonly`). Leaves the entry in entryBuf.
   */
  private setStatus(
    rd: GrantDomain,
    ref: number,
    readonly: boolean,
    mapflag: boolean,
    ldomid: number,
    pin: number,
  ): number {
    if (!this.readEntry(rd, ref)) return GNTST_general_error;
    const flags = entryView.getUint16(0, true);
    const domid = entryView.getUint16(2, true);
    const mask = mapflag ? GTF_type_mask | GTF_sub_page : GTF_type_mask;
    if (pin === 0 && ((flags & mask) !== GTF_permit_access || domid !== ldomid))
      return GNTST_general_error;
    let next = flags | GTF_reading;
    if (!readonly) {
      if (flags & GTF_readonly) return GNTST_general_error;
      next |= GTF_writing;
    }
    if (next !== flags) {
      entryView.setUint16(0, next, true);
      flagsBuf[0] = next & 0xff;
      flagsBuf[1] = next >>> 8;
      if (!rd.memory.write(rd.entryAddress(ref), flagsBuf)) return GNTST_general_error;
    }
    return GNTST_okay;
  }

  /** gnttab_clear_flags: clear bits in the granter's current entry flags, whatever they now are. */
  private clearFlags(rd: GrantDomain, ref: number, bits: number): void {
    const address = rd.entryAddress(ref);
    if (!rd.memory.read(address, flagsBuf)) return;
    const flags = (flagsBuf[0] ?? 0) | ((flagsBuf[1] ?? 0) << 8);
    const next = flags & ~bits;
    if (next === flags) return;
    flagsBuf[0] = next & 0xff;
    flagsBuf[1] = next >>> 8;
    rd.memory.write(address, flagsBuf);
  }

  /** reduce_status_for_pin: clear GTF_writing when write pins are gone, GTF_reading when all are. */
  private reduceStatusForPin(rd: GrantDomain, ref: number, readonly: boolean): void {
    const pin = rd.pin[ref] ?? 0;
    let bits = 0;
    if (!readonly && (pin & (GNTPIN_hstw_mask | GNTPIN_devw_mask)) === 0) bits |= GTF_writing;
    if (pin === 0) {
      bits |= GTF_reading;
      rd.actDomid[ref] = -1;
      rd.actFrame[ref] = 0;
    }
    if (bits !== 0) this.clearFlags(rd, ref, bits);
  }

  private unmapCommon(ld: GrantDomain, handle: number, m: MapEntry, done: number): void {
    const rd = m.granter;
    const readonly = (m.flags & GNTMAP_readonly) !== 0;
    let pin = rd.pin[m.ref] ?? 0;
    if (done & GNTMAP_device_map) pin -= readonly ? GNTPIN_devr_inc : GNTPIN_devw_inc;
    if (done & GNTMAP_host_map) pin -= readonly ? GNTPIN_hstr_inc : GNTPIN_hstw_inc;
    rd.pin[m.ref] = pin;
    if (!readonly && done !== 0 && this.dirtyPort !== null) {
      this.dirtyPort.grantFrameWritten(rd.domid, rd.actFrame[m.ref] ?? 0);
    }
    m.flags &= ~done;
    if (done !== 0) this.reduceStatusForPin(rd, m.ref, readonly);
    if ((m.flags & (GNTMAP_device_map | GNTMAP_host_map)) === 0) {
      m.flags = 0;
      ld.maptrack[handle] = undefined;
    }
  }

  /** get_paged_frame for DOMID_SELF frame copies: the frame must belong to the domain. */
  private ownFrame(d: GrantDomain, gmfn: number): number {
    return d.memory.hasFrame(gmfn) ? gmfn : GNTST_bad_page;
  }

  /** acquire_grant_for_copy (v1): returns the frame or a negative GNTST_* code. */
  private acquireForCopy(rd: GrantDomain, ref: number, ldomid: number, readonly: boolean): number {
    if (!isU32(ref) || ref >= rd.nrEntries()) return GNTST_bad_gntref;
    const pin = rd.pin[ref] ?? 0;
    if (pin !== 0 && (rd.actDomid[ref] !== ldomid || (pin & GNTPIN_overflow) !== 0))
      return GNTST_general_error;
    if (pin === 0 || (!readonly && (pin & (GNTPIN_hstw_mask | GNTPIN_devw_mask)) === 0)) {
      const rc = this.setStatus(rd, ref, readonly, false, ldomid, pin);
      if (rc !== GNTST_okay) return rc;
      const frame = entryView.getUint32(4, true);
      if (!rd.memory.hasFrame(frame)) {
        if (pin === 0) this.clearFlags(rd, ref, GTF_reading | GTF_writing);
        else if (!readonly) this.clearFlags(rd, ref, GTF_writing);
        return GNTST_bad_page;
      }
      if (pin === 0) {
        rd.actDomid[ref] = ldomid;
        rd.actFrame[ref] = frame;
      }
    }
    rd.pin[ref] = pin + (readonly ? GNTPIN_hstr_inc : GNTPIN_hstw_inc);
    return rd.actFrame[ref] ?? 0;
  }

  /** release_grant_for_copy. */
  private releaseForCopy(rd: GrantDomain, ref: number, readonly: boolean): void {
    rd.pin[ref] = (rd.pin[ref] ?? 0) - (readonly ? GNTPIN_hstr_inc : GNTPIN_hstw_inc);
    this.reduceStatusForPin(rd, ref, readonly);
  }
}

function fail(status: number): MapGrantRefResult {
  return { status, handle: 0, devBusAddr: 0 };
}
