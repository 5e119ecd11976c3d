import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_XEN_VERSION,
  DeterministicClock,
  EventChannels,
  GrantTables,
  isSuspended,
  PagedGuestMemory,
  PV_NEXT,
  type PvHypercallEnv,
  pv32Hypercall,
  pvHypercall,
  RESUME_HOW,
  resumeSuspendedDomain,
  SCHEDOP_shutdown,
  SHUTDOWN_suspend,
  type SuspendableVcpu,
  VcpuTimers,
} from '../src/index.ts';

const SCHED_OP = 29;

/** A guest's hypercall environment over 16 frames of paged memory, for either ABI. */
function envFor(abi: 'x86_64' | 'x86_32'): { env: PvHypercallEnv; mem: PagedGuestMemory } {
  const mem = new PagedGuestMemory(16);
  const evtchn = new EventChannels({ upcallPending: () => undefined });
  evtchn.addDomain({ domid: 1, abi, vcpus: 1, memory: mem, sharedInfoAddress: 0 });
  const grants = new GrantTables();
  grants.addDomain({ domid: 1, memory: mem, grantFrames: [15] });
  const clock = new DeterministicClock();
  const timers = new VcpuTimers({ clock, timers: clock, raise: () => undefined });
  timers.addVcpu(1, 0);
  return {
    mem,
    env: {
      host: { evtchn, grants, timers },
      ctx: { domid: 1, vcpu: 0, abi, guest: mem },
      mm: null,
      flushTlb: () => undefined,
      setBasePointer: () => undefined,
      console: () => undefined,
      version: DEFAULT_XEN_VERSION,
      shutdownReason: -1,
      shutdownCode: -1,
      next: PV_NEXT.CONTINUE,
    },
  };
}

/** A vCPU as the resume sees it: its shutdown reason and a register file. */
function vcpu(reason: number, rax = 0): SuspendableVcpu {
  const lo = new Int32Array(16);
  const hi = new Int32Array(16);
  lo[0] = rax;
  return { shutdownReason: reason, cpu: { lo, hi } };
}

describe('SCHEDOP_shutdown(SHUTDOWN_suspend)', () => {
  for (const abi of ['x86_64', 'x86_32'] as const) {
    it(`shuts the ${abi} domain down with reason suspend and returns 0 to the hypercall`, () => {
      const { env, mem } = envFor(abi);
      mem.write(0x1000, new Uint8Array([SHUTDOWN_suspend, 0, 0, 0]));
      const call = abi === 'x86_64' ? pvHypercall : pv32Hypercall;
      // The third argument is start_info's MFN, as Linux's HYPERVISOR_suspend passes it.
      expect(call(env, SCHED_OP, [BigInt(SCHEDOP_shutdown), 0x1000n, 7n])).toBe(0);
      expect(env.shutdownReason).toBe(SHUTDOWN_suspend);
      expect(env.next).toBe(PV_NEXT.SHUTDOWN);
    });
  }
});

describe('resuming a suspended domain', () => {
  it('in place (fast resume): no vCPU stays shut down and vCPU 0 sees 1, "cancelled"', () => {
    const vs = [vcpu(SHUTDOWN_suspend), vcpu(SHUTDOWN_suspend, 55)];
    vs[0]?.cpu.hi.fill(-1);
    expect(isSuspended(vs)).toBe(true);
    expect(resumeSuspendedDomain(vs, RESUME_HOW.CANCELLED)).toBe(0);
    expect(vs.map((v) => v.shutdownReason)).toEqual([-1, -1]);
    expect([vs[0]?.cpu.lo[0], vs[0]?.cpu.hi[0]]).toEqual([1, 0]);
    expect(vs[1]?.cpu.lo[0]).toBe(55); // only vCPU 0 returns from the suspend hypercall
    expect(isSuspended(vs)).toBe(false);
  });

  it('in a new domain: the hypercall returns what the saved context holds (0)', () => {
    const vs = [vcpu(SHUTDOWN_suspend, 0)];
    expect(resumeSuspendedDomain(vs, RESUME_HOW.NEW_DOMAIN)).toBe(0);
    expect(vs[0]?.shutdownReason).toBe(-1);
    expect(vs[0]?.cpu.lo[0]).toBe(0);
  });

  it('refuses a domain that is running or shut down for another reason, changing nothing', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1, max: 255 }).filter((r) => r !== SHUTDOWN_suspend),
        fc.integer(),
        fc.constantFrom(RESUME_HOW.CANCELLED, RESUME_HOW.NEW_DOMAIN),
        (reason, rax, how) => {
          const vs = [vcpu(reason, rax)];
          expect(resumeSuspendedDomain(vs, how)).toBe(-22);
          expect(vs[0]?.shutdownReason).toBe(reason);
          expect(vs[0]?.cpu.lo[0]).toBe(rax);
        },
      ),
    );
    expect(resumeSuspendedDomain([], RESUME_HOW.CANCELLED)).toBe(-22);
  });
});
