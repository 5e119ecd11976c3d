import type {
  EventChannels,
  GrantIssuer,
  GrantMapper,
  GrantMapping,
  PageAllocator,
} from '../ports.ts';

/** `GNTST_bad_domain`. */
const GNTST_bad_domain = -2;
/** `GNTST_bad_gntref`. */
const GNTST_bad_gntref = -3;
/** `GNTST_permission_denied`. */
const GNTST_permission_denied = -8;
/** `-EINVAL` (Xen errno). */
const EINVAL = -22;
/** First grant ref a guest may use (`GNTTAB_NR_RESERVED_ENTRIES`). */
const FIRST_REF = 8;

interface GrantEntry {
  readonly remote: number;
  readonly page: Uint8Array;
  readonly readonly: boolean;
  maps: number;
}

interface Port {
  readonly domid: number;
  readonly remoteDomid: number;
  peer: Port | undefined;
  handler: (() => void) | undefined;
  pending: boolean;
  closed: boolean;
}

/** One domain's view of a {@link MemoryFabric}: its grant table, mapper, event channels and pages. */
export interface FabricDomain {
  /** This domain's id. */
  readonly domid: number;
  /** Grants this domain's pages to others. */
  readonly grants: GrantIssuer;
  /** Maps pages other domains granted to this one. */
  readonly mapper: GrantMapper;
  /** This domain's event channels. */
  readonly events: EventChannels;
  /** Allocates this domain's pages. */
  readonly pages: PageAllocator;
}

/**
 * Real in-memory grant tables and event channels shared by several domains, for running
 * frontends against backends in one process. A granted page is the same `Uint8Array` on both
 * sides (true shared memory); maps check the grantee and `GTF_readonly`; events are coalesced
 * per port like a pending bit and delivered after a microtask. Counters let tests check leaks.
 */
export class MemoryFabric {
  private readonly tables = new Map<number, Map<number, GrantEntry>>();
  private readonly ports = new Map<number, Map<number, Port>>();
  private readonly domains = new Map<number, FabricDomain>();
  private nextHandle = 1;
  private readonly handles = new Map<number, GrantEntry>();
  /** Events sent, per sending domain. */
  readonly notifications: Map<number, number> = new Map();
  /** Events delivered (handler calls), per receiving domain. */
  readonly deliveries: Map<number, number> = new Map();

  /** The domain `domid` (created on first use). */
  domain(domid: number): FabricDomain {
    const existing = this.domains.get(domid);
    if (existing !== undefined) return existing;
    const table = new Map<number, GrantEntry>();
    this.tables.set(domid, table);
    const ports = new Map<number, Port>();
    this.ports.set(domid, ports);
    let nextRef = FIRST_REF;
    let nextPort = 1;
    const d: FabricDomain = {
      domid,
      grants: {
        grantAccess: (remote, page, readonly) => {
          const ref = nextRef++;
          table.set(ref, { remote, page, readonly, maps: 0 });
          return ref;
        },
        endAccess: (ref) => {
          const e = table.get(ref);
          if (e === undefined) return true;
          if (e.maps > 0) return false;
          table.delete(ref);
          return true;
        },
      },
      mapper: {
        mapGrant: (granter, ref, readonly) => {
          const t = this.tables.get(granter);
          if (t === undefined) return GNTST_bad_domain;
          const e = t.get(ref >>> 0);
          if (e === undefined || e.remote !== domid) return GNTST_bad_gntref;
          if (e.readonly && !readonly) return GNTST_permission_denied;
          e.maps++;
          const handle = this.nextHandle++;
          this.handles.set(handle, e);
          const m: GrantMapping = { page: e.page, handle, writable: !readonly };
          return m;
        },
        unmapGrant: (m) => {
          const e = this.handles.get(m.handle);
          if (e === undefined) return;
          this.handles.delete(m.handle);
          e.maps--;
        },
      },
      events: {
        allocUnbound: (remote) => {
          const p = nextPort++;
          ports.set(p, {
            domid,
            remoteDomid: remote,
            peer: undefined,
            handler: undefined,
            pending: false,
            closed: false,
          });
          return p;
        },
        bindInterdomain: (remote, remotePort) => {
          const other = this.ports.get(remote)?.get(remotePort);
          if (
            other === undefined ||
            other.closed ||
            other.peer !== undefined ||
            other.remoteDomid !== domid
          ) {
            return EINVAL;
          }
          const p = nextPort++;
          const mine: Port = {
            domid,
            remoteDomid: remote,
            peer: other,
            handler: undefined,
            pending: false,
            closed: false,
          };
          other.peer = mine;
          ports.set(p, mine);
          return p;
        },
        notify: (port) => {
          const mine = ports.get(port);
          this.notifications.set(domid, (this.notifications.get(domid) ?? 0) + 1);
          const peer = mine?.peer;
          if (peer === undefined || peer.closed || peer.pending) return;
          peer.pending = true;
          void Promise.resolve().then(() => {
            peer.pending = false;
            if (peer.closed || peer.handler === undefined) return;
            this.deliveries.set(peer.domid, (this.deliveries.get(peer.domid) ?? 0) + 1);
            peer.handler();
          });
        },
        onEvent: (port, handler) => {
          const mine = ports.get(port);
          if (mine !== undefined) mine.handler = handler;
        },
        close: (port) => {
          const mine = ports.get(port);
          if (mine === undefined) return;
          mine.closed = true;
          if (mine.peer !== undefined) mine.peer.peer = undefined;
          ports.delete(port);
        },
      },
      pages: {
        allocPage: () => new Uint8Array(4096),
        freePage: () => {},
      },
    };
    this.domains.set(domid, d);
    return d;
  }

  /** Number of live grant mappings of pages granted by `domid` (0 once a backend has cleaned up). */
  activeMappings(domid: number): number {
    let n = 0;
    for (const e of this.tables.get(domid)?.values() ?? []) n += e.maps;
    return n;
  }

  /** Number of live grant entries in `domid`'s table. */
  activeGrants(domid: number): number {
    return this.tables.get(domid)?.size ?? 0;
  }
}
