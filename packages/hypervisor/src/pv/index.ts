/**
 * The 64-bit PV vCPU: `PvVcpu` runs a PV guest kernel on the CPU model over machine memory, with
 * the PV hypercall table (console_io, xen_version, sched_op and the core families).
 * @module
 */
export { fillHypercallPage64 } from './hypercall-page.ts';
export { MachinePhysicalMemory } from './machine-physical-memory.ts';
export { type FrameOwnerPort, OwnedFramesMemory } from './owned-frames-memory.ts';
export { P2mGuestMemory, type P2mPort } from './p2m-guest-memory.ts';
export type {
  ConsoleSink,
  MachineBytesPort,
  PvCpuExit,
  PvCpuPort,
  PvMmPort,
  PvMmuextOp,
  PvWalkerPort,
  PvWalkRequest,
  ShutdownPort,
} from './ports.ts';
export {
  CONSOLEIO_read,
  CONSOLEIO_write,
  DEFAULT_XEN_VERSION,
  PV_DOMU_FEATURES,
  PV_NEXT,
  type PvHypercallEnv,
  type PvNext,
  pvHypercall,
  type XenVersionInfo,
} from './pv-hypercalls.ts';
export { PvTraps, type VcpuInfoPort } from './pv-traps.ts';
export {
  FLAT_KERNEL_CS64,
  FLAT_KERNEL_SS64,
  PV_INTERCEPTS,
  PV_RUN,
  type PvBootState,
  type PvCrashInfo,
  type PvRunResult,
  PvVcpu,
  type PvVcpuOptions,
  type PvVcpuState,
} from './pv-vcpu.ts';
export { VirtualGuestBytes } from './virtual-guest-bytes.ts';
