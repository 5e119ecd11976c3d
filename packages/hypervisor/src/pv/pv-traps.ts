/**
 * The virtual IDT of a 64-bit PV vCPU: `set_trap_table`, the bounce frame Xen builds to enter a
 * registered handler, and `HYPERVISOR_iret` back.
 * Guest user mode (a second L4, `toggle_guest_mode`) is {@link PvGuestMode}; a bounce from user
 * mode switches to kernel mode and the `stack_switch` stack, iret to a CS with RPL 3 switches
 * back, and a user `syscall` enters the syscall callback.
 * @see xen/arch/x86/x86_64/entry.S (create_bounce_frame, switch_to_kernel, restore_all_guest),
 *   xen/arch/x86/pv/iret.c, xen/arch/x86/pv/traps.c (pv_inject_event),
 *   xen/arch/x86/traps.c (do_general_protection, permit_softint),
 *   xen/include/public/arch-x86/xen.h (trap_info)
 */
import type { GuestBytes } from '../guest-memory.ts';
import type { PvCpuPort } from './ports.ts';
import type { PvGuestMode } from './pv-guest-mode.ts';
import type { SegmentLookupPort } from './pv32-traps.ts';

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
/** Flat ring-3 selectors of the 64-bit PV kernel (and of 64-bit user mode). */
const KERNEL_CS = 0xe033;
const KERNEL_SS = 0xe02b;
/** FLAT_USER_CS32: compat user code (`syscall` from it enters the syscall32 callback). */
const USER_CS32 = 0xe023;
/** Segment register indices in the CPU model's arrays. */
const SEG_CS = 1;
const SEG_SS = 2;
/** RFLAGS.DF, cleared on entry to the syscall callback. */
const RFLAGS_DF = 1 << 10;
/** Bits sysret loads from R11 (RF and VM always clear, bit 1 set). */
const SYSRET_KEEP = 0x3c7fd7;
/** CALLBACKTYPE_syscall, CALLBACKTYPE_syscall32; CALLBACKF_mask_events. */
const CALLBACK_SYSCALL = 2;
const CALLBACK_SYSCALL32 = 7;
const CALLBACKF_MASK_EVENTS = 1;
/** #PF error code bit: user-mode access. */
const PFEC_USER = 4;
const UD_VECTOR = 6;
const NP_VECTOR = 11;
const SS_VECTOR = 12;
const GP_VECTOR = 13;
/** RFLAGS bits a bounce clears: TF, NT, RF, VM, AC. */
const BOUNCE_CLEAR = (1 << 8) | (1 << 14) | (1 << 16) | (1 << 17) | (1 << 18);
/** RFLAGS bits iret never restores: IOPL, VM. */
const IRET_STRIP = (3 << 12) | (1 << 17);
const RFLAGS_IF = 1 << 9;
const LOW_HALF_END = 2 ** 47;
const HIGH_HALF_START = 2n ** 64n - 2n ** 47n;

/** Whether the unsigned 64-bit `v` is a canonical address. */
function canonical(v: bigint): boolean {
  return v < BigInt(LOW_HALF_END) || v >= HIGH_HALF_START;
}

/** Registered callbacks other than the event one (`PvVcpuArch.callbacks` fits). */
export type CallbackTable = ReadonlyMap<
  number,
  { readonly address: bigint; readonly flags: number }
>;

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
  /** The kernel/user mode ({@link PvTraps.attach}); null: always kernel mode. */
  mode: PvGuestMode | null;
  /** The syscall, syscall32 and failsafe callbacks ({@link PvTraps.attach}). */
  callbacks: CallbackTable | null;
  /** The guest's GDT/LDT, for the selectors an iret frame names ({@link PvTraps.attach}). */
  segments: SegmentLookupPort | null;
  private readonly byte: Uint8Array;

  /** An empty table (every exception crashes the domain), over an optional vcpu_info. */
  constructor(vcpuInfo: VcpuInfoPort | null = null) {
    this.address = new Array<bigint>(256).fill(0n);
    this.flags = new Uint8Array(256);
    this.eventCallback = 0n;
    this.vcpuInfo = vcpuInfo;
    this.mode = null;
    this.callbacks = null;
    this.segments = null;
    this.byte = new Uint8Array(1);
  }

  /**
   * Connects the vCPU's guest mode, callback table and descriptor tables (without them the vCPU
   * is always in kernel mode, a user `syscall` has no callback and iret takes Xen's flat
   * selectors only).
   */
  attach(mode: PvGuestMode, callbacks: CallbackTable, segments: SegmentLookupPort): void {
    this.mode = mode;
    this.callbacks = callbacks;
    this.segments = segments;
  }

  /** True while the vCPU is in guest kernel mode. */
  get kernelMode(): boolean {
    return this.mode === null || this.mode.kernelMode;
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
    return this.enter(cpu, guest, this.eventCallback, -1, true, -1, -1);
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
    return this.enter(cpu, guest, handler, withCode ? errorCode : -1, mask, -1, -1);
  }

  /**
   * An exception the CPU raised in the guest, delivered as Xen does: a #GP from `int n` (IDT
   * limit 0 makes every `int n` one, error code `n << 3 | 2`) becomes software interrupt `n` with
   * RIP past the instruction when the handler's trap_info DPL admits the guest mode (≥ 1 from
   * kernel mode, 3 from user mode; `int $0x80` with a handler takes Xen's direct trap), else the
   * #GP; a #PF's error code gets the user bit of the guest mode (both modes run in ring 3).
   * Returns false — the domain must crash — without a handler or a writable frame.
   * @see xen/arch/x86/traps.c (do_general_protection), xen/arch/x86/pv/traps.c (pv_inject_event)
   */
  exception(cpu: PvCpuPort, guest: GuestBytes, vector: number, errorCode: number): boolean {
    if (vector === GP_VECTOR && errorCode >= 0 && (errorCode & 7) === 2) {
      const n = (errorCode >>> 3) & 0xff;
      const dpl = (this.flags[n] ?? 0) & 3;
      const direct = n === 0x80 && (this.address[0x80] ?? 0n) !== 0n;
      if (direct || dpl >= (this.kernelMode ? 1 : 3)) {
        const handler = this.address[n] ?? 0n;
        if (handler === 0n) return false;
        cpu.rip += 2;
        const mask = ((this.flags[n] ?? 0) & TBF_INTERRUPT) !== 0;
        return this.enter(cpu, guest, handler, -1, mask, -1, -1);
      }
    }
    let code = errorCode;
    if (vector === PF_VECTOR && code >= 0)
      code = (code & ~PFEC_USER) | (this.kernelMode ? 0 : PFEC_USER);
    return this.bounce(cpu, guest, vector, code);
  }

  /**
   * A `syscall` from guest user mode (RIP past it): Xen's switch_to_kernel — RCX/R11 get the
   * return RIP and RFLAGS as the instruction leaves them, the frame records FLAT_KERNEL_CS64 /
   * FLAT_KERNEL_SS (FLAT_USER_CS32 from compat code, which enters the syscall32 callback
   * instead), the vCPU switches to kernel mode and enters the callback, masking events if it was
   * registered with CALLBACKF_mask_events; RFLAGS.DF is cleared. Without that callback the guest
   * gets #UD at the `syscall` (Xen 4.17's syscall_no_callback; checked with compat user code,
   * which has no syscall32 callback in the reference guest). Returns false — crash — if nothing
   * can run.
   * @see xen/arch/x86/x86_64/entry.S (lstar_enter, cstar_enter, switch_to_kernel)
   */
  userSyscall(cpu: PvCpuPort, guest: GuestBytes): boolean {
    setReg(cpu, RCX, BigInt(cpu.rip));
    setReg(cpu, R11, BigInt(cpu.getRflags() >>> 0));
    const compat = ((cpu.segSel[SEG_CS] ?? 0) & 0xffff) === USER_CS32;
    const cbs = this.callbacks;
    // switch_to_kernel: the syscall32 callback from FLAT_USER_CS32, else the syscall one; none
    // (0) is #UD at the instruction — also when compat code has only a 64-bit callback.
    const cb = cbs?.get(compat ? CALLBACK_SYSCALL32 : CALLBACK_SYSCALL);
    if (cb === undefined || cb.address === 0n) {
      cpu.rip -= 2;
      return this.bounce(cpu, guest, UD_VECTOR, -1);
    }
    const mask = (cb.flags & CALLBACKF_MASK_EVENTS) !== 0;
    if (!this.enter(cpu, guest, cb.address, -1, mask, compat ? USER_CS32 : KERNEL_CS, KERNEL_SS))
      return false;
    cpu.setRflags(cpu.getRflags() & ~RFLAGS_DF);
    setReg(cpu, R11, BigInt(cpu.getRflags() >>> 0));
    return true;
  }

  /**
   * Builds the bounce frame and jumps to `handler`; `maskEvents` sets evtchn_upcall_mask.
   * From user mode the vCPU first switches to kernel mode and the frame goes on the
   * `stack_switch` stack, its CS keeping RPL 3; from kernel mode it goes below RSP with the CS
   * RPL cleared. `frameCs`/`frameSs` (≥ 0) replace the current selectors in the frame (the
   * syscall entry's). The handler is entered as Xen's sysret return does: RCX = its address,
   * R11 = RFLAGS.
   */
  private enter(
    cpu: PvCpuPort,
    guest: GuestBytes,
    handler: bigint,
    errorCode: number,
    maskEvents: boolean,
    frameCs: number,
    frameSs: number,
  ): boolean {
    if (handler === 0n || handler >= BigInt(LOW_HALF_END)) return false;
    const savedMask = this.viRead(VI_MASK);
    const oldRsp = BigInt.asUintN(64, reg(cpu, RSP));
    let csSel = frameCs >= 0 ? frameCs : (cpu.segSel[SEG_CS] ?? 0) & 0xffff;
    const ssSel = frameSs >= 0 ? frameSs : (cpu.segSel[SEG_SS] ?? 0) & 0xffff;
    let stack = oldRsp;
    const mode = this.mode;
    if (mode !== null && !mode.kernelMode) {
      mode.toggle(); // to kernel mode: never fails
      stack = mode.kernelSp;
    } else {
      csSel &= ~3; // "indicate kernel context to guest"
    }
    const frame: bigint[] = [reg(cpu, RCX), reg(cpu, R11)];
    if (errorCode >= 0) frame.push(BigInt(errorCode >>> 0));
    const rip = BigInt.asUintN(64, BigInt(cpu.rip));
    // RFLAGS as the guest sees it: IF is the inverse of the saved upcall mask.
    const rflags = BigInt(((cpu.getRflags() & ~RFLAGS_IF) | (savedMask ? 0 : RFLAGS_IF)) >>> 0);
    const cs = BigInt(csSel) | (BigInt(savedMask) << 32n);
    frame.push(rip, cs, rflags, oldRsp, BigInt(ssSel));
    const top = stack & ~15n;
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
    const modeChanged = ((cpu.segAttr[SEG_CS] ?? 0) & 0xffff) !== FLAT64_CODE_ATTR;
    loadFlat(cpu, SEG_CS, KERNEL_CS, FLAT64_CODE_ATTR);
    loadFlat(cpu, SEG_SS, KERNEL_SS, FLAT_DATA_ATTR);
    if (modeChanged) cpu.updateMode();
    cpu.setRflags((cpu.getRflags() & ~BOUNCE_CLEAR) | 2);
    setReg(cpu, RCX, handler);
    setReg(cpu, R11, BigInt(cpu.getRflags() >>> 0));
    return true;
  }

  /**
   * `HYPERVISOR_iret`: at the `syscall`, RSP points to `{rax, r11, rcx, flags, rip, cs, rflags,
   * rsp, ss}`. A CS with RPL 3 switches to guest user mode first (without a user page table the
   * domain crashes, as in Xen). RAX comes back from the frame, RFLAGS with IF forced on and
   * IOPL/VM stripped, evtchn_upcall_mask = !IF. With VGCF_in_syscall (and a canonical RIP) the
   * return is Xen's sysret: CS/SS are FLAT_USER_CS64 (FLAT_USER_CS32 if the frame names it) and
   * FLAT_USER_SS whatever the frame says, RCX = RIP, R11 = RFLAGS. Otherwise it is Xen's iretq:
   * RCX/R11 from the frame (unless VGCF_in_syscall), CS and SS (RPL forced to 3) loaded from
   * Xen's GDT page or the guest's GDT/LDT; a selector the iretq would fault on (null, not a DPL-3
   * code/writable data segment, not present) or a non-canonical RIP gives the guest the #GP/#NP/
   * #SS with the frame's state, as Xen's pre-exception fixup does. Returns false — the domain
   * must crash — on an unreadable frame, no user page table, or a fault with no handler.
   * @see xen/arch/x86/pv/iret.c (do_iret), xen/arch/x86/x86_64/entry.S (restore_all_guest)
   */
  iret(cpu: PvCpuPort, guest: GuestBytes): boolean {
    const rsp = BigInt.asUintN(64, reg(cpu, RSP));
    if (rsp >= BigInt(LOW_HALF_END)) return false;
    const bytes = new Uint8Array(72);
    if (!guest.read(Number(rsp), bytes)) return false;
    const view = new DataView(bytes.buffer);
    const q = (i: number): bigint => view.getBigUint64(i * 8, true);
    const frameCs = Number(q(5) & 0xffffn);
    const mode = this.mode;
    if ((frameCs & 3) === 3 && mode !== null && mode.kernelMode && !mode.toggle()) return false;
    const flags = Number(q(3) & 0xffffffffn);
    setReg(cpu, RAX, q(0));
    const rip = q(4);
    const rflags = (Number(q(6) & 0xffffffffn) & ~IRET_STRIP) | RFLAGS_IF | 2;
    this.viWrite(VI_MASK, (Number(q(6) & 0xffffffffn) & RFLAGS_IF) === 0 ? 1 : 0);
    setReg(cpu, RSP, q(7));
    cpu.rip = Number(BigInt.asIntN(64, rip));
    const cs = frameCs | 3;
    const ss = Number(q(8) & 0xffffn) | 3;
    if ((flags & VGCF_IN_SYSCALL) !== 0) {
      // restore_all_guest leaves through sysret (iretq for a non-canonical RIP, "mimicking
      // sysret"): RCX = RIP, R11 = RFLAGS.
      setReg(cpu, RCX, rip);
      setReg(cpu, R11, BigInt(rflags >>> 0));
      if (canonical(rip)) {
        cpu.setRflags((rflags & SYSRET_KEEP) | 2);
        const compat = cs === USER_CS32;
        loadFlat(
          cpu,
          SEG_CS,
          compat ? USER_CS32 : KERNEL_CS,
          compat ? FLAT32_CODE_ATTR : FLAT64_CODE_ATTR,
        );
        loadFlat(cpu, SEG_SS, KERNEL_SS, FLAT_DATA_ATTR);
        cpu.updateMode();
        return true;
      }
    } else {
      setReg(cpu, R11, q(1));
      setReg(cpu, RCX, q(2));
    }
    cpu.setRflags(rflags);
    // Xen's iretq: a fault here reaches the guest as its own, with the frame's state.
    const fault = this.loadIretSegments(cpu, cs, ss);
    if (fault < 0 && canonical(rip)) return true;
    cpu.segSel[SEG_CS] = cs;
    cpu.segSel[SEG_SS] = ss;
    const vector = fault < 0 ? GP_VECTOR : fault >>> 16;
    const code = fault < 0 ? 0 : fault & 0xffff;
    return this.bounce(cpu, guest, vector, code);
  }

  /**
   * Loads CS and SS as a 64-bit iretq to CPL 3 would: -1 when both load, else the fault as
   * `vector << 16 | error code` (nothing is loaded then).
   */
  private loadIretSegments(cpu: PvCpuPort, cs: number, ss: number): number {
    const seg = this.segments;
    if ((cs & 0xfffc) === 0) return GP_VECTOR << 16;
    if (seg === null ? cs !== KERNEL_CS && cs !== USER_CS32 : !seg.readDescriptor(cs))
      return (GP_VECTOR << 16) | (cs & 0xfffc);
    const csLo = seg === null ? 0 : seg.descLo;
    const csHi = seg === null ? (cs === KERNEL_CS ? 0x00affb00 : 0x00cffb00) : seg.descHi;
    const csAttr = (csHi >> 8) & 0xf0ff;
    const conforming = (csAttr & 0x04) !== 0;
    const csDpl = (csAttr >> 5) & 3;
    if ((csAttr & 0x18) !== 0x18 || (conforming ? csDpl > 3 : csDpl !== 3))
      return (GP_VECTOR << 16) | (cs & 0xfffc);
    if ((csAttr & 0x80) === 0) return (NP_VECTOR << 16) | (cs & 0xfffc);
    if ((ss & 0xfffc) === 0) return GP_VECTOR << 16;
    if (seg === null ? ss !== KERNEL_SS : !seg.readDescriptor(ss))
      return (GP_VECTOR << 16) | (ss & 0xfffc);
    const ssLo = seg === null ? 0 : seg.descLo;
    const ssHi = seg === null ? 0x00cff300 : seg.descHi;
    const ssAttr = (ssHi >> 8) & 0xf0ff;
    if ((ssAttr & 0x1a) !== 0x12 || ((ssAttr >> 5) & 3) !== 3)
      return (GP_VECTOR << 16) | (ss & 0xfffc);
    if ((ssAttr & 0x80) === 0) return (SS_VECTOR << 16) | (ss & 0xfffc);
    loadDescriptor(cpu, SEG_CS, cs, csLo, csHi);
    loadDescriptor(cpu, SEG_SS, ss, ssLo, ssHi);
    cpu.updateMode();
    return -1;
  }
}

/** Cached attributes of Xen's flat 64-bit code, 32-bit code and data segments (DPL 3). */
const FLAT64_CODE_ATTR = 0xa0fb;
const FLAT32_CODE_ATTR = 0xc0fb;
const FLAT_DATA_ATTR = 0xc0f3;

/** Loads one of Xen's flat ring-3 segments into segment register `seg`. */
function loadFlat(cpu: PvCpuPort, seg: number, selector: number, attr: number): void {
  cpu.segSel[seg] = selector;
  cpu.segBase[seg] = 0;
  cpu.segLimit[seg] = -1;
  cpu.segAttr[seg] = attr;
}

/** Loads segment register `seg` from descriptor `lo:hi` (accessed bit set), as the CPU would. */
function loadDescriptor(
  cpu: PvCpuPort,
  seg: number,
  selector: number,
  lo: number,
  hi: number,
): void {
  let limit = (lo & 0xffff) | (hi & 0xf0000);
  if ((hi & 0x800000) !== 0) limit = (limit << 12) | 0xfff;
  cpu.segSel[seg] = selector & 0xffff;
  cpu.segBase[seg] = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
  cpu.segLimit[seg] = limit;
  cpu.segAttr[seg] = ((hi >> 8) & 0xf0ff) | 1;
}
