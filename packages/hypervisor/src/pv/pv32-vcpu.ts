/**
 * A 32-bit PAE PV vCPU ("xen-3.0-x86_32p", a compat guest of 64-bit Xen): runs the kernel in
 * ring 1 of 32-bit protected mode with PAE paging over its own validated page tables, on Xen's
 * flat FLAT_RING1_CS (0xe019) / FLAT_RING1_DS (0xe021) segments, with `int $0x82` as the
 * hypercall instruction (EAX = number, EBX, ECX, EDX, ESI, EDI = arguments, result in EAX).
 * Guest mistakes never throw: hypercalls return Xen errno values, and a fault the kernel has no
 * handler for crashes only its own domain (SHUTDOWN_crash through the shutdown port).
 * @see xen/arch/x86/x86_64/compat/entry.S (compat_hypercall via int $0x82, compat_test_all_events)
 * @see xen/arch/x86/pv/traps.c, xen/arch/x86/traps.c (do_general_protection: int n and
 *   unhandled faults)
 */
import { SHUTDOWN_crash, SHUTDOWN_poweroff } from '../abi/sched.ts';
import { compatSmpVcpuOp, type Pv32SmpPort } from '../hypercall/compat-smp-vcpu-op.ts';
import type { HypercallHost } from '../hypercall/dispatch.ts';
import type { MemoryReservationPort } from '../hypercall/memory-op.ts';
import { PirqTable, type PirqTableState } from '../hypercall/physdev-op.ts';
import { emulateCompatGateOp } from './compat-gate-op.ts';
import { PvDescriptorTables } from './descriptor-tables.ts';
import type { ConsoleSink, MachineBytesPort, PvCpuPort, PvMmPort, ShutdownPort } from './ports.ts';
import { PtwrEmulator } from './ptwr.ts';
import {
  DEFAULT_XEN_VERSION,
  PV_NEXT,
  PV_PREEMPT_AFTER,
  type PvHypercallEnv,
  type PvNext,
  type XenVersionInfo,
} from './pv-hypercalls.ts';
import type { VcpuInfoPort } from './pv-traps.ts';
import { PV_RUN, type PvBootState, type PvCrashInfo, type PvRunResult } from './pv-vcpu.ts';
import { HYPERVISOR_COMPAT_VIRT_START, pv32Hypercall } from './pv32-hypercalls.ts';
import { FLAT_RING1_CS, FLAT_RING1_DS, loadCompatFlatSegment, Pv32Traps } from './pv32-traps.ts';
import { VirtualGuestBytes } from './virtual-guest-bytes.ts';
import { GDT_LDT_WINDOW_BYTES } from './xen-gdt.ts';

/** HYPERCALL_VECTOR: the `int` vector of a 32-bit PV hypercall. @see xen/include/public/arch-x86/xen-x86_32.h */
export const HYPERCALL_VECTOR_32 = 0x82;

/**
 * The intercepts a 32-bit PV vCPU needs from the CPU model: every software interrupt (`int $0x82`
 * is the hypercall; any other `int n` goes through the guest's virtual IDT as Xen's #GP path
 * does) and every exception. Pass as `X86Cpu.create`'s `intercepts`.
 */
export const PV32_INTERCEPTS: {
  readonly softwareInterrupts: readonly number[];
  readonly exceptionBitmap: number;
} = { softwareInterrupts: Array.from({ length: 256 }, (_, i) => i), exceptionBitmap: -1 };

/** Exit reasons of the CPU model this vCPU handles (`EXIT` in `@typevisor/x86-cpu`). */
const CPU_EXIT = { BUDGET: 0, SOFTWARE_INTERRUPT: 9, EXCEPTION: 11 } as const;

const HYPERCALL_SET_TRAP_TABLE = 0;
const HYPERCALL_STACK_SWITCH = 3;
const HYPERCALL_SET_CALLBACKS = 4;
const HYPERCALL_FPU_TASKSWITCH = 5;
const HYPERCALL_MULTICALL = 13;
const HYPERCALL_IRET = 23;
/** `__HYPERVISOR_vcpu_op`, and `VCPU_LIFECYCLE.SELF_DOWN` / `LAST_DOWN`. */
const HYPERCALL_VCPU_OP = 24;
const VCPU_SELF_DOWN = 1;
const VCPU_LAST_DOWN = 2;
/** sizeof(struct multicall_entry) for x86_32: op, result, args[6], 4 bytes each. */
const MULTICALL_ENTRY_SIZE_32 = 32;
/** multicall() markers: an iret entry returned to the guest / the domain crashed. */
const MULTICALL_IRET_DONE = 1 << 30;
const MULTICALL_CRASHED = (1 << 30) + 1;
const HYPERCALL_CALLBACK_OP = 30;
/** CALLBACKOP_register / CALLBACKTYPE_event / CALLBACKTYPE_failsafe. @see xen/include/public/callback.h */
const CALLBACKOP_register = 0;
const CALLBACKTYPE_event = 0;
const CALLBACKTYPE_failsafe = 1;
const XEN_EFAULT = 14;
const XEN_EINVAL = 22;
const XEN_ENOSYS = 38;
const GP_VECTOR = 13;
/** `MMUEXT_NEW_BASEPTR`. */
const MMUEXT_NEW_BASEPTR = 5;
const BP_VECTOR = 3;
const OF_VECTOR = 4;

const CR0_PE = 1;
const CR0_TS = 1 << 3;
const CR0_ET = 1 << 4;
const CR0_NE = 1 << 5;
const CR0_WP = 1 << 16;
const CR0_PG = -0x80000000;
const CR4_PAE = 1 << 5;
const CR4_OSFXSR = 1 << 9;
const CR4_OSXMMEXCPT = 1 << 10;
const EFER_NXE = 1 << 11;
const EFLAGS_BOOT = 0x202;
const SEG_ES = 0;
const SEG_CS = 1;
const SEG_SS = 2;
const SEG_DS = 3;
const SEG_FS = 4;
const SEG_GS = 5;
/**
 * Where a compat vCPU's GDT/LDT window goes without a `gdtAddress`: 0xFFE00000, above the compat
 * M2P in Xen's part of the address space (no guest mapping reaches it).
 */
const COMPAT_GDT_WINDOW = 0xffe00000;
/** `__HYPERVISOR_set_gdt`, `__HYPERVISOR_update_descriptor`, `__HYPERVISOR_mmuext_op`. */
const HYPERCALL_SET_GDT = 2;
const HYPERCALL_UPDATE_DESCRIPTOR = 10;
const HYPERCALL_MMUEXT_OP = 26;
const PF_VECTOR = 14;
/** What `hypercall` returns for a preempted hypercall (`run` returns `PV_RUN.BUDGET`). */
const PREEMPTED = -1;
const EAX = 0;
const ECX = 1;
const EDX = 2;
const EBX = 3;
const ESP = 4;
const ESI = 6;
const EDI = 7;

/** Argument register `i` as an unsigned 32-bit number. */
function arg32(args: readonly bigint[], i: number): number {
  return Number(BigInt.asUintN(32, args[i] ?? 0n));
}

/**
 * Plain JSON-safe state of a {@link Pv32Vcpu} besides its CPU (save the CPU with its own
 * `getState()`).
 */
export interface Pv32VcpuState {
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
  /** Registered exception handlers: vector, trap_info flags, CS and EIP. */
  readonly trapTable: readonly { vector: number; flags: number; cs: number; eip: number }[];
  /** The event callback (CS, EIP; EIP 0 = none). */
  readonly eventCallback: { readonly cs: number; readonly eip: number };
  /** The failsafe callback (CS, EIP). */
  readonly failsafeCallback: { readonly cs: number; readonly eip: number };
  /** The kernel stack of `stack_switch` (SS, ESP). */
  readonly kernelStack: { readonly ss: number; readonly sp: number };
  /** physdev_op's virtual IOPL and reserved PIRQs (absent in older saves). */
  readonly physdev?: { readonly iopl: number; readonly pirqs: PirqTableState };
}

/** Options for {@link Pv32Vcpu}. */
export interface Pv32VcpuOptions {
  /** The CPU model, created with {@link PV32_INTERCEPTS} over machine memory. */
  readonly cpu: PvCpuPort;
  /** Machine memory (for hypercall pointer arguments). */
  readonly machine: MachineBytesPort;
  /** The domain. */
  readonly domid: number;
  /** This vCPU's ID. Default 0. */
  readonly vcpuId?: number;
  /** The core hypercall families (event channels, grant tables, timers), set up for x86_32. */
  readonly host: HypercallHost;
  /** Where CONSOLEIO_write output goes. */
  readonly console: ConsoleSink;
  /** Where shutdowns (including crashes) are reported. */
  readonly shutdown: ShutdownPort;
  /** What xen_version reports. Default {@link DEFAULT_XEN_VERSION}. */
  readonly version?: XenVersionInfo;
  /** PV memory management (`@typevisor/mmu`'s `PvMm` with a 32-bit domain); else -ENOSYS. */
  readonly mm?: PvMmPort;
  /**
   * This vCPU's vcpu_info in shared_info, for event upcalls, the saved upcall mask in bounce
   * frames and vcpu_info.arch.cr2. Without it no upcalls are delivered.
   */
  readonly vcpuInfo?: VcpuInfoPort;
  /**
   * Linear address of vCPU 0's GDT/LDT window (`PvDescriptorTables`: the guest's set_gdt frames,
   * Xen's compat page with FLAT_RING1_DS and friends, the LDT), in Xen's part of the address
   * space; vCPU n's is `n × GDT_LDT_WINDOW_BYTES` above. Default 0xFFE00000. The window shadows
   * whatever the embedder mapped there.
   */
  readonly gdtAddress?: number;
  /** memory_op's frame owner (the toolstack's machine memory); without it memory_op is -ENOSYS. */
  readonly memory?: MemoryReservationPort;
  /**
   * Called after every hypercall with its number, argument registers and result (a
   * xentrace-style hook for diagnostics; keep it cheap).
   */
  readonly trace?: (nr: number, args: readonly bigint[], rc: number) => void;
  /**
   * Requests an mmu_update handles before it is preempted with a continuation (`run` then
   * returns `PV_RUN.BUDGET` and the `int $0x82` runs again on the next `run`). Default
   * {@link PV_PREEMPT_AFTER}.
   */
  readonly preemptAfter?: number;
  /**
   * The domain's vCPU set (`Pv32DomainVcpus`) for VCPUOP_initialise / up / down / is_up /
   * get_runstate_info on any of its vCPUs; without it vcpu_op is the single-vCPU subset. (Not
   * `smp`: embedders build both vCPU kinds from one options object holding the 64-bit port.)
   */
  readonly smp32?: Pv32SmpPort;
}

/**
 * One vCPU of a 32-bit PAE PV domain. Create it over a CPU model made with
 * {@link PV32_INTERCEPTS}, call {@link Pv32Vcpu.boot} with the builder's registers, then
 * {@link Pv32Vcpu.run} until it returns `PV_RUN.SHUTDOWN`.
 */
export class Pv32Vcpu {
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
  /** The exception handlers, callbacks and kernel stack the kernel registered. */
  readonly traps: Pv32Traps;
  /** The domain's PIRQs as physdev_op hands them out (get_free_pirq). */
  pirqs: PirqTable;
  /** The virtual I/O privilege level of PHYSDEVOP_set_iopl (recorded; no port I/O is emulated). */
  iopl: number;
  private readonly env: PvHypercallEnv;
  private readonly shutdownPort: ShutdownPort;
  private readonly args: bigint[];
  private readonly trace: ((nr: number, args: readonly bigint[], rc: number) => void) | null;
  /** The guest's GDT and LDT (set_gdt, update_descriptor, MMUEXT_SET_LDT) and their window. */
  readonly descriptors: PvDescriptorTables;
  /** Writable page-table emulation (a write to one of its own read-only L1 tables). */
  readonly ptwr: PtwrEmulator;
  private readonly insn: Uint8Array;
  private readonly smp: Pv32SmpPort | null;

  /** Creates a vCPU; nothing runs until {@link Pv32Vcpu.boot} and {@link Pv32Vcpu.run}. */
  constructor(options: Pv32VcpuOptions) {
    this.cpu = options.cpu;
    this.domid = options.domid;
    this.vcpuId = options.vcpuId ?? 0;
    this.hypercalls = 0;
    this.shutdownReason = -1;
    this.crash = null;
    this.traps = new Pv32Traps(options.vcpuInfo ?? null);
    this.pirqs = new PirqTable();
    this.iopl = 0;
    this.shutdownPort = options.shutdown;
    this.args = [0n, 0n, 0n, 0n, 0n];
    this.trace = options.trace ?? null;
    this.descriptors = new PvDescriptorTables({
      cpu: options.cpu,
      mm: options.mm ?? null,
      domid: this.domid,
      vcpuId: this.vcpuId,
      machine: options.machine,
      windowBase: (options.gdtAddress ?? COMPAT_GDT_WINDOW) + this.vcpuId * GDT_LDT_WINDOW_BYTES,
      width: 32,
    });
    this.traps.segments = this.descriptors; // handlers and iret frames may name its segments
    this.ptwr = new PtwrEmulator(options.cpu, options.machine, options.mm ?? null, this.domid);
    this.insn = new Uint8Array(3);
    this.smp = options.smp32 ?? null;
    const sink = options.console;
    const domid = this.domid;
    const self = this;
    this.env = {
      host: options.host,
      ctx: {
        domid: this.domid,
        vcpu: this.vcpuId,
        abi: 'x86_32',
        guest: new VirtualGuestBytes(options.cpu, options.machine, {
          user: false,
          limit: HYPERVISOR_COMPAT_VIRT_START,
        }),
      },
      mm: options.mm ?? null,
      memory: options.memory ?? null,
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
      physdev: {
        get pirqs(): PirqTable {
          return self.pirqs;
        },
        setIopl: (iopl: number): void => {
          self.iopl = iopl;
        },
      },
      preemptAfter: options.preemptAfter ?? PV_PREEMPT_AFTER,
    };
  }

  /**
   * Puts the CPU in the state Xen starts a 32-bit PAE PV kernel in: protected mode with PAE
   * paging (CR0.PG|WP|PE, CR4.PAE, EFER.NXE) on the pinned L3 at `state.cr3` (a machine address),
   * CPL 1 on FLAT_RING1_CS with SS, DS, ES, FS and GS = FLAT_RING1_DS (flat 4 GiB, set in the
   * segment caches directly), EFLAGS.IF, EIP/ESP/ESI from the builder and every other general
   * register zero.
   * @see tools/libs/guest/xg_dom_x86.c (vcpu_x86_32), xen/arch/x86/pv/domain.c
   */
  boot(state: PvBootState): void {
    const cpu = this.cpu;
    cpu.lo.fill(0);
    cpu.hi.fill(0);
    cpu.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
    cpu.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    cpu.efer = EFER_NXE;
    cpu.cr3 = Number(BigInt.asUintN(32, state.cr3) & 0xfffff000n);
    cpu.cpl = 1;
    loadCompatFlatSegment(cpu, SEG_CS, FLAT_RING1_CS);
    for (const s of [SEG_ES, SEG_SS, SEG_DS, SEG_FS, SEG_GS])
      loadCompatFlatSegment(cpu, s, FLAT_RING1_DS);
    cpu.setRflags(EFLAGS_BOOT);
    cpu.rip = Number(BigInt.asUintN(32, state.rip));
    cpu.lo[ESP] = Number(BigInt.asUintN(32, state.rsp)) | 0;
    cpu.lo[ESI] = Number(BigInt.asUintN(32, state.rsi)) | 0;
    // Descriptor tables: the GDT/LDT window (descriptors only check_descriptor let through, in
    // frames the guest cannot write), no IDT: a gate the guest wrote could take it to ring 0.
    this.descriptors.load();
    cpu.idtBase = 0;
    cpu.idtLimit = 0;
    cpu.updateMode();
    cpu.flushTlb();
    this.traps.kernelSs = FLAT_RING1_DS;
    this.traps.kernelSp = (cpu.lo[ESP] ?? 0) >>> 0;
    this.shutdownReason = -1;
    this.crash = null;
  }

  /** The code latched by SCHEDOP_shutdown_code, else -1. */
  get shutdownCode(): number {
    return this.env.shutdownCode;
  }

  /** This vCPU's own state as plain data (the CPU's state is saved separately). */
  getState(): Pv32VcpuState {
    const t = this.traps;
    const trapTable: { vector: number; flags: number; cs: number; eip: number }[] = [];
    for (let v = 0; v < 256; v++) {
      const eip = t.address[v] ?? 0;
      if (eip !== 0) trapTable.push({ vector: v, flags: t.flags[v] ?? 0, cs: t.cs[v] ?? 0, eip });
    }
    return {
      domid: this.domid,
      vcpuId: this.vcpuId,
      hypercalls: this.hypercalls,
      shutdownReason: this.shutdownReason,
      shutdownCode: this.env.shutdownCode,
      crash: this.crash === null ? null : { ...this.crash },
      trapTable,
      eventCallback: { cs: t.eventCs, eip: t.eventEip },
      failsafeCallback: { cs: t.failsafeCs, eip: t.failsafeEip },
      kernelStack: { ss: t.kernelSs, sp: t.kernelSp },
      physdev: { iopl: this.iopl, pirqs: this.pirqs.getState() },
    };
  }

  /**
   * Recreates a vCPU from {@link Pv32Vcpu.getState} over `options` (whose CPU must already hold
   * the restored CPU state); `options.domid`/`vcpuId` are taken from `state`.
   */
  static fromState(state: Pv32VcpuState, options: Pv32VcpuOptions): Pv32Vcpu {
    const v = new Pv32Vcpu({ ...options, domid: state.domid, vcpuId: state.vcpuId });
    v.hypercalls = state.hypercalls;
    v.shutdownReason = state.shutdownReason;
    v.env.shutdownCode = state.shutdownCode;
    v.crash = state.crash === null ? null : { ...state.crash };
    const t = v.traps;
    for (const e of state.trapTable) {
      const vector = e.vector & 0xff;
      t.address[vector] = e.eip >>> 0;
      t.cs[vector] = e.cs & 0xffff;
      t.flags[vector] = e.flags & 0xff;
    }
    // Restored as saved (the fix-ups ran when the guest registered them).
    t.eventCs = state.eventCallback.cs & 0xffff;
    t.eventEip = state.eventCallback.eip >>> 0;
    t.failsafeCs = state.failsafeCallback.cs & 0xffff;
    t.failsafeEip = state.failsafeCallback.eip >>> 0;
    t.kernelSs = state.kernelStack.ss & 0xffff;
    t.kernelSp = state.kernelStack.sp >>> 0;
    if (state.physdev !== undefined) {
      v.iopl = state.physdev.iopl & 3;
      v.pirqs = PirqTable.fromState(state.physdev.pirqs);
    }
    return v;
  }

  /** Crashes the domain: records why and reports SHUTDOWN_crash. */
  private crashDomain(
    kind: PvCrashInfo['kind'],
    code: number,
    errorCode: number,
    message: string,
  ): void {
    const cpu = this.cpu;
    this.crash = { kind, code, errorCode, rip: cpu.rip, cr2: cpu.cr2, message };
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
    while (left > 0) {
      if (this.shutdownReason >= 0) return PV_RUN.SHUTDOWN;
      if (this.traps.upcallDeliverable()) {
        if (!this.traps.deliverUpcall(cpu, this.env.ctx.guest)) {
          this.crashDomain(
            'exception',
            -1,
            -1,
            'event upcall: bad callback selector or unwritable bounce frame',
          );
          return PV_RUN.SHUTDOWN;
        }
        cpu.updateMode();
      }
      const before = cpu.instructions;
      let reason: number;
      try {
        reason = cpu.run(left);
      } catch (e) {
        this.crashDomain(
          'cpu-error',
          -1,
          -1,
          `CPU model error: ${e instanceof Error ? e.message : String(e)}`,
        );
        return PV_RUN.SHUTDOWN;
      }
      left -= Math.max(1, cpu.instructions - before);
      if (reason === CPU_EXIT.BUDGET) return PV_RUN.BUDGET;
      if (reason === CPU_EXIT.SOFTWARE_INTERRUPT) {
        const vector = cpu.exit.vector;
        if (vector === HYPERCALL_VECTOR_32 && cpu.cpl === 1) {
          const next = this.hypercall();
          if (next === PREEMPTED) return PV_RUN.BUDGET; // the CPU goes back to the scheduler
          if (next !== PV_RUN.BUDGET) return next;
          continue;
        }
        if (!this.softwareInterrupt(vector)) return PV_RUN.SHUTDOWN;
        continue;
      }
      if (reason === CPU_EXIT.EXCEPTION) {
        const x = cpu.exit;
        if (x.vector === GP_VECTOR && x.errorCode === 0 && cpu.cpl === 1) {
          let emulated: boolean;
          try {
            emulated = this.emulatePrivileged();
          } catch (e) {
            const why = e instanceof Error ? e.message : String(e);
            this.crashDomain('cpu-error', GP_VECTOR, 0, `privileged-op emulation threw: ${why}`);
            return PV_RUN.SHUTDOWN;
          }
          if (emulated) continue;
        }
        let vector = x.vector;
        let code = x.errorCode;
        if (vector === GP_VECTOR && code > 0 && (code & 3) === 0) {
          // #GP(selector): a far transfer through one of the guest's call gates (Xen emulates it).
          const f = emulateCompatGateOp(
            cpu,
            this.traps,
            this.descriptors,
            this.env.ctx.guest,
            code,
          );
          if (f === null) {
            cpu.updateMode();
            continue;
          }
          vector = f.vector;
          code = f.code;
        }
        if (vector === PF_VECTOR && this.ptwr.tryWrite(code, cpu.cpl === 1)) continue; // its own L1 table
        if (vector === PF_VECTOR && this.descriptors.ldtFault(code)) {
          vector = this.descriptors.faultVector;
          code = this.descriptors.faultCode;
          if (vector < 0) continue; // an accessed bit set for the CPU: run the load again
        }
        if (this.traps.bounce(cpu, this.env.ctx.guest, vector, code)) {
          cpu.updateMode();
          continue;
        }
        this.crashDomain(
          'exception',
          vector,
          code,
          `unhandled exception ${vector} (error code ${code}) at eip ${cpu.rip}: no handler registered`,
        );
        return PV_RUN.SHUTDOWN;
      }
      this.crashDomain('exit', reason, -1, `CPU exit ${reason} has no meaning for a PV guest`);
      return PV_RUN.SHUTDOWN;
    }
    return this.shutdownReason >= 0 ? PV_RUN.SHUTDOWN : PV_RUN.BUDGET;
  }

  /**
   * The privileged instructions Xen emulates for a 32-bit PV kernel when they #GP in ring 1
   * (emulate_privileged_op): `clts`; `mov %crN,%reg` for CR0 (with the guest's TS), CR2 (the
   * last #PF address), CR3 (the current L3 in extended-CR3 form) and CR4; `mov %reg,%cr0` that
   * changes only TS; `mov %reg,%cr3` (a new base pointer that must validate as an L3);
   * `wbinvd` (ignored: a domU may not flush caches). Anything else — prefixes included, or a CR3
   * that does not validate — stays a #GP for the guest.
   * @see xen/arch/x86/pv/emul-priv-op.c (read_cr, write_cr, wbinvd)
   */
  private emulatePrivileged(): boolean {
    const cpu = this.cpu;
    const code = this.insn;
    const guest = this.env.ctx.guest;
    if (!guest.read(cpu.rip >>> 0, code.subarray(0, 2)) || code[0] !== 0x0f) return false;
    const op = code[1] ?? 0;
    const lo = cpu.lo;
    if (op === 0x06) {
      cpu.cr0 &= ~CR0_TS; // clts
      cpu.rip = (cpu.rip + 2) >>> 0;
      return true;
    }
    if (op === 0x09) {
      cpu.rip = (cpu.rip + 2) >>> 0; // wbinvd
      return true;
    }
    if (op !== 0x20 && op !== 0x22) return false;
    if (!guest.read((cpu.rip + 2) >>> 0, code.subarray(2, 3))) return false;
    const modrm = code[2] ?? 0;
    if (modrm >> 6 !== 3) return false;
    const crn = (modrm >> 3) & 7;
    const gpr = modrm & 7;
    if (op === 0x20) {
      let v: number;
      if (crn === 0) v = cpu.cr0;
      else if (crn === 2) v = cpu.cr2;
      else if (crn === 3) {
        const mfn = Math.floor(cpu.cr3 / 4096);
        v = ((mfn << 12) | (mfn >>> 20)) >>> 0; // xen_pfn_to_cr3 for a compat guest
      } else if (crn === 4) v = cpu.cr4;
      else return false;
      lo[gpr] = v | 0;
      cpu.hi[gpr] = 0;
      cpu.rip = (cpu.rip + 3) >>> 0;
      return true;
    }
    const v = (lo[gpr] ?? 0) >>> 0;
    if (crn === 0) {
      if (((v ^ cpu.cr0) & ~CR0_TS) !== 0) return false; // only TS may change
      cpu.cr0 = v | 0;
    } else if (crn === 3) {
      const mm = this.env.mm;
      const mfn = ((v >>> 12) | (v << 20)) >>> 0; // xen_cr3_to_pfn
      if (mm === null) return false;
      const op1 = [{ cmd: MMUEXT_NEW_BASEPTR, arg1Lo: mfn | 0, arg1Hi: 0, arg2: 0 }];
      // A frame that does not validate as an L3 leaves the write unhandled: #GP for the guest.
      if (mm.mmuextOp(this.domid, this.vcpuId, op1) !== 0) return false;
      this.env.setBasePointer(mfn);
    } else return false;
    cpu.rip = (cpu.rip + 3) >>> 0;
    return true;
  }

  /**
   * `int n` other than a ring-1 `int $0x82`: Xen's IDT lets only #BP/#OF, `int $0x80` (DPL 3:
   * int80_direct_trap when the guest has a handler) and the hypercall gate (DPL 1) through, so
   * anything else is a #GP with error code `n << 3 | 2` that
   * Xen turns into a bounce to the guest's handler for `n` when its trap_info DPL allows the
   * current ring, and otherwise into a #GP for the guest. RIP is past the instruction. Returns
   * false after crashing the domain.
   * @see xen/arch/x86/traps.c (do_general_protection), xen/arch/x86/pv/traps.c
   */
  private softwareInterrupt(vector: number): boolean {
    const cpu = this.cpu;
    const guest = this.env.ctx.guest;
    const dpl = (this.traps.flags[vector] ?? 0) & 3;
    // Xen's IDT gate 0x80 has DPL 3 (entry_int80): with a handler (a non-null CS, compat's
    // null_trap_bounce) it is int80_direct_trap from any ring, whatever the trap_info DPL.
    const int80 = vector === 0x80 && ((this.traps.cs[0x80] ?? 0) & ~3) !== 0;
    const allowed =
      vector === BP_VECTOR ||
      vector === OF_VECTOR ||
      int80 ||
      ((this.traps.address[vector] ?? 0) !== 0 && dpl >= cpu.cpl);
    if (allowed && this.traps.bounce(cpu, guest, vector, -1, cpu.rip)) {
      cpu.updateMode();
      return true;
    }
    if (!allowed) {
      cpu.rip = (cpu.rip - 2) >>> 0; // `int imm8` is two bytes; a #GP reports the instruction
      if (this.traps.bounce(cpu, guest, GP_VECTOR, ((vector << 3) | 2) >>> 0)) {
        cpu.updateMode();
        return true;
      }
    }
    this.crashDomain(
      'exception',
      allowed ? vector : GP_VECTOR,
      allowed ? -1 : (vector << 3) | 2,
      `int ${vector} at ring ${cpu.cpl} with no handler the guest may use`,
    );
    return false;
  }

  /** `HYPERVISOR_callback_op(cmd, arg)` (compat `callback_register { u16 type; u16 flags; u32 cs; u32 eip }`). */
  private callbackOp(cmd: number, pointer: number): number {
    if (cmd !== CALLBACKOP_register) return -XEN_EINVAL;
    const buf = new Uint8Array(12);
    if (!this.env.ctx.guest.read(pointer, buf)) return -XEN_EFAULT;
    const view = new DataView(buf.buffer);
    const type = view.getUint16(0, true);
    const cs = view.getUint32(4, true) & 0xffff;
    const eip = view.getUint32(8, true);
    const t = this.traps;
    if (type === CALLBACKTYPE_event) return t.setCallbacks(cs, eip, t.failsafeCs, t.failsafeEip);
    if (type === CALLBACKTYPE_failsafe) return t.setCallbacks(t.eventCs, t.eventEip, cs, eip);
    return -XEN_ENOSYS; // sysenter, syscall32 and NMI callbacks are not modelled
  }

  /**
   * Runs one hypercall other than iret and multicall with argument registers `args` and returns
   * its result; `env.next` says what the vCPU does next. Used by `int $0x82` and by multicall.
   */
  private call(nr: number, args: readonly bigint[]): number {
    const t = this.traps;
    switch (nr) {
      case HYPERCALL_SET_TRAP_TABLE:
        return t.setTrapTable(this.env.ctx.guest, arg32(args, 0));
      case HYPERCALL_STACK_SWITCH:
        return t.stackSwitch(arg32(args, 0), arg32(args, 1));
      case HYPERCALL_SET_CALLBACKS:
        return t.setCallbacks(arg32(args, 0), arg32(args, 1), arg32(args, 2), arg32(args, 3));
      case HYPERCALL_FPU_TASKSWITCH:
        this.cpu.cr0 = arg32(args, 0) !== 0 ? this.cpu.cr0 | CR0_TS : this.cpu.cr0 & ~CR0_TS;
        return 0;
      case HYPERCALL_CALLBACK_OP:
        return this.callbackOp(arg32(args, 0), arg32(args, 1));
      case HYPERCALL_SET_GDT:
        return this.descriptors.setGdt(this.env.ctx.guest, arg32(args, 0), arg32(args, 1));
      case HYPERCALL_UPDATE_DESCRIPTOR: // (pa_lo, pa_hi, desc_lo, desc_hi)
        return this.descriptors.updateDescriptor(
          (BigInt(arg32(args, 1)) << 32n) | BigInt(arg32(args, 0)),
          (BigInt(arg32(args, 3)) << 32n) | BigInt(arg32(args, 2)),
        );
      case HYPERCALL_VCPU_OP:
        if (this.smp !== null) return this.smpVcpuOp(args);
        return pv32Hypercall(this.env, nr, args);
      default:
        return pv32Hypercall(this.env, nr, args);
    }
  }

  /**
   * Compat vcpu_op's SMP commands over the domain's vCPU set (`compat-smp-vcpu-op.ts`); a
   * vCPU that takes itself down yields, the last one down powers the domain off.
   */
  private smpVcpuOp(args: readonly bigint[]): number {
    const env = this.env;
    const smp = this.smp as Pv32SmpPort;
    const r = compatSmpVcpuOp(smp, env.ctx, arg32(args, 0), arg32(args, 1), arg32(args, 2));
    if (r === null) return pv32Hypercall(env, HYPERCALL_VCPU_OP, args);
    if (r.effect === VCPU_SELF_DOWN) env.next = PV_NEXT.YIELD;
    else if (r.effect === VCPU_LAST_DOWN) {
      env.shutdownReason = SHUTDOWN_poweroff;
      env.next = PV_NEXT.SHUTDOWN;
    }
    return r.rc;
  }

  /**
   * `HYPERVISOR_multicall(call_list, nr_calls)` (compat): 32-byte `multicall_entry { u32 op;
   * u32 result; u32 args[6] }`, each run in order with its result written back. A nested
   * multicall gets -EINVAL; an iret entry is performed and ends the batch (its EAX comes from the
   * frame); a shutdown ends the batch; a yield or block applies after it. Returns 0, -EFAULT
   * when an entry cannot be read or its result written, or one of the MULTICALL_* markers.
   * @see xen/common/multicall.c (do_multicall), xen/arch/x86/pv/hypercall.c
   *   (arch_do_multicall_call)
   */
  private multicall(list: number, count: number): number {
    const env = this.env;
    const guest = env.ctx.guest;
    const entry = new Uint8Array(MULTICALL_ENTRY_SIZE_32);
    const view = new DataView(entry.buffer);
    const result = new Uint8Array(4);
    const resultView = new DataView(result.buffer);
    const args: bigint[] = [0n, 0n, 0n, 0n, 0n];
    let next: PvNext = PV_NEXT.CONTINUE;
    const limit = env.preemptAfter ?? Number.POSITIVE_INFINITY;
    for (let i = 0; i < count; i++) {
      const at = list + i * MULTICALL_ENTRY_SIZE_32;
      if (i > 0 && (env.work ?? 0) >= limit) return this.continueMulticall(at, count - i);
      if (!guest.read(at, entry)) return -XEN_EFAULT;
      const op = view.getUint32(0, true);
      for (let k = 0; k < 5; k++) args[k] = BigInt(view.getUint32(8 + k * 4, true));
      if (op === HYPERCALL_IRET) {
        if (this.traps.iret(this.cpu, guest)) {
          this.cpu.updateMode();
          env.next = next;
          return MULTICALL_IRET_DONE;
        }
        this.crashDomain('exception', -1, -1, 'HYPERVISOR_iret in a multicall with a bad frame');
        return MULTICALL_CRASHED;
      }
      env.next = PV_NEXT.CONTINUE;
      env.work = (env.work ?? 0) + 1;
      const rc = op === HYPERCALL_MULTICALL ? -XEN_EINVAL : this.call(op, args);
      if ((env.next as PvNext) === PV_NEXT.PREEMPTED) {
        // The entry's own continuation goes back into it (no result yet); resume there.
        const c = env.continuation ?? [];
        for (let k = 0; k < c.length && k < 6; k++)
          view.setUint32(8 + k * 4, Number(BigInt.asUintN(32, c[k] ?? 0n)), true);
        if (!guest.write(at, entry)) return -XEN_EFAULT;
        return this.continueMulticall(at, count - i);
      }
      if (this.trace !== null) this.trace(op, args, rc);
      resultView.setInt32(0, rc | 0, true);
      if (!guest.write(at + 4, result)) return -XEN_EFAULT;
      const after = env.next as PvNext;
      if (after === PV_NEXT.SHUTDOWN) return 0;
      if (after !== PV_NEXT.CONTINUE) next = after;
    }
    env.next = next;
    return 0;
  }

  /**
   * Preempts the multicall being run at the entry at `at` with `left` entries
   * (`hypercall_create_continuation(__HYPERVISOR_multicall, "ii", at, left)`).
   */
  private continueMulticall(at: number, left: number): number {
    this.env.next = PV_NEXT.PREEMPTED;
    this.env.continuation = [BigInt(at >>> 0), BigInt(left >>> 0)];
    return 0;
  }

  /**
   * Handles `int $0x82` from ring 1 as a hypercall: EAX = number, EBX, ECX, EDX, ESI, EDI =
   * arguments, result in EAX. RIP is already past the instruction.
   */
  private hypercall(): PvRunResult | typeof PREEMPTED {
    const cpu = this.cpu;
    this.hypercalls++;
    const lo = cpu.lo;
    const args = this.args;
    args[0] = BigInt((lo[EBX] ?? 0) >>> 0);
    args[1] = BigInt((lo[ECX] ?? 0) >>> 0);
    args[2] = BigInt((lo[EDX] ?? 0) >>> 0);
    args[3] = BigInt((lo[ESI] ?? 0) >>> 0);
    args[4] = BigInt((lo[EDI] ?? 0) >>> 0);
    const nr = (lo[EAX] ?? 0) >>> 0;
    const env = this.env;
    const t = this.traps;
    if (nr === HYPERCALL_IRET) {
      if (t.iret(cpu, env.ctx.guest)) {
        cpu.updateMode();
        return PV_RUN.BUDGET;
      }
      this.crashDomain(
        'exception',
        -1,
        -1,
        'HYPERVISOR_iret with an unreadable frame or a selector Xen refuses',
      );
      return PV_RUN.SHUTDOWN;
    }
    env.next = PV_NEXT.CONTINUE;
    env.work = 0; // what preemptAfter counts against, per hypercall
    let rc: number;
    try {
      if (nr === HYPERCALL_MULTICALL) {
        const m = this.multicall((lo[EBX] ?? 0) >>> 0, (lo[ECX] ?? 0) >>> 0);
        if (m === MULTICALL_IRET_DONE) return PV_RUN.BUDGET; // EAX came back from the frame
        if (m === MULTICALL_CRASHED) return PV_RUN.SHUTDOWN;
        rc = m;
      } else {
        rc = this.call(nr, args);
      }
    } catch (e) {
      // A hypercall family must never throw for guest input; if one does, only this domain pays.
      this.crashDomain(
        'cpu-error',
        nr,
        -1,
        `hypercall ${nr} threw: ${e instanceof Error ? e.message : String(e)}`,
      );
      return PV_RUN.SHUTDOWN;
    }
    if ((env.next as PvNext) === PV_NEXT.PREEMPTED) {
      // hypercall_create_continuation: `int $0x82` runs again (EAX still holds the number)
      // with the arguments left, once the scheduler has had the CPU.
      cpu.rip = (cpu.rip - 2) >>> 0;
      const c = env.continuation ?? [];
      const regs = [EBX, ECX, EDX, ESI, EDI];
      for (let i = 0; i < c.length && i < regs.length; i++)
        lo[regs[i] ?? EBX] = Number(BigInt.asUintN(32, c[i] ?? 0n)) | 0;
      return PREEMPTED;
    }
    lo[EAX] = rc | 0;
    cpu.hi[EAX] = 0;
    if (nr === HYPERCALL_MMUEXT_OP || nr === HYPERCALL_MULTICALL) this.descriptors.loadLdtr();
    if (this.trace !== null) this.trace(nr, args, rc);
    switch (env.next as PvNext) {
      case PV_NEXT.YIELD:
        return PV_RUN.YIELD;
      case PV_NEXT.BLOCK:
        t.upcallMask = 0; // SCHEDOP_block enables events, then blocks
        return t.upcallDeliverable() ? PV_RUN.BUDGET : PV_RUN.BLOCK;
      case PV_NEXT.SHUTDOWN:
        this.shutdownReason = env.shutdownReason;
        this.shutdownPort.shutdown(this.domid, env.shutdownReason);
        return PV_RUN.SHUTDOWN;
      default:
        return PV_RUN.BUDGET;
    }
  }
}
