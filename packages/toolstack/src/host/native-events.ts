/**
 * Event channels for a native (TypeScript) domain such as dom0: the split-driver `EventChannels`
 * port over `@typevisor/hypervisor`'s event channels, with handlers run by the host loop when a
 * port becomes pending, the way a guest's upcall handler scans its pending bitmap.
 * @module
 */
import type { EventChannels as HvEventChannels } from '@typevisor/hypervisor';
import type { EventChannels as DriverEventChannels } from '@typevisor/split-drivers';

/**
 * One native domain's event channels. Ports raised by other domains are queued by
 * {@link NativeEventChannels.raised} (wired to the hypervisor's `portPending` notifier) and their
 * handlers run, coalesced like pending bits, when the host calls {@link NativeEventChannels.dispatch}.
 */
export class NativeEventChannels implements DriverEventChannels {
  /** The native domain. */
  readonly domid: number;
  private readonly hv: HvEventChannels;
  private readonly handlers: Map<number, () => void> = new Map();
  private readonly queue: Set<number> = new Set();
  private readonly log: (line: string) => void;

  /**
   * Wraps the hypervisor's event channels for `domid`, which must already have been added. A
   * handler that throws is logged through `log` and does not stop the others.
   */
  constructor(hv: HvEventChannels, domid: number, log: (line: string) => void) {
    this.hv = hv;
    this.domid = domid;
    this.log = log;
  }

  /** `EVTCHNOP_alloc_unbound` in this domain for `remoteDomid`. */
  allocUnbound(remoteDomid: number): number {
    return this.hv.allocUnbound(this.domid, this.domid, remoteDomid);
  }

  /** `EVTCHNOP_bind_interdomain` to `remotePort` of `remoteDomid`. */
  bindInterdomain(remoteDomid: number, remotePort: number): number {
    return this.hv.bindInterdomain(this.domid, remoteDomid, remotePort);
  }

  /** `EVTCHNOP_send` on `port`. */
  notify(port: number): void {
    this.hv.send(this.domid, port);
  }

  /** Runs `handler` (from {@link NativeEventChannels.dispatch}) whenever `port` is raised. */
  onEvent(port: number, handler: () => void): void {
    this.handlers.set(port, handler);
    // An event that arrived before the handler existed is not lost.
    if (this.hv.clearPending(this.domid, port)) this.queue.add(port);
  }

  /** `EVTCHNOP_close`; drops the handler. */
  close(port: number): void {
    this.handlers.delete(port);
    this.queue.delete(port);
    this.hv.close(this.domid, port);
  }

  /** The hypervisor reports `port` of this domain pending: queue its handler. */
  raised(port: number): void {
    this.queue.add(port);
  }

  /** Whether handlers are waiting to run. */
  get pending(): boolean {
    return this.queue.size > 0;
  }

  /**
   * Runs the handlers of every queued port, clearing each pending bit first (so an event raised
   * by the handler's own work is queued again, not lost). Returns how many handlers ran.
   */
  dispatch(): number {
    let n = 0;
    while (this.queue.size > 0) {
      const ports = [...this.queue];
      this.queue.clear();
      for (const port of ports) {
        this.hv.clearPending(this.domid, port);
        const h = this.handlers.get(port);
        if (h === undefined) continue;
        n++;
        try {
          h();
        } catch (err) {
          this.log(
            `event handler of dom${this.domid} port ${port} failed: ${(err as Error).message}`,
          );
        }
      }
    }
    return n;
  }
}
