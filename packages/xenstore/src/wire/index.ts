/**
 * `@typevisor/xenstore/wire`: the xenstore wire protocol on its own, usable without the
 * daemon (for clients, proxies, or tests).
 *
 * @example
 * ```ts
 * import { encodeMessage, MessageReader, XsType } from '@typevisor/xenstore/wire';
 * const bytes = encodeMessage({ type: XsType.XS_READ, reqId: 1, txId: 0, payload: new TextEncoder().encode('/vm\0') });
 * new MessageReader().push(bytes, (m) => console.log(m.type, m.payload.length));
 * ```
 * @see xen/include/public/io/xs_wire.h
 * @module
 */
export {
  binaryToBytes,
  bytesToBinary,
  decodeHeader,
  encodeMessage,
  encodeStrings,
  MessageReader,
  splitStrings,
  type XsHeader,
  type XsMessage,
} from './codec.ts';
export {
  XENSTORE_ABS_PATH_MAX,
  XENSTORE_PAYLOAD_MAX,
  XENSTORE_REL_PATH_MAX,
  XS_TYPE_COUNT,
  XSD_ERRORS,
  XSD_SOCKMSG_SIZE,
  type XsErrorName,
  XsType,
  type XsTypeValue,
  xsTypeName,
} from './constants.ts';
