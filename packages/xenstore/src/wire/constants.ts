/**
 * Constants of the xenstore wire protocol, spelled as in Xen's public header.
 *
 * @see xen/include/public/io/xs_wire.h
 * @module
 */

/**
 * Message types (`enum xsd_sockmsg_type`) of Xen 4.17, the version Debian bookworm ships.
 * `XS_WATCH_EVENT` and `XS_ERROR` only ever travel from the daemon to a client.
 *
 * @see xen/include/public/io/xs_wire.h
 */
export const XsType = {
  /** `XS_CONTROL` (alias `XS_DEBUG`): daemon control commands such as `print` and `quota`. */
  XS_CONTROL: 0,
  /** `XS_DIRECTORY`: list the children of a node. */
  XS_DIRECTORY: 1,
  /** `XS_READ`: read a node's value. */
  XS_READ: 2,
  /** `XS_GET_PERMS`: read a node's permission list. */
  XS_GET_PERMS: 3,
  /** `XS_WATCH`: register a watch. */
  XS_WATCH: 4,
  /** `XS_UNWATCH`: remove a watch. */
  XS_UNWATCH: 5,
  /** `XS_TRANSACTION_START`: open a transaction. */
  XS_TRANSACTION_START: 6,
  /** `XS_TRANSACTION_END`: commit (`T`) or abort (`F`) a transaction. */
  XS_TRANSACTION_END: 7,
  /** `XS_INTRODUCE`: tell the daemon about a new domain and its ring. */
  XS_INTRODUCE: 8,
  /** `XS_RELEASE`: forget a domain. */
  XS_RELEASE: 9,
  /** `XS_GET_DOMAIN_PATH`: the home path of a domain. */
  XS_GET_DOMAIN_PATH: 10,
  /** `XS_WRITE`: write a node's value, creating it and its parents. */
  XS_WRITE: 11,
  /** `XS_MKDIR`: create a node with an empty value. */
  XS_MKDIR: 12,
  /** `XS_RM`: remove a node and its subtree. */
  XS_RM: 13,
  /** `XS_SET_PERMS`: replace a node's permission list. */
  XS_SET_PERMS: 14,
  /** `XS_WATCH_EVENT`: an asynchronous watch event (daemon to client). */
  XS_WATCH_EVENT: 15,
  /** `XS_ERROR`: an error reply whose payload is an errno name (daemon to client). */
  XS_ERROR: 16,
  /** `XS_IS_DOMAIN_INTRODUCED`: whether a domain is known. */
  XS_IS_DOMAIN_INTRODUCED: 17,
  /** `XS_RESUME`: clear a domain's shutdown state. */
  XS_RESUME: 18,
  /** `XS_SET_TARGET`: let a domain act for another (device models). */
  XS_SET_TARGET: 19,
  /** `XS_RESET_WATCHES`: drop all of the connection's watches and transactions. */
  XS_RESET_WATCHES: 21,
  /** `XS_DIRECTORY_PART`: a chunk of a long child list plus the node's generation. */
  XS_DIRECTORY_PART: 22,
} as const;

/** A known message type number. */
export type XsTypeValue = (typeof XsType)[keyof typeof XsType];

/** `XS_TYPE_COUNT` of Xen 4.17: types at or above this are answered with `ENOSYS`. */
export const XS_TYPE_COUNT = 23;

/** Maximum payload of one message in either direction (`XENSTORE_PAYLOAD_MAX`). */
export const XENSTORE_PAYLOAD_MAX = 4096;

/** Maximum length of an absolute path (`XENSTORE_ABS_PATH_MAX`). */
export const XENSTORE_ABS_PATH_MAX = 3072;

/** Maximum length of a relative path (`XENSTORE_REL_PATH_MAX`). */
export const XENSTORE_REL_PATH_MAX = 2048;

/** Size of the message header `struct xsd_sockmsg` in bytes. */
export const XSD_SOCKMSG_SIZE = 16;

/**
 * The error names a daemon may send in an `XS_ERROR` payload, in `xsd_errors[]` order.
 * Errno values the table lacks are reported as `EINVAL`, as the C daemon does.
 *
 * @see xen/include/public/io/xs_wire.h
 */
export const XSD_ERRORS = [
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
] as const;

/** One of the error names in {@link XSD_ERRORS}. */
export type XsErrorName = (typeof XSD_ERRORS)[number];

/** Returns the wire name of a message type (`READ`, `WRITE`, …), or the number if unknown. */
export function xsTypeName(type: number): string {
  for (const [k, v] of Object.entries(XsType)) if (v === type) return k.slice(3);
  return String(type);
}
