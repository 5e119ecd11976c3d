/**
 * Architectural constants in the SDM's spelling: register indices, EFLAGS bits, control
 * register bits, EFER, MSR numbers and exception vectors.
 * @see Intel SDM Vol. 3A §2.3 (EFLAGS), §2.5 (control registers), §6.3.1 (exception vectors)
 */

/** General-purpose register indices (REX-extended: 8..15 are R8..R15). @see Intel SDM Vol. 1 §3.4.1 */
export const GPR = {
  /** Accumulator. */ RAX: 0,
  /** Counter. */ RCX: 1,
  /** Data. */ RDX: 2,
  /** Base. */ RBX: 3,
  /** Stack pointer. */ RSP: 4,
  /** Frame pointer. */ RBP: 5,
  /** Source index. */ RSI: 6,
  /** Destination index. */ RDI: 7,
  /** R8. */ R8: 8,
  /** R9. */ R9: 9,
  /** R10. */ R10: 10,
  /** R11. */ R11: 11,
  /** R12. */ R12: 12,
  /** R13. */ R13: 13,
  /** R14. */ R14: 14,
  /** R15. */ R15: 15,
} as const;

/** Segment register indices, in the encoding order of the ModRM `Sreg` field, then LDTR and TR. */
export const SEG = {
  /** Extra segment. */ ES: 0,
  /** Code segment. */ CS: 1,
  /** Stack segment. */ SS: 2,
  /** Data segment. */ DS: 3,
  /** FS. */ FS: 4,
  /** GS. */ GS: 5,
  /** Local descriptor table register. */ LDTR: 6,
  /** Task register. */ TR: 7,
} as const;

/** EFLAGS bits. @see Intel SDM Vol. 1 §3.4.3 */
export const EFLAGS = {
  /** Carry. */ CF: 0x1,
  /** Always-one bit 1. */ FIXED1: 0x2,
  /** Parity. */ PF: 0x4,
  /** Auxiliary carry. */ AF: 0x10,
  /** Zero. */ ZF: 0x40,
  /** Sign. */ SF: 0x80,
  /** Trap. */ TF: 0x100,
  /** Interrupt enable. */ IF: 0x200,
  /** Direction. */ DF: 0x400,
  /** Overflow. */ OF: 0x800,
  /** I/O privilege level (2 bits). */ IOPL: 0x3000,
  /** Nested task. */ NT: 0x4000,
  /** Resume. */ RF: 0x10000,
  /** Virtual-8086 mode. */ VM: 0x20000,
  /** Alignment check. */ AC: 0x40000,
  /** Virtual interrupt flag. */ VIF: 0x80000,
  /** Virtual interrupt pending. */ VIP: 0x100000,
  /** CPUID available. */ ID: 0x200000,
} as const;

/** CR0 bits. @see Intel SDM Vol. 3A §2.5 */
export const CR0 = {
  /** Protection enable. */ PE: 0x1,
  /** Monitor coprocessor. */ MP: 0x2,
  /** x87 emulation. */ EM: 0x4,
  /** Task switched. */ TS: 0x8,
  /** Extension type (always 1). */ ET: 0x10,
  /** Numeric error. */ NE: 0x20,
  /** Write protect. */ WP: 0x10000,
  /** Alignment mask. */ AM: 0x40000,
  /** Not write-through. */ NW: 0x20000000,
  /** Cache disable. */ CD: 0x40000000,
  /** Paging. */ PG: -0x80000000,
} as const;

/** CR4 bits. @see Intel SDM Vol. 3A §2.5 */
export const CR4 = {
  /** Virtual-8086 mode extensions. */ VME: 0x1,
  /** Protected-mode virtual interrupts. */ PVI: 0x2,
  /** Time stamp disable. */ TSD: 0x4,
  /** Debugging extensions. */ DE: 0x8,
  /** Page size extensions (4 MiB pages in 2-level paging). */ PSE: 0x10,
  /** Physical address extension. */ PAE: 0x20,
  /** Machine-check enable. */ MCE: 0x40,
  /** Page global enable. */ PGE: 0x80,
  /** Performance counter enable. */ PCE: 0x100,
  /** FXSAVE/FXRSTOR support. */ OSFXSR: 0x200,
  /** Unmasked SIMD exceptions. */ OSXMMEXCPT: 0x400,
  /** FS/GS base instructions. */ FSGSBASE: 0x10000,
  /** XSAVE enable. */ OSXSAVE: 0x40000,
  /** Supervisor-mode execution prevention. */ SMEP: 0x100000,
  /** Supervisor-mode access prevention. */ SMAP: 0x200000,
} as const;

/** IA32_EFER bits. @see Intel SDM Vol. 3A §2.2.1 */
export const EFER = {
  /** SYSCALL enable. */ SCE: 0x1,
  /** Long mode enable. */ LME: 0x100,
  /** Long mode active (read-only). */ LMA: 0x400,
  /** No-execute enable. */ NXE: 0x800,
} as const;

/** MSR numbers the model implements. @see Intel SDM Vol. 4 §2.1 */
export const MSR = {
  /** IA32_TIME_STAMP_COUNTER. */ IA32_TIME_STAMP_COUNTER: 0x10,
  /** IA32_APIC_BASE. */ IA32_APIC_BASE: 0x1b,
  /** IA32_SYSENTER_CS. */ IA32_SYSENTER_CS: 0x174,
  /** IA32_SYSENTER_ESP. */ IA32_SYSENTER_ESP: 0x175,
  /** IA32_SYSENTER_EIP. */ IA32_SYSENTER_EIP: 0x176,
  /** IA32_PAT. */ IA32_PAT: 0x277,
  /** IA32_EFER. */ IA32_EFER: 0xc0000080,
  /** IA32_STAR (SYSCALL selectors, legacy EIP). */ IA32_STAR: 0xc0000081,
  /** IA32_LSTAR (64-bit SYSCALL target). */ IA32_LSTAR: 0xc0000082,
  /** IA32_CSTAR (compatibility-mode SYSCALL target). */ IA32_CSTAR: 0xc0000083,
  /** IA32_FMASK (SYSCALL RFLAGS mask). */ IA32_FMASK: 0xc0000084,
  /** IA32_FS_BASE. */ IA32_FS_BASE: 0xc0000100,
  /** IA32_GS_BASE. */ IA32_GS_BASE: 0xc0000101,
  /** IA32_KERNEL_GS_BASE (swapped in by SWAPGS). */ IA32_KERNEL_GS_BASE: 0xc0000102,
  /** IA32_TSC_AUX (read by RDTSCP). */ IA32_TSC_AUX: 0xc0000103,
} as const;

/** Exception vectors. @see Intel SDM Vol. 3A §6.3.1, Table 6-1 */
export const VECTOR = {
  /** Divide error. */ DE: 0,
  /** Debug. */ DB: 1,
  /** Non-maskable interrupt. */ NMI: 2,
  /** Breakpoint (INT3). */ BP: 3,
  /** Overflow (INTO). */ OF: 4,
  /** BOUND range exceeded. */ BR: 5,
  /** Invalid opcode. */ UD: 6,
  /** Device not available. */ NM: 7,
  /** Double fault. */ DF: 8,
  /** Invalid TSS. */ TS: 10,
  /** Segment not present. */ NP: 11,
  /** Stack-segment fault. */ SS: 12,
  /** General protection. */ GP: 13,
  /** Page fault. */ PF: 14,
  /** x87 floating-point error. */ MF: 16,
  /** Alignment check. */ AC: 17,
  /** Machine check. */ MC: 18,
  /** SIMD floating-point exception. */ XM: 19,
} as const;

/** Page-fault error-code bits. @see Intel SDM Vol. 3A §4.7 */
export const PF_ERR = {
  /** The fault was a protection violation (the page was present). */ P: 0x1,
  /** The access was a write. */ W: 0x2,
  /** The access was made at CPL 3. */ U: 0x4,
  /** A reserved bit was set in a paging-structure entry. */ RSVD: 0x8,
  /** The access was an instruction fetch. */ I: 0x10,
} as const;

/** Why {@link X86Cpu.run} returned. */
export const EXIT = {
  /** The instruction budget was used up; call `run` again to continue. */ BUDGET: 0,
  /** HLT with interrupts enabled and none pending (or disabled: the CPU is stuck until NMI/injection). */ HLT: 1,
  /** IN/INS: read `exit.port` of `exit.size` bytes; answer with {@link X86Cpu.completeIoIn}. */ IO_IN: 2,
  /** OUT/OUTS: `exit.value` was written to `exit.port`. */ IO_OUT: 3,
  /** A read of unbacked physical memory at `exit.address`; answer with {@link X86Cpu.completeMmioRead}. */ MMIO_READ: 4,
  /** A write of `exit.value` to unbacked physical memory at `exit.address`. */ MMIO_WRITE: 5,
  /** CPUID was intercepted; RIP is past it and the embedder fills EAX..EDX. */ CPUID: 6,
  /** RDMSR was intercepted (`exit.msr`); RIP is past it and the embedder fills EDX:EAX. */ RDMSR: 7,
  /** WRMSR was intercepted (`exit.msr`, `exit.value` low, `exit.valueHi` high); RIP is past it. */ WRMSR: 8,
  /** `INT n` with an intercepted vector (`exit.vector`), e.g. Xen's `int 0x82`; RIP is past it. */ SOFTWARE_INTERRUPT: 9,
  /** SYSCALL was intercepted; RIP is past it and no other state changed. */ SYSCALL: 10,
  /** An intercepted exception (`exit.vector`, `exit.errorCode`) before delivery; RIP is at the faulting instruction. */ EXCEPTION: 11,
  /** A fault while delivering a double fault: the machine would reset. */ TRIPLE_FAULT: 12,
} as const;

/** A value of {@link EXIT}. */
export type ExitReason = (typeof EXIT)[keyof typeof EXIT];
