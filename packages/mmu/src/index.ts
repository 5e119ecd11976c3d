/**
 * `@typevisor/mmu`: machine memory, P2M/M2P, page-table walkers with a per-vCPU TLB, and Xen's
 * PV direct-paging validation (`mmu_update`, `mmuext_op`, `update_va_mapping`).
 *
 * @example
 * ```ts
 * import { ACCESS, Machine, PAGING_MODE, Translator } from '@typevisor/mmu';
 * const machine = new Machine({ bytes: 4 * 1024 ** 3 }); // 4 GiB, allocated lazily
 * const t = new Translator(machine.memory);
 * t.setPaging({ mode: PAGING_MODE.NONE, cr3Lo: 0, cr3Hi: 0, wp: true, pse: false, nxe: false });
 * t.translate(0x1234_5000, 0, ACCESS.READ); // 0x12345: paging off maps linear = physical
 * ```
 * @module
 */
export {
  COMPAT_L2_FIRST_XEN_SLOT,
  DOMID,
  HYPERVISOR_COMPAT_VIRT_START,
  INVALID_MFN,
  INVALID_P2M_ENTRY,
  MMU_CMD,
  MMUEXT,
  ROOT_PAGETABLE_FIRST_XEN_SLOT,
  ROOT_PAGETABLE_LAST_XEN_SLOT,
  UVMF,
  VMASST,
  XEN_ERRNO,
} from './abi.ts';
export { MmuError, type MmuErrorCode } from './errors.ts';
export {
  type FrameState,
  FrameTable,
  type FrameTableState,
  PGT,
  PGT_TYPE_MASK,
} from './frame-table.ts';
export { copyFromGuest, copyToGuest } from './guest-copy.ts';
export {
  DirtyLog,
  type DirtyLogOptions,
  type DirtyLogStats,
  type DirtyMarker,
} from './log-dirty.ts';
export { Machine, type MachineOptions, type MachineState } from './machine.ts';
export {
  CHUNK_BYTES,
  CHUNK_FRAME_SHIFT,
  CHUNK_FRAMES,
  type FrameWriteWatch,
  MachineMemory,
  type MachineMemoryOptions,
  PAGE_SHIFT,
  PAGE_SIZE,
} from './machine-memory.ts';
export { P2m, type P2mState } from './p2m.ts';
export { ACCESS, PAGING_MODE, type PagingMode, PFEC, PTE, RIGHTS } from './paging.ts';
export { checkDescriptor, FIRST_RESERVED_GDT_ENTRY } from './pv/descriptors.ts';
export { M2pMapping } from './pv/m2p-mapping.ts';
export type {
  GrantMapPort,
  GuestWriteObserver,
  M2pViewPort,
  TlbFlushPort,
} from './pv/ports.ts';
export { PvDomain, type PvDomainOptions, PvVcpu } from './pv/pv-domain.ts';
export {
  type MmuextOp,
  type PvDomainState,
  PvMm,
  type PvMmOptions,
  type PvMmState,
  type PvVcpuState,
} from './pv/pv-mm.ts';
export { PvShadow } from './shadow/pv-shadow.ts';
export { SHADOW_FAULT, ShadowPager, type ShadowPagerOptions } from './shadow/shadow-pager.ts';
export { TLB_PERM, Tlb } from './tlb.ts';
export {
  type TranslationPort,
  Translator,
  type TranslatorOptions,
} from './translator.ts';
export { PageWalker, type PagingConfig } from './walker.ts';
