/**
 * Layouts of shared_info, vcpu_info and vcpu_time_info on the two x86 PV ABIs
 * (computed from Xen's public headers with gcc -m32 / -m64).
 * @see xen/include/public/xen.h
 * @see xen/include/public/arch-x86/xen-x86_32.h
 * @see xen/include/public/arch-x86/xen-x86_64.h
 */

/** The x86 PV guest ABIs: 32-bit PAE ("xen-3.0-x86_32p") and 64-bit ("xen-3.0-x86_64"). */
export type GuestAbi = 'x86_32' | 'x86_64';

/** Byte offsets and sizes in shared_info / vcpu_info for one guest ABI. */
export interface SharedInfoLayout {
  /** The ABI these offsets belong to. */
  readonly abi: GuestAbi;
  /** Bits in an event word (xen_ulong_t): 32 or 64. */
  readonly bitsPerWord: 32 | 64;
  /** 2-level event channel count: bitsPerWord squared (EVTCHN_2L_NR_CHANNELS). */
  readonly nrChannels: 1024 | 4096;
  /** sizeof(struct shared_info). */
  readonly size: number;
  /** Offset of vcpu_info[0]. */
  readonly vcpu_info: 0;
  /** sizeof(struct vcpu_info) (64 on both ABIs). */
  readonly vcpuInfoSize: 64;
  /** Offset of evtchn_pending[] (bitmap, little-endian words). */
  readonly evtchn_pending: number;
  /** Offset of evtchn_mask[] (bitmap, little-endian words). */
  readonly evtchn_mask: number;
  /** Offset of wc_version (u32). */
  readonly wc_version: number;
  /** Offset of wc_sec (u32). */
  readonly wc_sec: number;
  /** Offset of wc_nsec (u32). */
  readonly wc_nsec: number;
  /** Offset of wc_sec_hi (u32; inside arch on x86_32). */
  readonly wc_sec_hi: number;
  /** Offset of arch (struct arch_shared_info). */
  readonly arch: number;
  /** Offset within vcpu_info of evtchn_upcall_pending (u8). */
  readonly vcpu_evtchn_upcall_pending: 0;
  /** Offset within vcpu_info of evtchn_upcall_mask (u8). */
  readonly vcpu_evtchn_upcall_mask: 1;
  /** Offset within vcpu_info of evtchn_pending_sel (xen_ulong_t). */
  readonly vcpu_evtchn_pending_sel: number;
  /** Offset within vcpu_info of arch.cr2. */
  readonly vcpu_arch_cr2: number;
  /** Offset within vcpu_info of time (struct vcpu_time_info, 32 bytes). */
  readonly vcpu_time: 32;
}

/**
 * shared_info layout for 32-bit PAE PV guests.
 * @see xen/include/public/xen.h
 */
export const SHARED_INFO_X86_32: SharedInfoLayout = {
  abi: 'x86_32',
  bitsPerWord: 32,
  nrChannels: 1024,
  size: 2344,
  vcpu_info: 0,
  vcpuInfoSize: 64,
  evtchn_pending: 2048,
  evtchn_mask: 2176,
  wc_version: 2304,
  wc_sec: 2308,
  wc_nsec: 2312,
  wc_sec_hi: 2340,
  arch: 2316,
  vcpu_evtchn_upcall_pending: 0,
  vcpu_evtchn_upcall_mask: 1,
  vcpu_evtchn_pending_sel: 4,
  vcpu_arch_cr2: 8,
  vcpu_time: 32,
};

/**
 * shared_info layout for 64-bit PV guests.
 * @see xen/include/public/xen.h
 */
export const SHARED_INFO_X86_64: SharedInfoLayout = {
  abi: 'x86_64',
  bitsPerWord: 64,
  nrChannels: 4096,
  size: 3136,
  vcpu_info: 0,
  vcpuInfoSize: 64,
  evtchn_pending: 2048,
  evtchn_mask: 2560,
  wc_version: 3072,
  wc_sec: 3076,
  wc_nsec: 3080,
  wc_sec_hi: 3084,
  arch: 3088,
  vcpu_evtchn_upcall_pending: 0,
  vcpu_evtchn_upcall_mask: 1,
  vcpu_evtchn_pending_sel: 8,
  vcpu_arch_cr2: 16,
  vcpu_time: 32,
};

/** Returns the shared_info layout of a guest ABI. */
export function sharedInfoLayout(abi: GuestAbi): SharedInfoLayout {
  return abi === 'x86_32' ? SHARED_INFO_X86_32 : SHARED_INFO_X86_64;
}

/**
 * Layout of struct vcpu_time_info (32 bytes, identical on both ABIs).
 * @see xen/include/public/xen.h
 */
export const VCPU_TIME_INFO: {
  /** sizeof(struct vcpu_time_info). */
  readonly size: 32;
  /** u32 version (odd while Xen updates the record). */
  readonly version: 0;
  /** u64 TSC at the last update. */
  readonly tsc_timestamp: 8;
  /** u64 system time in ns at the last update. */
  readonly system_time: 16;
  /** u32 multiplier from shifted TSC ticks to ns (32.32 fixed point). */
  readonly tsc_to_system_mul: 24;
  /** i8 shift applied to the TSC delta before the multiply. */
  readonly tsc_shift: 28;
  /** u8 XEN_PVCLOCK_* flags. */
  readonly flags: 29;
} = {
  size: 32,
  version: 0,
  tsc_timestamp: 8,
  system_time: 16,
  tsc_to_system_mul: 24,
  tsc_shift: 28,
  flags: 29,
};
