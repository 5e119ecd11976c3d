/**
 * Writers for the time records Xen keeps in guest-visible memory, with the odd/even version
 * protocol: `vcpu_time_info` (per vCPU, inside vcpu_info) and the shared_info wall clock.
 * Readers retry while the version is odd or changes across their read.
 *
 * @see xen/arch/x86/time.c (__update_vcpu_system_time, update_domain_wallclock_time)
 * @see xen/include/public/xen.h (struct vcpu_time_info, struct shared_info)
 */
import { type SharedInfoLayout, VCPU_TIME_INFO } from '../abi/shared-info.ts';
import type { GuestBytes } from '../guest-memory.ts';
import type { TimeScale } from './time-scale.ts';

/** XEN_PVCLOCK_TSC_STABLE_BIT: the TSC is synchronised across vCPUs. */
export const XEN_PVCLOCK_TSC_STABLE_BIT = 1;
/** XEN_PVCLOCK_GUEST_STOPPED: the guest was paused by the toolstack. */
export const XEN_PVCLOCK_GUEST_STOPPED = 2;

/** One vcpu_time_info record. */
export interface VcpuTimeRecord {
  /** TSC value at the update (u64, as bigint). */
  readonly tscTimestamp: bigint;
  /** System time in ns at the update (u64, as bigint). */
  readonly systemTime: bigint;
  /** The TSC scale. */
  readonly scale: TimeScale;
  /** XEN_PVCLOCK_* flags. */
  readonly flags: number;
}

const recordBuf = /* @__PURE__ */ new Uint8Array(VCPU_TIME_INFO.size);
const recordView = /* @__PURE__ */ new DataView(recordBuf.buffer);
const wordBuf = /* @__PURE__ */ new Uint8Array(4);
const wordView = /* @__PURE__ */ new DataView(wordBuf.buffer);

function readU32(mem: GuestBytes, address: number): number {
  return mem.read(address, wordBuf) ? wordView.getUint32(0, true) : 0;
}

function writeU32(mem: GuestBytes, address: number, value: number): boolean {
  wordView.setUint32(0, value >>> 0, true);
  return mem.write(address, wordBuf);
}

/**
 * Writes the vcpu_time_info at `address` (vcpu_info + 32) as Xen does: version to
 * `(version + 1) | 1` (odd), the fields, then version to `(version + 1) & ~1` (even). A guest that
 * left an odd version behind still sees odd-then-even. Returns the final version, or -1 if the
 * memory is not the domain's.
 */
export function writeVcpuTimeInfo(
  mem: GuestBytes,
  address: number,
  record: VcpuTimeRecord,
): number {
  const odd = ((readU32(mem, address + VCPU_TIME_INFO.version) + 1) | 1) >>> 0;
  if (!writeU32(mem, address + VCPU_TIME_INFO.version, odd)) return -1;
  if (!mem.read(address, recordBuf)) return -1;
  recordView.setBigUint64(
    VCPU_TIME_INFO.tsc_timestamp,
    BigInt.asUintN(64, record.tscTimestamp),
    true,
  );
  recordView.setBigUint64(VCPU_TIME_INFO.system_time, BigInt.asUintN(64, record.systemTime), true);
  recordView.setUint32(VCPU_TIME_INFO.tsc_to_system_mul, record.scale.mul >>> 0, true);
  recordView.setInt8(VCPU_TIME_INFO.tsc_shift, record.scale.shift);
  recordView.setUint8(VCPU_TIME_INFO.flags, record.flags & 0xff);
  // The fields go in while the version (bytes 0..3 of recordBuf) is still odd.
  mem.write(address, recordBuf);
  const even = ((odd + 1) & ~1) >>> 0;
  writeU32(mem, address + VCPU_TIME_INFO.version, even);
  return even;
}

/**
 * Writes the wall clock in shared_info (time of system-time zero since the Unix epoch) with the
 * same protocol on `wc_version`; seconds above 32 bits go to `wc_sec_hi` (in arch_shared_info on
 * x86_32). Returns the final version, or -1 if the memory is not the domain's.
 */
export function writeWallClock(
  mem: GuestBytes,
  sharedInfoAddress: number,
  layout: SharedInfoLayout,
  sec: number,
  nsec: number,
): number {
  const versionAt = sharedInfoAddress + layout.wc_version;
  const odd = ((readU32(mem, versionAt) + 1) | 1) >>> 0;
  if (!writeU32(mem, versionAt, odd)) return -1;
  writeU32(mem, sharedInfoAddress + layout.wc_sec, sec % 2 ** 32);
  writeU32(mem, sharedInfoAddress + layout.wc_nsec, nsec);
  writeU32(mem, sharedInfoAddress + layout.wc_sec_hi, Math.floor(sec / 2 ** 32));
  const even = ((odd + 1) & ~1) >>> 0;
  writeU32(mem, versionAt, even);
  return even;
}
