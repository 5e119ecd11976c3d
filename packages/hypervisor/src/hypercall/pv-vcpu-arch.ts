/**
 * The per-vCPU state the 64-bit PV families in this directory change, in one place: vm_assist
 * types, the user GS base and selector, the kernel stack, CR0.TS, registered callbacks, the
 * virtual IOPL and the domain's PIRQs. It implements {@link PvArchPort}, {@link CallbackPort},
 * {@link PhysdevPort} and {@link PvVcpuOpPort} over the CPU model and the vCPU's event-callback
 * slot, and saves as plain data.
 *
 * @see xen/include/asm-x86/domain.h (struct pv_vcpu)
 */

import type { GuestBytes } from '../guest-memory.ts';
import type { CallbackPort } from './callback-op.ts';
import { type PhysdevPort, PirqTable, type PirqTableState } from './physdev-op.ts';
import { type PvArchPort, SEGBASE_FS, SEGBASE_GS_KERNEL } from './pv-arch-op.ts';
import { type PvVcpuOpPort, type VcpuRunstate, writeRunstate } from './pv-vcpu-op.ts';

/** Segment register indices in the CPU model's arrays. */
const SEG_FS = 4;
const SEG_GS = 5;
/** CR0.TS. */
const CR0_TS = 8;
/** CALLBACKTYPE_event. */
const CALLBACK_EVENT = 0;
/** CALLBACKTYPE_nmi. */
const CALLBACK_NMI = 4;

/** The CPU state these families touch. */
export interface PvArchCpuPort {
  /** Segment bases (signed linear addresses), indexed ES, CS, SS, DS, FS, GS. */
  readonly segBase: Float64Array;
  /** Segment selectors, indexed as {@link PvArchCpuPort.segBase}. */
  readonly segSel: Int32Array;
  /** Segment limits (cached), indexed as {@link PvArchCpuPort.segBase}. */
  readonly segLimit: Int32Array;
  /** Segment attributes (cached descriptor bits 8–15 and 20–23), indexed as segBase. */
  readonly segAttr: Int32Array;
  /** CR0. */
  cr0: number;
  /** Instructions retired (the vCPU's running time, at one nanosecond each). */
  readonly instructions: number;
}

/**
 * The vCPU's descriptor tables as `mov sel, %gs` reads them (`PvDescriptorTables` fits).
 */
export interface DescriptorLookupPort {
  /** Reads the descriptor of `selector` into `descLo`/`descHi`; false if there is none. */
  readDescriptor(selector: number): boolean;
  /** Low dword of the last descriptor read. */
  readonly descLo: number;
  /** High dword of the last descriptor read. */
  readonly descHi: number;
}

/** Where the event callback lives (the PV vCPU's trap state). */
export interface EventCallbackSlot {
  /** The event upcall entry point, 0 for none. */
  eventCallback: bigint;
}

/** {@link PvVcpuArch} as plain data (bigints as hex strings). */
export interface PvVcpuArchState {
  /** Enabled vm_assist types. */
  readonly vmAssist: string;
  /** The user GS base (swapped in on return to user mode). */
  readonly gsUserBase: string;
  /** The user GS selector. */
  readonly gsUserSel: number;
  /** The kernel stack segment from stack_switch. */
  readonly kernelSs: number;
  /** The kernel stack pointer from stack_switch. */
  readonly kernelSp: string;
  /** The virtual IOPL from PHYSDEVOP_set_iopl. */
  readonly iopl: number;
  /** Registered callbacks other than the event one: type, address (hex), flags. */
  readonly callbacks: readonly { type: number; address: string; flags: number }[];
  /** The domain's PIRQs. */
  readonly pirqs: PirqTableState;
  /** Guest-virtual address of the registered runstate area, 0 for none (absent in older saves). */
  readonly runstateArea?: number;
}

/** One 64-bit PV vCPU's architectural PV state. */
export class PvVcpuArch implements PvArchPort, CallbackPort, PhysdevPort, PvVcpuOpPort {
  /** Enabled vm_assist types (bit n = type n). */
  vmAssist: bigint;
  /** The user GS base. */
  gsUserBase: bigint;
  /** The user GS selector. */
  gsUserSel: number;
  /** Kernel SS from stack_switch. */
  kernelSs: number;
  /** Kernel RSP from stack_switch. */
  kernelSp: bigint;
  /** Virtual IOPL. */
  iopl: number;
  /** Guest-virtual address of the runstate area (VCPUOP_register_runstate_memory_area), 0 = none. */
  runstateArea: number;
  /** Registered callbacks by CALLBACKTYPE (the event callback lives in the event slot). */
  readonly callbacks: Map<number, { address: bigint; flags: number }>;
  /** The domain's PIRQs. */
  pirqs: PirqTable;
  /**
   * The vCPU's GDT/LDT (the PV vCPU attaches its descriptor tables) for SEGBASE_GS_USER_SEL;
   * null: every non-null selector fails to load.
   */
  segments: DescriptorLookupPort | null;
  private readonly cpu: PvArchCpuPort;
  private readonly events: EventCallbackSlot;

  /** State over `cpu`, writing the event callback into `events`. */
  constructor(cpu: PvArchCpuPort, events: EventCallbackSlot, pirqs: PirqTable = new PirqTable()) {
    this.cpu = cpu;
    this.events = events;
    this.vmAssist = 0n;
    this.gsUserBase = 0n;
    this.gsUserSel = 0;
    this.kernelSs = 0;
    this.kernelSp = 0n;
    this.iopl = 0;
    this.runstateArea = 0;
    this.callbacks = new Map();
    this.pirqs = pirqs;
    this.segments = null;
  }

  /** Sets the FS or kernel GS base in the CPU, or records the user GS base. */
  setSegmentBase(which: number, base: bigint): void {
    const linear = Number(BigInt.asIntN(64, base));
    if (which === SEGBASE_FS) this.cpu.segBase[SEG_FS] = linear;
    else if (which === SEGBASE_GS_KERNEL) this.cpu.segBase[SEG_GS] = linear;
    else this.gsUserBase = base;
  }

  /**
   * `SEGBASE_GS_USER_SEL` as Xen 4.17's do_set_segment_base: between two `swapgs` (the kernel's
   * GS base stays in the CPU), `mov sel, %gs` at CPL 0 with RPL 3 forced on a non-null selector;
   * the user GS base becomes the base of the descriptor loaded. A load that would fault (past
   * the tables, not a readable segment, DPL below 3, not present) is fixed up to the null
   * selector, and a null selector leaves base 0 (Xen loads FLAT_USER_DS32 first on AMD so that
   * NUL clears the base as on Intel). The selector is the vCPU's GS in both modes.
   * @see xen/arch/x86/pv/misc-hypercalls.c (do_set_segment_base)
   */
  setUserGsSelector(selector: number): void {
    let sel = selector & 0xffff;
    if (sel > 3) sel |= 3;
    const cpu = this.cpu;
    let base = 0;
    if (sel > 3 && this.loadableGs(sel)) {
      const segs = this.segments as DescriptorLookupPort;
      const lo = segs.descLo;
      const hi = segs.descHi;
      let limit = (lo & 0xffff) | (hi & 0xf0000);
      if ((hi & 0x800000) !== 0) limit = (limit << 12) | 0xfff;
      base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
      cpu.segLimit[SEG_GS] = limit;
      cpu.segAttr[SEG_GS] = ((hi >> 8) & 0xf0ff) | 1; // the accessed bit
    } else {
      sel = sel > 3 ? 0 : sel; // the fixup's `xor sel, sel`
      cpu.segLimit[SEG_GS] = 0;
      cpu.segAttr[SEG_GS] = 0; // unusable
    }
    cpu.segSel[SEG_GS] = sel;
    this.gsUserSel = sel;
    this.gsUserBase = BigInt(base);
  }

  /**
   * Whether `mov sel, %gs` at CPL 0 loads `sel` (RPL 3): a present data segment, or a readable
   * code segment, of DPL 3 (conforming code: any DPL); the descriptor is left in the port.
   * @see Intel SDM Vol. 2B, MOV—Move to Segment Register (protected-mode checks)
   */
  private loadableGs(sel: number): boolean {
    const segs = this.segments;
    if (segs === null || !segs.readDescriptor(sel)) return false;
    const attr = (segs.descHi >> 8) & 0xff;
    if ((attr & 0x10) === 0) return false; // system segment or gate
    const code = (attr & 0x08) !== 0;
    if (code && (attr & 0x02) === 0) return false; // execute-only
    const conforming = code && (attr & 0x04) !== 0;
    if (!conforming && ((attr >> 5) & 3) < 3) return false; // DPL < max(CPL 0, RPL 3)
    return (attr & 0x80) !== 0; // else #NP, fixed up as well
  }

  /** Sets or clears CR0.TS. */
  setTaskSwitched(ts: boolean): void {
    this.cpu.cr0 = ts ? this.cpu.cr0 | CR0_TS : this.cpu.cr0 & ~CR0_TS;
  }

  /** Records the kernel stack. */
  setKernelStack(ss: number, sp: bigint): void {
    this.kernelSs = ss;
    this.kernelSp = sp;
  }

  /** Records a callback; the event callback goes to the event slot. */
  registerCallback(type: number, address: bigint, flags: number): void {
    if (type === CALLBACK_EVENT) this.events.eventCallback = BigInt.asUintN(64, address);
    else this.callbacks.set(type, { address: BigInt.asUintN(64, address), flags });
  }

  /** Drops the NMI callback. */
  unregisterNmi(): void {
    this.callbacks.delete(CALLBACK_NMI);
  }

  /** Records the virtual IOPL. */
  setIopl(iopl: number): void {
    this.iopl = iopl;
  }

  /** Running since boot, for as many nanoseconds as instructions retired. */
  runstate(_domid: number, _vcpu: number): VcpuRunstate {
    return { state: 0, stateEntryTime: 0n, time: [BigInt(this.cpu.instructions), 0n, 0n, 0n] };
  }

  /** Records the runstate area. */
  setRunstateArea(_vcpu: number, address: number): void {
    this.runstateArea = address;
  }

  /** Rewrites the registered runstate area (as Xen does on a context switch); faults are ignored. */
  updateRunstateArea(guest: GuestBytes): void {
    if (this.runstateArea !== 0) writeRunstate(guest, this.runstateArea, this.runstate(0, 0));
  }

  /** The state as plain data. */
  getState(): PvVcpuArchState {
    return {
      vmAssist: this.vmAssist.toString(16),
      gsUserBase: this.gsUserBase.toString(16),
      gsUserSel: this.gsUserSel,
      kernelSs: this.kernelSs,
      kernelSp: this.kernelSp.toString(16),
      iopl: this.iopl,
      callbacks: [...this.callbacks].map(([type, c]) => ({
        type,
        address: c.address.toString(16),
        flags: c.flags,
      })),
      pirqs: this.pirqs.getState(),
      runstateArea: this.runstateArea,
    };
  }

  /** Replaces this state with {@link PvVcpuArch.getState}'s `state` (the event slot is not in it). */
  restore(state: PvVcpuArchState): void {
    const hex = (s: string): bigint => BigInt.asUintN(64, BigInt(`0x${s}`));
    this.pirqs = PirqTable.fromState(state.pirqs);
    this.vmAssist = hex(state.vmAssist);
    this.gsUserBase = hex(state.gsUserBase);
    this.gsUserSel = state.gsUserSel;
    this.kernelSs = state.kernelSs;
    this.kernelSp = hex(state.kernelSp);
    this.iopl = state.iopl;
    this.runstateArea = state.runstateArea ?? 0;
    this.callbacks.clear();
    for (const c of state.callbacks)
      this.callbacks.set(c.type, { address: hex(c.address), flags: c.flags });
  }

  /** Restores {@link PvVcpuArch.getState} over `cpu` and `events`. */
  static fromState(
    state: PvVcpuArchState,
    cpu: PvArchCpuPort,
    events: EventCallbackSlot,
  ): PvVcpuArch {
    const a = new PvVcpuArch(cpu, events);
    a.restore(state);
    return a;
  }
}
