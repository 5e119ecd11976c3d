/**
 * The node record and the main node table with generation counts and per-owner counts.
 *
 * @see tools/xenstored/core.c (`struct node`, `write_node`, `generation`)
 * @module
 */
import type { XsPerm } from './perms.ts';

/**
 * One node of the tree. Records are never changed once stored (except the generation
 * the main table stamps on insertion); every change stores a new record, which is what
 * lets transactions keep cheap snapshots.
 */
export interface XsNode {
  /** Absolute path. */
  readonly name: string;
  /** Value bytes. */
  readonly value: Uint8Array;
  /** Permission list; entry 0 is the owner. */
  readonly perms: readonly XsPerm[];
  /** Child names in creation order, as `DIRECTORY` lists them. */
  readonly children: readonly string[];
  /** Generation count stamped when the node was last written (see `DIRECTORY_PART`). */
  generation: number;
  /** The child list in wire form (`a\0b\0`), computed on first use; records never change. */
  childBytes: Uint8Array | undefined;
  /**
   * Size of the record as C xenstored stores it: the 24-byte `struct xs_tdb_record_hdr`, 8
   * bytes per permission, the value and the NUL-terminated child names. The node-size and
   * memory quotas count it (memory adds the path length, the database key).
   */
  readonly size: number;
}

/** `sizeof(struct xs_tdb_record_hdr)`: u64 generation and three u32 counts, padded to 24. */
const RECORD_HDR = 24;

/** Creates a node record (generation 0 until stored). */
export function makeNode(
  name: string,
  value: Uint8Array,
  perms: readonly XsPerm[],
  children: readonly string[],
): XsNode {
  let size = RECORD_HDR + perms.length * 8 + value.length;
  for (let i = 0; i < children.length; i++) size += (children[i] as string).length + 1;
  return { name, value, perms, children, generation: 0, childBytes: undefined, size };
}

/** The child list of `node` in wire form, cached on the (immutable) record. */
export function childBytes(node: XsNode): Uint8Array {
  let b = node.childBytes;
  if (b === undefined) {
    let len = 0;
    for (const c of node.children) len += c.length + 1;
    b = new Uint8Array(len);
    let o = 0;
    for (const c of node.children) {
      for (let i = 0; i < c.length; i++) b[o++] = c.charCodeAt(i);
      b[o++] = 0;
    }
    node.childBytes = b;
  }
  return b;
}

/** Read/write access to nodes: the main table, or a transaction's view of it. */
export interface NodeAccess {
  /** The node at `path`, or `undefined`. */
  get(path: string): XsNode | undefined;
  /** Stores a (new) record under its name. */
  put(node: XsNode): void;
  /** Deletes the node at `path` (its children must be deleted separately). */
  remove(path: string): void;
  /** Number of nodes owned by `domid` as this view sees them (the node quota). */
  ownedBy(domid: number): number;
}

/** Memory C xenstored accounts for a node in its main database: record plus key (the path). */
export function nodeMemory(node: XsNode): number {
  return node.size + node.name.length;
}

/** The main node table. */
export class NodeStore implements NodeAccess {
  /** Nodes by absolute path. */
  readonly nodes: Map<string, XsNode> = new Map();
  /** The next generation count to stamp (xenstored's global `generation`). */
  generation = 0;
  /** Number of nodes per owner domain. */
  readonly owners: Map<number, number> = new Map();
  /** Bytes of node records (plus keys) per owner domain, as xenstored's memory quota counts them. */
  readonly memory: Map<number, number> = new Map();
  /** When set, the paths of nodes written or removed are added here (used for persistence). */
  dirty: Set<string> | undefined = undefined;

  /** The node at `path`, or `undefined`. */
  get(path: string): XsNode | undefined {
    return this.nodes.get(path);
  }

  /** Stores `node`, stamping the next generation count on it. */
  put(node: XsNode): void {
    const old = this.nodes.get(node.name);
    if (old !== undefined) this.count(old, -1);
    node.generation = this.generation++;
    this.nodes.set(node.name, node);
    this.count(node, 1);
    this.dirty?.add(node.name);
  }

  /**
   * Deletes the node at `path`. Like xenstored's `access_node(NODE_ACCESS_DELETE)` this uses
   * up a generation count, except when a transaction commit deletes (`stamp` false).
   */
  remove(path: string, stamp = true): void {
    const old = this.nodes.get(path);
    if (old === undefined) return;
    if (stamp) this.generation++;
    this.count(old, -1);
    this.nodes.delete(path);
    this.dirty?.add(path);
  }

  /** Number of nodes owned by `domid`. */
  ownedBy(domid: number): number {
    return this.owners.get(domid) ?? 0;
  }

  /** Bytes of node records owned by `domid` (see {@link nodeMemory}). */
  memoryOf(domid: number): number {
    return this.memory.get(domid) ?? 0;
  }

  private count(node: XsNode, delta: number): void {
    const owner = node.perms[0]?.id ?? 0;
    const n = (this.owners.get(owner) ?? 0) + delta;
    const m = (this.memory.get(owner) ?? 0) + delta * nodeMemory(node);
    if (n === 0) {
      this.owners.delete(owner);
      this.memory.delete(owner);
    } else {
      this.owners.set(owner, n);
      this.memory.set(owner, m);
    }
  }
}
