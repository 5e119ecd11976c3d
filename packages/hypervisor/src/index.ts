/**
 * `@typevisor/hypervisor`: the core of a Xen-compatible hypervisor. This session provides the
 * guest ABI (`__HYPERVISOR_*`, `EVTCHNOP_*`, `GNTTABOP_*`, … and struct layouts), 2-level event
 * channels, v1 grant tables and their hypercall entry points, all standing on a small guest-memory port.
 *
 * The ABI section of this barrel is generated from `src/abi/*.ts` (every `export const`/`type`/`function`).
 *
 * @example
 * ```ts
 * import { EventChannels, PagedGuestMemory, eventChannelOp, EVTCHNOP_bind_ipi } from '@typevisor/hypervisor';
 * ```
 * @module
 */
export {
  XEN_E2BIG,
  XEN_EACCES,
  XEN_EADDRINUSE,
  XEN_EADDRNOTAVAIL,
  XEN_EAGAIN,
  XEN_EBADF,
  XEN_EBADMSG,
  XEN_EBUSY,
  XEN_ECHILD,
  XEN_ECONNREFUSED,
  XEN_EDEADLK,
  XEN_EDOM,
  XEN_EEXIST,
  XEN_EFAULT,
  XEN_EILSEQ,
  XEN_EINTR,
  XEN_EINVAL,
  XEN_EIO,
  XEN_EISCONN,
  XEN_EISDIR,
  XEN_EMFILE,
  XEN_EMLINK,
  XEN_EMSGSIZE,
  XEN_ENAMETOOLONG,
  XEN_ENFILE,
  XEN_ENOBUFS,
  XEN_ENODATA,
  XEN_ENODEV,
  XEN_ENOENT,
  XEN_ENOEXEC,
  XEN_ENOLCK,
  XEN_ENOMEM,
  XEN_ENOSPC,
  XEN_ENOSYS,
  XEN_ENOTCONN,
  XEN_ENOTDIR,
  XEN_ENOTEMPTY,
  XEN_ENOTSOCK,
  XEN_ENXIO,
  XEN_EOPNOTSUPP,
  XEN_EOVERFLOW,
  XEN_EPERM,
  XEN_ERANGE,
  XEN_ERESTART,
  XEN_EROFS,
  XEN_ESRCH,
  XEN_ETIME,
  XEN_ETIMEDOUT,
  XEN_EWOULDBLOCK,
  XEN_EXDEV,
} from './abi/errno.ts';
export {
  EVTCHN_2L_NR_CHANNELS_X86_32,
  EVTCHN_2L_NR_CHANNELS_X86_64,
  EVTCHN_LAYOUT,
  EVTCHNOP_alloc_unbound,
  EVTCHNOP_bind_interdomain,
  EVTCHNOP_bind_ipi,
  EVTCHNOP_bind_pirq,
  EVTCHNOP_bind_vcpu,
  EVTCHNOP_bind_virq,
  EVTCHNOP_close,
  EVTCHNOP_expand_array,
  EVTCHNOP_init_control,
  EVTCHNOP_reset,
  EVTCHNOP_send,
  EVTCHNOP_set_priority,
  EVTCHNOP_status,
  EVTCHNOP_unmask,
  EVTCHNSTAT_closed,
  EVTCHNSTAT_interdomain,
  EVTCHNSTAT_ipi,
  EVTCHNSTAT_pirq,
  EVTCHNSTAT_unbound,
  EVTCHNSTAT_virq,
  type StructLayout,
} from './abi/event-channel.ts';
export {
  GNTCOPY_dest_gref,
  GNTCOPY_source_gref,
  GNTMAP_application_map,
  GNTMAP_contains_pte,
  GNTMAP_device_map,
  GNTMAP_host_map,
  GNTMAP_readonly,
  GNTST_address_too_big,
  GNTST_bad_copy_arg,
  GNTST_bad_dev_addr,
  GNTST_bad_domain,
  GNTST_bad_gntref,
  GNTST_bad_handle,
  GNTST_bad_page,
  GNTST_bad_virt_addr,
  GNTST_eagain,
  GNTST_general_error,
  GNTST_no_device_space,
  GNTST_no_space,
  GNTST_okay,
  GNTST_permission_denied,
  GNTTAB_LAYOUT_X86_32,
  GNTTAB_LAYOUT_X86_64,
  GNTTAB_NR_RESERVED_ENTRIES,
  GNTTAB_RESERVED_CONSOLE,
  GNTTAB_RESERVED_XENSTORE,
  GNTTABOP_cache_flush,
  GNTTABOP_copy,
  GNTTABOP_dump_table,
  GNTTABOP_error_msgs,
  GNTTABOP_get_status_frames,
  GNTTABOP_get_version,
  GNTTABOP_map_grant_ref,
  GNTTABOP_query_size,
  GNTTABOP_set_version,
  GNTTABOP_setup_table,
  GNTTABOP_swap_grant_ref,
  GNTTABOP_transfer,
  GNTTABOP_unmap_and_replace,
  GNTTABOP_unmap_grant_ref,
  type GnttabLayout,
  GRANT_ENTRY_V1,
  GTF_accept_transfer,
  GTF_invalid,
  GTF_PAT,
  GTF_PCD,
  GTF_PWT,
  GTF_permit_access,
  GTF_reading,
  GTF_readonly,
  GTF_sub_page,
  GTF_transfer_committed,
  GTF_transfer_completed,
  GTF_transitive,
  GTF_type_mask,
  GTF_writing,
  INITIAL_NR_GRANT_FRAMES,
} from './abi/grant-table.ts';
export {
  __HYPERVISOR_arch_0,
  __HYPERVISOR_arch_1,
  __HYPERVISOR_arch_2,
  __HYPERVISOR_arch_3,
  __HYPERVISOR_arch_4,
  __HYPERVISOR_arch_5,
  __HYPERVISOR_arch_6,
  __HYPERVISOR_arch_7,
  __HYPERVISOR_argo_op,
  __HYPERVISOR_callback_op,
  __HYPERVISOR_console_io,
  __HYPERVISOR_dm_op,
  __HYPERVISOR_domctl,
  __HYPERVISOR_event_channel_op,
  __HYPERVISOR_event_channel_op_compat,
  __HYPERVISOR_fpu_taskswitch,
  __HYPERVISOR_get_debugreg,
  __HYPERVISOR_grant_table_op,
  __HYPERVISOR_hvm_op,
  __HYPERVISOR_hypfs_op,
  __HYPERVISOR_iret,
  __HYPERVISOR_kexec_op,
  __HYPERVISOR_memory_op,
  __HYPERVISOR_mmu_update,
  __HYPERVISOR_mmuext_op,
  __HYPERVISOR_multicall,
  __HYPERVISOR_nmi_op,
  __HYPERVISOR_physdev_op,
  __HYPERVISOR_physdev_op_compat,
  __HYPERVISOR_platform_op,
  __HYPERVISOR_sched_op,
  __HYPERVISOR_sched_op_compat,
  __HYPERVISOR_set_callbacks,
  __HYPERVISOR_set_debugreg,
  __HYPERVISOR_set_gdt,
  __HYPERVISOR_set_segment_base,
  __HYPERVISOR_set_timer_op,
  __HYPERVISOR_set_trap_table,
  __HYPERVISOR_stack_switch,
  __HYPERVISOR_sysctl,
  __HYPERVISOR_tmem_op,
  __HYPERVISOR_update_descriptor,
  __HYPERVISOR_update_va_mapping,
  __HYPERVISOR_update_va_mapping_otherdomain,
  __HYPERVISOR_vcpu_op,
  __HYPERVISOR_vm_assist,
  __HYPERVISOR_xen_version,
  __HYPERVISOR_xenoprof_op,
  __HYPERVISOR_xenpmu_op,
  __HYPERVISOR_xsm_op,
} from './abi/hypercalls.ts';
export {
  SCHEDOP_block,
  SCHEDOP_pin_override,
  SCHEDOP_poll,
  SCHEDOP_remote_shutdown,
  SCHEDOP_shutdown,
  SCHEDOP_shutdown_code,
  SCHEDOP_watchdog,
  SCHEDOP_yield,
  SHUTDOWN_crash,
  SHUTDOWN_MAX,
  SHUTDOWN_poweroff,
  SHUTDOWN_reboot,
  SHUTDOWN_soft_reset,
  SHUTDOWN_suspend,
  SHUTDOWN_watchdog,
} from './abi/sched.ts';
export {
  type GuestAbi,
  SHARED_INFO_X86_32,
  SHARED_INFO_X86_64,
  type SharedInfoLayout,
  sharedInfoLayout,
  VCPU_TIME_INFO,
} from './abi/shared-info.ts';
export {
  RUNSTATE_blocked,
  RUNSTATE_offline,
  RUNSTATE_runnable,
  RUNSTATE_running,
  VCPU_SSHOTTMR_future,
  VCPUOP_down,
  VCPUOP_get_physid,
  VCPUOP_get_runstate_info,
  VCPUOP_initialise,
  VCPUOP_is_up,
  VCPUOP_register_runstate_memory_area,
  VCPUOP_register_runstate_phys_area,
  VCPUOP_register_vcpu_info,
  VCPUOP_register_vcpu_time_memory_area,
  VCPUOP_register_vcpu_time_phys_area,
  VCPUOP_send_nmi,
  VCPUOP_set_periodic_timer,
  VCPUOP_set_singleshot_timer,
  VCPUOP_stop_periodic_timer,
  VCPUOP_stop_singleshot_timer,
  VCPUOP_up,
} from './abi/vcpu.ts';
export {
  XENVER_build_id,
  XENVER_capabilities,
  XENVER_capabilities2,
  XENVER_changeset,
  XENVER_changeset2,
  XENVER_commandline,
  XENVER_commandline2,
  XENVER_compile_info,
  XENVER_extraversion,
  XENVER_extraversion2,
  XENVER_get_features,
  XENVER_guest_handle,
  XENVER_pagesize,
  XENVER_platform_parameters,
  XENVER_version,
} from './abi/version.ts';
export {
  DOMID_ANY,
  DOMID_COW,
  DOMID_FIRST_RESERVED,
  DOMID_IDLE,
  DOMID_INVALID,
  DOMID_IO,
  DOMID_MASK,
  DOMID_SELF,
  DOMID_XEN,
  NR_VIRQS,
  VIRQ_ARCH_0,
  VIRQ_ARCH_7,
  VIRQ_ARGO,
  VIRQ_CON_RING,
  VIRQ_CONSOLE,
  VIRQ_DEBUG,
  VIRQ_DEBUGGER,
  VIRQ_DOM_EXC,
  VIRQ_ENOMEM,
  VIRQ_MCA,
  VIRQ_MEM_EVENT,
  VIRQ_PCPU_STATE,
  VIRQ_TBUF,
  VIRQ_TIMER,
  VIRQ_XENOPROF,
  VIRQ_XENPMU,
  XEN_LEGACY_MAX_VCPUS,
} from './abi/xen.ts';
export { HypervisorError, type HypervisorErrorCode } from './errors.ts';
export {
  type ChannelRecord,
  type ChannelState,
  type ChannelStatus,
  EventChannels,
  type EventChannelsState,
  type EventDomainConfig,
  type EventDomainState,
  type EventNotifier,
} from './event-channel/event-channels.ts';
export {
  type ActiveRecord,
  type GrantCopyArgs,
  type GrantCopyPtr,
  type GrantDirtyPort,
  type GrantDomainConfig,
  type GrantDomainState,
  type GrantHostMapper,
  type GrantMapping,
  GrantTables,
  type GrantTablesState,
  type MapGrantRefArgs,
  type MapGrantRefResult,
  type MaptrackRecord,
  type QuerySizeResult,
  type SetupTableResult,
  type SetVersionResult,
  type UnmapGrantRefArgs,
} from './grant-table/grant-tables.ts';
export {
  type GuestBytes,
  type GuestMemory,
  PAGE_SHIFT,
  PAGE_SIZE,
  PagedGuestMemory,
} from './guest-memory.ts';
export {
  CALLBACKF_mask_events,
  CALLBACKOP_register,
  CALLBACKOP_unregister,
  CALLBACKTYPE,
  type CallbackPort,
  callbackOp,
} from './hypercall/callback-op.ts';
export {
  compatSmpVcpuOp,
  type Pv32SmpPort,
  VCPU_RUNSTATE_INFO_SIZE_32,
  writeRunstate32,
} from './hypercall/compat-smp-vcpu-op.ts';
export {
  type CompatContextTrap,
  checkVcpuGuestContext32,
  compatCr3ToPfn,
  compatPfnToCr3,
  decodeVcpuGuestContext32,
  fixupCompatSelector,
  VCPU_GUEST_CONTEXT_SIZE_32,
  type VcpuGuestContext32,
} from './hypercall/compat-vcpu-context.ts';
export type { HypercallContext } from './hypercall/context.ts';
export { dispatchHypercall, type HypercallHost } from './hypercall/dispatch.ts';
export { eventChannelOp, eventChannelOpCompat } from './hypercall/event-channel-op.ts';
export { grantTableOp } from './hypercall/grant-table-op.ts';
export {
  type E820Entry,
  MEMOP_CMD_MASK,
  MEMOP_EXTENT_SHIFT,
  type MemoryOpPreemption,
  type MemoryReservationPort,
  memoryOp,
  XENMEM_current_reservation,
  XENMEM_decrease_reservation,
  XENMEM_increase_reservation,
  XENMEM_machine_memory_map,
  XENMEM_machphys_mapping,
  XENMEM_machphys_mfn_list,
  XENMEM_maximum_gpfn,
  XENMEM_maximum_ram_page,
  XENMEM_maximum_reservation,
  XENMEM_memory_map,
  XENMEM_populate_physmap,
} from './hypercall/memory-op.ts';
export { MULTICALL_ENTRY_SIZE, type MulticallPort, multicall } from './hypercall/multicall.ts';
export {
  PHYSDEVOP,
  type PhysdevPort,
  PirqTable,
  type PirqTableState,
  physdevOp,
} from './hypercall/physdev-op.ts';
export {
  fpuTaskswitch,
  PV64_VM_ASSIST_VALID,
  type PvArchPort,
  SEGBASE_FS,
  SEGBASE_GS_KERNEL,
  SEGBASE_GS_USER,
  SEGBASE_GS_USER_SEL,
  setSegmentBase,
  stackSwitch,
  VMASST_CMD_disable,
  VMASST_CMD_enable,
  vmAssist,
} from './hypercall/pv-arch-op.ts';
export {
  type DescriptorLookupPort,
  type EventCallbackSlot,
  type PvArchCpuPort,
  PvVcpuArch,
  type PvVcpuArchState,
} from './hypercall/pv-vcpu-arch.ts';
export {
  type PvVcpuOpPort,
  pvVcpuOp,
  type VcpuRunstate,
} from './hypercall/pv-vcpu-op.ts';
export { SCHED_POLL_MAX_PORTS, schedPoll } from './hypercall/sched-poll.ts';
export { type PvSmpPort, smpVcpuOp } from './hypercall/smp-vcpu-op.ts';
export {
  type ContextTrap,
  checkVcpuGuestContext64,
  decodeVcpuGuestContext64,
  FIRST_RESERVED_GDT_ENTRY,
  VCPU_GUEST_CONTEXT_SIZE_64,
  VCPU_LIFECYCLE,
  type VcpuGuestContext64,
  type VcpuLifecyclePort,
  type VcpuLifecycleResult,
  VGCF_i387_valid,
  VGCF_in_kernel,
  VGCF_online,
  vcpuLifecycleOp,
} from './hypercall/vcpu-initialise.ts';
export { setTimerOp, type VcpuOpHost, vcpuOp } from './hypercall/vcpu-op.ts';
export {
  XEN_CPUID_FIRST_LEAF,
  XEN_CPUID_LAST_LEAF,
  XEN_EMULATE_PREFIX,
  type XenCpuidInfo,
  xenCpuidLeaf,
} from './hypercall/xen-cpuid.ts';
export {
  type DirtyLogPort,
  LogDirtyControl,
  type LogDirtyControlOptions,
  type LogDirtyCpuPort,
  type LogDirtyDomainPort,
} from './log-dirty/log-dirty-control.ts';
export { type FrameDirtyMarker, LogDirtyWalker } from './log-dirty/log-dirty-walker.ts';
export {
  type LogDirtyDomainState,
  type LogDirtyState,
  type ShadowOpRequest,
  type ShadowOpResult,
  type ShadowOpStats,
  XEN_DOMCTL_SHADOW_ENABLE_LOG_DIRTY,
  XEN_DOMCTL_SHADOW_OP_CLEAN,
  XEN_DOMCTL_SHADOW_OP_ENABLE,
  XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY,
  XEN_DOMCTL_SHADOW_OP_OFF,
  XEN_DOMCTL_SHADOW_OP_PEEK,
  XEN_DOMCTL_shadow_op,
} from './log-dirty/shadow-op.ts';
// The 64-bit and 32-bit PAE PV vCPUs, their hypercall tables, trap bouncing and memory adapters (src/pv/).
export {
  COMPAT_GDT_LIMIT,
  COMPAT_GDT_PAGES,
  FIRST_RESERVED_GDT_PAGE,
  fillCompatGdtPage,
} from './pv/compat-gdt.ts';
export { PvDescriptorTables, type PvDescriptorTablesOptions } from './pv/descriptor-tables.ts';
export { fillHypercallPage32, fillHypercallPage64 } from './pv/hypercall-page.ts';
export {
  MachinePhysicalMemory,
  XEN_PAGE,
  xenPageAddress,
} from './pv/machine-physical-memory.ts';
export { type FrameOwnerPort, OwnedFramesMemory } from './pv/owned-frames-memory.ts';
export { P2mGuestMemory, type P2mPort } from './pv/p2m-guest-memory.ts';
export type {
  ConsoleSink,
  MachineBytesPort,
  PvCpuExit,
  PvCpuPort,
  PvDescriptorVcpuView,
  PvMmPort,
  PvMmuextOp,
  PvWalkerPort,
  PvWalkRequest,
  ShutdownPort,
} from './pv/ports.ts';
export { PtwrEmulator } from './pv/ptwr.ts';
export {
  PvDomainVcpus,
  type PvDomainVcpusHooks,
  type PvDomainVcpusState,
} from './pv/pv-domain-vcpus.ts';
export {
  type GuestModeArchPort,
  PvGuestMode,
  type PvGuestModeState,
} from './pv/pv-guest-mode.ts';
export {
  CONSOLEIO_read,
  CONSOLEIO_write,
  DEFAULT_XEN_VERSION,
  PV_DOMU_FEATURES,
  PV_NEXT,
  PV_PREEMPT_AFTER,
  type PvHypercallEnv,
  type PvNext,
  pvHypercall,
  type XenVersionInfo,
} from './pv/pv-hypercalls.ts';
export {
  isSuspended,
  RESUME_HOW,
  type ResumeHow,
  resumeSuspendedDomain,
  type SuspendableVcpu,
} from './pv/pv-suspend.ts';
export { type CallbackTable, PvTraps, type VcpuInfoPort } from './pv/pv-traps.ts';
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
} from './pv/pv-vcpu.ts';
export { loadVcpuGuestContext64, type PvContextMmPort } from './pv/pv-vcpu-context.ts';
export { Pv32DomainVcpus } from './pv/pv32-domain-vcpus.ts';
export { HYPERVISOR_COMPAT_VIRT_START, pv32Hypercall } from './pv/pv32-hypercalls.ts';
export {
  compatFlatSegmentAttr,
  FLAT_RING1_CS,
  FLAT_RING1_DS,
  FLAT_RING3_CS32,
  FLAT_RING3_DS32,
  loadCompatFlatSegment,
  Pv32Traps,
  type SegmentLookupPort,
} from './pv/pv32-traps.ts';
export {
  HYPERCALL_VECTOR_32,
  PV32_INTERCEPTS,
  Pv32Vcpu,
  type Pv32VcpuOptions,
  type Pv32VcpuState,
} from './pv/pv32-vcpu.ts';
export { loadVcpuGuestContext32 } from './pv/pv32-vcpu-context.ts';
export { PvVcpuSet } from './pv/vcpu-set.ts';
export { VirtualGuestBytes, type VirtualGuestBytesOptions } from './pv/virtual-guest-bytes.ts';
export {
  fillXenGdtPage64,
  GDT_LDT_WINDOW_BYTES,
  GDT_WINDOW_64,
  LAST_RESERVED_GDT_BYTE,
  LDT_SELECTOR,
  LDT_WINDOW_OFFSET,
} from './pv/xen-gdt.ts';
// Schedulers (credit, sEDF) and the scheduling host (src/sched/).
export {
  CSCHED_CREDITS_PER_MSEC,
  CSCHED_CREDITS_PER_TSLICE,
  CSCHED_DEFAULT_TSLICE_MS,
  CSCHED_DEFAULT_WEIGHT,
  CSCHED_FLAG_VCPU_PARKED,
  CSCHED_FLAG_VCPU_YIELD,
  CSCHED_PRI_IDLE,
  CSCHED_PRI_TS_BOOST,
  CSCHED_PRI_TS_OVER,
  CSCHED_PRI_TS_UNDER,
  CSCHED_TICKS_PER_TSLICE,
  EXTRA_AWARE,
  EXTRA_QUANTUM,
  MICROSECS,
  MILLISECS,
  PERIOD_MAX,
  PERIOD_MIN,
  SCHED_MIN_TIMER,
  SLICE_MIN,
  WEIGHT_PERIOD,
  WEIGHT_SAFETY,
  XEN_DOMCTL_SCHEDOP_getinfo,
  XEN_DOMCTL_SCHEDOP_putinfo,
  XEN_SCHEDULER_ARINC653,
  XEN_SCHEDULER_CREDIT,
  XEN_SCHEDULER_CREDIT2,
  XEN_SCHEDULER_NULL,
  XEN_SCHEDULER_RTDS,
  XEN_SCHEDULER_SEDF,
} from './sched/constants.ts';
export {
  type CreditDomainState,
  CreditScheduler,
  type CreditState,
  type CreditVcpuState,
} from './sched/credit.ts';
export type {
  SchedHost,
  SchedulerOps,
  TaskSlice,
  XenDomctlSchedCredit,
  XenDomctlSchedSedf,
  XenDomctlSchedulerOp,
} from './sched/ops.ts';
export type { SchedClock, SchedTimers } from './sched/ports.ts';
export { RealTime } from './sched/real-time.ts';
export { createSchedulerOps, SCHEDULER_NAMES } from './sched/registry.ts';
export {
  type AddVcpuOptions,
  type ContextSwitchListener,
  type NewVcpuState,
  type SchedDomainState,
  type SchedPcpuState,
  Scheduler,
  type SchedulerOptions,
  type SchedulerState,
  type SchedVcpuState,
  type VcpuRunstateInfo,
} from './sched/scheduler.ts';
export {
  type SedfCpuState,
  SedfScheduler,
  type SedfState,
  type SedfVcpuState,
} from './sched/sedf.ts';
export {
  type RunSegment,
  SchedSimulation,
  type SchedSimulationOptions,
  type SimIoVcpuOptions,
  type SimVcpuOptions,
} from './sched/simulation.ts';
export { SchedDomain, SchedVcpu, VPF_blocked, VPF_down, VPF_migrating } from './sched/vcpu.ts';
export { VirtualTime } from './sched/virtual-time.ts';
export {
  DeterministicClock,
  RealTimeClock,
  type SystemClock,
  type TimerPort,
} from './time/clock.ts';
export {
  type VcpuTimeRecord,
  writeVcpuTimeInfo,
  writeWallClock,
  XEN_PVCLOCK_GUEST_STOPPED,
  XEN_PVCLOCK_TSC_STABLE_BIT,
} from './time/time-info.ts';
export { frequencyOf, scaleDelta, type TimeScale, timeScaleFor } from './time/time-scale.ts';
export { PV_DEFAULT_PERIOD_NS, type VcpuTimerState, VcpuTimers } from './time/vcpu-timers.ts';
