/**
 * `@typevisor/xenstore`: Xen's configuration store as an embeddable library: the tree,
 * transactions, watches, permissions, quotas, the request dispatcher, the guest ring
 * transport and a typed client.
 *
 * @example
 * ```ts
 * import { inProcessTransport, Xenstore, XenstoreClient } from '@typevisor/xenstore';
 * const xs = new Xenstore();
 * const client = new XenstoreClient(inProcessTransport(xs));
 * await client.write('/vm/a', 'hello');
 * console.log(await client.readString('/vm/a')); // hello
 * ```
 * @module
 */
export {
  type ClientTransport,
  inProcessTransport,
  type WatchEvent,
  XenstoreClient,
  type XenstoreOps,
  type XenstoreWatch,
} from './client.ts';
export { type MessageSink, type Watch, XenstoreConnection } from './connection.ts';
export { XenstoreError, type XenstoreErrorCode } from './errors.ts';
export type { Request } from './handlers/request.ts';
export { makeNode, type NodeAccess, NodeStore, nodeMemory, type XsNode } from './node.ts';
export { canonicalize, domainPath, isValidNodename } from './path.ts';
export { formatPerm, parsePerm, type XsPerm, XsPermBits } from './perms.ts';
export { DEFAULT_QUOTAS, formatQuotas, quotaKey, type XenstoreQuotas } from './quota.ts';
export {
  RING_BACKLOG_HARD,
  RING_BACKLOG_SOFT,
  RingConnection,
  type RingPort,
  XENSTORE_RING_SIZE,
  XenstoreRingError,
  XenstoreRingLayout,
} from './ring.ts';
export { type GuestRingHost, RingManager } from './ring-manager.ts';
export { Transaction, type TxChange } from './transaction.ts';
export {
  type DomainPort,
  Xenstore,
  type XenstoreNodeState,
  type XenstoreOptions,
  type XenstoreState,
  type XsDomain,
} from './xenstore.ts';
