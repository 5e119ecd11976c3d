/**
 * A typed async client for the xenstore protocol: promise-returning operations,
 * transactions retried automatically on `EAGAIN`, and watches as async iterators. It
 * talks through a {@link ClientTransport}, so the same client works in-process
 * ({@link inProcessTransport}), over a unix socket (`@typevisor/xenstore/node`), or over
 * anything else that carries messages.
 *
 * @see tools/libs/store/xs.c (the C client library this mirrors)
 * @module
 */
import { XenstoreError } from './errors.ts';
import {
  binaryToBytes,
  bytesToBinary,
  encodeStrings,
  splitStrings,
  type XsMessage,
} from './wire/codec.ts';
import { XsType } from './wire/constants.ts';
import type { Xenstore } from './xenstore.ts';

/** Carries messages between a {@link XenstoreClient} and a daemon. */
export interface ClientTransport {
  /** Sends one request. */
  send(msg: XsMessage): void;
  /** Sets the receiver of every reply and watch event, in arrival order. */
  onMessage(handler: (msg: XsMessage) => void): void;
  /** Sets the handler called once if the connection goes away. */
  onClose(handler: (reason: string) => void): void;
  /** Closes the connection. */
  close(): void;
}

/** A transport to a {@link Xenstore} in the same process, as domain `domid` (0: privileged). */
export function inProcessTransport(xs: Xenstore, domid = 0): ClientTransport {
  let receive: (msg: XsMessage) => void = () => {};
  let closed: (reason: string) => void = () => {};
  const conn = xs.connect(domid, (msg) => {
    // Deliver asynchronously, as a socket would, so callers never re-enter the store.
    queueMicrotask(() => receive(msg));
  });
  return {
    send: (msg) => xs.handle(conn, msg),
    onMessage: (h) => {
      receive = h;
    },
    onClose: (h) => {
      closed = h;
    },
    close: () => {
      xs.disconnect(conn);
      closed('closed');
    },
  };
}

/** A watch event as the client sees it. */
export interface WatchEvent {
  /** The path that changed (relative if the watch was registered relative). */
  readonly path: string;
  /** The watch's token. */
  readonly token: string;
}

/** A registered watch: an async iterator of events; `return()` or `close()` unregisters it. */
export interface XenstoreWatch extends AsyncIterableIterator<WatchEvent> {
  /** Unregisters the watch (`XS_UNWATCH`) and ends the iteration. */
  close(): Promise<void>;
}

/** Node operations, outside or inside a transaction. */
export interface XenstoreOps {
  /** Reads a node's value (`XS_READ`). */
  read(path: string): Promise<Uint8Array>;
  /** Reads a node's value as a string (bytes as Latin-1, like the C tools print them). */
  readString(path: string): Promise<string>;
  /** Writes a node, creating missing parents (`XS_WRITE`). */
  write(path: string, value: string | Uint8Array): Promise<void>;
  /** Creates a node with an empty value; fine if it exists (`XS_MKDIR`). */
  mkdir(path: string): Promise<void>;
  /** Removes a subtree (`XS_RM`). */
  rm(path: string): Promise<void>;
  /** Lists children (`XS_DIRECTORY`). */
  directory(path: string): Promise<string[]>;
  /** Reads the permission list in wire form, e.g. `['n0', 'r5']` (`XS_GET_PERMS`). */
  getPerms(path: string): Promise<string[]>;
  /** Replaces the permission list (`XS_SET_PERMS`). */
  setPerms(path: string, perms: readonly string[]): Promise<void>;
  /** Whether a node exists (a READ that does not fail with ENOENT). */
  exists(path: string): Promise<boolean>;
}

interface Pending {
  readonly type: number;
  readonly resolve: (payload: Uint8Array) => void;
  readonly reject: (err: Error) => void;
}

/** An async xenstore client. */
export class XenstoreClient implements XenstoreOps {
  private readonly transport: ClientTransport;
  private readonly pending: Map<number, Pending> = new Map();
  private readonly watchers: Map<string, (ev: WatchEvent) => void> = new Map();
  private nextReqId = 1;
  private nextToken = 1;
  private closedReason: string | undefined;

  /** Creates a client on a transport. */
  constructor(transport: ClientTransport) {
    this.transport = transport;
    transport.onMessage((msg) => this.receive(msg));
    transport.onClose((reason) => this.shut(reason));
  }

  /** Sends a raw request and resolves with the reply payload; rejects with the daemon's error. */
  request(type: number, payload: Uint8Array, txId = 0): Promise<Uint8Array> {
    if (this.closedReason !== undefined) {
      return Promise.reject(new XenstoreError('CLOSED', `connection closed: ${this.closedReason}`));
    }
    const reqId = this.nextReqId;
    this.nextReqId = (this.nextReqId + 1) >>> 0 || 1;
    return new Promise((resolve, reject) => {
      this.pending.set(reqId, { type, resolve, reject });
      this.transport.send({ type, reqId, txId, payload });
    });
  }

  private receive(msg: XsMessage): void {
    if (msg.type === XsType.XS_WATCH_EVENT) {
      const [path, token] = splitStrings(msg.payload);
      if (path === undefined || token === undefined) return;
      this.watchers.get(token)?.({ path, token });
      return;
    }
    const p = this.pending.get(msg.reqId);
    if (p === undefined) return;
    this.pending.delete(msg.reqId);
    if (msg.type === XsType.XS_ERROR) {
      const errno = splitStrings(msg.payload)[0] ?? 'EINVAL';
      p.reject(new XenstoreError('REQUEST_FAILED', `request failed: ${errno}`, { errno }));
    } else if (msg.type !== p.type) {
      p.reject(new XenstoreError('PROTOCOL', `reply type ${msg.type} for request type ${p.type}`));
    } else p.resolve(msg.payload);
  }

  private shut(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    for (const p of this.pending.values())
      p.reject(new XenstoreError('CLOSED', `connection closed: ${reason}`));
    this.pending.clear();
  }

  /** Closes the connection; pending requests fail with `CLOSED`. */
  close(): void {
    this.transport.close();
    this.shut('closed');
  }

  private ops(txId: number): XenstoreOps {
    const req = (
      type: number,
      parts: readonly string[],
      tail?: Uint8Array,
    ): Promise<Uint8Array> => {
      let payload = encodeStrings(parts);
      if (tail !== undefined) {
        const p = new Uint8Array(payload.length + tail.length);
        p.set(payload);
        p.set(tail, payload.length);
        payload = p;
      }
      return this.request(type, payload, txId);
    };
    const ops: XenstoreOps = {
      read: async (path) => (await req(XsType.XS_READ, [path])).slice(),
      readString: async (path) => bytesToBinary(await req(XsType.XS_READ, [path])),
      write: async (path, value) => {
        await req(
          XsType.XS_WRITE,
          [path],
          typeof value === 'string' ? binaryToBytes(value) : value,
        );
      },
      mkdir: async (path) => {
        await req(XsType.XS_MKDIR, [path]);
      },
      rm: async (path) => {
        await req(XsType.XS_RM, [path]);
      },
      directory: async (path) => {
        try {
          return splitStrings(await req(XsType.XS_DIRECTORY, [path]));
        } catch (err) {
          if (!(err instanceof XenstoreError && err.errno === 'E2BIG')) throw err;
          return this.directoryPart(path, txId);
        }
      },
      getPerms: async (path) => splitStrings(await req(XsType.XS_GET_PERMS, [path])),
      setPerms: async (path, perms) => {
        await req(XsType.XS_SET_PERMS, [path, ...perms]);
      },
      exists: async (path) => {
        try {
          await req(XsType.XS_READ, [path]);
          return true;
        } catch (err) {
          if (err instanceof XenstoreError && err.errno === 'ENOENT') return false;
          throw err;
        }
      },
    };
    return ops;
  }

  /**
   * Lists a long child list with `XS_DIRECTORY_PART` chunks, restarting if the node's
   * generation changes between chunks (libxenstore's fallback when DIRECTORY is E2BIG).
   */
  private async directoryPart(path: string, txId: number): Promise<string[]> {
    for (let attempt = 0; attempt < 100; attempt++) {
      let gen: string | undefined;
      let all = '';
      for (;;) {
        const chunk = bytesToBinary(
          await this.request(
            XsType.XS_DIRECTORY_PART,
            encodeStrings([path, String(all.length)]),
            txId,
          ),
        );
        const nul = chunk.indexOf('\0');
        const g = chunk.slice(0, nul);
        if (gen !== undefined && g !== gen) break;
        gen = g;
        const body = chunk.slice(nul + 1);
        if (body.endsWith('\0\0') || body === '\0') {
          all += body.slice(0, -1);
          return all === '' ? [] : all.slice(0, -1).split('\0');
        }
        all += body;
      }
    }
    throw new XenstoreError('PROTOCOL', `directory of ${path} keeps changing`);
  }

  private readonly base: XenstoreOps = this.ops(0);

  /** Reads a node's value. */
  read(path: string): Promise<Uint8Array> {
    return this.base.read(path);
  }
  /** Reads a node's value as a Latin-1 string. */
  readString(path: string): Promise<string> {
    return this.base.readString(path);
  }
  /** Writes a node. */
  write(path: string, value: string | Uint8Array): Promise<void> {
    return this.base.write(path, value);
  }
  /** Creates a node with an empty value. */
  mkdir(path: string): Promise<void> {
    return this.base.mkdir(path);
  }
  /** Removes a subtree. */
  rm(path: string): Promise<void> {
    return this.base.rm(path);
  }
  /** Lists a node's children. */
  directory(path: string): Promise<string[]> {
    return this.base.directory(path);
  }
  /** Reads a node's permissions in wire form. */
  getPerms(path: string): Promise<string[]> {
    return this.base.getPerms(path);
  }
  /** Replaces a node's permissions. */
  setPerms(path: string, perms: readonly string[]): Promise<void> {
    return this.base.setPerms(path, perms);
  }
  /** Whether a node exists. */
  exists(path: string): Promise<boolean> {
    return this.base.exists(path);
  }

  /** The home path of a domain (`XS_GET_DOMAIN_PATH`). */
  async getDomainPath(domid: number): Promise<string> {
    return (
      splitStrings(
        await this.request(XsType.XS_GET_DOMAIN_PATH, encodeStrings([String(domid)])),
      )[0] ?? ''
    );
  }

  /** Tells the daemon about a domain and its ring (`XS_INTRODUCE`; dom0 only). */
  async introduceDomain(domid: number, mfn: number, port: number): Promise<void> {
    await this.request(
      XsType.XS_INTRODUCE,
      encodeStrings([String(domid), String(mfn), String(port)]),
    );
  }

  /** Makes the daemon forget a domain (`XS_RELEASE`; fires `@releaseDomain`). */
  async releaseDomain(domid: number): Promise<void> {
    await this.request(XsType.XS_RELEASE, encodeStrings([String(domid)]));
  }

  /** Whether the daemon knows a domain (`XS_IS_DOMAIN_INTRODUCED`). */
  async isDomainIntroduced(domid: number): Promise<boolean> {
    return (
      splitStrings(
        await this.request(XsType.XS_IS_DOMAIN_INTRODUCED, encodeStrings([String(domid)])),
      )[0] === 'T'
    );
  }

  /** Clears a domain's shutdown state (`XS_RESUME`). */
  async resumeDomain(domid: number): Promise<void> {
    await this.request(XsType.XS_RESUME, encodeStrings([String(domid)]));
  }

  /** Lets `domid` act with `target`'s permissions (`XS_SET_TARGET`, for device models). */
  async setTarget(domid: number, target: number): Promise<void> {
    await this.request(XsType.XS_SET_TARGET, encodeStrings([String(domid), String(target)]));
  }

  /** Drops all of this connection's watches and transactions (`XS_RESET_WATCHES`). */
  async resetWatches(): Promise<void> {
    await this.request(XsType.XS_RESET_WATCHES, encodeStrings(['']));
  }

  /** Sends `XS_CONTROL` with a command and arguments; resolves with the reply text. */
  async control(command: string, ...args: string[]): Promise<string> {
    const out = bytesToBinary(
      await this.request(XsType.XS_CONTROL, encodeStrings([command, ...args])),
    );
    return out.endsWith('\0') ? out.slice(0, -1) : out;
  }

  /**
   * Runs `body` in a transaction and commits it. If the commit fails with `EAGAIN`
   * (another client changed something the transaction touched), the whole body runs again,
   * up to `maxAttempts` times. If `body` throws, the transaction is aborted.
   */
  async transaction<T>(body: (tx: XenstoreOps) => Promise<T>, maxAttempts = 16): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const id = Number(
        bytesToBinary(await this.request(XsType.XS_TRANSACTION_START, encodeStrings(['']))).replace(
          /\0$/,
          '',
        ),
      );
      let result: T;
      try {
        result = await body(this.ops(id));
      } catch (err) {
        await this.request(XsType.XS_TRANSACTION_END, encodeStrings(['F']), id).catch(
          () => undefined,
        );
        throw err;
      }
      try {
        await this.request(XsType.XS_TRANSACTION_END, encodeStrings(['T']), id);
        return result;
      } catch (err) {
        if (!(err instanceof XenstoreError && err.errno === 'EAGAIN') || attempt >= maxAttempts)
          throw err;
      }
    }
  }

  /**
   * Registers a watch on `path` and returns its events as an async iterator. The first
   * event is the initial one xenstored sends on registration.
   */
  async watch(path: string, token?: string): Promise<XenstoreWatch> {
    const tok = token ?? `tv-watch-${this.nextToken++}`;
    if (this.watchers.has(tok))
      throw new XenstoreError('INVALID_ARGUMENT', `token ${tok} is already in use`);
    const queue: WatchEvent[] = [];
    const waiting: ((r: IteratorResult<WatchEvent>) => void)[] = [];
    let done = false;
    this.watchers.set(tok, (ev) => {
      const w = waiting.shift();
      if (w !== undefined) w({ value: ev, done: false });
      else queue.push(ev);
    });
    try {
      await this.request(XsType.XS_WATCH, encodeStrings([path, tok]));
    } catch (err) {
      this.watchers.delete(tok);
      throw err;
    }
    const close = async (): Promise<void> => {
      if (done) return;
      done = true;
      this.watchers.delete(tok);
      for (const w of waiting.splice(0)) w({ value: undefined, done: true });
      if (this.closedReason === undefined) {
        await this.request(XsType.XS_UNWATCH, encodeStrings([path, tok])).catch(() => undefined);
      }
    };
    const it: XenstoreWatch = {
      next: () => {
        const ev = queue.shift();
        if (ev !== undefined) return Promise.resolve({ value: ev, done: false });
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((r) => waiting.push(r));
      },
      return: async () => {
        await close();
        return { value: undefined, done: true };
      },
      close,
      [Symbol.asyncIterator]() {
        return it;
      },
    };
    return it;
  }
}
