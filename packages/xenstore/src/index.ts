/**
 * `@typevisor/xenstore`: Xen's configuration store as an embeddable library.
 *
 * @example
 * ```ts
 * import { Xenstore } from '@typevisor/xenstore';
 * const xs = new Xenstore();
 * const conn = xs.connect(0, (msg) => console.log(msg.type, msg.payload));
 * ```
 * @module
 */
export { type MessageSink, type Watch, XenstoreConnection } from './connection.ts';
export { XenstoreError, type XenstoreErrorCode } from './errors.ts';
export type { NodeAccess, XsNode } from './node.ts';
export { canonicalize, domainPath, isValidNodename } from './path.ts';
export { formatPerm, parsePerm, type XsPerm, XsPermBits } from './perms.ts';
export { DEFAULT_QUOTAS, type XenstoreQuotas } from './quota.ts';
export {
  type DomainPort,
  Xenstore,
  type XenstoreNodeState,
  type XenstoreOptions,
  type XenstoreState,
  type XsDomain,
} from './xenstore.ts';
