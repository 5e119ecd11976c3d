/**
 * `@typevisor/split-drivers`: Xen's split device model — shared rings, the PV console ring,
 * xenbus, and the block frontend and backend — talking only through ports.
 * @module
 */

export { Blkback, type BlkbackOptions } from './blk/blkback.ts';
export {
  type BlkbackMetrics,
  BlkbackQueue,
  type BlkbackQueueOptions,
  type BlkbackQueueState,
  emptyBlkbackMetrics,
} from './blk/blkback-queue.ts';
export {
  Blkfront,
  type BlkfrontInfo,
  type BlkfrontOptions,
  type BlkReadResult,
} from './blk/blkfront.ts';
export {
  BLKIF_DISCARD_SECURE,
  BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST,
  BLKIF_MAX_SEGMENTS_PER_REQUEST,
  BLKIF_OP,
  BLKIF_RSP,
  BLKIF_SECTOR_SIZE,
  BLKIF_SECTORS_PER_PAGE,
  BLKIF_SEGS_PER_INDIRECT_FRAME,
  type BlkifProtocol,
  VDISK,
  XEN_IO_PROTO_ABI,
} from './blk/blkif-abi.ts';
export {
  type BlkifCodecs,
  type BlkifDiscardRequest,
  type BlkifIndirectRequest,
  type BlkifRequest,
  type BlkifResponse,
  type BlkifRwRequest,
  type BlkifSegment,
  blkifCodecs,
  decodeSegment,
  encodeSegment,
} from './blk/blkif-codec.ts';
export { type ByteStore, MemoryByteStore, RawStorage } from './blk/byte-store.ts';
export {
  type BackingOpener,
  parseQcow2Header,
  QCOW2_MAGIC,
  type Qcow2CreateOptions,
  type Qcow2Header,
  type Qcow2OpenOptions,
  Qcow2Storage,
} from './blk/qcow2.ts';
export { type BlockStorage, MemoryStorage, type MemoryStorageOptions } from './blk/storage.ts';
export {
  CONSOLE_INPUT_QUEUE_MAX,
  ConsoleBackend,
  type ConsoleBackendOptions,
} from './console/console-backend.ts';
export { ConsoleLog, type ConsoleLogOptions, consoleTimestamp } from './console/console-log.ts';
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
export {
  type BridgePortCounters,
  type BridgePortOptions,
  type BridgeVerdict,
  LearningBridge,
} from './net/bridge.ts';
export { completeTransportChecksum } from './net/checksum.ts';
export { Netback, type NetbackOptions } from './net/netback.ts';
export {
  emptyNetbackMetrics,
  NETBACK_RX_QUEUE_BYTES,
  type NetbackMetrics,
  type NetbackRateLimit,
  NetbackVif,
  type NetbackVifOptions,
  type NetbackVifState,
  type SetTimer,
  XEN_NETBK_MCAST_MAX,
} from './net/netback-vif.ts';
export { Netfront, type NetfrontOptions, type NetfrontSendOptions } from './net/netfront.ts';
export {
  NETIF_RSP,
  NETRXF,
  NETTXF,
  type NetifExtraInfo,
  type NetifRxRequest,
  type NetifRxResponse,
  type NetifTxRequest,
  type NetifTxResponse,
  netifExtraFromTxSlot,
  netifExtraToTxSlot,
  netifRxRequestCodec,
  netifRxResponseCodec,
  netifTxRequestCodec,
  netifTxResponseCodec,
  XEN_NETIF_EXTRA_FLAG_MORE,
  XEN_NETIF_EXTRA_TYPE,
  XEN_NETIF_MAX_TX_SIZE,
  XEN_NETIF_NR_SLOTS_MIN,
} from './net/netif.ts';
export type {
  Clock,
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
  type DeviceWatchHandlers,
  type DiscoveredDevice,
  watchBackendDevices,
} from './xenbus/device-watch.ts';
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
export {
  type XenstoreClientLike,
  type XenstoreWatchLike,
  xenbusClientFromXenstore,
} from './xenbus/xenstore-adapter.ts';
