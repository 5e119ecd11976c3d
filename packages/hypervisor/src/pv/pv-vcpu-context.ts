/**
 * Loads a checked 64-bit `vcpu_guest_context` (VCPUOP_initialise) into a {@link PvVcpu}, as
 * Xen's `arch_set_info_guest` does for a 64-bit PV vCPU: the GDT frames, the user and kernel
 * page tables typed (`MMUEXT_NEW_USER_BASEPTR`, `MMUEXT_NEW_BASEPTR` on that vCPU), the LDT,
 * then the registers, virtual IDT, callbacks, kernel stack and segment bases.
 *
 * The vCPU runs on Xen's flat kernel segments (FLAT_KERNEL_CS/SS) whatever selectors the
 * context names, with null data selectors and the FS / kernel GS bases from the context; IOPL
 * is virtualised and RFLAGS.IF forced on, as Xen does.
 *
 * @see xen/arch/x86/domain.c (arch_set_info_guest)
 */
import { XEN_EINVAL } from '../abi/errno.ts';
import type { VcpuGuestContext64 } from '../hypercall/vcpu-initialise.ts';
import type { PvMmPort } from './ports.ts';
import type { PvVcpu } from './pv-vcpu.ts';

/** `MMUEXT_NEW_BASEPTR`, `MMUEXT_SET_LDT`, `MMUEXT_NEW_USER_BASEPTR`. */
const NEW_BASEPTR = 5;
const SET_LDT = 13;
const NEW_USER_BASEPTR = 15;
/** CALLBACKTYPE_failsafe and CALLBACKTYPE_syscall. */
const CALLBACK_FAILSAFE = 1;
const CALLBACK_SYSCALL = 2;
const RFLAGS_IOPL = 3n << 12n;
const RFLAGS_IF = 1n << 9n;
const SEG_FS = 4;
const SEG_GS = 5;

/** The page-table part of the MMU port, plus the optional GDT installer. */
export type PvContextMmPort = Pick<PvMmPort, 'mmuextOp'> & {
  /** `HYPERVISOR_set_gdt` for vCPU `vcpu` (without it a context with GDT entries is -EINVAL). */
  setGdt?(domid: number, vcpu: number, frames: readonly number[], entries: number): number;
};

function frameOf(address: bigint): number {
  const mfn = BigInt.asUintN(64, address) >> 12n;
  return mfn >= 1n << 31n ? -1 : Number(mfn);
}

/**
 * Loads `c` (already checked with `checkVcpuGuestContext64`) into `vcpu`. Returns 0, or -EINVAL
 * when a page table, the LDT or the GDT cannot be used (nothing is changed then).
 */
export function loadVcpuGuestContext64(
  vcpu: PvVcpu,
  c: VcpuGuestContext64,
  mm: PvContextMmPort,
): number {
  const domid = vcpu.domid;
  const id = vcpu.vcpuId;
  const op = (cmd: number, lo: number, hi: number, arg2: number): number =>
    mm.mmuextOp(domid, id, [{ cmd, arg1Lo: lo, arg1Hi: hi, arg2 }]);
  const kernelMfn = frameOf(c.ctrlreg[3] ?? 0n);
  const userMfn = frameOf(c.ctrlreg[1] ?? 0n);
  if (kernelMfn <= 0 || userMfn < 0) return -XEN_EINVAL;
  const gdtEnts = Number(c.gdtEnts);
  if (gdtEnts > 0) {
    if (mm.setGdt === undefined) return -XEN_EINVAL;
    const frames: number[] = [];
    for (let i = 0; i < Math.ceil(gdtEnts / 512); i++) {
      const f = frameOf((c.gdtFrames[i] ?? 0n) << 12n);
      if (f < 0) return -XEN_EINVAL;
      frames.push(f);
    }
    if (mm.setGdt(domid, id, frames, gdtEnts) !== 0) return -XEN_EINVAL;
  }
  const undoGdt = (): void => {
    if (gdtEnts > 0) mm.setGdt?.(domid, id, [], 0);
  };
  if (userMfn !== 0 && op(NEW_USER_BASEPTR, userMfn, 0, 0) !== 0) {
    undoGdt();
    return -XEN_EINVAL;
  }
  if (op(NEW_BASEPTR, kernelMfn, 0, 0) !== 0) {
    if (userMfn !== 0) op(NEW_USER_BASEPTR, 0, 0, 0);
    undoGdt();
    return -XEN_EINVAL;
  }
  const ldtEnts = Number(c.ldtEnts);
  if (ldtEnts > 0) {
    const base = BigInt.asUintN(64, c.ldtBase);
    op(SET_LDT, Number(base & 0xffffffffn) | 0, Number(base >> 32n) | 0, ldtEnts);
  }

  vcpu.boot({ rip: c.rip, rsp: c.gprs[4] ?? 0n, rsi: c.gprs[6] ?? 0n, cr3: c.ctrlreg[3] ?? 0n });
  const cpu = vcpu.cpu;
  for (let r = 0; r < 16; r++) {
    const u = BigInt.asUintN(64, c.gprs[r] ?? 0n);
    cpu.lo[r] = Number(u & 0xffffffffn) | 0;
    cpu.hi[r] = Number(u >> 32n) | 0;
  }
  cpu.setRflags(Number(((c.rflags & ~RFLAGS_IOPL) | RFLAGS_IF | 2n) & 0xffffffffn) | 0);
  cpu.segBase[SEG_FS] = Number(BigInt.asIntN(64, c.fsBase));
  cpu.segBase[SEG_GS] = Number(BigInt.asIntN(64, c.gsBaseKernel));
  cpu.updateMode();

  const traps = vcpu.traps;
  traps.address.fill(0n);
  traps.flags.fill(0);
  for (const t of c.traps) {
    traps.address[t.vector] = BigInt.asUintN(64, t.address);
    traps.flags[t.vector] = t.flags;
  }
  traps.eventCallback = BigInt.asUintN(64, c.eventCallback);
  const arch = vcpu.arch;
  arch.iopl = Number((c.rflags & RFLAGS_IOPL) >> 12n);
  arch.callbacks.clear();
  if (c.failsafeCallback !== 0n) arch.registerCallback(CALLBACK_FAILSAFE, c.failsafeCallback, 0);
  if (c.syscallCallback !== 0n) arch.registerCallback(CALLBACK_SYSCALL, c.syscallCallback, 0);
  arch.setKernelStack(c.kernelSs, c.kernelSp);
  arch.gsUserBase = BigInt.asUintN(64, c.gsBaseUser);
  arch.vmAssist = BigInt.asUintN(64, c.vmAssist);
  return 0;
}
