import { describe, expect, it } from 'vitest';
import {
  __HYPERVISOR_event_channel_op,
  __HYPERVISOR_event_channel_op_compat,
  __HYPERVISOR_grant_table_op,
  __HYPERVISOR_mmu_update,
  __HYPERVISOR_set_timer_op,
  __HYPERVISOR_vcpu_op,
  DeterministicClock,
  dispatchHypercall,
  EVTCHNOP_bind_ipi,
  GNTTABOP_query_size,
  GrantTables,
  type HypercallContext,
  type HypercallHost,
  VCPUOP_stop_periodic_timer,
  VcpuTimers,
  XEN_EFAULT,
  XEN_EINVAL,
  XEN_ENOSYS,
} from '../src/index.ts';
import { evtchnHost } from './helpers.ts';

const ARG = 8 * 4096;
const MS = 1_000_000;

function setup(abi: 'x86_32' | 'x86_64') {
  const { evtchn, dom } = evtchnHost([{ domid: 1, abi, vcpus: 1 }]);
  const mem = dom(1).mem;
  const grants = new GrantTables();
  grants.addDomain({ domid: 1, memory: mem, grantFrames: [15] });
  const clock = new DeterministicClock();
  const fired: number[] = [];
  const timers = new VcpuTimers({ clock, timers: clock, raise: () => fired.push(clock.now()) });
  timers.addVcpu(1, 0);
  const host: HypercallHost = { evtchn, grants, timers };
  const ctx: HypercallContext = { domid: 1, vcpu: 0, abi, guest: mem };
  return { host, ctx, mem, clock, fired };
}

describe('hypercall dispatch', () => {
  it('routes by __HYPERVISOR_* number and refuses unknown numbers with -ENOSYS', () => {
    const { host, ctx, mem } = setup('x86_64');
    const v = new DataView(mem.bytes.buffer, ARG, 64);
    expect(
      dispatchHypercall(host, ctx, __HYPERVISOR_event_channel_op, [
        BigInt(EVTCHNOP_bind_ipi),
        BigInt(ARG),
      ]),
    ).toBe(0);
    expect(v.getUint32(4, true)).toBe(1);
    v.setUint32(0, EVTCHNOP_bind_ipi, true);
    v.setUint32(4, 0, true);
    expect(dispatchHypercall(host, ctx, __HYPERVISOR_event_channel_op_compat, [BigInt(ARG)])).toBe(
      0,
    );
    expect(v.getUint32(8, true)).toBe(2);
    v.setUint16(0, 0x7ff0, true);
    expect(
      dispatchHypercall(host, ctx, __HYPERVISOR_grant_table_op, [
        BigInt(GNTTABOP_query_size),
        BigInt(ARG),
        1n,
      ]),
    ).toBe(0);
    expect(v.getUint32(8, true)).toBe(1);
    expect(dispatchHypercall(host, ctx, __HYPERVISOR_mmu_update, [0n, 0n, 0n, 0n])).toBe(
      -XEN_ENOSYS,
    );
    expect(dispatchHypercall(host, ctx, 99, [])).toBe(-XEN_ENOSYS);
    expect(dispatchHypercall(host, ctx, -1, [])).toBe(-XEN_ENOSYS);
  });

  it("treats register values at the ABI's width", () => {
    const { host, ctx } = setup('x86_64');
    expect(dispatchHypercall(host, ctx, __HYPERVISOR_event_channel_op, [7n, 2n ** 64n - 1n])).toBe(
      -XEN_EFAULT,
    );
    expect(
      dispatchHypercall(host, ctx, __HYPERVISOR_grant_table_op, [6n, BigInt(ARG), 0xffffffffn]),
    ).toBe(-XEN_EINVAL);
    // A count's upper 32 bits are ignored (unsigned int): this is count 1.
    expect(
      dispatchHypercall(host, ctx, __HYPERVISOR_grant_table_op, [6n, BigInt(ARG), 2n ** 32n + 1n]),
    ).toBe(0);
    const c32 = setup('x86_32');
    // On x86_32 only the low 32 bits of a pointer register count.
    expect(
      dispatchHypercall(c32.host, c32.ctx, __HYPERVISOR_event_channel_op, [
        7n,
        2n ** 32n + BigInt(ARG),
      ]),
    ).toBe(0);
  });

  it('passes set_timer_op deadlines whole on x86_64 and split on x86_32', () => {
    const a = setup('x86_64');
    expect(
      dispatchHypercall(a.host, a.ctx, __HYPERVISOR_vcpu_op, [
        BigInt(VCPUOP_stop_periodic_timer),
        0n,
        0n,
      ]),
    ).toBe(0);
    expect(dispatchHypercall(a.host, a.ctx, __HYPERVISOR_set_timer_op, [2n ** 64n - 1n])).toBe(0);
    a.clock.advance(200 * MS);
    expect(a.fired).toEqual([100 * MS]);
    const b = setup('x86_32');
    b.host.timers.stopPeriodic(1, 0);
    expect(dispatchHypercall(b.host, b.ctx, __HYPERVISOR_set_timer_op, [BigInt(7 * MS), 0n])).toBe(
      0,
    );
    b.clock.advance(10 * MS);
    expect(b.fired).toEqual([7 * MS]);
  });
});
