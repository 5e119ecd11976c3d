/**
 * `HYPERVISOR_multicall(call_list, nr_calls)` (#13): runs a batch of 64-byte
 * `struct multicall_entry` (op, result, args[6]) in order and stores each call's return value in
 * its `result` field. The batch itself returns 0, or -EFAULT when an entry cannot be read or its
 * result cannot be written (the entries before it have run). A nested multicall is -EINVAL in
 * its entry, an op number that does not fit 32 bits -ENOSYS.
 *
 * Continuations, when the port asks for them: before an entry other than the first the batch
 * may be preempted (`hypercall_preempt_check`), and an entry whose call was itself preempted
 * gets its continuation arguments written back into the entry (no result) and preempts the
 * batch there; either way the port learns where to resume (`continueAt`: that entry, the
 * entries left), as Xen's `hypercall_create_continuation(__HYPERVISOR_multicall, ...)`. The
 * batch otherwise runs to the end, or stops after a call that shuts the domain down.
 *
 * @see xen/common/multicall.c (do_multicall), xen/arch/x86/pv/hypercall.c
 *   (arch_do_multicall_call), xen/include/public/xen.h (struct multicall_entry)
 */
import { XEN_EFAULT, XEN_EINVAL, XEN_ENOSYS } from '../abi/errno.ts';
import { __HYPERVISOR_iret, __HYPERVISOR_multicall } from '../abi/hypercalls.ts';
import type { HypercallContext } from './context.ts';
import { readStruct, writeStruct } from './guest-io.ts';

/** Size of a 64-bit `struct multicall_entry`. */
export const MULTICALL_ENTRY_SIZE = 64;

/** How a multicall runs its entries (the PV table) and learns that the domain stopped. */
export interface MulticallPort {
  /** Runs hypercall `op` with the entry's argument words; returns its result. */
  call(op: number, args: readonly bigint[]): number;
  /** Whether the batch must stop (the last call shut the domain down). */
  stopped(): boolean;
  /** After a call: its continuation arguments if it was preempted, else null. */
  preempted?(): readonly bigint[] | null;
  /** Before an entry after the first: whether the batch is preempted now. */
  preemptNow?(): boolean;
  /** The batch was preempted: resume at the entry at `list` with `left` entries. */
  continueAt?(list: number, left: number): void;
}

/** Runs a multicall batch of `count` entries at `list`; never throws for guest-chosen values. */
export function multicall(
  port: MulticallPort,
  ctx: HypercallContext,
  list: number,
  count: number,
): number {
  const result = new DataView(new ArrayBuffer(8));
  const args: bigint[] = [0n, 0n, 0n, 0n, 0n, 0n];
  for (let i = 0; i < count; i++) {
    const at = list + i * MULTICALL_ENTRY_SIZE;
    if (i > 0 && port.preemptNow?.() === true) {
      port.continueAt?.(at, count - i);
      return 0;
    }
    const e = readStruct(ctx.guest, at, MULTICALL_ENTRY_SIZE);
    if (e === null) return -XEN_EFAULT;
    const op = e.getBigUint64(0, true);
    for (let a = 0; a < 6; a++) args[a] = e.getBigUint64(16 + a * 8, true);
    let rc: number;
    if (op > 0xffffffffn || op === BigInt(__HYPERVISOR_iret)) rc = -XEN_ENOSYS;
    else if (op === BigInt(__HYPERVISOR_multicall)) rc = -XEN_EINVAL;
    else rc = port.call(Number(op), args);
    const cont = port.preempted?.() ?? null;
    if (cont !== null) {
      // The sub-call's continuation goes back into the entry, which runs again on resumption.
      for (let a = 0; a < cont.length && a < 6; a++)
        e.setBigUint64(16 + a * 8, cont[a] ?? 0n, true);
      if (!writeStruct(ctx.guest, at, e)) return -XEN_EFAULT;
      port.continueAt?.(at, count - i);
      return 0;
    }
    result.setBigInt64(0, BigInt(rc), true);
    if (!writeStruct(ctx.guest, at + 8, result)) return -XEN_EFAULT;
    if (port.stopped()) return 0;
  }
  return 0;
}
