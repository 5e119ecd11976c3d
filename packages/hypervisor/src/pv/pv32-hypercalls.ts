/**
 * The 32-bit PAE PV ("compat") hypercall table: the calls whose arguments or structures differ
 * from the 64-bit ABI are decoded here (mmuext_op's 12-byte `struct mmuext_op`,
 * update_va_mapping's split PTE, xen_version's 4-byte platform_parameters, vm_assist, memory_op's
 * compat structures); the calls
 * with identical layouts are shared with the 64-bit table; everything else goes to the core
 * dispatcher with the caller's ABI set to x86_32 (event channels, grant tables, set_timer_op's
 * split deadline, vcpu_op), and unknown numbers return -ENOSYS.
 * @see xen/arch/x86/pv/hypercall.c, xen/include/hypercall-defs.c (the compat column)
 * @see xen/include/public/arch-x86/xen-x86_32.h, xen/include/public/xen.h
 */
import { XEN_EFAULT, XEN_ENOSYS } from '../abi/errno.ts';
import {
  __HYPERVISOR_console_io,
  __HYPERVISOR_memory_op,
  __HYPERVISOR_mmu_update,
  __HYPERVISOR_mmuext_op,
  __HYPERVISOR_physdev_op,
  __HYPERVISOR_sched_op,
  __HYPERVISOR_update_va_mapping,
  __HYPERVISOR_vm_assist,
  __HYPERVISOR_xen_version,
} from '../abi/hypercalls.ts';
import {
  SCHEDOP_block,
  SCHEDOP_pin_override,
  SCHEDOP_poll,
  SCHEDOP_remote_shutdown,
  SCHEDOP_shutdown,
  SCHEDOP_shutdown_code,
  SCHEDOP_yield,
} from '../abi/sched.ts';
import { XENVER_platform_parameters } from '../abi/version.ts';
import { dispatchHypercall } from '../hypercall/dispatch.ts';
import { MEMOP_CMD_MASK, MEMOP_EXTENT_SHIFT } from '../hypercall/memory-op.ts';
import type { PvMmuextOp } from './ports.ts';
import {
  doneBefore,
  PV_NEXT,
  type PvHypercallEnv,
  preempt,
  preemptLimit,
  pvHypercall,
  writeDone,
} from './pv-hypercalls.ts';
import { memoryOp32 } from './pv32-memory-op.ts';

/**
 * HYPERVISOR_COMPAT_VIRT_START: where the hypervisor hole of a 32-bit PV guest on 64-bit Xen
 * begins (the read-only M2P from here to 0xFFE00000); XENVER_platform_parameters reports it and
 * no pointer argument may reach it.
 * @see xen/arch/x86/include/asm/config.h (__HYPERVISOR_COMPAT_VIRT_START)
 */
export const HYPERVISOR_COMPAT_VIRT_START = 0xf5800000;

/** `MMU_UPDATE_PREEMPTED`: the continuation flag in a count. */
const PREEMPTED = 0x80000000;
/** `MMUEXT_NEW_BASEPTR`. */
const MMUEXT_NEW_BASEPTR = 5;
/** `MMUEXT_TLB_FLUSH_MULTI` and `MMUEXT_INVLPG_MULTI`: arg2 is a vCPU bitmap pointer. */
const MMUEXT_TLB_FLUSH_MULTI = 8;
const MMUEXT_INVLPG_MULTI = 9;
/** sizeof(struct mmuext_op) for x86_32: cmd @0, arg1 @4, arg2 @8. */
const MMUEXT_OP_SIZE_32 = 12;

/** A 32-bit argument register as an unsigned number. */
function u32(v: bigint | undefined): number {
  return Number(BigInt.asUintN(32, v ?? 0n));
}

/**
 * `HYPERVISOR_mmuext_op(ops, count, pdone, foreigndom)` with 12-byte compat `struct mmuext_op`s
 * (`cmd` u32 @0, `arg1` (mfn / linear_addr) u32 @4, `arg2` (nr_ents / vcpumask handle /
 * src_mfn) u32 @8), preempted and resumed as the 64-bit one (MMU_UPDATE_PREEMPTED in the
 * count, `*pdone` so far).
 * @see xen/arch/x86/x86_64/compat/mm.c (compat_mmuext_op)
 */
function mmuextOp32(
  env: PvHypercallEnv,
  opsPtr: number,
  count: number,
  pdone: number,
  foreigndom: number,
): number {
  const mm = env.mm;
  if (mm === null) return -XEN_ENOSYS;
  const base = doneBefore(env, count, pdone);
  const n = count & ~PREEMPTED;
  const limit = preemptLimit(env);
  const g = env.ctx.guest;
  let done = 0;
  const raw = new Uint8Array(MMUEXT_OP_SIZE_32);
  const view = new DataView(raw.buffer);
  const mask = new Uint8Array(4);
  const maskView = new DataView(mask.buffer);
  const one: PvMmuextOp[] = [{ cmd: 0, arg1Lo: 0, arg1Hi: 0, arg2: 0 }];
  while (done < n) {
    if (done >= limit) {
      const next = opsPtr + done * MMUEXT_OP_SIZE_32;
      return preempt(env, next, n - done, pdone, base + done, foreigndom);
    }
    if (!g.read(opsPtr + done * MMUEXT_OP_SIZE_32, raw)) {
      return writeDone(env, pdone, base + done, -XEN_EFAULT);
    }
    const cmd = view.getUint32(0, true);
    let arg2 = view.getUint32(8, true);
    if (cmd === MMUEXT_TLB_FLUSH_MULTI || cmd === MMUEXT_INVLPG_MULTI) {
      if (!g.read(arg2, mask)) return writeDone(env, pdone, base + done, -XEN_EFAULT);
      arg2 = maskView.getUint32(0, true);
    }
    one[0] = { cmd, arg1Lo: view.getInt32(4, true), arg1Hi: 0, arg2 };
    const rc = mm.mmuextOp(env.ctx.domid, env.ctx.vcpu, one, foreigndom);
    env.flushTlb();
    if (rc !== 0) return writeDone(env, pdone, base + done, rc);
    if (cmd === MMUEXT_NEW_BASEPTR) env.setBasePointer(view.getUint32(4, true));
    done++;
    env.work = (env.work ?? 0) + 1;
  }
  return writeDone(env, pdone, base + done, 0);
}

/**
 * The sched_op commands the shared code decodes for a compat caller: the same layout on both
 * ABIs, or (SCHEDOP_poll) decoded by `ctx.abi`.
 */
function sameLayoutSchedOp(cmd: number): boolean {
  return (
    cmd === SCHEDOP_yield ||
    cmd === SCHEDOP_poll ||
    cmd === SCHEDOP_block ||
    cmd === SCHEDOP_shutdown ||
    cmd === SCHEDOP_shutdown_code ||
    cmd === SCHEDOP_remote_shutdown ||
    cmd === SCHEDOP_pin_override
  );
}

/**
 * The compat `HYPERVISOR_memory_op(cmd, arg)`: a reservation command that has done the budget's
 * extents is continued with `cmd | done << MEMOP_EXTENT_SHIFT`, as on 64-bit.
 */
function runMemoryOp32(env: PvHypercallEnv, cmd: number, arg: number): number {
  const preempt = { limit: preemptLimit(env), at: -1 };
  const rc = memoryOp32(env.memory ?? null, env.ctx, cmd, arg, preempt);
  if (preempt.at < 0) return rc;
  env.work = (env.work ?? 0) + (preempt.at - (cmd >>> MEMOP_EXTENT_SHIFT));
  env.next = PV_NEXT.PREEMPTED;
  env.continuation = [
    BigInt(((cmd & MEMOP_CMD_MASK) | (preempt.at << MEMOP_EXTENT_SHIFT)) >>> 0),
    BigInt(arg >>> 0),
  ];
  return 0;
}

/**
 * Runs 32-bit PV hypercall `nr` with argument registers `args` (EBX, ECX, EDX, ESI, EDI; only
 * their low 32 bits count) and returns the value for EAX. `env.ctx.abi` must be `x86_32` and
 * `env.ctx.guest` the vCPU's view below {@link HYPERVISOR_COMPAT_VIRT_START} with ring-1
 * (supervisor) rights. Sets `env.next` (and the shutdown fields). Never throws for guest-chosen
 * values. set_trap_table, set_callbacks, stack_switch, fpu_taskswitch, callback_op and iret
 * change the vCPU and are handled by the vCPU itself.
 */
export function pv32Hypercall(env: PvHypercallEnv, nr: number, args: readonly bigint[]): number {
  env.next = PV_NEXT.CONTINUE;
  const a0 = u32(args[0]);
  const a1 = u32(args[1]);
  switch (nr) {
    case __HYPERVISOR_console_io:
    case __HYPERVISOR_mmu_update: // struct mmu_update is 16 bytes on both ABIs
      return pvHypercall(env, nr, [
        BigInt(a0),
        BigInt(a1),
        BigInt(u32(args[2])),
        BigInt(u32(args[3])),
      ]);
    case __HYPERVISOR_physdev_op: // the structs differ only in set_iobitmap, decoded by ctx.abi
      return pvHypercall(env, nr, [BigInt(a0), BigInt(a1)]);
    case __HYPERVISOR_sched_op:
      return sameLayoutSchedOp(a0) ? pvHypercall(env, nr, [BigInt(a0), BigInt(a1)]) : -XEN_ENOSYS;
    case __HYPERVISOR_xen_version: {
      if (a0 !== XENVER_platform_parameters) return pvHypercall(env, nr, [BigInt(a0), BigInt(a1)]);
      // struct xen_platform_parameters { xen_ulong_t virt_start; }: 4 bytes for x86_32.
      const buf = new Uint8Array(4);
      new DataView(buf.buffer).setUint32(0, HYPERVISOR_COMPAT_VIRT_START, true);
      return env.ctx.guest.write(a1, buf) ? 0 : -XEN_EFAULT;
    }
    case __HYPERVISOR_update_va_mapping: {
      // (va, pte_lo, pte_hi, flags): the 64-bit PAE PTE arrives split in two registers.
      const pte = (BigInt(u32(args[2])) << 32n) | BigInt(a1);
      return pvHypercall(env, nr, [BigInt(a0), pte, BigInt(u32(args[3]))]);
    }
    case __HYPERVISOR_mmuext_op:
      return mmuextOp32(env, a0, a1, u32(args[2]), u32(args[3]));
    case __HYPERVISOR_memory_op:
      return runMemoryOp32(env, a0, a1);
    case __HYPERVISOR_vm_assist: {
      const mm = env.mm;
      if (mm === null || mm.vmAssist === undefined) return -XEN_ENOSYS;
      return mm.vmAssist(env.ctx.domid, a0, a1);
    }
    default:
      return dispatchHypercall(env.host, env.ctx, nr, args);
  }
}
