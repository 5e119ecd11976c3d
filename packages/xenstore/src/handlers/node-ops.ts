/**
 * Handlers for the node operations: READ, WRITE, MKDIR, RM, DIRECTORY, DIRECTORY_PART,
 * GET_PERMS and SET_PERMS, with xenstored's permission and error rules.
 *
 * @see tools/xenstored/core.c (`do_read`, `do_write`, `do_mkdir`, `do_rm`, `send_directory`,
 *   `send_directory_part`, `do_get_perms`, `do_set_perms`, `get_node`, `errno_from_parents`)
 * @module
 */
import { atoi, countStrings, firstArg, OK, strz } from '../internal/args.ts';
import { childBytes, makeNode, type NodeAccess, nodeMemory, type XsNode } from '../node.ts';
import { baseName, canonicalize, childPath, isValidNodename, parentPath } from '../path.ts';
import { formatPerm, parsePerms, permFor, type XsPerm, XsPermBits } from '../perms.ts';
import { bytesToBinary, encodeStrings, splitStrings } from '../wire/codec.ts';
import { XENSTORE_PAYLOAD_MAX, type XsErrorName } from '../wire/constants.ts';
import type { Request } from './request.ts';

const { XS_PERM_READ, XS_PERM_WRITE, XS_PERM_OWNER } = XsPermBits;

/** The outcome of looking a node up: the node or an error name. */
type Lookup = XsNode | XsErrorName;

/**
 * xenstored's `get_node()`: validates the path, reads the node and checks `perm`. A missing
 * or forbidden node reports ENOENT only if the nearest existing ancestor grants `perm`,
 * EACCES otherwise, so a caller learns nothing about nodes it may not see.
 */
export function getNode(req: Request, path: string, perm: number): Lookup {
  if (!isValidNodename(path)) return 'EINVAL';
  const node = req.access.get(path);
  let err: XsErrorName;
  if (node !== undefined) {
    if ((permFor(req.conn, node.perms) & perm) === perm) return node;
    err = 'EACCES';
  } else err = 'ENOENT';
  let p = path;
  let anc: XsNode | undefined;
  do {
    p = parentPath(p);
    anc = req.access.get(p);
  } while (anc === undefined && p !== '/');
  const parentPerm = anc === undefined ? 0 : permFor(req.conn, anc.perms);
  return parentPerm & perm ? err : 'EACCES';
}

function isErr(x: Lookup): x is XsErrorName {
  return typeof x === 'string';
}

/** Checks the node-size quota of an unprivileged writer (`write_node_raw`). */
function tooBig(req: Request, node: XsNode): boolean {
  if (req.conn.privileged) return false;
  // sizeof(struct xs_tdb_record_hdr) is 24 (u64 generation, 3 × u32, padded); each
  // struct xs_permissions is 8 bytes; then the value and the NUL-terminated child names.
  let size = 24 + node.perms.length * 8 + node.value.length;
  for (const c of node.children) size += c.length + 1;
  return size >= req.xs.quotas.nodeSize;
}

/**
 * The memory quota of node writes (`do_tdb_write()` → `domain_memory_add()`): a record
 * in the main table counts for its owner, a transaction's copy for the transaction's
 * connection. `delta` is the change in accounted bytes; the write is refused when the
 * domain would then be at or above its quota. The owner's quota applies whoever writes,
 * so even dom0 cannot grow a guest's nodes past it.
 */
function memoryRefused(req: Request, owner: number, delta: number): boolean {
  const domid = req.txn === undefined ? owner : req.conn.domid;
  if (domid === 0 || (req.txn !== undefined && req.conn.privileged)) return false;
  if (!req.xs.memoryQuotaHit(domid, req.xs.domainMemory(domid) + delta)) return false;
  // write_node() stamps a generation count before the write is refused.
  req.xs.store.generation++;
  return true;
}

/** Bytes a write of `node` (replacing `old`) adds to the memory accounting. */
function memoryDelta(req: Request, node: XsNode, old: XsNode | undefined): number {
  const txn = req.txn;
  if (txn !== undefined) return txn.copySize(node) - (old === undefined ? 0 : txn.copySize(old));
  return nodeMemory(node) - (old === undefined ? 0 : nodeMemory(old));
}

/**
 * `create_node()`: creates `path` with `value`, and any missing ancestors with empty values,
 * each inheriting its parent's permissions (owned by the creator when unprivileged).
 */
function createNode(req: Request, path: string, value: Uint8Array): XsErrorName | undefined {
  const access: NodeAccess = req.access;
  const created: XsNode[] = [];
  let p = path;
  let parent: XsNode | undefined;
  const chain: string[] = [];
  for (;;) {
    chain.push(p);
    p = parentPath(p);
    parent = access.get(p);
    if (parent !== undefined) break;
  }
  // chain: [path, ..., topmost missing]; build from the top down.
  let perms: readonly XsPerm[] = parent.perms;
  if (!req.conn.privileged) {
    const owner = perms[0] as XsPerm;
    perms = [{ id: req.conn.domid, perm: owner.perm }, ...perms.slice(1)];
  }
  for (let i = chain.length - 1; i >= 0; i--) {
    const name = chain[i] as string;
    const child = i > 0 ? [baseName(chain[i - 1] as string)] : [];
    created.push(makeNode(name, i === 0 ? value : new Uint8Array(0), perms, child));
  }
  const top = chain[chain.length - 1] as string;
  const newParent = makeNode(parent.name, parent.value, parent.perms, [
    ...parent.children,
    baseName(top),
  ]);
  if (!req.conn.privileged) {
    const q = req.xs.quotas;
    if (access.ownedBy(req.conn.domid) + created.length > q.nodes) return 'ENOSPC';
    for (const n of created) if (tooBig(req, n)) return 'ENOSPC';
    if (tooBig(req, newParent)) return 'ENOSPC';
    const txn = req.txn;
    if (txn !== undefined && txn.accessCount + created.length > q.transactionNodes) return 'ENOSPC';
  }
  // Memory: the new nodes (leaf first), then the parent's longer child list.
  const owner = (perms[0] as XsPerm).id;
  let added = 0;
  for (const n of created) added += memoryDelta(req, n, undefined);
  if (memoryRefused(req, owner, added)) return 'EIO';
  const parentOwner = (parent.perms[0] as XsPerm).id;
  const parentDelta = memoryDelta(req, newParent, parent);
  const same = req.txn !== undefined || parentOwner === owner;
  if (memoryRefused(req, parentOwner, (same ? added : 0) + parentDelta)) return 'EIO';
  // xenstored writes the new leaf first, then upwards to the existing parent.
  for (let i = created.length - 1; i >= 0; i--) access.put(created[i] as XsNode);
  access.put(newParent);
  return undefined;
}

/** `XS_READ`: the node's value. */
export function doRead(req: Request): Uint8Array | XsErrorName {
  const n = getNode(req, canonicalize(firstArg(req.msg.payload), req.conn.home), XS_PERM_READ);
  return isErr(n) ? n : n.value;
}

/** `XS_WRITE`: `path\0value`; creates the node and missing parents. */
export function doWrite(req: Request): Uint8Array | XsErrorName {
  const payload = req.msg.payload;
  const nul = payload.indexOf(0);
  if (nul < 0) return 'EINVAL';
  const path = canonicalize(bytesToBinary(payload.subarray(0, nul)), req.conn.home);
  const value = payload.slice(nul + 1);
  const n = getNode(req, path, XS_PERM_WRITE);
  let perms: readonly XsPerm[];
  if (isErr(n)) {
    if (n !== 'ENOENT') return n;
    const err = createNode(req, path, value);
    if (err !== undefined) return err;
    perms = (req.access.get(path) as XsNode).perms;
  } else {
    const updated = makeNode(n.name, value, n.perms, n.children);
    if (tooBig(req, updated)) return 'ENOSPC';
    // xenstored's do_write() returns a stale errno here, ENOENT in every case observed.
    if (memoryRefused(req, (n.perms[0] as XsPerm).id, memoryDelta(req, updated, n))) {
      return 'ENOENT';
    }
    req.access.put(updated);
    perms = n.perms;
  }
  req.xs.fire(req, path, false, perms, undefined);
  return OK;
}

/** `XS_MKDIR`: creates the node with an empty value; fine if it exists. */
export function doMkdir(req: Request): Uint8Array | XsErrorName {
  const path = canonicalize(firstArg(req.msg.payload), req.conn.home);
  const n = getNode(req, path, XS_PERM_WRITE);
  if (isErr(n)) {
    if (n !== 'ENOENT') return n;
    const err = createNode(req, path, new Uint8Array(0));
    if (err !== undefined) return err;
    req.xs.fire(req, path, false, (req.access.get(path) as XsNode).perms, undefined);
  }
  return OK;
}

/** `XS_RM`: removes a subtree; fine if the node is missing but its parent exists. */
export function doRm(req: Request): Uint8Array | XsErrorName {
  const path = canonicalize(firstArg(req.msg.payload), req.conn.home);
  const n = getNode(req, path, XS_PERM_WRITE);
  if (isErr(n)) {
    if (n === 'ENOENT' && req.access.get(parentPath(path)) !== undefined) return OK;
    return n;
  }
  if (path === '/') return 'EINVAL';
  // Inside a transaction the parent can look absent while the node does not (the
  // transaction saw it missing earlier); `_rm()` answers EINVAL then.
  const parent = req.access.get(parentPath(path));
  if (parent === undefined) return 'EINVAL';
  removeSubtree(req, n, parent);
  return OK;
}

/** What removing a subtree needs of a request (a domain release has no connection). */
type RemoveContext = Pick<Request, 'xs' | 'txn' | 'access'>;

/**
 * `_rm()`: deletes `node` and its subtree, firing watches, then drops it from `parent`'s
 * child list.
 */
export function removeSubtree(req: RemoveContext, node: XsNode, parent: XsNode): void {
  removeTree(req, node, node.name);
  const name = baseName(node.name);
  req.access.put(
    makeNode(
      parent.name,
      parent.value,
      parent.perms,
      parent.children.filter((c) => c !== name),
    ),
  );
}

/** Deletes `node` and its subtree children-first, firing watches as `delnode_sub` does. */
function removeTree(req: RemoveContext, node: XsNode, root: string): void {
  for (const c of node.children) {
    const child = req.access.get(childPath(node.name, c));
    if (child !== undefined) removeTree(req, child, root);
  }
  req.access.remove(node.name);
  // `delete_child()` rewrites the parent of every deleted node, even a parent about to be
  // deleted itself, so each one uses up a generation count (the root's parent is written
  // by the caller).
  if (node.name !== root) req.xs.store.generation++;
  req.xs.fire(req, node.name, node.name !== root, node.perms, undefined);
}

/** `XS_DIRECTORY`: the child names, each NUL-terminated. */
export function doDirectory(req: Request): Uint8Array | XsErrorName {
  const n = getNode(req, canonicalize(firstArg(req.msg.payload), req.conn.home), XS_PERM_READ);
  return isErr(n) ? n : childBytes(n);
}

/** `XS_DIRECTORY_PART`: `path\0offset\0` → generation, then whole names from the offset. */
export function doDirectoryPart(req: Request): Uint8Array | XsErrorName {
  const payload = req.msg.payload;
  if (countStrings(payload) !== 2) return 'EINVAL';
  const [rawPath, rawOff] = splitStrings(payload) as [string, string];
  const n = getNode(req, canonicalize(rawPath, req.conn.home), XS_PERM_READ);
  if (isErr(n)) return n;
  const off = atoi(rawOff) >>> 0;
  const all = childBytes(n);
  const gen = strz(String(n.generation));
  if (off >= all.length) {
    const out = new Uint8Array(gen.length + 1);
    out.set(gen);
    return out;
  }
  const maxlen = XENSTORE_PAYLOAD_MAX - gen.length - 1;
  let len = 0;
  while (len + off < all.length) {
    let e = off + len;
    while (all[e] !== 0) e++;
    const slen = e - (off + len);
    if (len + slen >= maxlen) break;
    len += slen + 1;
  }
  const end = off + len === all.length;
  const out = new Uint8Array(gen.length + len + (end ? 1 : 0));
  out.set(gen);
  out.set(all.subarray(off, off + len), gen.length);
  return out;
}

/** `XS_GET_PERMS`: the permission entries, each NUL-terminated. */
export function doGetPerms(req: Request): Uint8Array | XsErrorName {
  const n = getNode(req, canonicalize(firstArg(req.msg.payload), req.conn.home), XS_PERM_READ);
  return isErr(n) ? n : encodeStrings(n.perms.map(formatPerm));
}

/** `XS_SET_PERMS`: `path\0perm\0perm\0…`; needs write access and ownership. */
export function doSetPerms(req: Request): Uint8Array | XsErrorName {
  const strings = splitStrings(req.msg.payload);
  if (strings.length < 2) return 'EINVAL';
  const raw = strings[0] as string;
  if (!req.conn.privileged && strings.length - 1 > req.xs.quotas.permissions) return 'ENOSPC';
  const perms = parsePerms(strings.slice(1));
  if (perms === undefined) return 'EINVAL';
  // domain_alloc_permrefs(): every domain named gets its accounting, even if the request fails.
  for (const p of perms) req.xs.referenced.add(p.id);
  if (raw.startsWith('@')) return req.xs.setSpecialPerms(req.conn, raw, perms);
  const path = canonicalize(raw, req.conn.home);
  const n = getNode(req, path, XS_PERM_WRITE | XS_PERM_OWNER);
  if (isErr(n)) return n;
  if (!req.conn.privileged && (perms[0] as XsPerm).id !== (n.perms[0] as XsPerm).id) return 'EPERM';
  const updated = makeNode(n.name, n.value, perms, n.children);
  if (
    !req.conn.privileged &&
    req.access.ownedBy((perms[0] as XsPerm).id) + 1 > req.xs.quotas.nodes
  ) {
    if ((perms[0] as XsPerm).id !== (n.perms[0] as XsPerm).id) return 'ENOSPC';
  }
  const owner = (perms[0] as XsPerm).id;
  const delta =
    owner === (n.perms[0] as XsPerm).id || req.txn !== undefined
      ? memoryDelta(req, updated, n)
      : nodeMemory(updated);
  if (memoryRefused(req, owner, delta)) return 'EIO';
  req.access.put(updated);
  req.xs.fire(req, path, false, perms, n.perms);
  return OK;
}
