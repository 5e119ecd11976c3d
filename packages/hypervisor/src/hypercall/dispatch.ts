/**
 * The hypercall table: `__HYPERVISOR_*` number → handler, for the families built so far
 * (event_channel_op #32 and its legacy #16, grant_table_op #20, set_timer_op #15, vcpu_op #24).
 * Arguments arrive as the raw register values (EBX, ECX, EDX, ESI, EDI on x86_32; RDI, RSI, RDX,
 * R10, R8 on x86_64) as bigints; unknown numbers return -ENOSYS, as Xen does.
 *
 * @see xen/arch/x86/pv/hypercall.c
 * @see xen/include/public/xen.h
 */
import { XEN_ENOSYS } from '../abi/errno.ts';
import {
  __HYPERVISOR_event_channel_op,
  __HYPERVISOR_event_channel_op_compat,
  __HYPERVISOR_grant_table_op,
  __HYPERVISOR_set_timer_op,
  __HYPERVISOR_vcpu_op,
} from '../abi/hypercalls.ts';
import type { EventChannels } from '../event-channel/event-channels.ts';
import type { GrantTables } from '../grant-table/grant-tables.ts';
import type { VcpuTimers } from '../time/vcpu-timers.ts';
import type { HypercallContext } from './context.ts';
import { eventChannelOp, eventChannelOpCompat } from './event-channel-op.ts';
import { grantTableOp } from './grant-table-op.ts';
import { setTimerOp, vcpuOp } from './vcpu-op.ts';

/** The services the dispatched hypercalls run on. */
export interface HypercallHost {
  /** Event channels. */
  readonly evtchn: EventChannels;
  /** Grant tables. */
  readonly grants: GrantTables;
  /** Guest timers. */
  readonly timers: VcpuTimers;
}

/** A register value as a guest pointer or count: the ABI's word, or -1 if it cannot be one. */
function word(ctx: HypercallContext, value: bigint | undefined): number {
  const v = BigInt.asUintN(ctx.abi === 'x86_32' ? 32 : 64, value ?? 0n);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(v);
}

/** A register value as a C `int`/`unsigned int` command or count (its low 32 bits). */
function u32(value: bigint | undefined): number {
  return Number(BigInt.asUintN(32, value ?? 0n));
}

/**
 * Runs hypercall `nr` with argument registers `args` for the caller in `ctx` and returns the value
 * for EAX/RAX (0, a positive result, or -XEN_E*). Never throws for guest-chosen values.
 */
export function dispatchHypercall(
  host: HypercallHost,
  ctx: HypercallContext,
  nr: number,
  args: readonly bigint[],
): number {
  switch (nr) {
    case __HYPERVISOR_event_channel_op:
      return eventChannelOp(host.evtchn, ctx, u32(args[0]), word(ctx, args[1]));
    case __HYPERVISOR_event_channel_op_compat:
      return eventChannelOpCompat(host.evtchn, ctx, word(ctx, args[0]));
    case __HYPERVISOR_grant_table_op:
      return grantTableOp(host.grants, ctx, u32(args[0]), word(ctx, args[1]), u32(args[2]));
    case __HYPERVISOR_set_timer_op:
      return setTimerOp(host.timers, ctx, args[0] ?? 0n, args[1] ?? 0n);
    case __HYPERVISOR_vcpu_op:
      return vcpuOp(host, ctx, u32(args[0]), u32(args[1]), word(ctx, args[2]));
    default:
      return -XEN_ENOSYS;
  }
}
