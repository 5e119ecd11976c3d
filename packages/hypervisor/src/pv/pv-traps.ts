/**
 * The virtual IDT of a 64-bit PV vCPU: `set_trap_table`, the bounce frame Xen builds to enter a
 * registered handler, and `HYPERVISOR_iret` back.
 * @see xen/arch/x86/x86_64/entry.S (create_bounce_frame), xen/arch/x86/pv/iret.c,
 *   xen/arch/x86/pv/traps.c (pv_inject_event), xen/include/public/arch-x86/xen.h (trap_info)
 */
import type { GuestBytes } from '../guest-memory.ts';
import type { PvCpuPort } from './ports.ts';

/** Vectors whose exceptions push an error code. */
const HAS_ERROR_CODE =
  (1 << 8) |
  (1 << 10) |
  (1 << 11) |
  (1 << 12) |
  (1 << 13) |
  (1 << 14) |
  (1 << 17) |
  (1 << 21) |
  (1 << 29) |
  (1 << 30);
/** `VGCF_in_syscall`: iret leaves RCX/R11 alone. */
const VGCF_IN_SYSCALL = 1 << 8;
const RSP = 4;
const RAX = 0;
const RCX = 1;
const R11 = 11;
/** Flat ring-3 selectors of the 64-bit PV kernel. */
const KERNEL_CS = 0xe033;
const KERNEL_SS = 0xe02b;
/** RFLAGS bits a bounce clears: TF, NT, RF, VM, AC. */
const BOUNCE_CLEAR = (1 << 8) | (1 << 14) | (1 << 16) | (1 << 17) | (1 << 18);
/** RFLAGS bits iret never restores: IOPL, VM. */
const IRET_STRIP = (3 << 12) | (1 << 17);
const RFLAGS_IF = 1 << 9;
const LOW_HALF_END = 2 ** 47;

function reg(cpu: PvCpuPort, r: number): bigint {
  return (BigInt(cpu.hi[r] ?? 0) << 32n) | BigInt((cpu.lo[r] ?? 0) >>> 0);
}

function setReg(cpu: PvCpuPort, r: number, v: bigint): void {
  const u = BigInt.asUintN(64, v);
  cpu.lo[r] = Number(u & 0xffffffffn) | 0;
  cpu.hi[r] = Number(u >> 32n) | 0;
}

/** Where a vCPU's `vcpu_info` lives: the domain's memory and its address there. */
export interface VcpuInfoPort {
  /** The domain's memory (for a PV guest, machine addresses of the frames it owns). */
  readonly memory: GuestBytes;
  /** Address of this vCPU's `vcpu_info` (shared_info + 64 × vcpu). */
  readonly address: number;
}

/** vcpu_info offsets (x86_64): upcall_pending, upcall_mask, arch.cr2. */
const VI_PENDING = 0;
const VI_MASK = 1;
const VI_CR2 = 16;
/** trap_info flag: mask events on entry (TBF_INTERRUPT). */
const TBF_INTERRUPT = 4;
const PF_VECTOR = 14;

/** One vCPU's registered exception handlers and event callback. */
export class PvTraps {
  /** Handler address per vector (0 = none); canonical addresses as unsigned bigints. */
  readonly address: bigint[];
  /** trap_info flags per vector (DPL in bits 0–1, 4 = mask events on entry). */
  readonly flags: Uint8Array;

  /** The event callback (`set_callbacks`), 0 = none. */
  eventCallback: bigint;
  /** The vCPU's vcpu_info, when the embedder provides it (upcall mask, pending, cr2). */
  readonly vcpuInfo: VcpuInfoPort | null;
  private readonly byte: Uint8Array;

  /** An empty table (every exception crashes the domain), over an optional vcpu_info. */
  constructor(vcpuInfo: VcpuInfoPort | null = null) {
    this.address = new Array<bigint>(256).fill(0n);
    this.flags = new Uint8Array(256);
    this.eventCallback = 0n;
    this.vcpuInfo = vcpuInfo;
    this.byte = new Uint8Array(1);
  }

  /** Reads a vcpu_info byte (0 without a vcpu_info). */
  private viRead(offset: number): number {
    const vi = this.vcpuInfo;
    if (vi === null || !vi.memory.read(vi.address + offset, this.byte)) return 0;
    return this.byte[0] ?? 0;
  }

  /** Writes a vcpu_info byte (ignored without a vcpu_info). */
  private viWrite(offset: number, value: number): void {
    const vi = this.vcpuInfo;
    if (vi === null) return;
    this.byte[0] = value;
    vi.memory.write(vi.address + offset, this.byte);
  }

  /** evtchn_upcall_mask as the guest last left it. */
  get upcallMask(): number {
    return this.viRead(VI_MASK);
  }

  /** Sets evtchn_upcall_mask (SCHEDOP_block clears it). */
  set upcallMask(value: number) {
    this.viWrite(VI_MASK, value ? 1 : 0);
  }

  /**
   * Whether an event upcall is deliverable now: a callback is registered and vcpu_info has
   * evtchn_upcall_pending set with evtchn_upcall_mask clear.
   */
  upcallDeliverable(): boolean {
    return this.eventCallback !== 0n && this.viRead(VI_PENDING) !== 0 && this.viRead(VI_MASK) === 0;
  }

  /**
   * Enters the event callback with a bounce frame (no error code), masking events as Xen does.
   * Returns false — the domain must crash — if the frame cannot be written.
   */
  deliverUpcall(cpu: PvCpuPort, guest: GuestBytes): boolean {
    return this.enter(cpu, guest, this.eventCallback, -1, true);
  }

  /**
   * `HYPERVISOR_set_trap_table(traps)`: 16-byte `trap_info { u8 vector; u8 flags; u16 cs;
   * u64 address }` entries up to one whose address is 0; NULL clears the table. Returns 0 or
   * -EFAULT (entries before a bad one stay installed, as in Xen).
   */
  setTrapTable(guest: GuestBytes, pointer: number): number {
    if (pointer === 0) {
      this.address.fill(0n);
      this.flags.fill(0);
      return 0;
    }
    const entry = new Uint8Array(16);
    const view = new DataView(entry.buffer);
    for (let i = 0; i < 256; i++) {
      if (pointer < 0 || !guest.read(pointer + i * 16, entry)) return -14;
      const address = view.getBigUint64(8, true);
      if (address === 0n) return 0;
      const vector = entry[0] ?? 0;
      this.address[vector] = address;
      this.flags[vector] = entry[1] ?? 0;
    }
    return 0;
  }

  /**
   * Enters the handler of `vector` the way Xen's create_bounce_frame does for a vCPU in kernel
   * mode: RSP aligned down to 16, then RCX, R11, [error code], RIP, CS (RPL cleared: "from the
   * kernel"; the saved upcall mask in bits 32–39), RFLAGS (IF = !mask), RSP, SS written below it;
   * RIP = handler on FLAT_KERNEL_CS/SS, TF/NT/RF/VM/AC cleared; events masked for TBF_INTERRUPT
   * handlers; a #PF's address stored in vcpu_info.arch.cr2. Returns false — the domain must
   * crash — without a handler or if the frame cannot be written.
   */
  bounce(cpu: PvCpuPort, guest: GuestBytes, vector: number, errorCode: number): boolean {
    const handler = this.address[vector] ?? 0n;
    if (handler === 0n) return false;
    const withCode = ((HAS_ERROR_CODE >>> vector) & 1) !== 0 && errorCode >= 0;
    if (vector === PF_VECTOR && this.vcpuInfo !== null) {
      // #PF: the fault address goes to vcpu_info.arch.cr2 (a PV kernel cannot read CR2).
      const cr2 = new Uint8Array(8);
      new DataView(cr2.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(cpu.cr2)), true);
      this.vcpuInfo.memory.write(this.vcpuInfo.address + VI_CR2, cr2);
    }
    const mask = ((this.flags[vector] ?? 0) & TBF_INTERRUPT) !== 0;
    return this.enter(cpu, guest, handler, withCode ? errorCode : -1, mask);
  }

  /** Builds the bounce frame and jumps to `handler`; `maskEvents` sets evtchn_upcall_mask. */
  private enter(
    cpu: PvCpuPort,
    guest: GuestBytes,
    handler: bigint,
    errorCode: number,
    maskEvents: boolean,
  ): boolean {
    if (handler >= BigInt(LOW_HALF_END)) return false;
    const savedMask = this.viRead(VI_MASK);
    const rsp = BigInt.asUintN(64, reg(cpu, RSP));
    const frame: bigint[] = [reg(cpu, RCX), reg(cpu, R11)];
    if (errorCode >= 0) frame.push(BigInt(errorCode >>> 0));
    const rip = BigInt.asUintN(64, BigInt(cpu.rip));
    // RFLAGS as the guest sees it: IF is the inverse of the saved upcall mask.
    const rflags = BigInt(((cpu.getRflags() & ~RFLAGS_IF) | (savedMask ? 0 : RFLAGS_IF)) >>> 0);
    const cs = BigInt(KERNEL_CS & ~3) | (BigInt(savedMask) << 32n);
    frame.push(rip, cs, rflags, rsp, BigInt(KERNEL_SS));
    const top = rsp & ~15n;
    const base = top - BigInt(frame.length * 8);
    if (base < 0n || top > BigInt(LOW_HALF_END)) return false;
    const bytes = new Uint8Array(frame.length * 8);
    const view = new DataView(bytes.buffer);
    frame.forEach((v, i) => {
      view.setBigUint64(i * 8, BigInt.asUintN(64, v), true);
    });
    if (!guest.write(Number(base), bytes)) return false;
    if (maskEvents) this.viWrite(VI_MASK, 1);
    setReg(cpu, RSP, base);
    cpu.rip = Number(BigInt.asIntN(64, handler));
    cpu.segSel[1] = KERNEL_CS;
    cpu.segSel[2] = KERNEL_SS;
    cpu.setRflags((cpu.getRflags() & ~BOUNCE_CLEAR) | 2);
    return true;
  }

  /**
   * `HYPERVISOR_iret`: at the `syscall`, RSP points to `{rax, r11, rcx, flags, rip, cs, rflags,
   * rsp, ss}`; restores them (RCX/R11 only without VGCF_in_syscall; IF forced on, IOPL/VM
   * stripped) and returns the saved RAX through RAX. Returns false — the domain must crash — on
   * an unreadable frame or a return to guest user mode (not modelled).
   */
  iret(cpu: PvCpuPort, guest: GuestBytes): boolean {
    const rsp = BigInt.asUintN(64, reg(cpu, RSP));
    if (rsp >= BigInt(LOW_HALF_END)) return false;
    const bytes = new Uint8Array(72);
    if (!guest.read(Number(rsp), bytes)) return false;
    const view = new DataView(bytes.buffer);
    const q = (i: number): bigint => view.getBigUint64(i * 8, true);
    const cs = Number(q(5) & 0xffffn);
    if ((cs & 3) === 3) return false; // guest user mode needs a user page table
    const flags = Number(q(3) & 0xffffffffn);
    setReg(cpu, RAX, q(0));
    if ((flags & VGCF_IN_SYSCALL) === 0) {
      setReg(cpu, R11, q(1));
      setReg(cpu, RCX, q(2));
    }
    cpu.rip = Number(BigInt.asIntN(64, q(4)));
    const rflags = Number(q(6) & 0xffffffffn);
    cpu.setRflags((rflags & ~IRET_STRIP) | RFLAGS_IF | 2);
    setReg(cpu, RSP, q(7));
    this.viWrite(VI_MASK, (rflags & RFLAGS_IF) === 0 ? 1 : 0); // evtchn_upcall_mask = !IF
    return true;
  }
}
