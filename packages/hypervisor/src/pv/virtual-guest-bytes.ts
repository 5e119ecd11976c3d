/**
 * A PV vCPU's virtual address space as the hypercall families' {@link GuestBytes} port: pointer
 * arguments are guest-virtual addresses translated through the guest's own (validated) page
 * tables, with the rights of its ring-3 kernel, as Xen's `copy_from_guest`/`copy_to_guest` do.
 * @see xen/arch/x86/usercopy.c, xen/include/asm-x86/uaccess.h (__addr_ok)
 */
import type { GuestBytes } from '../guest-memory.ts';
import type { MachineBytesPort, PvCpuPort, PvWalkRequest } from './ports.ts';

/** First address of Xen's 64-bit PV reserved area (L4 slot 256: 0xFFFF800000000000). */
const LOW_HALF_END = 2 ** 47;

/** How a {@link VirtualGuestBytes} checks rights and where the guest's address space ends. */
export interface VirtualGuestBytesOptions {
  /**
   * Check user rights (true: a 64-bit PV kernel runs in ring 3) or supervisor rights (false: a
   * 32-bit PV kernel runs in ring 1). Default true.
   */
  readonly user?: boolean;
  /**
   * First address the guest may not name in a pointer argument: 2^47 for 64-bit PV (the
   * canonical lower half), HYPERVISOR_COMPAT_VIRT_START (0xF5800000) for 32-bit PV. Default 2^47.
   */
  readonly limit?: number;
}
const ACCESS_READ = 0;
const ACCESS_WRITE = 1;
/** Pages touched by one copy, at most (a hypercall argument never spans more). */
const MAX_PAGES = 1 << 20;

/**
 * Guest-virtual memory of one vCPU. Addresses are unsigned numbers: only addresses below the
 * limit (the canonical lower half, 2^47, by default; 0xF5800000 for a 32-bit PV guest) are
 * reachable, so Xen's reserved area and non-canonical pointers fail (`-EFAULT` for the caller).
 * A copy fails, writing nothing, if any page is unmapped, not accessible with the kernel's
 * rights (user rights for a ring-3 kernel), or (for writes) read-only.
 */
export class VirtualGuestBytes implements GuestBytes {
  private readonly cpu: PvCpuPort;
  private readonly machine: MachineBytesPort;
  private readonly req: PvWalkRequest;
  private readonly frames: number[];
  private readonly user: boolean;
  private readonly limit: number;

  /** Translates through `cpu`'s page tables into `machine`. */
  constructor(cpu: PvCpuPort, machine: MachineBytesPort, options: VirtualGuestBytesOptions = {}) {
    this.cpu = cpu;
    this.machine = machine;
    this.user = options.user ?? true;
    this.limit = Math.min(options.limit ?? LOW_HALF_END, LOW_HALF_END);
    this.req = {
      linear: 0,
      access: 0,
      user: this.user,
      cr0: 0,
      cr3: 0,
      cr4: 0,
      efer: 0,
      frame: 0,
      userOk: false,
      writable: false,
      noExec: false,
      fault: -1,
    };
    this.frames = [];
  }

  /** Machine frame addresses of every page of [address, address+length), or false. */
  private translate(address: number, length: number, access: number): boolean {
    this.frames.length = 0;
    if (!Number.isSafeInteger(address) || address < 0 || length < 0) return false;
    if (length === 0) return true;
    if (address + length > this.limit) return false;
    const first = Math.floor(address / 4096);
    const last = Math.floor((address + length - 1) / 4096);
    if (last - first >= MAX_PAGES) return false;
    const r = this.req;
    const cpu = this.cpu;
    const limit = this.machine.frames * 4096;
    for (let vpn = first; vpn <= last; vpn++) {
      r.linear = vpn * 4096;
      r.access = access;
      r.user = this.user;
      r.cr0 = cpu.cr0;
      r.cr3 = cpu.cr3;
      r.cr4 = cpu.cr4;
      r.efer = cpu.efer;
      r.fault = -1;
      cpu.walker.walk(r);
      if (r.fault >= 0 || (this.user && !r.userOk)) return false;
      if (access === ACCESS_WRITE && !r.writable) return false;
      if (r.frame < 0 || r.frame + 4096 > limit) return false;
      this.frames.push(r.frame);
    }
    return true;
  }

  /** Copies guest-virtual bytes at `address` into `dst`; false on any bad page. */
  read(address: number, dst: Uint8Array): boolean {
    if (!this.translate(address, dst.length, ACCESS_READ)) return false;
    const m = this.machine;
    const base = Math.floor(address / 4096);
    for (let i = 0; i < dst.length; i++) {
      const va = address + i;
      const frame = this.frames[Math.floor(va / 4096) - base] ?? 0;
      dst[i] = m.readMa8(frame + (va % 4096));
    }
    return true;
  }

  /** Copies `src` to guest-virtual `address`; false, writing nothing, on any bad page. */
  write(address: number, src: Uint8Array): boolean {
    if (!this.translate(address, src.length, ACCESS_WRITE)) return false;
    const m = this.machine;
    const base = Math.floor(address / 4096);
    for (let i = 0; i < src.length; i++) {
      const va = address + i;
      const frame = this.frames[Math.floor(va / 4096) - base] ?? 0;
      m.writeMa8(frame + (va % 4096), src[i] ?? 0);
    }
    return true;
  }
}
