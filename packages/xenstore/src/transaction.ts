/**
 * Transactions: an optimistic, isolated view of the node table.
 *
 * Like xenstored, a transaction remembers every node it touched (read or written, present
 * or absent) with the generation it saw. Commit fails with `EAGAIN` if any of those nodes
 * changed in the main table since, i.e. exactly when C xenstored's `check_transaction()`
 * would; otherwise the written nodes are copied into the main table in access order.
 *
 * @see tools/xenstored/transaction.c
 * @module
 */
import type { NodeAccess, NodeStore, XsNode } from './node.ts';

/**
 * Memory accounting: xenstored keeps a transaction's copy of every node it read or wrote
 * in its database under the key `<generation>/<path>` and counts record plus key against
 * the transaction's connection; {@link Transaction.memory} mirrors that sum.
 */

/** A node the transaction has touched. */
interface Accessed {
  /** The node as the transaction sees it now (`undefined`: absent or deleted). */
  node: XsNode | undefined;
  /** Generation seen in the main table on first access; -1 if the node was absent. */
  readonly generation: number;
  /** Whether the transaction wrote or deleted it. */
  modified: boolean;
}

/** A change a committed transaction reports to watchers. */
export interface TxChange {
  /** The changed path. */
  readonly path: string;
  /** Whether only watches on exactly this path fire (children of a removed subtree). */
  exact: boolean;
}

/** An open transaction of one connection. */
export class Transaction implements NodeAccess {
  /** The transaction id the client uses in `tx_id`. */
  readonly id: number;
  /** Nodes touched, in first-access order. */
  private readonly accessed: Map<string, Accessed> = new Map();
  /** Watch-relevant changes, in order, one per path. */
  readonly changes: TxChange[] = [];
  /** Change of per-owner node counts relative to the main table. */
  private readonly ownerDelta: Map<number, number> = new Map();
  /** The main table. */
  private readonly base: NodeStore;
  /** Length of the key prefix `<generation>/` of this transaction's node copies. */
  private readonly keyPrefix: number;
  /** Bytes of this transaction's node copies (records plus keys), as xenstored counts them. */
  memory = 0;

  /**
   * Opens a transaction on `base`; `generation` is the generation count it started at
   * (xenstored's `trans->generation`, the prefix of its database keys).
   */
  constructor(id: number, base: NodeStore, generation: number = base.generation) {
    this.id = id;
    this.base = base;
    this.keyPrefix = String(generation).length + 1;
  }

  /** Bytes xenstored accounts for this transaction's copy of `node`. */
  copySize(node: XsNode): number {
    return node.size + node.name.length + this.keyPrefix;
  }

  /** Number of distinct nodes touched so far (the `transaction-nodes` quota). */
  get accessCount(): number {
    return this.accessed.size;
  }

  private entry(path: string): Accessed {
    let e = this.accessed.get(path);
    if (e === undefined) {
      const n = this.base.get(path);
      e = { node: n, generation: n === undefined ? -1 : n.generation, modified: false };
      this.accessed.set(path, e);
      if (n !== undefined) this.memory += this.copySize(n);
    }
    return e;
  }

  /** The node as this transaction sees it. */
  get(path: string): XsNode | undefined {
    return this.entry(path).node;
  }

  /** Writes a node in the transaction (stamping the next generation count, as xenstored). */
  put(node: XsNode): void {
    const e = this.entry(node.name);
    if (e.node !== undefined) {
      this.count(e.node, -1);
      this.memory -= this.copySize(e.node);
    }
    node.generation = this.base.generation++;
    this.memory += this.copySize(node);
    e.node = node;
    e.modified = true;
    this.count(node, 1);
  }

  /** Deletes a node in the transaction. */
  remove(path: string): void {
    const e = this.entry(path);
    if (e.node !== undefined) {
      this.count(e.node, -1);
      this.memory -= this.copySize(e.node);
    }
    this.base.generation++;
    e.node = undefined;
    e.modified = true;
  }

  /** Nodes owned by `domid` as seen from inside the transaction. */
  ownedBy(domid: number): number {
    return this.base.ownedBy(domid) + (this.ownerDelta.get(domid) ?? 0);
  }

  /** Records a change for the watches fired on commit (one entry per path). */
  addChange(path: string, exact: boolean): void {
    for (const c of this.changes) {
      if (c.path === path) {
        if (!exact) c.exact = false;
        return;
      }
    }
    this.changes.push({ path, exact });
  }

  /** Whether a node touched by this transaction changed in the main table meanwhile. */
  conflicts(): boolean {
    for (const [path, e] of this.accessed) {
      const cur = this.base.get(path);
      const gen = cur === undefined ? -1 : cur.generation;
      if (gen !== e.generation) return true;
    }
    return false;
  }

  /** Copies the transaction's writes into the main table (call after {@link conflicts}). */
  apply(): void {
    for (const [path, e] of this.accessed) {
      if (!e.modified) continue;
      if (e.node === undefined) this.base.remove(path, false);
      else this.base.put({ ...e.node, childBytes: undefined });
    }
  }

  private count(node: XsNode, delta: number): void {
    const owner = node.perms[0]?.id ?? 0;
    this.ownerDelta.set(owner, (this.ownerDelta.get(owner) ?? 0) + delta);
  }
}
