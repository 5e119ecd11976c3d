/**
 * `@typevisor/toolstack` wires the Typevisor packages into a complete system: the
 * `typevisor` command line (xl-compatible verbs), and the same operations as a
 * TypeScript API.
 *
 * @example
 * ```ts
 * import { runCli } from '@typevisor/toolstack';
 *
 * let out = '';
 * const status = await runCli(['--version'], {
 *   stdout: (t) => { out += t; }, stderr: () => {}, env: {}, cwd: '.',
 * });
 * console.log(status, out); // 0 'typevisor 0.0.0\n'
 * ```
 * @module
 */

export { crc32 } from '@typevisor/xenstore/node';
export {
  type ElfImage,
  type ElfSection,
  type ElfSegment,
  EM_386,
  EM_X86_64,
  machineName,
  PT_LOAD,
  PT_NOTE,
  parseElf,
  SHT_NOTE,
} from './builder/elf.ts';
export {
  buildPvLayout,
  MAX_GUEST_CMDLINE,
  PAGE_SIZE,
  type PvBootRegisters,
  type PvLayout,
  type PvLayoutInput,
  type PvSegment,
  type PvSegmentName,
  XENCONSOLE_DISCONNECTED,
} from './builder/pv-layout.ts';
export {
  type PvGuestType,
  readXenKernelInfo,
  SUPPORTED_FEATURES,
  XEN_ELFNOTE,
  XENFEAT_NAMES,
  type XenKernelInfo,
} from './builder/xen-notes.ts';
export type { CliIo, CommandSpec } from './cli/command.ts';
export { COMMANDS } from './cli/commands/index.ts';
export { collectInfo, formatInfo } from './cli/commands/info.ts';
export { formatNetworkList } from './cli/commands/network-attach.ts';
export { formatTop } from './cli/commands/top.ts';
export { EXIT_USAGE, runCli } from './cli/main.ts';
export { type RunVerbOptions, runVerb } from './cli/run-verb.ts';
export { type DiskFormat, type DiskSpec, parseDiskSpec } from './config/disk-spec.ts';
export {
  type DomainConfig,
  type LifecycleAction,
  MAX_VCPUS,
  parseCpuList,
  parseDomainConfig,
  toDomainConfig,
} from './config/domain-config.ts';
export { parseVifRate, parseVifSpec, type VifRate, type VifSpec } from './config/vif-spec.ts';
export { parseXlConfig, type XlConfigFile, type XlSetting, type XlValue } from './config/xl-cfg.ts';
export { DaemonClient } from './daemon/client.ts';
export { type CreateRequest, loadDomainConfig } from './daemon/config-load.ts';
export { connectDaemon, withDaemon } from './daemon/connect.ts';
export {
  type DaemonOptions,
  type DomainListEntry,
  probeSocket,
  type SocketProbe,
  TypevisorDaemon,
} from './daemon/daemon.ts';
export {
  controlSocketPath,
  daemonLogPath,
  type PathEnv,
  runDir,
  SYSTEM_RUN_DIR,
  xenstoredSocketPath,
} from './daemon/paths.ts';
export {
  DAEMON_PROTOCOL_VERSION,
  errorToReply,
  LineReader,
  MAX_RPC_LINE,
  type RpcEvent,
  type RpcReply,
  type RpcRequest,
  replyToError,
} from './daemon/protocol.ts';
export {
  type CreditRow,
  RESOURCE_METHODS,
  resourceRpc,
  type SchedResult,
  type SedfRow,
  type TopRow,
  type TopSnapshot,
} from './daemon/resource-rpc.ts';
export { type DetachedDaemon, startDetachedDaemon, typevisorCommand } from './daemon/spawn.ts';
export { VCPU_METHODS, vcpuRows, vcpuRpc } from './daemon/vcpu-rpc.ts';
export {
  type BlockRow,
  formatBlockList,
  formatList,
  formatListLong,
  formatUptime,
  formatUptimeText,
  formatVcpuList,
  type VcpuRow,
} from './daemon/xl-format.ts';
export {
  type BootedPvDomain,
  type BootPvOptions,
  bootPvDomain,
  PV_GUEST_DOMID,
} from './domain/pv-domain.ts';
export {
  type BootedPv32Domain,
  bootPv32Domain,
  COMPAT_GDT_VIRT,
  mapCompatGdt,
  PV32_GUEST_DOMID,
  type Pv32BootOptions,
} from './domain/pv-domain32.ts';
export { ToolstackError, type ToolstackErrorCode } from './errors.ts';
export {
  type DomainRestoreOptions,
  restoreDomainImage,
} from './host/domain-restore.ts';
export {
  type DomainSaveOptions,
  type DomainSaveResult,
  saveDomainImage,
  saveDomainToBytes,
} from './host/domain-save.ts';
export {
  DOMAIN_IMAGE_VERSION,
  type DomainImage,
  type DomainImageDevice,
  type DomainImageEvtchn,
  type DomainImageGnttab,
  type DomainImageState,
  type DomainImageTimers,
  type DomainImageVcpu,
  type ReadProgress,
  readDomainImage,
  type SavedFrameInfo,
  type SavedPagingVcpu,
  type SavedXenstoreNode,
} from './host/domain-save-image.ts';
export { FileByteStore } from './host/file-byte-store.ts';
export {
  type CreateDomainOptions,
  type DomainRunState,
  Host,
  HostDomain,
  type HostOptions,
  type HostRunOptions,
  type HostRunResult,
  type HostTimeMode,
  type MigrateOptions,
  type MigrationReport,
  openDisk,
} from './host/host.ts';
export {
  LIBXL_MAXMEM_CONSTANT,
  type MemoryDomainPort,
  type MemoryStorePort,
  parseMemSizeKb,
  setMaxMemory,
  setMemoryTarget,
} from './host/host-balloon.ts';
export {
  DEFAULT_BRIDGE,
  DEVICE_REMOVE_TIMEOUT_MS,
  HostDevices,
  type HostDevicesPort,
  type HostVif,
  type NetworkRow,
  type VifCounters,
} from './host/host-devices.ts';
export {
  decodeHostImage,
  encodeHostImage,
  fromJson,
  HOST_IMAGE_VERSION,
  type HostImage,
  reviveJson,
  type SavedDomain,
  toJson,
} from './host/host-image.ts';
export {
  applyLifecycle,
  type LifecycleContext,
  localiseStartInfo,
  preserveSuffix,
  resumeInNewDomain,
  resumeSuspended,
  SUSPEND_TIMEOUT_MS,
  type SuspendContext,
  type SuspendMethod,
  shutdownAction,
  suspendGuest,
  suspendMethod,
} from './host/host-lifecycle.ts';
export { liveDomainConfig } from './host/host-lifecycle-config.ts';
export { hostLogDirty } from './host/host-log-dirty.ts';
export {
  type CreditParams,
  type CreditPoolParams,
  creditPool,
  getCredit,
  getSedf,
  type SedfParams,
  schedulerName,
  setCredit,
  setSedf,
} from './host/host-sched.ts';
export { formatCpuList, HostVcpu, hostCpuList } from './host/host-vcpu.ts';
export {
  type MachineReservationsBoot,
  machineReservations,
} from './host/machine-reservations.ts';
export {
  type NativeDomain,
  NativeGrantIssuer,
  NativePageAllocator,
} from './host/native-domain.ts';
export { NativeEventChannels } from './host/native-events.ts';
export { framePage, NativeGrantMapper } from './host/native-grants.ts';
export { pinVcpu, setVcpus, type VcpuInfo, vcpuInfo } from './host/vcpu-control.ts';
export {
  type DomainMigrateOptions,
  type DomainMigrationReport,
  type MigrationChannel,
  migrateDomain,
} from './migration/migrate-domain.ts';
export {
  connectMigration,
  listenForMigrations,
  MIGRATE_DEFAULT_PORT,
  type MigrationConnection,
  type MigrationListener,
  type MigrationListenOptions,
  parseMigrateAddress,
} from './migration/migration-peer.ts';
export {
  type ByteSource,
  bytesSource,
  chunkSource,
  encodeHeader,
  encodeJsonRecord,
  encodeRecord,
  MAX_PAGES_PER_RECORD,
  MAX_RECORD_LENGTH,
  REC_TYPE,
  RECORD_HEADER_SIZE,
  type RecordType,
  readSaveStream,
  recordTypeName,
  SAVE_HEADER_SIZE,
  SAVE_MAGIC,
  SAVE_VERSION,
  SAVE_VERSION_MIN,
  type SaveRecord,
} from './migration/stream.ts';
export { TYPEVISOR_VERSION } from './version.ts';
