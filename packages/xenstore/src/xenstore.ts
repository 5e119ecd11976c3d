/**
 * The store: the node tree, domains, connections, watches and the central request
 * dispatcher (xenstored's `process_message`). It is transport-neutral: sockets, guest
 * rings and in-process clients all talk to it through {@link Xenstore.connect}.
 *
 * @see tools/xenstored/core.c
 * @module
 */
import { type MessageSink, type Watch, XenstoreConnection } from './connection.ts';
import { XenstoreError } from './errors.ts';
import { removeSubtree } from './handlers/node-ops.ts';
import {
  type HandlerResult,
  REPLIED,
  type Request,
  XS_FLAG_NOTID,
  XS_FLAG_PRIV,
} from './handlers/request.ts';
import { WIRE_FUNCS } from './handlers/wire-funcs.ts';
import { makeNode, NodeStore, type XsNode } from './node.ts';
import { childPath, isChild, parentPath } from './path.ts';
import { permFor, type XsPerm, XsPermBits } from './perms.ts';
import { DEFAULT_QUOTAS, type XenstoreQuotas } from './quota.ts';
import type { Transaction } from './transaction.ts';
import { binaryToBytes, type XsMessage } from './wire/codec.ts';
import { XENSTORE_PAYLOAD_MAX, type XsErrorName, XsType } from './wire/constants.ts';

/** A domain known to the store (introduced, or dom0). */
export interface XsDomain {
  /** Domain id. */
  readonly domid: number;
  /** Machine frame of its xenstore ring page, as given to `XS_INTRODUCE`. */
  mfn: number;
  /** Event channel port of its ring, as given to `XS_INTRODUCE`. */
  port: number;
  /** Whether the domain has shut down (cleared by `XS_RESUME`). */
  shutdown: boolean;
  /** The domain it acts for (`XS_SET_TARGET`), if any. */
  target: number | undefined;
}

/**
 * What the embedder (the hypervisor, or the daemon) is told about domains, so it can map
 * and serve their rings. All members are optional.
 */
export interface DomainPort {
  /** A new domain was introduced with its ring page frame and event channel. */
  introduced?(domid: number, mfn: number, port: number): void;
  /** A domain was released. */
  released?(domid: number): void;
}

/** Options of {@link Xenstore}. */
export interface XenstoreOptions {
  /** Quotas for unprivileged connections (default: Xen 4.17's). */
  readonly quotas?: Partial<XenstoreQuotas>;
  /** Receives log lines (`CONTROL print`, traces); default: discarded. */
  readonly log?: (line: string) => void;
  /** Told about introduced and released domains. */
  readonly domainPort?: DomainPort;
}

/** A node as stored in {@link XenstoreState}. */
export interface XenstoreNodeState {
  /** Absolute path. */
  readonly path: string;
  /** Value as a binary string (one char per byte). */
  readonly value: string;
  /** Permission entries in wire form (`n0`, `r5`). */
  readonly perms: readonly string[];
  /** Child names in order. */
  readonly children: readonly string[];
  /** Generation count. */
  readonly generation: number;
}

/** The JSON-safe state of a store (nodes, generation, domains, special-node permissions). */
export interface XenstoreState {
  /** Format version. */
  readonly version: 1;
  /** Next generation count. */
  readonly generation: number;
  /** All nodes. */
  readonly nodes: readonly XenstoreNodeState[];
  /** Introduced domains (dom0 included). */
  readonly domains: readonly {
    readonly domid: number;
    readonly mfn: number;
    readonly port: number;
    readonly target: number | null;
  }[];
  /** Permissions of `@introduceDomain` and `@releaseDomain`, in wire form. */
  readonly special: Readonly<Record<string, readonly string[]>>;
}

const SPECIAL = ['@introduceDomain', '@releaseDomain'] as const;

function permString(p: XsPerm): string {
  return `${'nrwb'[p.perm & 3]}${p.id}`;
}

function parseStoredPerm(s: string): XsPerm {
  return { id: Number.parseInt(s.slice(1), 10), perm: 'nrwb'.indexOf(s[0] ?? 'n') };
}

/** Converts a node to its JSON-safe form. */
export function nodeToState(n: XsNode): XenstoreNodeState {
  let value = '';
  for (let i = 0; i < n.value.length; i++) value += String.fromCharCode(n.value[i] as number);
  return {
    path: n.name,
    value,
    perms: n.perms.map(permString),
    children: [...n.children],
    generation: n.generation,
  };
}

/** Converts a node from its JSON-safe form. */
export function nodeFromState(n: XenstoreNodeState): XsNode {
  const node = makeNode(n.path, binaryToBytes(n.value), n.perms.map(parseStoredPerm), n.children);
  node.generation = n.generation;
  return node;
}
const EMPTY = new Uint8Array(0);
const DOM0_PERMS: readonly XsPerm[] = [{ id: 0, perm: 0 }];

/** The store and its dispatcher. */
export class Xenstore {
  /** The main node table. */
  readonly store: NodeStore = new NodeStore();
  /** Known domains by id (dom0 is always known). */
  readonly domains: Map<number, XsDomain> = new Map();
  /** Open connections in creation order (the order watch events are delivered in). */
  readonly connections: Set<XenstoreConnection> = new Set();
  /** Quotas for unprivileged connections. */
  quotas: XenstoreQuotas;
  /** Whether `CONTROL log on` asked for request tracing. */
  traceEnabled = false;
  /** Permissions of the special watch paths. */
  private readonly special: Map<string, readonly XsPerm[]> = new Map();
  private readonly logSink: (line: string) => void;
  /** Told about introduced and released domains (see {@link DomainPort}). */
  domainPort: DomainPort;
  private nextSerial = 1;
  /** Domains over the soft memory quota (logged once per crossing). */
  private readonly softReported: Set<number> = new Set();
  /**
   * Domain ids named in permissions, for which xenstored allocates its per-domain
   * accounting (so `CONTROL quota <domid>` answers for them before any introduction).
   */
  readonly referenced: Set<number> = new Set();
  /** Called after every committed change of the main table (used for persistence). */
  onCommit: (() => void) | undefined = undefined;

  /** Creates a store holding `/`, `/tool` and `/tool/xenstored`, as C xenstored starts. */
  constructor(options: XenstoreOptions = {}) {
    this.quotas = { ...DEFAULT_QUOTAS, ...options.quotas };
    this.logSink = options.log ?? (() => {});
    this.domainPort = options.domainPort ?? {};
    for (const s of SPECIAL) this.special.set(s, DOM0_PERMS);
    this.domains.set(0, { domid: 0, mfn: 0, port: 0, shutdown: false, target: undefined });
    // xenstored's setup_structure() writes these top-down, starting at generation 1.
    this.store.generation = 1;
    this.store.put(makeNode('/', EMPTY, DOM0_PERMS, ['tool']));
    this.store.put(makeNode('/tool', EMPTY, DOM0_PERMS, ['xenstored']));
    this.store.put(makeNode('/tool/xenstored', EMPTY, DOM0_PERMS, []));
  }

  /** Writes a log line. */
  log(line: string): void {
    this.logSink(line);
  }

  /**
   * Opens a connection for `domid`. Connections of dom0 are privileged. Replies and watch
   * events for it are passed to `send` synchronously, in protocol order. `socket` marks a
   * client of the daemon's unix socket (see {@link XenstoreConnection.socket}).
   */
  connect(domid: number, send: MessageSink, socket = false): XenstoreConnection {
    if (!Number.isInteger(domid) || domid < 0 || domid > 0x7fef) {
      throw new XenstoreError('INVALID_ARGUMENT', `invalid domid ${domid}`);
    }
    const conn = new XenstoreConnection(this.nextSerial++, domid, domid === 0, send, socket);
    conn.target = this.domains.get(domid)?.target;
    this.connections.add(conn);
    return conn;
  }

  /** Closes a connection: its watches and open transactions go away. */
  disconnect(conn: XenstoreConnection): void {
    conn.closed = true;
    conn.watches.length = 0;
    conn.watchMemory = 0;
    conn.transactions.clear();
    this.connections.delete(conn);
  }

  /**
   * Memory accounted to `domid` as C xenstored counts it: node records plus their paths
   * for the nodes it owns, the paths and tokens of its connections' watches, their open
   * transactions' node copies, and the output queued for them.
   */
  domainMemory(domid: number): number {
    let m = this.store.memoryOf(domid);
    for (const c of this.connections) {
      if (c.domid !== domid) continue;
      m += c.watchMemory + c.queuedBytes;
      for (const t of c.transactions.values()) m += t.memory;
    }
    return m;
  }

  /**
   * Whether `domid` would be at or above its memory quota with `memory` bytes accounted
   * (`domain_chk_quota()`): never for dom0, nor with the quota set to 0. Crossing the soft
   * quota is logged once per crossing.
   */
  memoryQuotaHit(domid: number, memory: number): boolean {
    if (domid === 0) return false;
    const q = this.quotas;
    if (q.memory > 0 && memory >= q.memory) return true;
    const soft = q.memorySoft > 0 && memory >= q.memorySoft;
    if (soft !== this.softReported.has(domid)) {
      if (soft) this.softReported.add(domid);
      else this.softReported.delete(domid);
      this.log(
        soft
          ? `Domain ${domid} exceeds soft memory quota`
          : `Domain ${domid} below soft memory quota again`,
      );
    }
    return false;
  }

  /**
   * Processes one request from `conn`: central validation, then the handler from the
   * message table. Replies (and watch events, in xenstored's order) go to the
   * connection's sink before this returns. Never throws for bad input.
   */
  handle(conn: XenstoreConnection, msg: XsMessage): void {
    if (conn.closed) return;
    const wf = msg.type < WIRE_FUNCS.length ? WIRE_FUNCS[msg.type] : undefined;
    if (wf === undefined) {
      this.replyError(conn, msg, 'ENOSYS');
      return;
    }
    if (wf.flags & XS_FLAG_PRIV && !conn.privileged) {
      this.replyError(conn, msg, 'EACCES');
      return;
    }
    let txn: Transaction | undefined;
    if (!(wf.flags & XS_FLAG_NOTID) && msg.txId !== 0) {
      txn = conn.transactions.get(msg.txId);
      if (txn === undefined) {
        this.replyError(conn, msg, 'ENOENT');
        return;
      }
    }
    if (this.traceEnabled) this.log(`IN  conn ${conn.serial} ${wf.name}`);
    const req: Request = { xs: this, conn, msg, txn, access: txn ?? this.store };
    const res: HandlerResult = wf.fn(req);
    if (res === REPLIED) return;
    if (typeof res === 'string') {
      this.replyError(conn, msg, res);
      return;
    }
    this.reply(conn, msg, msg.type, res);
    if (txn === undefined && this.onCommit !== undefined && isMutation(msg.type)) this.onCommit();
  }

  /** Sends a reply echoing the request's ids; oversized replies become `E2BIG`. */
  reply(conn: XenstoreConnection, req: XsMessage, type: number, payload: Uint8Array): void {
    if (payload.length > XENSTORE_PAYLOAD_MAX) {
      this.replyError(conn, req, 'E2BIG');
      return;
    }
    conn.send({ type, reqId: req.reqId, txId: req.txId, payload });
  }

  private replyError(conn: XenstoreConnection, req: XsMessage, err: XsErrorName): void {
    conn.send({ type: XsType.XS_ERROR, reqId: req.reqId, txId: req.txId, payload: ERRORS[err] });
  }

  /** Called by TRANSACTION_END after a successful commit. */
  afterCommit(): void {
    if (this.onCommit !== undefined) this.onCommit();
  }

  /**
   * Reports a change: inside a transaction it is remembered for commit; otherwise watches
   * fire now. `perms` are the node's permissions (before deletion, for removals) and
   * `oldPerms` its previous ones (SET_PERMS), for the permission filter.
   */
  fire(
    req: Pick<Request, 'txn'>,
    path: string,
    exact: boolean,
    perms: readonly XsPerm[] | undefined,
    oldPerms: readonly XsPerm[] | undefined,
  ): void {
    if (req.txn !== undefined) req.txn.addChange(path, exact);
    else this.fireWatches(path, exact, perms, oldPerms);
  }

  /** xenstored's `fire_watches()`: sends events to every matching watch, connection by connection. */
  fireWatches(
    path: string,
    exact: boolean,
    perms: readonly XsPerm[] | undefined,
    oldPerms: readonly XsPerm[] | undefined,
  ): void {
    const special = path.charCodeAt(0) === 0x40;
    for (const conn of this.connections) {
      const ws = conn.watches;
      if (ws.length === 0) continue;
      let permitted: boolean | undefined;
      // Two watches with one token can both match; xenstored sends such an event once.
      let sentTokens: string[] | undefined;
      for (let i = 0; i < ws.length; i++) {
        const w = ws[i] as Watch;
        if (exact ? w.path !== path : !isChild(path, w.path)) continue;
        // Special events (`@introduceDomain`…) do not reach watches on `/`.
        if (special && w.path === '/') continue;
        if (permitted === undefined) {
          permitted = special
            ? this.specialPermitted(conn, path)
            : this.watchPermitted(conn, path, perms, oldPerms);
        }
        if (!permitted) break;
        if (sentTokens === undefined) sentTokens = [];
        else if (sentTokens.includes(w.token)) continue;
        sentTokens.push(w.token);
        this.sendEvent(conn, w, path);
      }
    }
  }

  /** Sends one `XS_WATCH_EVENT` for `path` to `conn` (relative if the watch is). */
  sendEvent(conn: XenstoreConnection, w: Watch, path: string): void {
    let p = path;
    if (w.relative && p.startsWith(conn.home)) {
      p = p.slice(conn.home.length);
      if (p.charCodeAt(0) === 0x2f) p = p.slice(1);
    }
    // send_event(): an event that would put a guest at its memory quota is dropped.
    if (
      !conn.privileged &&
      this.memoryQuotaHit(
        conn.domid,
        this.domainMemory(conn.domid) + p.length + w.token.length + 2 + 16,
      )
    ) {
      return;
    }
    const payload = new Uint8Array(p.length + w.token.length + 2);
    for (let i = 0; i < p.length; i++) payload[i] = p.charCodeAt(i);
    const o = p.length + 1;
    for (let i = 0; i < w.token.length; i++) payload[o + i] = w.token.charCodeAt(i);
    conn.send({ type: XsType.XS_WATCH_EVENT, reqId: 0, txId: 0, payload });
  }

  private watchPermitted(
    conn: XenstoreConnection,
    path: string,
    perms: readonly XsPerm[] | undefined,
    oldPerms: readonly XsPerm[] | undefined,
  ): boolean {
    if (conn.privileged) return true;
    const R = XsPermBits.XS_PERM_READ;
    if (oldPerms !== undefined && permFor(conn, oldPerms) & R) return true;
    const p = perms ?? this.store.get(path)?.perms;
    if (p === undefined) return false;
    if (permFor(conn, p) & R) return true;
    const parent = this.store.get(parentPath(path));
    return parent !== undefined && (permFor(conn, parent.perms) & R) !== 0;
  }

  private specialPermitted(conn: XenstoreConnection, path: string): boolean {
    if (conn.privileged) return true;
    const p = this.special.get(path);
    return p !== undefined && (permFor(conn, p) & XsPermBits.XS_PERM_READ) !== 0;
  }

  /** SET_PERMS on `@introduceDomain` / `@releaseDomain`. */
  setSpecialPerms(
    conn: XenstoreConnection,
    path: string,
    perms: readonly XsPerm[],
  ): Uint8Array | XsErrorName {
    const cur = this.special.get(path);
    if (cur === undefined) return 'ENOENT';
    const need = XsPermBits.XS_PERM_WRITE | XsPermBits.XS_PERM_OWNER;
    if ((permFor(conn, cur) & need) !== need) return 'EACCES';
    this.special.set(path, perms);
    return ERRORS_OK;
  }

  /** Registers a domain (idempotent) and fires `@introduceDomain` if it is new. */
  introduceDomain(domid: number, mfn: number, port: number): void {
    if (this.domains.has(domid)) return;
    this.domains.set(domid, { domid, mfn, port, shutdown: false, target: undefined });
    this.domainPort.introduced?.(domid, mfn, port);
    this.fireWatches('@introduceDomain', false, undefined, undefined);
  }

  /**
   * Forgets a domain, closes its connections, removes the nodes it owns (with their
   * subtrees, firing watches as `XS_RM` does) and fires `@releaseDomain`.
   */
  releaseDomain(domid: number): boolean {
    if (domid === 0 || !this.domains.delete(domid)) return false;
    for (const c of this.connections) if (c.domid === domid) this.disconnect(c);
    this.referenced.delete(domid);
    this.softReported.delete(domid);
    this.removeOwnedNodes(domid, '/');
    this.domainPort.released?.(domid);
    this.fireWatches('@releaseDomain', false, undefined, undefined);
    return true;
  }

  /**
   * `domain_tree_remove()`: walks the tree from `path` in directory order and removes
   * every node owned by `domid` with its whole subtree. Returns false once the domain
   * owns nothing more (the walk stops).
   */
  private removeOwnedNodes(domid: number, path: string): boolean {
    const store = this.store;
    if (store.ownedBy(domid) === 0) return false;
    const node = store.get(path);
    if (node === undefined) return true;
    if ((node.perms[0] as XsPerm).id === domid && path !== '/') {
      const parent = store.get(parentPath(path));
      if (parent !== undefined) {
        removeSubtree({ xs: this, txn: undefined, access: store }, node, parent);
      }
      return store.ownedBy(domid) > 0;
    }
    for (const c of node.children) {
      if (!this.removeOwnedNodes(domid, childPath(path, c))) return false;
    }
    return true;
  }

  /**
   * The `CONTROL quota <domid>` report (`domain_get_quota()`), or `undefined` for a domain
   * xenstored would not know. Watches, transactions and outstanding requests are counted
   * for domain connections only: the C daemon's socket clients have no domain, but their
   * memory is accounted to domain 0.
   */
  domainQuotaReport(domid: number): string | undefined {
    if (!this.domains.has(domid) && !this.referenced.has(domid)) return undefined;
    let watches = 0;
    let txns = 0;
    let outstanding = 0;
    for (const c of this.connections) {
      if (c.domid !== domid || c.socket) continue;
      watches += c.watches.length;
      txns += c.transactions.size;
      outstanding += c.outstanding;
    }
    const row = (k: string, v: number): string => `${k.padEnd(16)}: ${String(v).padStart(8)}\n`;
    return `Domain ${domid}:\n${row('nodes', this.store.ownedBy(domid))}${row('watches', watches)}${row('transactions', txns)}${row('outstanding', outstanding)}${row('memory', this.domainMemory(domid))}`;
  }

  /** The store's JSON-safe state (open connections are not part of it). */
  getState(): XenstoreState {
    const nodes: XenstoreNodeState[] = [];
    for (const n of this.store.nodes.values()) nodes.push(nodeToState(n));
    return { version: 1, generation: this.store.generation, nodes, ...this.getDomainState() };
  }

  /** Domains and special-node permissions in JSON-safe form (part of {@link Xenstore.getState}). */
  getDomainState(): Pick<XenstoreState, 'domains' | 'special'> {
    const special: Record<string, readonly string[]> = {};
    for (const [k, v] of this.special) special[k] = v.map(permString);
    return {
      domains: [...this.domains.values()].map((d) => ({
        domid: d.domid,
        mfn: d.mfn,
        port: d.port,
        target: d.target ?? null,
      })),
      special,
    };
  }

  /** Replaces the domains and special-node permissions (persistence replay). */
  setDomainState(state: Pick<XenstoreState, 'domains' | 'special'>): void {
    this.domains.clear();
    for (const d of state.domains) {
      this.domains.set(d.domid, {
        domid: d.domid,
        mfn: d.mfn,
        port: d.port,
        shutdown: false,
        target: d.target ?? undefined,
      });
    }
    if (!this.domains.has(0))
      this.domains.set(0, { domid: 0, mfn: 0, port: 0, shutdown: false, target: undefined });
    for (const [k, v] of Object.entries(state.special))
      if (this.special.has(k)) this.special.set(k, v.map(parseStoredPerm));
  }

  /** Recreates a store from {@link Xenstore.getState} output. */
  static fromState(state: XenstoreState, options: XenstoreOptions = {}): Xenstore {
    if (state.version !== 1) {
      throw new XenstoreError(
        'INVALID_STATE',
        `unsupported state version ${String(state.version)}`,
      );
    }
    const xs = new Xenstore(options);
    xs.store.nodes.clear();
    xs.store.owners.clear();
    for (const n of state.nodes) {
      const node = nodeFromState(n);
      xs.store.put(node);
      node.generation = n.generation;
    }
    if (xs.store.get('/') === undefined)
      throw new XenstoreError('INVALID_STATE', 'state has no root node');
    xs.store.generation = state.generation;
    xs.setDomainState(state);
    return xs;
  }
}

function isMutation(type: number): boolean {
  return (
    type === XsType.XS_WRITE ||
    type === XsType.XS_MKDIR ||
    type === XsType.XS_RM ||
    type === XsType.XS_SET_PERMS ||
    type === XsType.XS_INTRODUCE ||
    type === XsType.XS_RELEASE ||
    type === XsType.XS_SET_TARGET
  );
}

const ERRORS: Record<XsErrorName, Uint8Array> = (() => {
  const out = {} as Record<XsErrorName, Uint8Array>;
  for (const e of [
    'EINVAL',
    'EACCES',
    'EEXIST',
    'EISDIR',
    'ENOENT',
    'ENOMEM',
    'ENOSPC',
    'EIO',
    'ENOTEMPTY',
    'ENOSYS',
    'EROFS',
    'EBUSY',
    'EAGAIN',
    'EISCONN',
    'E2BIG',
    'EPERM',
  ] as const) {
    out[e] = binaryToBytes(`${e}\0`);
  }
  return out;
})();

const ERRORS_OK = binaryToBytes('OK\0');
