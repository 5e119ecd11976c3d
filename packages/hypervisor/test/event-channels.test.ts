import { describe, expect, it } from 'vitest';
import {
  DOMID_SELF,
  EVTCHNSTAT_closed,
  EVTCHNSTAT_interdomain,
  EVTCHNSTAT_ipi,
  EVTCHNSTAT_unbound,
  EVTCHNSTAT_virq,
  EventChannels,
  HypervisorError,
  VIRQ_CONSOLE,
  VIRQ_DEBUG,
  VIRQ_TIMER,
  XEN_EEXIST,
  XEN_EINVAL,
  XEN_ENOENT,
  XEN_ENOSPC,
  XEN_EPERM,
  XEN_ESRCH,
} from '../src/index.ts';
import {
  evtchnHost,
  layoutOf,
  masked,
  pending,
  selector,
  setBit,
  upcallPending,
} from './helpers.ts';

function connected() {
  const host = evtchnHost([{ domid: 0 }, { domid: 1 }, { domid: 2 }]);
  const { evtchn } = host;
  const unbound = evtchn.allocUnbound(1, DOMID_SELF, 0);
  const back = evtchn.bindInterdomain(0, 1, unbound);
  return { ...host, front: unbound, back };
}

describe('event channel allocation', () => {
  it('never hands out port 0 and allocates the lowest free port', () => {
    const { evtchn } = evtchnHost([{ domid: 1 }]);
    expect(evtchn.portState(1, 0)).toBe('reserved');
    expect(evtchn.allocUnbound(1, DOMID_SELF, 0)).toBe(1);
    expect(evtchn.allocUnbound(1, DOMID_SELF, 0)).toBe(2);
    expect(evtchn.close(1, 1)).toBe(0);
    expect(evtchn.allocUnbound(1, DOMID_SELF, 0)).toBe(1);
  });

  it('lets only a privileged domain allocate in another domain', () => {
    const { evtchn } = evtchnHost([{ domid: 0 }, { domid: 1 }, { domid: 2 }]);
    expect(evtchn.allocUnbound(1, 2, 0)).toBe(-XEN_EPERM);
    expect(evtchn.allocUnbound(0, 2, 1)).toBe(1);
    expect(evtchn.status(2, DOMID_SELF, 1)).toEqual({
      status: EVTCHNSTAT_unbound,
      vcpu: 0,
      dom: 1,
      port: 0,
    });
    expect(evtchn.allocUnbound(0, 77, 1)).toBe(-XEN_ESRCH);
    expect(evtchn.allocUnbound(1, 0x7ff2, 1)).toBe(-XEN_ESRCH);
  });

  it('records DOMID_SELF as the remote of an unbound port as the caller itself', () => {
    const { evtchn } = evtchnHost([{ domid: 3 }]);
    const p = evtchn.allocUnbound(3, DOMID_SELF, DOMID_SELF);
    expect(evtchn.status(3, DOMID_SELF, p)).toMatchObject({ status: EVTCHNSTAT_unbound, dom: 3 });
    // A loopback connection within one domain is allowed.
    const q = evtchn.bindInterdomain(3, DOMID_SELF, p);
    expect(evtchn.status(3, DOMID_SELF, q)).toMatchObject({
      status: EVTCHNSTAT_interdomain,
      dom: 3,
      port: p,
    });
  });

  it('reports -ENOSPC when every port is in use', () => {
    const { evtchn } = evtchnHost([{ domid: 1, maxPorts: 4 }]);
    expect([1, 2, 3].map(() => evtchn.bindIpi(1, 0))).toEqual([1, 2, 3]);
    expect(evtchn.bindIpi(1, 0)).toBe(-XEN_ENOSPC);
    expect(evtchn.allocUnbound(1, DOMID_SELF, 0)).toBe(-XEN_ENOSPC);
    expect(evtchn.bindVirq(1, VIRQ_TIMER, 0)).toBe(-XEN_ENOSPC);
  });

  it('has 1024 ports for 32-bit guests and 4096 for 64-bit guests', () => {
    const { evtchn } = evtchnHost([
      { domid: 1, abi: 'x86_32' },
      { domid: 2, abi: 'x86_64' },
    ]);
    expect(evtchn.maxPorts(1)).toBe(1024);
    expect(evtchn.maxPorts(2)).toBe(4096);
    expect(evtchn.close(1, 1024)).toBe(-XEN_EINVAL);
    expect(evtchn.send(2, 4096)).toBe(-XEN_EINVAL);
  });

  it('throws a HypervisorError when the embedder names an unknown caller', () => {
    const { evtchn } = evtchnHost([{ domid: 1 }]);
    expect(() => evtchn.send(9, 1)).toThrow(HypervisorError);
    expect(() =>
      evtchn.addDomain({
        domid: 1,
        abi: 'x86_64',
        vcpus: 1,
        memory: { read: () => false, write: () => false },
        sharedInfoAddress: 0,
      }),
    ).toThrow(HypervisorError);
  });
});

describe('interdomain channels', () => {
  it('binds to an unbound port that accepts the caller and sets the new local port pending', () => {
    const { evtchn, dom, front, back, log } = connected();
    expect(evtchn.status(1, DOMID_SELF, front)).toEqual({
      status: EVTCHNSTAT_interdomain,
      vcpu: 0,
      dom: 0,
      port: back,
    });
    expect(evtchn.status(0, DOMID_SELF, back)).toEqual({
      status: EVTCHNSTAT_interdomain,
      vcpu: 0,
      dom: 1,
      port: front,
    });
    expect(pending(dom(0), back)).toBe(true);
    expect(pending(dom(1), front)).toBe(false);
    expect(log.calls).toEqual([[0, 0]]);
  });

  it('refuses ports that are not unbound or do not accept the caller', () => {
    const { evtchn, front } = connected();
    expect(evtchn.bindInterdomain(2, 1, front)).toBe(-XEN_EINVAL);
    const forDom0 = evtchn.allocUnbound(1, DOMID_SELF, 0);
    expect(evtchn.bindInterdomain(2, 1, forDom0)).toBe(-XEN_EINVAL);
    expect(evtchn.bindInterdomain(2, 1, 5000)).toBe(-XEN_EINVAL);
    expect(evtchn.bindInterdomain(2, 1, 0)).toBe(-XEN_EINVAL);
    expect(evtchn.bindInterdomain(2, 42, 1)).toBe(-XEN_ESRCH);
  });

  it('delivers a send as pending bit, selector bit and upcall, notifying only on the first', () => {
    const { evtchn, dom, front, back, log } = connected();
    log.calls.length = 0;
    expect(evtchn.send(0, back)).toBe(0);
    const d1 = dom(1);
    expect(pending(d1, front)).toBe(true);
    expect(selector(d1, 0, Math.floor(front / 64))).toBe(true);
    expect(upcallPending(d1, 0)).toBe(1);
    expect(log.calls).toEqual([[1, 0]]);
    expect(evtchn.upcallDeliverable(1, 0)).toBe(true);
    d1.mem.bytes[1] = 1; // guest masks upcalls
    expect(evtchn.upcallDeliverable(1, 0)).toBe(false);
    expect(evtchn.send(0, back)).toBe(0);
    expect(log.calls).toHaveLength(1);
  });

  it('leaves a masked port pending without selector or upcall until it is unmasked', () => {
    const { evtchn, dom, front, back, log } = connected();
    log.calls.length = 0;
    const d1 = dom(1);
    setBit(d1.mem, layoutOf('x86_64').evtchn_mask, front, true);
    evtchn.send(0, back);
    expect(pending(d1, front)).toBe(true);
    expect(upcallPending(d1, 0)).toBe(0);
    expect(log.calls).toEqual([]);
    expect(evtchn.unmask(1, front)).toBe(0);
    expect(masked(d1, front)).toBe(false);
    expect(upcallPending(d1, 0)).toBe(1);
    expect(log.calls).toEqual([[1, 0]]);
  });

  it('does not deliver on unmask when the port is not pending', () => {
    const { evtchn, dom, front, log } = connected();
    log.calls.length = 0;
    setBit(dom(1).mem, layoutOf('x86_64').evtchn_mask, front, true);
    expect(evtchn.unmask(1, front)).toBe(0);
    expect(log.calls).toEqual([]);
    expect(evtchn.unmask(1, 99999)).toBe(-XEN_EINVAL);
  });

  it('reverts the peer to unbound, accepting the closer, when one side closes', () => {
    const { evtchn, dom, front, back } = connected();
    expect(pending(dom(0), back)).toBe(true);
    expect(evtchn.close(0, back)).toBe(0);
    expect(pending(dom(0), back)).toBe(false);
    expect(evtchn.status(0, DOMID_SELF, back)).toMatchObject({ status: EVTCHNSTAT_closed });
    expect(evtchn.status(1, DOMID_SELF, front)).toMatchObject({
      status: EVTCHNSTAT_unbound,
      dom: 0,
    });
    // Sends on the now-unbound port are silently dropped.
    expect(evtchn.send(1, front)).toBe(0);
    expect(evtchn.bindInterdomain(0, 1, front)).toBeGreaterThan(0);
  });

  it('moves notifications to another vCPU with bind_vcpu', () => {
    const { evtchn, dom, front, back } = connected();
    expect(evtchn.bindVcpu(1, front, 1)).toBe(0);
    evtchn.send(0, back);
    expect(upcallPending(dom(1), 1)).toBe(1);
    expect(upcallPending(dom(1), 0)).toBe(0);
    expect(evtchn.bindVcpu(1, front, 2)).toBe(-XEN_ENOENT);
    expect(evtchn.bindVcpu(1, 0, 1)).toBe(-XEN_EINVAL);
    expect(evtchn.bindVcpu(1, 77, 1)).toBe(-XEN_EINVAL);
  });

  it("closes a domain's ports when it is removed, leaving peers unbound", () => {
    const { evtchn, front, back } = connected();
    evtchn.removeDomain(1);
    expect(evtchn.status(0, DOMID_SELF, back)).toMatchObject({
      status: EVTCHNSTAT_unbound,
      dom: 1,
    });
    expect(evtchn.hasDomain(1)).toBe(false);
    expect(front).toBe(1);
  });
});

describe('send, close and status errors', () => {
  it('returns -EINVAL for sends on free, reserved and virq ports', () => {
    const { evtchn } = evtchnHost([{ domid: 1 }]);
    expect(evtchn.send(1, 0)).toBe(-XEN_EINVAL);
    expect(evtchn.send(1, 5)).toBe(-XEN_EINVAL);
    expect(evtchn.send(1, -1)).toBe(-XEN_EINVAL);
    const v = evtchn.bindVirq(1, VIRQ_TIMER, 0);
    expect(evtchn.send(1, v)).toBe(-XEN_EINVAL);
    expect(evtchn.close(1, 0)).toBe(-XEN_EINVAL);
    expect(evtchn.close(1, 5)).toBe(-XEN_EINVAL);
  });

  it("lets only privileged domains read the status of other domains' ports", () => {
    const { evtchn } = evtchnHost([{ domid: 0 }, { domid: 1 }, { domid: 2 }]);
    const p = evtchn.bindIpi(2, 1);
    expect(evtchn.status(1, 2, p)).toBe(-XEN_EPERM);
    expect(evtchn.status(0, 2, p)).toEqual({ status: EVTCHNSTAT_ipi, vcpu: 1, dom: 0, port: 0 });
    expect(evtchn.status(1, 2, 9999)).toBe(-XEN_EINVAL);
    expect(evtchn.status(1, 9, 1)).toBe(-XEN_ESRCH);
  });
});

describe('VIRQs and IPIs', () => {
  it('binds per-vCPU VIRQs once per vCPU and global VIRQs only on vCPU 0', () => {
    const { evtchn } = evtchnHost([{ domid: 1, vcpus: 2 }]);
    const t0 = evtchn.bindVirq(1, VIRQ_TIMER, 0);
    const t1 = evtchn.bindVirq(1, VIRQ_TIMER, 1);
    expect(t0).toBeGreaterThan(0);
    expect(t1).toBeGreaterThan(t0);
    expect(evtchn.bindVirq(1, VIRQ_TIMER, 1)).toBe(-XEN_EEXIST);
    expect(evtchn.bindVirq(1, VIRQ_CONSOLE, 1)).toBe(-XEN_EINVAL);
    expect(evtchn.bindVirq(1, VIRQ_DEBUG, 2)).toBe(-XEN_ENOENT);
    expect(evtchn.bindVirq(1, 24, 0)).toBe(-XEN_EINVAL);
    expect(evtchn.status(1, DOMID_SELF, t1)).toEqual({
      status: EVTCHNSTAT_virq,
      vcpu: 1,
      dom: 0,
      port: VIRQ_TIMER,
    });
    expect(evtchn.bindVcpu(1, t1, 0)).toBe(-XEN_EINVAL);
  });

  it('raises a bound VIRQ on its vCPU and forgets the binding when closed', () => {
    const { evtchn, dom, log } = evtchnHost([{ domid: 1, vcpus: 2 }]);
    const t1 = evtchn.bindVirq(1, VIRQ_TIMER, 1);
    evtchn.sendVirq(1, 1, VIRQ_TIMER);
    expect(pending(dom(1), t1)).toBe(true);
    expect(log.calls).toEqual([[1, 1]]);
    expect(evtchn.close(1, t1)).toBe(0);
    expect(pending(dom(1), t1)).toBe(false);
    evtchn.sendVirq(1, 1, VIRQ_TIMER);
    expect(pending(dom(1), t1)).toBe(false);
    expect(evtchn.bindVirq(1, VIRQ_TIMER, 1)).toBe(t1);
  });

  it('delivers a global VIRQ to the vCPU it was rebound to', () => {
    const { evtchn, dom } = evtchnHost([{ domid: 0 }]);
    const c = evtchn.bindVirq(0, VIRQ_CONSOLE, 0);
    expect(evtchn.bindVcpu(0, c, 1)).toBe(0);
    evtchn.sendGlobalVirq(0, VIRQ_CONSOLE);
    expect(upcallPending(dom(0), 1)).toBe(1);
    expect(upcallPending(dom(0), 0)).toBe(0);
  });

  it("sends an IPI to the bound vCPU of the sender's own domain", () => {
    const { evtchn, dom } = evtchnHost([{ domid: 1, vcpus: 2 }]);
    const p = evtchn.bindIpi(1, 1);
    expect(evtchn.bindIpi(1, 2)).toBe(-XEN_ENOENT);
    expect(evtchn.send(1, p)).toBe(0);
    expect(upcallPending(dom(1), 1)).toBe(1);
    expect(evtchn.bindVcpu(1, p, 0)).toBe(-XEN_EINVAL);
  });

  it('refuses physical IRQs', () => {
    const { evtchn } = evtchnHost([{ domid: 0 }]);
    expect(evtchn.bindPirq(0, 3)).toBe(-XEN_EPERM);
  });
});

describe('32-bit guests', () => {
  it('use 32-bit selector words and the compat shared_info offsets', () => {
    const { evtchn, dom } = evtchnHost([{ domid: 0 }, { domid: 1, abi: 'x86_32' }]);
    let p = 0;
    for (let i = 0; i < 40; i++) p = evtchn.bindIpi(1, 0);
    expect(p).toBe(40);
    evtchn.send(1, p);
    const d = dom(1);
    expect((d.mem.bytes[2048 + 5] ?? 0) & 1).toBe(1); // pending bit 40
    expect((d.mem.bytes[4] ?? 0) & 2).toBe(2); // selector word 1 at vcpu_info+4
    setBit(d.mem, 2176, 39, true); // mask port 39 at the compat mask offset
    evtchn.send(1, 39);
    expect((d.mem.bytes[2048 + 4] ?? 0) & 0x80).toBe(0x80);
    expect(evtchn.unmask(1, 39)).toBe(0);
    expect(masked(d, 39)).toBe(false);
  });
});

describe('vcpu_info registration and pollers', () => {
  it('moves vcpu_info, copies it, and marks every selector bit and the upcall pending', () => {
    const { evtchn, dom, log } = evtchnHost([{ domid: 1, vcpus: 2 }]);
    const d = dom(1);
    d.mem.bytes[64 + 1] = 1; // vCPU 1 had upcalls masked
    const target = 3 * 4096 + 128;
    expect(evtchn.registerVcpuInfo(1, 1, target)).toBe(0);
    expect(d.mem.bytes[target + 1]).toBe(1);
    expect([...d.mem.bytes.subarray(target + 8, target + 16)]).toEqual(Array(8).fill(0xff));
    expect(d.mem.bytes[target]).toBe(1);
    expect(log.calls).toEqual([[1, 1]]);
    expect(evtchn.registerVcpuInfo(1, 1, 4 * 4096)).toBe(-XEN_EINVAL);
    expect(evtchn.registerVcpuInfo(1, 0, 4096 - 32)).toBe(-XEN_EINVAL);
    expect(evtchn.registerVcpuInfo(1, 0, 16 * 4096)).toBe(-XEN_EINVAL);
    expect(evtchn.registerVcpuInfo(1, 2, 4096)).toBe(-XEN_ENOENT);
    // Events for vCPU 1 now land in the new vcpu_info.
    d.mem.bytes[target] = 0;
    d.mem.bytes.fill(0, target + 8, target + 16);
    const p = evtchn.bindIpi(1, 1);
    evtchn.send(1, p);
    expect(d.mem.bytes[target]).toBe(1);
    expect(d.mem.bytes[64]).toBe(0);
    const state = JSON.parse(JSON.stringify(evtchn.getState()));
    expect(state.domains[0].registeredVcpuInfo).toEqual([[1, target]]);
    const again = EventChannels.fromState(state, { notifier: log, memoryOf: () => d.mem });
    expect(again.getState()).toEqual(evtchn.getState());
  });

  it('gives vCPUs beyond the 32 shared_info slots events only once registered', () => {
    const { evtchn, dom, log } = evtchnHost([{ domid: 1, vcpus: 40 }]);
    const p = evtchn.bindIpi(1, 35);
    evtchn.send(1, p);
    expect(pending(dom(1), p)).toBe(true);
    expect(log.calls).toEqual([]);
    expect(evtchn.registerVcpuInfo(1, 35, 5 * 4096)).toBe(0);
    expect(log.calls).toEqual([[1, 35]]);
  });

  it('tells pollers about every port that becomes pending, masked or not', () => {
    const polled: Array<[number, number]> = [];
    const { dom } = evtchnHost([{ domid: 1 }]);
    const evtchn = new EventChannels({
      upcallPending: () => {},
      portPending: (d, p) => polled.push([d, p]),
    });
    evtchn.addDomain({
      domid: 1,
      abi: 'x86_64',
      vcpus: 1,
      memory: dom(1).mem,
      sharedInfoAddress: 0,
    });
    const p = evtchn.bindIpi(1, 0);
    const q = evtchn.bindIpi(1, 0);
    setBit(dom(1).mem, layoutOf('x86_64').evtchn_mask, q, true);
    evtchn.send(1, p);
    evtchn.send(1, p);
    evtchn.send(1, q);
    expect(polled).toEqual([
      [1, p],
      [1, q],
    ]);
  });
});

describe('reset and state', () => {
  it('closes every port on EVTCHNOP_reset, subject to privilege', () => {
    const { evtchn, front } = connected();
    expect(evtchn.reset(2, 1)).toBe(-XEN_EPERM);
    expect(evtchn.reset(0, 1)).toBe(0);
    expect(evtchn.portState(1, front)).toBe('free');
    expect(evtchn.reset(0, 55)).toBe(-XEN_ESRCH);
  });

  it('round-trips through plain JSON state', () => {
    const { evtchn, dom, log, front, back } = connected();
    evtchn.bindVirq(1, VIRQ_TIMER, 1);
    evtchn.bindVirq(0, VIRQ_CONSOLE, 0);
    evtchn.bindIpi(2, 1);
    const state = JSON.parse(JSON.stringify(evtchn.getState()));
    const restored = EventChannels.fromState(state, { notifier: log, memoryOf: (d) => dom(d).mem });
    expect(restored.getState()).toEqual(evtchn.getState());
    log.calls.length = 0;
    restored.send(0, back);
    expect(pending(dom(1), front)).toBe(true);
    expect(restored.bindVirq(1, VIRQ_TIMER, 1)).toBe(-XEN_EEXIST);
  });

  it('rejects state whose interdomain links do not match', () => {
    const { evtchn, dom, log } = connected();
    const state = evtchn.getState();
    const broken = { domains: state.domains.filter((d) => d.domid !== 1) };
    expect(() =>
      EventChannels.fromState(broken, { notifier: log, memoryOf: (d) => dom(d).mem }),
    ).toThrow(HypervisorError);
  });
});
