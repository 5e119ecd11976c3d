/**
 * Handlers for per-connection state: WATCH, UNWATCH, RESET_WATCHES,
 * TRANSACTION_START and TRANSACTION_END.
 *
 * @see tools/xenstored/watch.c, tools/xenstored/transaction.c
 * @module
 */
import { firstArg, OK, strz } from '../internal/args.ts';
import { canonicalize, isValidNodename } from '../path.ts';
import { Transaction } from '../transaction.ts';
import { splitStrings } from '../wire/codec.ts';
import { XENSTORE_REL_PATH_MAX, type XsErrorName, XsType } from '../wire/constants.ts';
import { type HandlerResult, REPLIED, type Request } from './request.ts';

/** Resolves a watch path: `@…` names are special, others are canonicalised and validated. */
function watchPath(req: Request, raw: string): { path: string; relative: boolean } | XsErrorName {
  if (raw.startsWith('@')) {
    if (raw.length > XENSTORE_REL_PATH_MAX) return 'EINVAL';
    return { path: raw, relative: false };
  }
  const path = canonicalize(raw, req.conn.home);
  if (!isValidNodename(path)) return 'EINVAL';
  return { path, relative: !raw.startsWith('/') };
}

/** `XS_WATCH`: `path\0token\0`; acknowledges, then fires once for the path. */
export function doWatch(req: Request): HandlerResult {
  const args = splitStrings(req.msg.payload);
  if (args.length !== 2) return 'EINVAL';
  const wp = watchPath(req, args[0] as string);
  if (typeof wp === 'string') return wp;
  const token = args[1] as string;
  const conn = req.conn;
  for (const w of conn.watches) if (w.path === wp.path && w.token === token) return 'EEXIST';
  if (!conn.privileged && conn.watches.length > req.xs.quotas.watches) return 'E2BIG';
  // add_watch(): the path and token count against the connection's memory quota.
  const bytes = wp.path.length + token.length;
  const xs = req.xs;
  if (!conn.privileged && xs.memoryQuotaHit(conn.domid, xs.domainMemory(conn.domid) + bytes)) {
    return 'ENOMEM';
  }
  const watch = { path: wp.path, token, relative: wp.relative };
  conn.watches.push(watch);
  conn.watchMemory += bytes;
  req.xs.reply(conn, req.msg, XsType.XS_WATCH, OK);
  req.xs.sendEvent(conn, watch, wp.path);
  return REPLIED;
}

/** `XS_UNWATCH`: `path\0token\0`. */
export function doUnwatch(req: Request): HandlerResult {
  const args = splitStrings(req.msg.payload);
  if (args.length !== 2) return 'EINVAL';
  const raw = args[0] as string;
  const path = raw.startsWith('@') ? raw : canonicalize(raw, req.conn.home);
  const ws = req.conn.watches;
  for (let i = 0; i < ws.length; i++) {
    const w = ws[i];
    if (w !== undefined && w.path === path && w.token === args[1]) {
      ws.splice(i, 1);
      req.conn.watchMemory -= w.path.length + w.token.length;
      return OK;
    }
  }
  return 'ENOENT';
}

/** `XS_RESET_WATCHES`: drops all watches and transactions of the connection. */
export function doResetWatches(req: Request): HandlerResult {
  req.conn.watches.length = 0;
  req.conn.watchMemory = 0;
  req.conn.transactions.clear();
  return OK;
}

/** `XS_TRANSACTION_START`: opens a transaction and replies with its decimal id. */
export function doTransactionStart(req: Request): HandlerResult {
  const conn = req.conn;
  if (req.txn !== undefined) return 'EBUSY';
  if (!conn.privileged && conn.transactions.size >= req.xs.quotas.transactions) return 'ENOSPC';
  let id = conn.nextTxId;
  while (id === 0 || conn.transactions.has(id)) id = (id + 1) >>> 0;
  conn.nextTxId = (id + 1) >>> 0;
  const store = req.xs.store;
  conn.transactions.set(id, new Transaction(id, store, store.generation++));
  return strz(String(id));
}

/** `XS_TRANSACTION_END`: `T\0` commits (or fails with EAGAIN), `F\0` aborts. */
export function doTransactionEnd(req: Request): HandlerResult {
  const txn = req.txn;
  if (txn === undefined) return 'ENOENT';
  const arg = firstArg(req.msg.payload);
  if (arg !== 'T' && arg !== 'F') return 'EINVAL';
  req.conn.transactions.delete(txn.id);
  if (arg === 'F') return OK;
  if (txn.conflicts()) return 'EAGAIN';
  txn.apply();
  req.xs.afterCommit();
  for (const c of txn.changes) req.xs.fireWatches(c.path, c.exact, undefined, undefined);
  return OK;
}
