/** A virtual network for tests: guests with netfront, netback in dom0, one learning bridge. */
import { expect } from 'vitest';
import { LearningBridge, Netback, Netfront, plugDevice } from '../src/index.ts';
import { MemoryFabric, MemoryXenstore } from '../src/testing/index.ts';

/** The MAC of guest `n` (00:16:3e:00:00:nn). */
export function mac(n: number): string {
  return `00:16:3e:00:00:${n.toString(16).padStart(2, '0')}`;
}

/** An Ethernet frame with an experimental ethertype and a filler or given payload. */
export function frame(dst: string, src: string, payload: number | Uint8Array = 46): Uint8Array {
  const bytes = (m: string) => m.split(':').map((x) => Number.parseInt(x, 16));
  const body = typeof payload === 'number' ? new Uint8Array(payload).fill(0xab) : payload;
  const out = new Uint8Array(14 + body.length);
  out.set([...bytes(dst), ...bytes(src), 0x88, 0xb5]);
  out.set(body, 14);
  return out;
}

/** How {@link network}'s `addGuest` attaches a guest. */
export interface GuestOptions {
  vlan?: number;
  rate?: string;
  multicastControl?: boolean;
  /** Shape `rate` in netback (delay, Linux-style) with the rig's clock and timers. */
  shaped?: boolean;
  /** Receive buffers the guest's netfront keeps posted. */
  rxBuffers?: number;
  /** Also called with each frame the guest receives (a guest network stack). */
  onFrame?: (frame: Uint8Array) => void;
}

/** A guest on the network: its frontend, backend and received frames. */
export interface Guest {
  domid: number;
  front: Netfront;
  back: Netback;
  inbox: Uint8Array[];
  verified: boolean[];
}

export async function network() {
  const xs = new MemoryXenstore();
  const fabric = new MemoryFabric();
  let now = 0;
  const clock = { now: () => now };
  const timers: { at: number; fn: () => void }[] = [];
  const setTimer = (ms: number, fn: () => void) => {
    timers.push({ at: now + ms, fn });
  };
  /** Advances the clock, firing due timers in order. */
  const tick = (ms: number) => {
    now += ms;
    timers.sort((x, y) => x.at - y.at);
    while (timers.length > 0 && (timers[0]?.at ?? Number.POSITIVE_INFINITY) <= now)
      timers.shift()?.fn();
    return now;
  };
  const bridge = new LearningBridge(clock);
  const guests: Guest[] = [];
  const addGuest = async (domid: number, opts: GuestOptions = {}): Promise<Guest> => {
    const paths = await plugDevice(xs.client(), {
      type: 'vif',
      devid: 0,
      backendDomid: 0,
      frontendDomid: domid,
      backendKeys: { mac: mac(domid), ...(opts.rate === undefined ? {} : { rate: opts.rate }) },
      frontendKeys: { mac: mac(domid), handle: '0' },
    });
    const back = new Netback({
      xenbus: xs.client(),
      backendPath: paths.backend,
      mapper: fabric.domain(0).mapper,
      events: fabric.domain(0).events,
      bridge,
      ...(opts.vlan === undefined ? {} : { vlan: opts.vlan }),
      ...(opts.shaped === true ? { clock, setTimer } : {}),
    });
    await back.start();
    const inbox: Uint8Array[] = [];
    const verified: boolean[] = [];
    const d = fabric.domain(domid);
    const front = new Netfront({
      xenbus: xs.client(),
      frontendPath: paths.frontend,
      grants: d.grants,
      pages: d.pages,
      events: d.events,
      onFrame: (f, ok) => {
        inbox.push(f);
        verified.push(ok);
        opts.onFrame?.(f);
      },
      ...(opts.multicastControl === undefined ? {} : { multicastControl: opts.multicastControl }),
      ...(opts.rxBuffers === undefined ? {} : { rxBuffers: opts.rxBuffers }),
    });
    expect(await front.connect()).toBe(true);
    const g = { domid, front, back, inbox, verified };
    guests.push(g);
    return g;
  };
  const settle = async () => {
    for (let i = 0; i < 20; i++) await Promise.resolve();
  };
  return { xs, fabric, bridge, addGuest, settle, tick };
}
