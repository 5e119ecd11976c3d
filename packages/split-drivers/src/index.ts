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
export type {
  EventChannels,
  GrantIssuer,
  GrantMapper,
  GrantMapping,
  PageAllocator,
  XenbusClient,
} from './ports.ts';
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
export {
  type BackendDeviceId,
  type DevicePaths,
  type DeviceSpec,
  devicePaths,
  listBackendDevices,
  listFrontendDevices,
  plugDevice,
  unplugDevice,
} from './xenbus/hotplug.ts';
export { backendPath, domainPath, frontendPath, vbdDeviceNumber } from './xenbus/paths.ts';
export {
  isLegalTransition,
  parseXenbusState,
  switchState,
  waitForState,
  XenbusState,
  type XenbusStateValue,
  xenbusStateName,
} from './xenbus/state.ts';
