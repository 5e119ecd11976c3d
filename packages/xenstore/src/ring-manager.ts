/**
 * Serving every introduced guest's ring: when dom0 sends `XS_INTRODUCE domid gfn port`,
 * the store asks the hypervisor to map that domain's xenstore page and starts a
 * {@link RingConnection} on it; `XS_RELEASE` tears it down. The hypervisor calls
 * {@link RingManager.kick} when a guest signals its store event channel.
 *
 * @see tools/xenstored/domain.c (`do_introduce`, `new_domain`, `map_interface`)
 * @module
 */
import { RingConnection } from './ring.ts';
import type { DomainPort, Xenstore } from './xenstore.ts';

/** What the hypervisor provides so the store can serve guest rings. */
export interface GuestRingHost {
  /**
   * Maps the xenstore page of `domid` (the frame `XS_INTRODUCE` named) for the daemon.
   * Returns `undefined` if the frame is not the domain's; the domain is then known but has
   * no ring, as with a failed mapping in xenstored.
   */
  mapRingPage(domid: number, mfn: number): Uint8Array | undefined;
  /** Signals the domain's store event channel (`port` as given to `XS_INTRODUCE`). */
  notify(domid: number, port: number): void;
  /** Releases the mapping made by {@link GuestRingHost.mapRingPage}. */
  unmapRingPage?(domid: number): void;
}

/** Creates, kicks and closes the ring connections of introduced domains. */
export class RingManager implements DomainPort {
  private readonly xs: Xenstore;
  private readonly host: GuestRingHost;
  private readonly rings: Map<number, RingConnection> = new Map();

  /** Attaches to `xs` (becoming its {@link DomainPort}). */
  constructor(xs: Xenstore, host: GuestRingHost) {
    this.xs = xs;
    this.host = host;
    xs.domainPort = this;
  }

  /** `XS_INTRODUCE` of a new domain: maps its page and starts serving it. */
  introduced(domid: number, mfn: number, port: number): void {
    const page = this.host.mapRingPage(domid, mfn);
    if (page === undefined) {
      this.xs.log(`xenstored: cannot map the ring of domain ${domid} (frame ${mfn})`);
      return;
    }
    this.attach(domid, page, port);
  }

  /**
   * Serves a ring the embedder mapped itself (a domain it built and introduces without a
   * dom0 request, or dom0's own ring).
   */
  attach(domid: number, page: Uint8Array, port: number): RingConnection {
    this.rings.get(domid)?.close();
    const ring = new RingConnection(this.xs, domid, {
      page,
      notify: () => this.host.notify(domid, port),
    });
    this.rings.set(domid, ring);
    // The guest may have queued requests before it was introduced.
    ring.kick();
    return ring;
  }

  /** `XS_RELEASE`: stops serving the domain's ring and unmaps it. */
  released(domid: number): void {
    const ring = this.rings.get(domid);
    if (ring === undefined) return;
    this.rings.delete(domid);
    ring.close();
    this.host.unmapRingPage?.(domid);
  }

  /** The guest signalled its store event channel: process its requests, send what fits. */
  kick(domid: number): void {
    this.rings.get(domid)?.kick();
  }

  /** After other domains' requests, watch events may be waiting for room in some rings. */
  flushAll(): void {
    for (const r of this.rings.values()) r.flush();
  }

  /** The ring connection of `domid`, if it is served. */
  ring(domid: number): RingConnection | undefined {
    return this.rings.get(domid);
  }
}
