/**
 * The console backend's event-channel side (what xenconsoled does per domain): drains guest
 * output whenever the guest signals, passes it on, and signals back so blocked writers resume.
 * @module
 */
import { SplitDriversError } from '../errors.ts';
import type { EventChannels } from '../ports.ts';
import { ConsoleBack } from './console-ring.ts';

/** What a {@link ConsoleBackend} needs. */
export interface ConsoleBackendOptions {
  /** The guest's console page, mapped (`start_info.console.domU.mfn` / the `ring-ref` key). */
  readonly page: Uint8Array;
  /** Event channels of the backend domain. */
  readonly events: EventChannels;
  /** The guest domain. */
  readonly remoteDomid: number;
  /** The guest's console event-channel port (`start_info.console.domU.evtchn` / the `port` key). */
  readonly remotePort: number;
  /** Receives guest output (a log file, a terminal). */
  readonly onOutput: (bytes: Uint8Array) => void;
}

/** A connected PV console backend for one domain. */
export class ConsoleBackend {
  /** The ring accessor (its `hostileIndexCount` counts bad guest indices). */
  readonly ring: ConsoleBack;
  /** Bytes received from the guest. */
  bytesOut: number;
  /** Bytes sent to the guest. */
  bytesIn: number;
  private readonly opts: ConsoleBackendOptions;
  private readonly port: number;

  /** Binds the guest's console event channel, marks the console connected and drains once. */
  constructor(options: ConsoleBackendOptions) {
    this.opts = options;
    this.ring = new ConsoleBack(options.page);
    this.bytesOut = 0;
    this.bytesIn = 0;
    const port = options.events.bindInterdomain(options.remoteDomid, options.remotePort);
    if (port < 0)
      throw new SplitDriversError(
        'INVALID_ARGUMENT',
        `cannot bind console port ${options.remotePort}: ${port}`,
      );
    this.port = port;
    this.ring.connect();
    options.events.onEvent(port, () => this.drain());
    this.drain();
  }

  /** Drains pending output to `onOutput` and notifies the guest if anything was consumed. */
  drain(): void {
    if (this.ring.pendingOutput() === 0) return;
    const bytes = this.ring.readOutput();
    this.bytesOut += bytes.length;
    this.opts.onOutput(bytes);
    this.opts.events.notify(this.port);
  }

  /** Queues keyboard input for the guest; returns how many bytes fit. */
  sendInput(bytes: Uint8Array): number {
    const n = this.ring.writeInput(bytes);
    this.bytesIn += n;
    if (n > 0) this.opts.events.notify(this.port);
    return n;
  }

  /** Closes the event channel. */
  close(): void {
    this.opts.events.close(this.port);
  }
}
