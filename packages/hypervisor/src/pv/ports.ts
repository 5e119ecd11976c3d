/**
 * The ports a {@link PvVcpu} runs on, declared structurally so that `@typevisor/x86-cpu`'s
 * `X86Cpu` and `@typevisor/mmu`'s `MachineMemory` satisfy them without this package importing
 * either (the hypervisor core stays free of both, and of any platform API).
 */

/** The result fields of one page walk, filled in place by a {@link PvWalkerPort}. */
export interface PvWalkRequest {
  /** The linear address (a canonical signed number in long mode). */
  linear: number;
  /** 0 read, 1 write, 2 fetch. */
  access: number;
  /** True for an access made at CPL 3. */
  user: boolean;
  /** CR0 at the time of the access. */
  cr0: number;
  /** CR3 at the time of the access. */
  cr3: number;
  /** CR4 at the time of the access. */
  cr4: number;
  /** IA32_EFER at the time of the access. */
  efer: number;
  /** Result: the physical (machine) address of the 4 KiB frame holding `linear`. */
  frame: number;
  /** Result: true when user accesses are allowed by every level. */
  userOk: boolean;
  /** Result: true when writes are allowed by every level. */
  writable: boolean;
  /** Result: true when the page is execute-disabled. */
  noExec: boolean;
  /** Result: -1 on success, else the #PF error code. */
  fault: number;
}

/** A page walker over the guest's (machine-address) page tables. */
export interface PvWalkerPort {
  /** Walks the paging structures for `req` and fills its result fields. */
  walk(req: PvWalkRequest): void;
}

/** What the last CPU exit carries (the subset a PV vCPU reads). */
export interface PvCpuExit {
  /** The exit reason. */
  readonly reason: number;
  /** Vector for exceptions and software interrupts. */
  readonly vector: number;
  /** Error code for exceptions, or -1. */
  readonly errorCode: number;
}

/**
 * The CPU model a PV vCPU drives: `X86Cpu` from `@typevisor/x86-cpu` (created with
 * {@link PV_INTERCEPTS}) fits this shape.
 */
export interface PvCpuPort {
  /** RAX..R15, low 32 bits. */
  readonly lo: Int32Array;
  /** RAX..R15, high 32 bits. */
  readonly hi: Int32Array;
  /** Instruction pointer (canonical signed number in 64-bit mode). */
  rip: number;
  /** Current privilege level. */
  cpl: number;
  /** Segment selectors (ES, CS, SS, DS, FS, GS, LDTR, TR). */
  readonly segSel: Int32Array;
  /** Segment bases. */
  readonly segBase: Float64Array;
  /** Segment limits. */
  readonly segLimit: Int32Array;
  /** Segment attributes (descriptor bits 8..15 and 20..23, as the CPU caches them). */
  readonly segAttr: Int32Array;
  /** GDTR base (a linear address). */
  gdtBase: number;
  /** GDTR limit (0: every non-null selector load faults). */
  gdtLimit: number;
  /** IDTR base (a linear address). */
  idtBase: number;
  /** IDTR limit (0: every `int n` the embedder does not intercept faults). */
  idtLimit: number;
  /** CR0. */
  cr0: number;
  /** CR2. */
  cr2: number;
  /** CR3. */
  cr3: number;
  /** CR4. */
  cr4: number;
  /** IA32_EFER. */
  efer: number;
  /** Instructions retired so far. */
  readonly instructions: number;
  /** The last exit. */
  readonly exit: PvCpuExit;
  /**
   * The translation port (used for hypercall pointer arguments). Writable: a PV vCPU puts its
   * descriptor-table window in front of the CPU's own walker (`PvDescriptorTables`).
   */
  walker: PvWalkerPort;
  /** Runs up to `budget` instructions and returns the exit reason. */
  run(budget: number): number;
  /** Recomputes cached mode bits after CR0/EFER/CS/SS changes. */
  updateMode(): void;
  /** Drops cached translations. */
  flushTlb(): void;
  /** Reads RFLAGS. */
  getRflags(): number;
  /** Writes RFLAGS. */
  setRflags(v: number): void;
}

/**
 * Machine memory addressed by machine byte address (`@typevisor/mmu`'s `MachineMemory`).
 * Addresses are always inside the machine when the PV vCPU calls these.
 */
export interface MachineBytesPort {
  /** Number of 4 KiB machine frames. */
  readonly frames: number;
  /** Reads the byte at machine address `ma`. */
  readMa8(ma: number): number;
  /** Writes the byte `value` at machine address `ma`. */
  writeMa8(ma: number, value: number): void;
  /** Reads the int32 at machine address `ma`. */
  readMa32(ma: number): number;
  /** Writes the int32 `value` at machine address `ma`. */
  writeMa32(ma: number, value: number): void;
  /** Optional: whether frame `mfn` holds exactly `words` (1024 int32). */
  frameEquals?(mfn: number, words: Int32Array): boolean;
  /** Optional: copies frame `mfn` into `out` (1024 int32). */
  readFrameWords?(mfn: number, out: Int32Array): void;
}

/** Where a domain's `CONSOLEIO_write` output goes (Xen's console ring / serial line). */
export interface ConsoleSink {
  /** Receives `bytes` the guest wrote (a fresh copy the sink may keep). */
  write(domid: number, bytes: Uint8Array): void;
}

/** Where domain shutdowns are reported (the toolstack's `@releaseDomain` watcher, in Xen). */
export interface ShutdownPort {
  /** Domain `domid` shut down with `SHUTDOWN_*` `reason` (crash = 3). */
  shutdown(domid: number, reason: number): void;
}

/** One decoded `struct mmuext_op` (`@typevisor/mmu`'s `MmuextOp`). */
export interface PvMmuextOp {
  /** `MMUEXT_*` command. */
  readonly cmd: number;
  /** arg1 low 32 bits (`mfn` or `linear_addr`). */
  readonly arg1Lo: number;
  /** arg1 high 32 bits. */
  readonly arg1Hi: number;
  /** arg2: `nr_ents`, `src_mfn`, or the vCPU bitmap for the `_MULTI` flushes. */
  readonly arg2: number;
}

/** A PV vCPU's descriptor-table registers as the MMU keeps them (`@typevisor/mmu`'s `PvVcpu`). */
export interface PvDescriptorVcpuView {
  /** MFNs of the GDT frames installed with set_gdt. */
  readonly gdtFrames: readonly number[];
  /** GDT entries. */
  readonly gdtEnts: number;
  /** LDT linear base, low 32 bits. */
  readonly ldtBaseLo: number;
  /** LDT linear base, high 32 bits. */
  readonly ldtBaseHi: number;
  /** LDT entries (0: no LDT). */
  readonly ldtEnts: number;
  /** MFN of the 64-bit user L4 (`MMUEXT_NEW_USER_BASEPTR`), -1 for none; absent: no user mode. */
  readonly userBaseMfn?: number;
}

/** Xen's PV memory-management hypercalls (`@typevisor/mmu`'s `PvMm` has this shape). */
export interface PvMmPort {
  /** Requests completed by the last `mmuUpdate`/`mmuextOp`. */
  readonly done: number;
  /**
   * `HYPERVISOR_mmu_update`: `count` requests laid out as in guest memory (ptrLo, ptrHi, valLo,
   * valHi per request). Returns 0 or -errno.
   */
  mmuUpdate(domid: number, reqs: Int32Array, count: number, foreigndom?: number): number;
  /**
   * `HYPERVISOR_vm_assist(cmd, type)`: 0, -EINVAL for a type the guest's width lacks, -ENOSYS
   * for an unknown command. Optional: without it vm_assist returns -ENOSYS.
   */
  vmAssist?(domid: number, cmd: number, type: number): number;
  /**
   * `HYPERVISOR_set_gdt` for vCPU `vcpu`: `frames` (MFNs) typed as descriptor pages. Returns 0
   * or -errno. Optional: without it set_gdt is -ENOSYS.
   */
  setGdt?(domid: number, vcpu: number, frames: readonly number[], entries: number): number;
  /**
   * `HYPERVISOR_update_descriptor`: a checked write of descriptor `lo:hi` at machine address
   * `ma`. Returns 0 or -errno. Optional: without it update_descriptor is -ENOSYS.
   */
  updateDescriptor?(domid: number, ma: number, lo: number, hi: number): number;
  /**
   * Maps (lazily, as Xen's `pv_map_ldt_shadow_page`) the page holding byte `offset` of vCPU
   * `vcpu`'s LDT: its MFN, or -1 when the guest's page cannot be used as a descriptor page.
   */
  mapLdtPage?(domid: number, vcpu: number, offset: number): number;
  /** The domain's paging state: each vCPU's GDT frames and LDT (`PvMm.domain`). */
  domain?(domid: number): { readonly vcpus: readonly PvDescriptorVcpuView[] };
  /**
   * Writable page-table emulation: the slot (`mfn * 512 + index`) of the present, read-only L1
   * entry that maps virtual address `hi:lo` under the root `rootMfn` to an L1 page table of the
   * domain, else -1 (`PvMm.ptwrSlot`). Optional: without it a write to a page table is a #PF.
   */
  ptwrSlot?(domid: number, rootMfn: number, lo: number, hi: number): number;
  /** `HYPERVISOR_mmuext_op` on vCPU `vcpu`. Returns 0 or -errno. */
  mmuextOp(domid: number, vcpu: number, ops: readonly PvMmuextOp[], foreigndom?: number): number;
  /**
   * `HYPERVISOR_update_va_mapping(va, val, flags)` on vCPU `vcpu`'s current page tables, the
   * 64-bit values split into int32 halves. Returns 0 or -errno.
   */
  updateVaMapping(
    domid: number,
    vcpu: number,
    vaLo: number,
    vaHi: number,
    valLo: number,
    valHi: number,
    flags: number,
  ): number;
}
