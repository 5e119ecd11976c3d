/**
 * `@typevisor/split-drivers`: Xen's split device model — shared rings, the PV console ring,
 * xenbus, and the block frontend and backend — talking only through ports.
 * @module
 */

export {
  ConsoleBack,
  ConsoleFront,
  XENCONS_IN_SIZE,
  XENCONS_OFFSETS,
  XENCONS_OUT_SIZE,
  XENCONSOLE_CONNECTED,
  XENCONSOLE_DISCONNECTED,
} from './console/console-ring.ts';
export { SplitDriversError, type SplitDriversErrorCode } from './errors.ts';
export { BackRing, type BackRingState } from './ring/back-ring.ts';
export type { RingCodec } from './ring/codec.ts';
export { FrontRing, type FrontRingState } from './ring/front-ring.ts';
export {
  ringNeedsNotify,
  ringSizeFor,
  SRING_HEADER_SIZE,
  SRING_OFFSETS,
  sharedRingInit,
  XEN_PAGE_SIZE,
} from './ring/ring-abi.ts';
