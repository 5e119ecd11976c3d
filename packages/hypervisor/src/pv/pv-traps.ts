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

/** One vCPU's registered exception handlers. */
export class PvTraps {
  /** Handler address per vector (0 = none); canonical addresses as unsigned bigints. */
  readonly address: bigint[];
  /** trap_info flags per vector (DPL in bits 0–1, 4 = mask events on entry). */
  readonly flags: Uint8Array;

  /** An empty table (every exception crashes the domain). */
  constructor() {
    this.address = new Array<bigint>(256).fill(0n);
    this.flags = new Uint8Array(256);
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
   * kernel"), RFLAGS, RSP, SS written below it; RIP = handler on FLAT_KERNEL_CS/SS, TF/NT/RF/VM/AC
   * cleared. Returns false — the domain must crash — without a handler or if the frame cannot be
   * written.
   */
  bounce(cpu: PvCpuPort, guest: GuestBytes, vector: number, errorCode: number): boolean {
    const handler = this.address[vector] ?? 0n;
    if (handler === 0n || handler >= BigInt(LOW_HALF_END)) return false;
    const withCode = (HAS_ERROR_CODE >>> vector) & 1 && errorCode >= 0;
    const rsp = BigInt.asUintN(64, reg(cpu, RSP));
    const frame: bigint[] = [reg(cpu, RCX), reg(cpu, R11)];
    if (withCode) frame.push(BigInt(errorCode >>> 0));
    const rip = BigInt.asUintN(64, BigInt(cpu.rip));
    const rflags = BigInt(cpu.getRflags() >>> 0);
    frame.push(rip, BigInt(KERNEL_CS & ~3), rflags, rsp, BigInt(KERNEL_SS));
    const top = rsp & ~15n;
    const base = top - BigInt(frame.length * 8);
    if (base < 0n || top > BigInt(LOW_HALF_END)) return false;
    const bytes = new Uint8Array(frame.length * 8);
    const view = new DataView(bytes.buffer);
    frame.forEach((v, i) => {
      view.setBigUint64(i * 8, BigInt.asUintN(64, v), true);
    });
    if (!guest.write(Number(base), bytes)) return false;
    setReg(cpu, RSP, base);
    cpu.rip = Number(BigInt.asIntN(64, handler));
    cpu.segSel[1] = KERNEL_CS;
    cpu.segSel[2] = KERNEL_SS;
    cpu.setRflags((Number(rflags) & ~BOUNCE_CLEAR) | 2);
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
    cpu.setRflags((Number(q(6) & 0xffffffffn) & ~IRET_STRIP) | RFLAGS_IF | 2);
    setReg(cpu, RSP, q(7));
    return true;
  }
}
