/**
 * The console backend's event-channel side (what xenconsoled does per domain): drains guest
 * output whenever the guest signals, passes it on, and signals back so blocked writers resume.
 * @module
 */
import { SplitDriversError } from '../errors.ts';
import type { EventChannels } from '../ports.ts';
import type { ConsoleLog } from './console-log.ts';
import { ConsoleBack } from './console-ring.ts';

/** Input bytes a {@link ConsoleBackend} holds for the guest beyond its 1024-byte ring. */
export const CONSOLE_INPUT_QUEUE_MAX = 65536;

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
  /** Also appends all guest output to this log (xenconsoled's per-guest log file). */
  readonly log?: ConsoleLog;
}

/** A connected PV console backend for one domain. */
export class ConsoleBackend {
  /** The ring accessor (its `hostileIndexCount` counts bad guest indices). */
  readonly ring: ConsoleBack;
  /** Bytes received from the guest. */
  bytesOut: number;
  /** Bytes sent to the guest. */
  bytesIn: number;
  /** Input bytes dropped because the queue for the guest was full. */
  inputDropped: number;
  private readonly opts: ConsoleBackendOptions;
  private readonly port: number;
  private readonly listeners: Set<(bytes: Uint8Array) => void>;
  private inputQueue: Uint8Array[];
  private queued: number;

  /** Binds the guest's console event channel, marks the console connected and drains once. */
  constructor(options: ConsoleBackendOptions) {
    this.opts = options;
    this.ring = new ConsoleBack(options.page);
    this.bytesOut = 0;
    this.bytesIn = 0;
    this.inputDropped = 0;
    this.listeners = new Set();
    this.inputQueue = [];
    this.queued = 0;
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

  /**
   * The event handler: drains pending output to `onOutput`, the log and attached listeners,
   * moves queued input into the ring as the guest makes room, and notifies the guest if
   * anything moved.
   */
  drain(): void {
    const moved = this.flushInput();
    if (this.ring.pendingOutput() === 0) {
      if (moved > 0) this.opts.events.notify(this.port);
      return;
    }
    const bytes = this.ring.readOutput();
    this.bytesOut += bytes.length;
    this.opts.log?.write(bytes);
    this.opts.onOutput(bytes);
    for (const l of this.listeners) l(bytes);
    this.opts.events.notify(this.port);
  }

  /**
   * Attaches another receiver of guest output (a terminal for the toolstack's `console` verb)
   * next to `onOutput`; returns the function that detaches it.
   */
  attach(listener: (bytes: Uint8Array) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * Sends keyboard input to the guest without losing what does not fit in the 1024-byte ring:
   * the rest waits (up to {@link CONSOLE_INPUT_QUEUE_MAX} bytes; beyond that it is dropped and
   * counted in {@link ConsoleBackend.inputDropped}) and goes in as the guest consumes input and
   * signals. Returns how many bytes were accepted.
   */
  queueInput(bytes: Uint8Array): number {
    const room = CONSOLE_INPUT_QUEUE_MAX - this.queued;
    const n = Math.min(room, bytes.length);
    this.inputDropped += bytes.length - n;
    if (n > 0) {
      this.inputQueue.push(bytes.slice(0, n));
      this.queued += n;
    }
    if (this.flushInput() > 0) this.opts.events.notify(this.port);
    return n;
  }

  /** Input bytes waiting for room in the guest's ring. */
  get pendingInput(): number {
    return this.queued;
  }

  private flushInput(): number {
    let moved = 0;
    while (this.inputQueue.length > 0) {
      const head = this.inputQueue[0] as Uint8Array;
      const n = this.ring.writeInput(head);
      moved += n;
      this.queued -= n;
      this.bytesIn += n;
      if (n < head.length) {
        this.inputQueue[0] = head.subarray(n);
        break;
      }
      this.inputQueue.shift();
    }
    return moved;
  }

  /**
   * Writes keyboard input straight into the guest's ring; returns how many bytes fit (0 while
   * input from {@link ConsoleBackend.queueInput} is still waiting, to keep the order).
   */
  sendInput(bytes: Uint8Array): number {
    if (this.queued > 0) return 0; // keep order behind queued input
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
