/**
 * A 64-bit PV vCPU: runs a PV guest kernel on the CPU model over machine memory and the guest's
 * own validated page tables, in Xen's 64-bit PV execution model — the kernel in ring 3 on Xen's
 * flat FLAT_KERNEL_CS (0xe033) / FLAT_KERNEL_SS (0xe02b) segments, `syscall` from the kernel as
 * the hypercall instruction (RAX = number, RDI, RSI, RDX, R10, R8 = arguments, result in RAX).
 * Guest mistakes never throw: hypercalls return Xen errno values, and a fault the kernel has no
 * handler for crashes only its own domain (SHUTDOWN_crash through the shutdown port).
 * @see xen/arch/x86/x86_64/entry.S (lstar_enter, the hypercall path)
 * @see xen/arch/x86/pv/traps.c, xen/arch/x86/traps.c (unhandled guest exceptions crash the domain)
 */
import { SHUTDOWN_crash } from '../abi/sched.ts';
import type { HypercallHost } from '../hypercall/dispatch.ts';
import type { MemoryReservationPort } from '../hypercall/memory-op.ts';
import { PvVcpuArch, type PvVcpuArchState } from '../hypercall/pv-vcpu-arch.ts';
import type { PvSmpPort } from '../hypercall/smp-vcpu-op.ts';
import { XEN_EMULATE_PREFIX, xenCpuidLeaf } from '../hypercall/xen-cpuid.ts';
import { PvDescriptorTables } from './descriptor-tables.ts';
import type { ConsoleSink, MachineBytesPort, PvCpuPort, PvMmPort, ShutdownPort } from './ports.ts';
import { PtwrEmulator } from './ptwr.ts';
import { PvGuestMode, type PvGuestModeState } from './pv-guest-mode.ts';
import {
  DEFAULT_XEN_VERSION,
  PV_NEXT,
  PV_PREEMPT_AFTER,
  type PvHypercallEnv,
  type PvNext,
  pvHypercall,
  type XenVersionInfo,
} from './pv-hypercalls.ts';
import { PvTraps, type VcpuInfoPort } from './pv-traps.ts';
import { VirtualGuestBytes } from './virtual-guest-bytes.ts';
import { GDT_LDT_WINDOW_BYTES, GDT_WINDOW_64 } from './xen-gdt.ts';

/** `__HYPERVISOR_set_trap_table`. */
const HYPERCALL_SET_TRAP_TABLE = 0;
/** `__HYPERVISOR_set_callbacks`. */
const HYPERCALL_SET_CALLBACKS = 4;
/** `__HYPERVISOR_iret`. */
const HYPERCALL_IRET = 23;
/** `__HYPERVISOR_set_gdt`, `__HYPERVISOR_update_descriptor`. */
const HYPERCALL_SET_GDT = 2;
const HYPERCALL_UPDATE_DESCRIPTOR = 10;
/** `__HYPERVISOR_multicall`, `__HYPERVISOR_mmuext_op` (either may run MMUEXT_SET_LDT). */
const HYPERCALL_MULTICALL = 13;
const HYPERCALL_MMUEXT_OP = 26;

/** A pointer argument as an unsigned lower-half address, or -1. */
function pointer(v: bigint | undefined): number {
  const u = BigInt.asUintN(64, v ?? 0n);
  return u >= 1n << 47n ? -1 : Number(u);
}

/** Exit reasons of the CPU model this vCPU handles (`EXIT` in `@typevisor/x86-cpu`). */
const CPU_EXIT = { BUDGET: 0, SYSCALL: 10, EXCEPTION: 11 } as const;

/** Xen's flat 64-bit ring-3 code selector, the 64-bit PV kernel's CS. @see xen/include/public/arch-x86/xen-x86_64.h */
export const FLAT_KERNEL_CS64 = 0xe033;
/** Xen's flat ring-3 data selector, the 64-bit PV kernel's SS. @see xen/include/public/arch-x86/xen-x86_64.h */
export const FLAT_KERNEL_SS64 = 0xe02b;

/**
 * The intercepts a PV vCPU needs from the CPU model: `syscall` (hypercalls) and every exception
 * (a PV guest's traps go through Xen, not a hardware IDT). Pass as `X86Cpu.create`'s `intercepts`.
 */
export const PV_INTERCEPTS: {
  readonly syscall: true;
  readonly exceptionBitmap: number;
} = { syscall: true, exceptionBitmap: -1 };

/** What {@link PvVcpu.run} stopped for. */
export const PV_RUN = {
  /** The instruction budget ran out; call `run` again. */ BUDGET: 0,
  /** The guest yielded (SCHEDOP_yield). */ YIELD: 1,
  /** The guest blocked waiting for an event (SCHEDOP_block). */ BLOCK: 2,
  /** The domain has shut down (see {@link PvVcpu.shutdownReason}); `run` does nothing more. */
  SHUTDOWN: 3,
} as const;

/** A value of {@link PV_RUN}. */
export type PvRunResult = (typeof PV_RUN)[keyof typeof PV_RUN];

/** Why a domain was crashed, for diagnostics. */
export interface PvCrashInfo {
  /** What happened: `exception`, `exit` (an exit the PV model has no meaning for) or `cpu-error`. */
  readonly kind: 'exception' | 'exit' | 'cpu-error';
  /** Exception vector or exit reason. */
  readonly code: number;
  /** Exception error code, or -1. */
  readonly errorCode: number;
  /** RIP of the faulting instruction. */
  readonly rip: number;
  /** CR2 at the time (the address of a #PF). */
  readonly cr2: number;
  /** Human-readable description. */
  readonly message: string;
}

/**
 * Plain JSON-safe state of a {@link PvVcpu} besides its CPU (save the CPU with its own
 * `getState()`).
 */
export interface PvVcpuState {
  /** The domain. */
  readonly domid: number;
  /** The vCPU's ID. */
  readonly vcpuId: number;
  /** Hypercalls made so far. */
  readonly hypercalls: number;
  /** `SHUTDOWN_*` reason once shut down, else -1. */
  readonly shutdownReason: number;
  /** Code latched by SCHEDOP_shutdown_code, else -1. */
  readonly shutdownCode: number;
  /** Why the domain crashed, when it did. */
  readonly crash: PvCrashInfo | null;
  /** Registered exception handlers: vector, trap_info flags, handler address (hex string). */
  readonly trapTable: readonly { vector: number; flags: number; address: string }[];
  /** The event callback address (hex string), "0" for none. */
  readonly eventCallback: string;
  /** vm_assist, segment, stack, callback, IOPL and PIRQ state (absent in older saves). */
  readonly arch?: PvVcpuArchState;
  /** Guest kernel/user mode (absent in older saves: kernel mode). */
  readonly guestMode?: PvGuestModeState;
}

/** The start-of-day registers (the PV builder's `vcpu` output). */
export interface PvBootState {
  /** Entry point. */
  readonly rip: bigint;
  /** Initial stack pointer. */
  readonly rsp: bigint;
  /** Virtual address of start_info. */
  readonly rsi: bigint;
  /** Machine address of the pinned top-level (L4) page table. */
  readonly cr3: bigint;
}

/** Options for {@link PvVcpu}. */
export interface PvVcpuOptions {
  /** The CPU model, created with {@link PV_INTERCEPTS} over machine memory. */
  readonly cpu: PvCpuPort;
  /** Machine memory (for hypercall pointer arguments). */
  readonly machine: MachineBytesPort;
  /** The domain. */
  readonly domid: number;
  /** This vCPU's ID. Default 0. */
  readonly vcpuId?: number;
  /** The core hypercall families (event channels, grant tables, timers). */
  readonly host: HypercallHost;
  /** Where CONSOLEIO_write output goes. */
  readonly console: ConsoleSink;
  /** Where shutdowns (including crashes) are reported. */
  readonly shutdown: ShutdownPort;
  /** What xen_version reports. Default {@link DEFAULT_XEN_VERSION}. */
  readonly version?: XenVersionInfo;
  /** PV memory management for update_va_mapping (`@typevisor/mmu`'s `PvMm`); else -ENOSYS. */
  readonly mm?: PvMmPort;
  /**
   * This vCPU's vcpu_info in shared_info, for event upcalls, the saved upcall mask in bounce
   * frames and vcpu_info.arch.cr2. Without it no upcalls are delivered.
   */
  readonly vcpuInfo?: VcpuInfoPort;
  /**
   * Called after every hypercall with its number, argument registers and result (a
   * xentrace-style hook for diagnostics; keep it cheap).
   */
  readonly trace?: (nr: number, args: readonly bigint[], rc: number) => void;
  /** memory_op's frame owner (the toolstack's machine memory); without it memory_op is -ENOSYS. */
  readonly memory?: MemoryReservationPort;
  /**
   * TSC frequency Xen's CPUID time leaf reports, in kHz. Default 1 000 000: the CPU model's
   * default TSC counts retired instructions, taken as nanoseconds.
   */
  readonly tscKhz?: number;
  /**
   * Requests an mmu_update or mmuext_op handles before it is preempted with a continuation
   * (`run` then returns `PV_RUN.BUDGET` and the hypercall resumes on the next `run`). Default
   * {@link PV_PREEMPT_AFTER}.
   */
  readonly preemptAfter?: number;
  /**
   * The domain's vCPU set (VCPUOP_initialise/up/down/is_up, other vCPUs' runstates), shared by
   * all its vCPUs; without it the domain has this one vCPU, always up.
   */
  readonly smp?: PvSmpPort;
}

/** Long-mode control state for a 64-bit PV guest. */
const CR0_PE = 1;
const CR0_ET = 1 << 4;
const CR0_NE = 1 << 5;
const CR0_WP = 1 << 16;
const CR0_PG = -0x80000000;
const CR4_PAE = 1 << 5;
const CR4_OSFXSR = 1 << 9;
const CR4_OSXMMEXCPT = 1 << 10;
const EFER_SCE = 1;
const EFER_LME = 1 << 8;
const EFER_LMA = 1 << 10;
const EFER_NXE = 1 << 11;
/** RFLAGS.IF and the always-one bit 1. */
const RFLAGS_BOOT = 0x202;
const SEG_ES = 0;
const SEG_CS = 1;
const SEG_SS = 2;
const SEG_DS = 3;
const SEG_FS = 4;
const SEG_GS = 5;
const RAX = 0;
const RCX = 1;
const RBX = 3;
/** CPUID.1:ECX bit 31, "running under a hypervisor", which Xen sets for every guest. */
const CPUID1_ECX_HYPERVISOR = -0x80000000;
const RDX = 2;
const RSI = 6;
const RDI = 7;
const R8 = 8;
const R10 = 10;
const R11 = 11;

/** The hypercall argument registers in order. */
const ARG_REGS: readonly number[] = [RDI, RSI, RDX, R10, R8];
/** What `hypercall` returns for a preempted hypercall (`run` returns `PV_RUN.BUDGET`). */
const PREEMPTED = -1;

function setReg(cpu: PvCpuPort, r: number, v: bigint): void {
  const u = BigInt.asUintN(64, v);
  cpu.lo[r] = Number(u & 0xffffffffn) | 0;
  cpu.hi[r] = Number(u >> 32n) | 0;
}

function getReg(cpu: PvCpuPort, r: number): bigint {
  return (BigInt(cpu.hi[r] ?? 0) << 32n) | BigInt((cpu.lo[r] ?? 0) >>> 0);
}

/**
 * One vCPU of a 64-bit PV domain. Create it over a CPU model, call {@link PvVcpu.boot} with the
 * builder's registers, then {@link PvVcpu.run} until it returns {@link PV_RUN.SHUTDOWN}.
 */
export class PvVcpu {
  /** The CPU model. */
  readonly cpu: PvCpuPort;
  /** The domain. */
  readonly domid: number;
  /** This vCPU's ID. */
  readonly vcpuId: number;
  /** Hypercalls made so far. */
  hypercalls: number;
  /** The `SHUTDOWN_*` reason once the domain has shut down, else -1. */
  shutdownReason: number;
  /** Why the domain crashed, when it did. */
  crash: PvCrashInfo | null;
  /** The exception handlers the kernel registered with set_trap_table. */
  readonly traps: PvTraps;
  /** PV state changed by vm_assist, set_segment_base, stack_switch, callback_op, physdev_op. */
  readonly arch: PvVcpuArch;
  /** The guest's GDT and LDT (set_gdt, update_descriptor, MMUEXT_SET_LDT) and their window. */
  readonly descriptors: PvDescriptorTables;
  /** Guest kernel/user mode (the user L4 from MMUEXT_NEW_USER_BASEPTR, the GS swap). */
  readonly mode: PvGuestMode;
  /** Writable page-table emulation (a write to one of its own read-only L1 tables). */
  readonly ptwr: PtwrEmulator;
  private readonly env: PvHypercallEnv;
  private readonly consolePort: ConsoleSink;
  private readonly shutdownPort: ShutdownPort;
  private readonly args: bigint[];
  private readonly trace: ((nr: number, args: readonly bigint[], rc: number) => void) | null;
  private readonly cpuidBytes: Uint8Array = new Uint8Array(7);
  private readonly tscKhz: number;
  private readonly machineFrames: number;
  private readonly cpuidOut: Int32Array = new Int32Array(4);

  /** Creates a vCPU; nothing runs until {@link PvVcpu.boot} and {@link PvVcpu.run}. */
  constructor(options: PvVcpuOptions) {
    this.cpu = options.cpu;
    this.domid = options.domid;
    this.vcpuId = options.vcpuId ?? 0;
    this.hypercalls = 0;
    this.shutdownReason = -1;
    this.crash = null;
    this.traps = new PvTraps(options.vcpuInfo ?? null);
    this.consolePort = options.console;
    this.shutdownPort = options.shutdown;
    this.args = [0n, 0n, 0n, 0n, 0n];
    this.trace = options.trace ?? null;
    this.tscKhz = options.tscKhz ?? 1_000_000;
    this.machineFrames = options.machine.frames;
    const sink = this.consolePort;
    const domid = this.domid;
    this.arch = new PvVcpuArch(options.cpu, this.traps);
    this.descriptors = new PvDescriptorTables({
      cpu: options.cpu,
      mm: options.mm ?? null,
      domid: this.domid,
      vcpuId: this.vcpuId,
      machine: options.machine,
      windowBase: GDT_WINDOW_64 + this.vcpuId * GDT_LDT_WINDOW_BYTES,
      width: 64,
    });
    const mm = options.mm ?? null;
    const vcpuId = this.vcpuId;
    this.mode = new PvGuestMode(options.cpu, this.arch, () => {
      const v = mm?.domain?.(domid).vcpus[vcpuId];
      return v?.userBaseMfn ?? -1;
    });
    this.traps.attach(this.mode, this.arch.callbacks, this.descriptors);
    this.arch.segments = this.descriptors; // SEGBASE_GS_USER_SEL loads from the guest's GDT/LDT
    this.ptwr = new PtwrEmulator(options.cpu, options.machine, mm, domid);
    this.env = {
      host: options.host,
      ctx: {
        domid: this.domid,
        vcpu: this.vcpuId,
        abi: 'x86_64',
        guest: new VirtualGuestBytes(options.cpu, options.machine),
      },
      mm: options.mm ?? null,
      flushTlb: () => options.cpu.flushTlb(),
      setBasePointer: (mfn) => {
        options.cpu.cr3 = mfn * 4096;
        options.cpu.flushTlb();
      },
      console: (bytes) => sink.write(domid, bytes),
      version: options.version ?? DEFAULT_XEN_VERSION,
      shutdownReason: -1,
      shutdownCode: -1,
      next: PV_NEXT.CONTINUE,
      preemptAfter: options.preemptAfter ?? PV_PREEMPT_AFTER,
      memory: options.memory ?? null,
      arch: this.arch,
      callbacks: this.arch,
      physdev: this.arch,
      vcpuOps: this.arch,
      batch: (nr, args) => this.call(nr, args),
      ...(options.smp !== undefined ? { smp: options.smp } : {}),
    };
  }

  /**
   * Puts the CPU in the state Xen starts a 64-bit PV kernel in: long mode with paging on the
   * pinned L4 at `state.cr3`, CPL 3 on FLAT_KERNEL_CS/SS (flat 64-bit, set in the segment
   * caches directly), null data segments, RFLAGS.IF set, RIP/RSP/RSI from the builder and every
   * other general register zero.
   * @see xen/arch/x86/pv/dom0_build.c, tools/libs/guest/xg_dom_x86.c (vcpu_x86_64)
   */
  boot(state: PvBootState): void {
    const cpu = this.cpu;
    cpu.lo.fill(0);
    cpu.hi.fill(0);
    cpu.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
    cpu.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    cpu.efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
    cpu.cr3 = Number(BigInt.asUintN(52, state.cr3) & ~0xfffn);
    cpu.cpl = 3;
    for (const s of [SEG_ES, SEG_DS, SEG_FS, SEG_GS]) {
      cpu.segSel[s] = 0;
      cpu.segBase[s] = 0;
      cpu.segLimit[s] = 0;
      cpu.segAttr[s] = 0;
    }
    // 0x00affb000000ffff: present, DPL 3, code, L = 1; 0x00cff3000000ffff: DPL 3 data, 4 GiB.
    cpu.segSel[SEG_CS] = FLAT_KERNEL_CS64;
    cpu.segBase[SEG_CS] = 0;
    cpu.segLimit[SEG_CS] = -1;
    cpu.segAttr[SEG_CS] = 0xa0fb;
    cpu.segSel[SEG_SS] = FLAT_KERNEL_SS64;
    cpu.segBase[SEG_SS] = 0;
    cpu.segLimit[SEG_SS] = -1;
    cpu.segAttr[SEG_SS] = 0xc0f3;
    cpu.setRflags(RFLAGS_BOOT);
    cpu.rip = Number(BigInt.asIntN(64, state.rip));
    setReg(cpu, 4, state.rsp);
    setReg(cpu, RSI, state.rsi);
    // The GDT is Xen's window (the guest's set_gdt frames, Xen's reserved page), never memory
    // the guest can write; no IDT may live in guest memory either (a gate at linear 0 would take
    // `int n` to ring 0): with limit 0 every `int n` is a #GP exit.
    this.descriptors.load();
    cpu.idtBase = 0;
    cpu.idtLimit = 0;
    cpu.updateMode();
    cpu.flushTlb();
    this.shutdownReason = -1;
    this.crash = null;
  }

  /** The code latched by SCHEDOP_shutdown_code, else -1. */
  get shutdownCode(): number {
    return this.env.shutdownCode;
  }

  /** This vCPU's own state as plain data (the CPU's state is saved separately). */
  getState(): PvVcpuState {
    return {
      domid: this.domid,
      vcpuId: this.vcpuId,
      hypercalls: this.hypercalls,
      shutdownReason: this.shutdownReason,
      shutdownCode: this.env.shutdownCode,
      crash: this.crash === null ? null : { ...this.crash },
      trapTable: this.traps.address.flatMap((a, vector) =>
        a === 0n ? [] : [{ vector, flags: this.traps.flags[vector] ?? 0, address: a.toString(16) }],
      ),
      eventCallback: this.traps.eventCallback.toString(16),
      arch: this.arch.getState(),
      guestMode: this.mode.getState(),
    };
  }

  /**
   * Recreates a vCPU from {@link PvVcpu.getState} over `options` (whose CPU must already hold
   * the restored CPU state); `options.domid`/`vcpuId` are taken from `state`.
   */
  static fromState(state: PvVcpuState, options: PvVcpuOptions): PvVcpu {
    const v = new PvVcpu({ ...options, domid: state.domid, vcpuId: state.vcpuId });
    v.hypercalls = state.hypercalls;
    v.shutdownReason = state.shutdownReason;
    v.env.shutdownCode = state.shutdownCode;
    v.crash = state.crash === null ? null : { ...state.crash };
    if (state.arch !== undefined) v.arch.restore(state.arch);
    if (state.guestMode !== undefined) v.mode.restore(state.guestMode);
    v.traps.eventCallback = BigInt.asUintN(64, BigInt(`0x${state.eventCallback}`));
    for (const t of state.trapTable) {
      v.traps.address[t.vector & 0xff] = BigInt.asUintN(64, BigInt(`0x${t.address}`));
      v.traps.flags[t.vector & 0xff] = t.flags;
    }
    return v;
  }

  /**
   * `HYPERVISOR_set_callbacks(event, failsafe, syscall)` (64-bit): registers the three with no
   * flags, skipping a non-canonical address (Xen's register_guest_callback refuses it, and
   * do_set_callbacks ignores the result); always 0.
   * @see xen/arch/x86/x86_64/traps.c (do_set_callbacks)
   */
  private setCallbacks(event: bigint, failsafe: bigint, syscall: bigint): number {
    const canonical = (a: bigint): boolean => {
      const u = BigInt.asUintN(64, a);
      return u < 1n << 47n || u >= (1n << 64n) - (1n << 47n);
    };
    if (canonical(event)) this.traps.eventCallback = BigInt.asUintN(64, event);
    if (canonical(failsafe)) this.arch.registerCallback(1, failsafe, 0);
    if (canonical(syscall)) this.arch.registerCallback(2, syscall, 0);
    return 0;
  }

  /** Runs hypercall `nr` (also a multicall entry): the vCPU's own calls, then the PV table. */
  private call(nr: number, args: readonly bigint[]): number {
    const env = this.env;
    if (nr === HYPERCALL_SET_TRAP_TABLE)
      return this.traps.setTrapTable(env.ctx.guest, pointer(args[0]));
    if (nr === HYPERCALL_SET_CALLBACKS)
      return this.setCallbacks(args[0] ?? 0n, args[1] ?? 0n, args[2] ?? 0n);
    if (nr === HYPERCALL_SET_GDT)
      return this.descriptors.setGdt(
        env.ctx.guest,
        pointer(args[0]),
        Number((args[1] ?? 0n) & 0xffffffffn),
      );
    if (nr === HYPERCALL_UPDATE_DESCRIPTOR)
      return this.descriptors.updateDescriptor(args[0] ?? 0n, args[1] ?? 0n);
    return pvHypercall(env, nr, args);
  }

  /**
   * Xen's forced-emulation prefix (`ud2; .ascii "xen"; cpuid`): a #UD at such a prefix runs the
   * CPUID — Xen's leaves 0x40000000.. from this hypervisor, every other leaf on the CPU (RIP
   * moves past the prefix, so the `cpuid` executes next). False if the #UD is an ordinary one.
   * @see xen/arch/x86/pv/emul-inv-op.c (emulate_forced_invalid_op)
   */
  private forcedCpuid(): boolean {
    const cpu = this.cpu;
    const bytes = this.cpuidBytes;
    if (!this.env.ctx.guest.read(cpu.rip >= 0 ? cpu.rip : -1, bytes)) return false;
    for (let i = 0; i < XEN_EMULATE_PREFIX.length; i++)
      if (bytes[i] !== XEN_EMULATE_PREFIX[i]) return false;
    if (bytes[5] !== 0x0f || bytes[6] !== 0xa2) return false;
    const v = this.env.version;
    const out = this.cpuidOut;
    const leaf = cpu.lo[RAX] ?? 0;
    const info = {
      major: v.major,
      minor: v.minor,
      tscKhz: this.tscKhz,
      machineFrames: this.machineFrames,
    };
    if (!xenCpuidLeaf(leaf, cpu.lo[RCX] ?? 0, info, out)) {
      // Run the CPU's own CPUID, then apply Xen's guest policy: leaf 1 ECX.hypervisor.
      cpu.rip += XEN_EMULATE_PREFIX.length;
      cpu.run(1);
      if (leaf === 1) cpu.lo[RCX] = (cpu.lo[RCX] ?? 0) | CPUID1_ECX_HYPERVISOR;
      return true;
    }
    // CPUID writes all four registers, zero-extending into the upper halves.
    const regs = [RAX, RBX, RCX, RDX];
    for (let i = 0; i < 4; i++) {
      cpu.lo[regs[i] ?? 0] = out[i] ?? 0;
      cpu.hi[regs[i] ?? 0] = 0;
    }
    cpu.rip += XEN_EMULATE_PREFIX.length + 2;
    return true;
  }

  /** Crashes the domain: records why and reports SHUTDOWN_crash. */
  private crashDomain(info: PvCrashInfo): void {
    this.crash = info;
    this.shutdownReason = SHUTDOWN_crash;
    this.shutdownPort.shutdown(this.domid, SHUTDOWN_crash);
  }

  /**
   * Runs the guest for up to `budget` instructions, handling hypercalls in place. Returns why it
   * stopped. Never throws for anything the guest does.
   */
  run(budget: number): PvRunResult {
    const cpu = this.cpu;
    let left = budget;
    if (this.shutdownReason < 0) this.arch.updateRunstateArea(this.env.ctx.guest);
    while (left > 0) {
      if (this.shutdownReason >= 0) return PV_RUN.SHUTDOWN;
      if (this.traps.upcallDeliverable() && !this.traps.deliverUpcall(cpu, this.env.ctx.guest)) {
        this.crashDomain({
          kind: 'exception',
          code: -1,
          errorCode: -1,
          rip: cpu.rip,
          cr2: cpu.cr2,
          message: 'event upcall: the bounce frame could not be written',
        });
        return PV_RUN.SHUTDOWN;
      }
      const before = cpu.instructions;
      let reason: number;
      try {
        reason = cpu.run(left);
      } catch (e) {
        this.crashDomain({
          kind: 'cpu-error',
          code: -1,
          errorCode: -1,
          rip: cpu.rip,
          cr2: cpu.cr2,
          message: `CPU model error: ${e instanceof Error ? e.message : String(e)}`,
        });
        return PV_RUN.SHUTDOWN;
      }
      left -= Math.max(1, cpu.instructions - before);
      if (reason === CPU_EXIT.BUDGET) return PV_RUN.BUDGET;
      if (reason === CPU_EXIT.SYSCALL) {
        if (!this.mode.kernelMode) {
          // A `syscall` from guest user mode goes to the guest kernel, not to Xen.
          if (this.traps.userSyscall(cpu, this.env.ctx.guest)) continue;
          this.crashDomain({
            kind: 'exception',
            code: 6,
            errorCode: -1,
            rip: cpu.rip,
            cr2: cpu.cr2,
            message:
              'syscall from user mode: no syscall callback or #UD handler, or no kernel stack',
          });
          return PV_RUN.SHUTDOWN;
        }
        const next = this.hypercall();
        if (next === PREEMPTED) return PV_RUN.BUDGET; // the CPU goes back to the scheduler
        if (next !== PV_RUN.BUDGET) return next;
        continue;
      }
      if (reason === CPU_EXIT.EXCEPTION) {
        const x = cpu.exit;
        if (x.vector === 6 && this.forcedCpuid()) continue;
        let vector = x.vector;
        let code = x.errorCode;
        if (vector === 14 && this.ptwr.tryWrite(code, this.mode.kernelMode)) continue; // a write to its own L1 table
        if (vector === 14 && this.descriptors.ldtFault(code)) {
          vector = this.descriptors.faultVector;
          code = this.descriptors.faultCode;
        }
        if (this.traps.exception(cpu, this.env.ctx.guest, vector, code)) continue;
        this.crashDomain({
          kind: 'exception',
          code: vector,
          errorCode: code,
          rip: cpu.rip,
          cr2: cpu.cr2,
          message: `unhandled exception ${vector} (error code ${code}) at rip ${cpu.rip}: no handler registered`,
        });
        return PV_RUN.SHUTDOWN;
      }
      this.crashDomain({
        kind: 'exit',
        code: reason,
        errorCode: -1,
        rip: cpu.rip,
        cr2: cpu.cr2,
        message: `CPU exit ${reason} has no meaning for a PV guest`,
      });
      return PV_RUN.SHUTDOWN;
    }
    return this.shutdownReason >= 0 ? PV_RUN.SHUTDOWN : PV_RUN.BUDGET;
  }

  /**
   * Handles an intercepted `syscall` from the guest kernel as a hypercall: RIP is already past
   * the instruction; RCX and R11 get the return RIP and RFLAGS as the instruction itself
   * would have left them (the hypercall page saves both around the `syscall`).
   */
  private hypercall(): PvRunResult | typeof PREEMPTED {
    const cpu = this.cpu;
    this.hypercalls++;
    setReg(cpu, RCX, BigInt(cpu.rip));
    setReg(cpu, R11, BigInt(cpu.getRflags() >>> 0));
    const args = this.args;
    args[0] = getReg(cpu, RDI);
    args[1] = getReg(cpu, RSI);
    args[2] = getReg(cpu, RDX);
    args[3] = getReg(cpu, R10);
    args[4] = getReg(cpu, R8);
    const nr = (cpu.hi[RAX] ?? 0) === 0 ? (cpu.lo[RAX] ?? 0) >>> 0 : -1;
    const env = this.env;
    let rc: number;
    if (nr === HYPERCALL_IRET) {
      if (this.traps.iret(cpu, env.ctx.guest)) return PV_RUN.BUDGET;
      this.crashDomain({
        kind: 'exception',
        code: -1,
        errorCode: -1,
        rip: cpu.rip,
        cr2: cpu.cr2,
        message:
          'HYPERVISOR_iret with an unreadable frame, to user mode without a user page table, or faulting with no handler',
      });
      return PV_RUN.SHUTDOWN;
    }
    try {
      env.next = PV_NEXT.CONTINUE; // the calls PvVcpu handles itself leave it alone
      env.work = 0;
      rc = nr < 0 ? -38 : this.call(nr, args);
    } catch (e) {
      // A hypercall family must never throw for guest input; if one does, only this domain pays.
      this.crashDomain({
        kind: 'cpu-error',
        code: nr,
        errorCode: -1,
        rip: cpu.rip,
        cr2: cpu.cr2,
        message: `hypercall ${nr} threw: ${e instanceof Error ? e.message : String(e)}`,
      });
      return PV_RUN.SHUTDOWN;
    }
    if ((env.next as PvNext) === PV_NEXT.PREEMPTED) {
      // hypercall_create_continuation: the `syscall` runs again (RAX still holds the number)
      // with the arguments left, once the scheduler has had the CPU.
      cpu.rip -= 2;
      const c = env.continuation ?? [];
      for (let i = 0; i < c.length && i < ARG_REGS.length; i++)
        setReg(cpu, ARG_REGS[i] ?? RDI, c[i] ?? 0n);
      return PREEMPTED;
    }
    setReg(cpu, RAX, BigInt(rc));
    if (nr === HYPERCALL_MMUEXT_OP || nr === HYPERCALL_MULTICALL) this.descriptors.loadLdtr();
    if (this.trace !== null) this.trace(nr, args, rc);
    switch (env.next as PvNext) {
      case PV_NEXT.YIELD:
        return PV_RUN.YIELD;
      case PV_NEXT.BLOCK:
        this.traps.upcallMask = 0; // SCHEDOP_block enables events, then blocks
        return this.traps.upcallDeliverable() ? PV_RUN.BUDGET : PV_RUN.BLOCK;
      case PV_NEXT.SHUTDOWN:
        this.shutdownReason = env.shutdownReason;
        this.shutdownPort.shutdown(this.domid, env.shutdownReason);
        return PV_RUN.SHUTDOWN;
      default:
        return PV_RUN.BUDGET;
    }
  }
}
