/**
 * The virtual IDT of a 32-bit PAE PV vCPU (a "compat" guest on 64-bit Xen): `set_trap_table`
 * with 8-byte `trap_info`s, `set_callbacks` with CS:EIP pairs, `stack_switch`, the 32-bit bounce
 * frame Xen builds to enter a handler in ring 1, and the 32-bit `HYPERVISOR_iret` back.
 * @see xen/arch/x86/x86_64/compat/entry.S (compat_create_bounce_frame, compat_test_guest_events)
 * @see xen/arch/x86/pv/iret.c (compat_iret), xen/arch/x86/pv/traps.c (pv_inject_event)
 * @see xen/include/public/arch-x86/xen.h (trap_info), xen/arch/x86/x86_64/compat/traps.c
 */
import type { GuestBytes } from '../guest-memory.ts';
import type { PvCpuPort } from './ports.ts';
import type { VcpuInfoPort } from './pv-traps.ts';

/** Xen's flat ring-1 code selector, the 32-bit PV kernel's CS. @see xen/include/public/arch-x86/xen-x86_32.h */
export const FLAT_RING1_CS = 0xe019;
/** Xen's flat ring-1 data/stack selector, the 32-bit PV kernel's DS, ES, FS, GS and SS. @see xen/include/public/arch-x86/xen-x86_32.h */
export const FLAT_RING1_DS = 0xe021;
/** Xen's flat ring-3 code selector for 32-bit PV user mode. @see xen/include/public/arch-x86/xen-x86_32.h */
export const FLAT_RING3_CS32 = 0xe02b;
/** Xen's flat ring-3 data/stack selector for 32-bit PV user mode. @see xen/include/public/arch-x86/xen-x86_32.h */
export const FLAT_RING3_DS32 = 0xe033;

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
const EAX = 0;
const ESP = 4;
const SEG_CS = 1;
const SEG_SS = 2;
/** EFLAGS bits a bounce clears in the new context: TF, NT, RF, VM. */
const BOUNCE_CLEAR = (1 << 8) | (1 << 14) | (1 << 16) | (1 << 17);
const EFLAGS_IF = 1 << 9;
const EFLAGS_IOPL = 3 << 12;
const EFLAGS_VM = 1 << 17;
/** vcpu_info offsets (x86_32): upcall_pending, upcall_mask, arch.cr2. */
const VI_PENDING = 0;
const VI_MASK = 1;
const VI_CR2 = 8;
/** trap_info flag: mask events on entry (TBF_INTERRUPT). */
const TBF_INTERRUPT = 4;
const PF_VECTOR = 14;
const NP_VECTOR = 11;
const SS_VECTOR = 12;
const GP_VECTOR = 13;
const TRAP_INFO_SIZE = 8;

/**
 * A flat segment Xen's compat GDT holds: the attribute word the CPU caches (descriptor bits
 * 8–15 and 20–23) for each of Xen's four 32-bit PV selectors, or -1 for any other selector.
 * 0x00cfbb000000ffff (ring-1 code), 0x00cfb3000000ffff (ring-1 data), 0x00cffb000000ffff
 * (ring-3 code), 0x00cff3000000ffff (ring-3 data), all base 0 and limit 4 GiB.
 * @see xen/arch/x86/boot/x86_64.S (compat_gdt)
 */
export function compatFlatSegmentAttr(selector: number): number {
  switch (selector & ~3) {
    case FLAT_RING1_CS & ~3:
      return 0xc0bb;
    case FLAT_RING1_DS & ~3:
      return 0xc0b3;
    case FLAT_RING3_CS32 & ~3:
      return 0xc0fb;
    case FLAT_RING3_DS32 & ~3:
      return 0xc0f3;
    default:
      return -1;
  }
}

/**
 * The guest's own descriptor tables as the bounce and iret paths read them
 * (`PvDescriptorTables` fits): the descriptor a selector names, through the GDT/LDT window.
 */
export interface SegmentLookupPort {
  /** Reads the descriptor of `selector` into `descLo`/`descHi`; false if there is none. */
  readDescriptor(selector: number): boolean;
  /** Low dword of the last descriptor read. */
  readonly descLo: number;
  /** High dword of the last descriptor read. */
  readonly descHi: number;
}

/**
 * The attribute word (descriptor bits 8–15 and 20–23) of the segment `selector` names: one of
 * Xen's flat compat segments, else the guest's own descriptor through `segments`; -1 for none.
 */
function segmentAttr(selector: number, segments: SegmentLookupPort | null): number {
  const flat = compatFlatSegmentAttr(selector);
  if (flat >= 0 || segments === null || (selector & 0xfffc) === 0) return flat;
  if (!segments.readDescriptor(selector)) return -1;
  return (segments.descHi >> 8) & 0xf0ff;
}

/**
 * Whether `selector` names a present segment of the right kind for a transfer to ring `ring`:
 * a code segment (`code`) or a writable data/stack segment, with DPL = RPL = `ring` (what a
 * hardware iret or far transfer to that ring would accept) — Xen's flat compat segments, or
 * with `segments` the guest's own GDT/LDT descriptors.
 */
function selectorOk(
  selector: number,
  code: boolean,
  ring: number,
  segments: SegmentLookupPort | null,
): boolean {
  const attr = segmentAttr(selector, segments);
  if (attr < 0 || (attr & 0x90) !== 0x90) return false; // present code/data
  if ((selector & 3) !== ring || ((attr >> 5) & 3) !== ring) return false;
  return code ? (attr & 8) !== 0 : (attr & 0x0a) === 0x02;
}

/**
 * The fault a hardware iret to ring `ring` raises for `selector` as its CS (`code`) or SS:
 * -1 for none, else `vector << 16 | error code` — #GP(0) for a null selector, #GP(selector) for
 * one naming no code (writable data) segment with DPL = RPL = `ring`, #NP (#SS for the stack)
 * for a not-present one.
 */
function segmentFault(
  selector: number,
  code: boolean,
  ring: number,
  segments: SegmentLookupPort | null,
): number {
  const sel = selector & 0xfffc;
  if (sel === 0) return GP_VECTOR << 16;
  const attr = segmentAttr(selector, segments);
  const kindOk =
    attr >= 0 &&
    (attr & 0x10) !== 0 &&
    (code ? (attr & 8) !== 0 : (attr & 0x0a) === 0x02) &&
    (selector & 3) === ring &&
    ((attr >> 5) & 3) === ring;
  if (!kindOk) return (GP_VECTOR << 16) | sel;
  if ((attr & 0x80) === 0) return ((code ? NP_VECTOR : SS_VECTOR) << 16) | sel;
  return -1;
}

/**
 * Loads segment register `seg` with the segment `selector` names (a flat compat one, or the
 * guest's descriptor through `segments`), as the CPU would; false if there is none.
 */
export function loadSegment(
  cpu: PvCpuPort,
  seg: number,
  selector: number,
  segments: SegmentLookupPort | null,
): boolean {
  if (loadCompatFlatSegment(cpu, seg, selector)) return true;
  if (segments === null || !segments.readDescriptor(selector)) return false;
  const lo = segments.descLo;
  const hi = segments.descHi;
  let limit = (lo & 0xffff) | (hi & 0xf0000);
  if ((hi & 0x800000) !== 0) limit = (limit << 12) | 0xfff;
  cpu.segSel[seg] = selector & 0xffff;
  cpu.segBase[seg] = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
  cpu.segLimit[seg] = limit;
  cpu.segAttr[seg] = ((hi >> 8) & 0xf0ff) | 1;
  return true;
}

/** Loads segment register `seg` of `cpu` with one of Xen's flat compat segments (false: not one). */
export function loadCompatFlatSegment(cpu: PvCpuPort, seg: number, selector: number): boolean {
  const attr = compatFlatSegmentAttr(selector);
  if (attr < 0) return false;
  cpu.segSel[seg] = selector & 0xffff;
  cpu.segBase[seg] = 0;
  cpu.segLimit[seg] = -1;
  cpu.segAttr[seg] = attr;
  return true;
}

/** One 32-bit PV vCPU's registered exception handlers, callbacks and kernel stack. */
export class Pv32Traps {
  /** Handler EIP per vector (0 = none). */
  readonly address: Uint32Array;
  /** Handler CS per vector (RPL 0 fixed up to 1, as Xen does). */
  readonly cs: Uint16Array;
  /** trap_info flags per vector (DPL in bits 0–1, 4 = mask events on entry). */
  readonly flags: Uint8Array;
  /** The event callback EIP (`set_callbacks`/`callback_op`), 0 = none. */
  eventEip: number;
  /** The event callback CS. */
  eventCs: number;
  /** The failsafe callback EIP (recorded; Xen enters it when a segment reload fails). */
  failsafeEip: number;
  /** The failsafe callback CS. */
  failsafeCs: number;
  /** Stack selector Xen switches to on a bounce from ring 2/3 (`stack_switch`). */
  kernelSs: number;
  /** Stack pointer Xen switches to on a bounce from ring 2/3 (`stack_switch`). */
  kernelSp: number;
  /** The vCPU's vcpu_info, when the embedder provides it (upcall mask, pending, cr2). */
  readonly vcpuInfo: VcpuInfoPort | null;
  /**
   * The guest's GDT/LDT (`Pv32Vcpu.descriptors`), so that handlers, callbacks, the kernel stack
   * and iret frames may name the guest's own segments; null: Xen's flat compat ones only.
   */
  segments: SegmentLookupPort | null;
  private readonly byte: Uint8Array;
  private readonly word: Uint8Array;
  private readonly wordView: DataView;

  /** An empty table (every exception crashes the domain), over an optional vcpu_info. */
  constructor(vcpuInfo: VcpuInfoPort | null = null) {
    this.address = new Uint32Array(256);
    this.cs = new Uint16Array(256);
    this.flags = new Uint8Array(256);
    this.eventEip = 0;
    this.eventCs = 0;
    this.failsafeEip = 0;
    this.failsafeCs = 0;
    this.kernelSs = FLAT_RING1_DS;
    this.kernelSp = 0;
    this.vcpuInfo = vcpuInfo;
    this.segments = null;
    this.byte = new Uint8Array(1);
    this.word = new Uint8Array(4);
    this.wordView = new DataView(this.word.buffer);
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
    return this.eventEip !== 0 && this.viRead(VI_PENDING) !== 0 && this.viRead(VI_MASK) === 0;
  }

  /**
   * `HYPERVISOR_set_trap_table(traps)` (compat): 8-byte `trap_info { u8 vector; u8 flags;
   * u16 cs; u32 address }` entries up to one whose address is 0; NULL clears the table. A code
   * selector with RPL 0 gets RPL 1. Returns 0 or -EFAULT (entries before a bad one stay installed).
   * @see xen/arch/x86/x86_64/compat/traps.c (compat_set_trap_table)
   */
  setTrapTable(guest: GuestBytes, pointer: number): number {
    if (pointer === 0) {
      this.address.fill(0);
      this.cs.fill(0);
      this.flags.fill(0);
      return 0;
    }
    const entry = new Uint8Array(TRAP_INFO_SIZE);
    const view = new DataView(entry.buffer);
    for (let i = 0; i < 256; i++) {
      if (!guest.read(pointer + i * TRAP_INFO_SIZE, entry)) return -14;
      const address = view.getUint32(4, true);
      if (address === 0) return 0;
      const vector = entry[0] ?? 0;
      let cs = view.getUint16(2, true);
      if ((cs & 3) === 0) cs |= 1;
      this.address[vector] = address;
      this.cs[vector] = cs;
      this.flags[vector] = entry[1] ?? 0;
    }
    return 0;
  }

  /**
   * `HYPERVISOR_set_callbacks(event_cs, event_eip, failsafe_cs, failsafe_eip)` (compat): records
   * both callbacks (RPL 0 selectors fixed up to 1). Returns 0.
   * @see xen/arch/x86/x86_64/compat/traps.c (compat_set_callbacks)
   */
  setCallbacks(eventCs: number, eventEip: number, failsafeCs: number, failsafeEip: number): number {
    this.eventCs = (eventCs & 3) === 0 ? (eventCs | 1) & 0xffff : eventCs & 0xffff;
    this.eventEip = eventEip >>> 0;
    this.failsafeCs = (failsafeCs & 3) === 0 ? (failsafeCs | 1) & 0xffff : failsafeCs & 0xffff;
    this.failsafeEip = failsafeEip >>> 0;
    return 0;
  }

  /**
   * `HYPERVISOR_stack_switch(ss, esp)`: the kernel stack for bounces from ring 2/3 (RPL 0
   * selectors fixed up to 1). Returns 0.
   * @see xen/arch/x86/pv/misc-hypercalls.c (do_stack_switch)
   */
  stackSwitch(ss: number, esp: number): number {
    this.kernelSs = (ss & 3) === 0 ? (ss | 1) & 0xffff : ss & 0xffff;
    this.kernelSp = esp >>> 0;
    return 0;
  }

  /**
   * Enters the event callback with a bounce frame (no error code), masking events as Xen does.
   * Returns false — the domain must crash — if the frame cannot be written.
   */
  deliverUpcall(cpu: PvCpuPort, guest: GuestBytes): boolean {
    return this.enter(cpu, guest, this.eventCs, this.eventEip, -1, true);
  }

  /**
   * Enters the handler of `vector` as Xen's compat_create_bounce_frame does. `returnEip` is the
   * EIP saved in the frame (the faulting instruction for a fault, the next one for a software
   * interrupt). A #PF's address is stored in vcpu_info.arch.cr2. Returns false — the domain must
   * crash — without a handler, with a null handler selector, or if the frame cannot be written.
   */
  bounce(
    cpu: PvCpuPort,
    guest: GuestBytes,
    vector: number,
    errorCode: number,
    returnEip: number = cpu.rip,
  ): boolean {
    const handler = this.address[vector] ?? 0;
    if (handler === 0) return false;
    const withCode = ((HAS_ERROR_CODE >>> vector) & 1) !== 0 && errorCode >= 0;
    if (vector === PF_VECTOR && this.vcpuInfo !== null) {
      // #PF: the fault address goes to vcpu_info.arch.cr2 (a PV kernel cannot read CR2).
      this.wordView.setUint32(0, cpu.cr2 >>> 0, true);
      this.vcpuInfo.memory.write(this.vcpuInfo.address + VI_CR2, this.word);
    }
    const mask = ((this.flags[vector] ?? 0) & TBF_INTERRUPT) !== 0;
    const saved = cpu.rip;
    cpu.rip = returnEip;
    const ok = this.enter(
      cpu,
      guest,
      this.cs[vector] ?? 0,
      handler,
      withCode ? errorCode : -1,
      mask,
    );
    if (!ok) cpu.rip = saved;
    return ok;
  }

  /**
   * Builds the compat bounce frame `[errcode] EIP, CS | saved_mask << 16, EFLAGS (IF = !mask,
   * IOPL cleared), [ESP, SS]` — the last two, and a switch to kernel_ss:kernel_sp, only when
   * coming from ring 2/3 — and enters `cs:eip` with TF/NT/RF/VM cleared.
   */
  private enter(
    cpu: PvCpuPort,
    guest: GuestBytes,
    cs: number,
    eip: number,
    errorCode: number,
    maskEvents: boolean,
  ): boolean {
    if ((cs & ~3) === 0) return false; // null callback selector: Xen crashes the domain
    const segs = this.segments;
    if (!selectorOk(cs, true, 1, segs)) return false;
    const savedMask = this.viRead(VI_MASK);
    const fromUser = ((cpu.segSel[SEG_CS] ?? 0) & 2) !== 0;
    const oldEsp = (cpu.lo[ESP] ?? 0) >>> 0;
    const oldSs = (cpu.segSel[SEG_SS] ?? 0) & 0xffff;
    const frame: number[] = [];
    if (errorCode >= 0) frame.push(errorCode >>> 0);
    const eflags = cpu.getRflags();
    const shown = (eflags & ~(EFLAGS_IF | EFLAGS_IOPL)) | (savedMask ? 0 : EFLAGS_IF);
    frame.push(
      cpu.rip >>> 0,
      (((cpu.segSel[SEG_CS] ?? 0) & 0xffff) | (savedMask << 16)) >>> 0,
      shown >>> 0,
    );
    let sp = oldEsp;
    let ss = oldSs;
    if (fromUser) {
      frame.push(oldEsp, oldSs);
      sp = this.kernelSp;
      ss = this.kernelSs;
      if (!selectorOk(ss, false, 1, segs)) return false;
    }
    const base = (sp - frame.length * 4) >>> 0;
    if (base > sp) return false; // wrapped below 0
    const bytes = new Uint8Array(frame.length * 4);
    const view = new DataView(bytes.buffer);
    frame.forEach((v, i) => {
      view.setUint32(i * 4, v, true);
    });
    if (!guest.write(base, bytes)) return false;
    if (maskEvents) this.viWrite(VI_MASK, 1);
    if (fromUser) {
      loadSegment(cpu, SEG_SS, ss, segs);
      cpu.cpl = 1;
    }
    cpu.lo[ESP] = base | 0;
    loadSegment(cpu, SEG_CS, cs, segs);
    cpu.rip = eip >>> 0;
    cpu.setRflags((eflags & ~BOUNCE_CLEAR) | 2);
    return true;
  }

  /**
   * `HYPERVISOR_iret` (compat): at the `int $0x82`, ESP points to `{eax, eip, cs, eflags[, esp,
   * ss]}`; restores EIP, CS, EFLAGS (IF forced on, IOPL stripped), returns the saved EAX through
   * EAX and sets evtchn_upcall_mask = !EFLAGS.IF. A return to ring 1 pops 16 bytes; to ring 3 it
   * also loads ESP and SS (Xen's flat selectors, or the guest's own through `segments`). A CS or
   * SS the hardware iret would fault on (null, not a present code / writable data segment with
   * DPL = RPL = the target ring) is delivered to the guest as that #GP/#NP/#SS with the frame's
   * state — Xen 4.17's pre-exception fixup of the `iretq` in compat_restore_all_guest — from
   * ring 3 on the `stack_switch` stack. Returns false — the domain must crash — on an unreadable
   * frame, a return to ring 0, VM86, or such a fault with no handler.
   * @see xen/arch/x86/pv/iret.c (compat_iret), xen/arch/x86/x86_64/compat/entry.S
   */
  iret(cpu: PvCpuPort, guest: GuestBytes): boolean {
    const esp = (cpu.lo[ESP] ?? 0) >>> 0;
    const bytes = new Uint8Array(16);
    if (!guest.read(esp, bytes)) return false;
    const view = new DataView(bytes.buffer);
    const eax = view.getInt32(0, true);
    const eip = view.getUint32(4, true);
    const cs = view.getUint32(8, true) & 0xffff;
    const eflags = view.getUint32(12, true);
    if ((eflags & EFLAGS_VM) !== 0 || (cs & 3) === 0) return false;
    const ring = cs & 3;
    let newEsp = (esp + 16) | 0;
    let ss = (cpu.segSel[SEG_SS] ?? 0) & 0xffff;
    if (ring !== 1) {
      const outer = new Uint8Array(8);
      if (!guest.read(esp + 16, outer)) return false;
      const ov = new DataView(outer.buffer);
      ss = ov.getUint32(4, true) & 0xffff;
      newEsp = ov.getInt32(0, true);
    }
    const segs = this.segments;
    let fault = segmentFault(cs, true, ring, segs);
    if (fault < 0 && ring !== 1) fault = segmentFault(ss, false, ring, segs);
    cpu.rip = eip;
    cpu.setRflags((eflags & ~EFLAGS_IOPL) | EFLAGS_IF | 2);
    cpu.lo[EAX] = eax;
    cpu.hi[EAX] = 0;
    this.viWrite(VI_MASK, (eflags & EFLAGS_IF) === 0 ? 1 : 0);
    cpu.lo[ESP] = newEsp;
    if (fault >= 0) {
      // The iretq faults: the guest's handler sees the frame's CS:EIP, EFLAGS (and ESP, SS).
      cpu.segSel[SEG_CS] = cs;
      if (ring !== 1) cpu.segSel[SEG_SS] = ss;
      return this.bounce(cpu, guest, fault >>> 16, fault & 0xffff);
    }
    if (ring !== 1) {
      loadSegment(cpu, SEG_SS, ss, segs);
      cpu.cpl = ring;
      // As a hardware iret to an outer ring: data segments the new ring may not use are nulled.
      for (const s of [0, 3, 4, 5]) {
        if ((((cpu.segAttr[s] ?? 0) >> 5) & 3) < ring) {
          cpu.segSel[s] = 0;
          cpu.segBase[s] = 0;
          cpu.segLimit[s] = 0;
          cpu.segAttr[s] = 0;
        }
      }
    }
    loadSegment(cpu, SEG_CS, cs, segs);
    if (ring === 1) cpu.cpl = 1;
    return true;
  }
}
