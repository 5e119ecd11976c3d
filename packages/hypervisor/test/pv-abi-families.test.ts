import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_XEN_VERSION,
  DeterministicClock,
  type E820Entry,
  EventChannels,
  GrantTables,
  type MemoryReservationPort,
  memoryOp,
  multicall,
  PagedGuestMemory,
  PirqTable,
  PV_NEXT,
  type PvHypercallEnv,
  PvVcpuArch,
  pvHypercall,
  VcpuTimers,
  XENMEM_current_reservation,
  XENMEM_decrease_reservation,
  XENMEM_increase_reservation,
  XENMEM_machphys_mfn_list,
  XENMEM_memory_map,
  XENMEM_populate_physmap,
  xenCpuidLeaf,
} from '../src/index.ts';

/**
 * A real in-memory frame owner: a pool of machine frames, per-domain ownership, an M2P table and
 * a reservation limit, as the toolstack's port over the MMU's Machine provides them.
 */
class FramePool implements MemoryReservationPort {
  readonly owner = new Map<number, number>();
  readonly m2p = new Map<number, number>();
  private next = 1000;
  readonly domains: readonly number[];
  readonly max: number;
  constructor(domains: readonly number[], max: number) {
    this.domains = domains;
    this.max = max;
  }
  exists(domid: number): boolean {
    return this.domains.includes(domid);
  }
  currentReservation(domid: number): number {
    let n = 0;
    for (const d of this.owner.values()) if (d === domid) n++;
    return n;
  }
  maximumReservation(): number {
    return this.max;
  }
  maximumRamPage(): number {
    return 1 << 16;
  }
  maximumGpfn(): number {
    return 0;
  }
  memoryMap(): readonly E820Entry[] {
    return [{ addr: 0, size: this.max * 4096, type: 1 }];
  }
  m2pFrames(): readonly number[] {
    return Array.from({ length: 1024 }, (_, i) => 50_000 + i);
  }
  increase(domid: number): number {
    if (this.currentReservation(domid) >= this.max) return -12;
    const mfn = this.next++;
    this.owner.set(mfn, domid);
    return mfn;
  }
  populate(domid: number, gpfn: number): number {
    const mfn = this.increase(domid);
    if (mfn >= 0) this.m2p.set(mfn, gpfn);
    return mfn;
  }
  decrease(domid: number, mfn: number): number {
    if (this.owner.get(mfn) !== domid) return -22;
    this.owner.delete(mfn);
    this.m2p.delete(mfn);
    return 0;
  }
}

const SELF = 0x7ff0;
const ARG = 0x1000; // argument structs
const LIST = 0x2000; // extent lists and buffers
const UNMAPPED = 9 * 4096;

function setup() {
  const mem = new PagedGuestMemory(16);
  mem.removeFrame(9);
  const evtchn = new EventChannels({ upcallPending: () => undefined });
  evtchn.addDomain({ domid: 1, abi: 'x86_64', vcpus: 1, memory: mem, sharedInfoAddress: 0 });
  const grants = new GrantTables();
  grants.addDomain({ domid: 1, memory: mem, grantFrames: [15] });
  const clock = new DeterministicClock();
  const timers = new VcpuTimers({ clock, timers: clock, raise: () => undefined });
  timers.addVcpu(1, 0);
  const pool = new FramePool([0, 1], 64);
  for (let i = 0; i < 8; i++) pool.increase(1);
  const cpu = {
    segBase: new Float64Array(6),
    segSel: new Int32Array(8),
    segLimit: new Int32Array(8),
    segAttr: new Int32Array(8),
    cr0: 0,
    instructions: 1234,
  };
  const events = { eventCallback: 0n };
  const arch = new PvVcpuArch(cpu, events);
  const out: number[] = [];
  const env: PvHypercallEnv = {
    host: { evtchn, grants, timers },
    ctx: { domid: 1, vcpu: 0, abi: 'x86_64', guest: mem },
    mm: null,
    flushTlb: () => undefined,
    setBasePointer: () => undefined,
    console: (b) => out.push(...b),
    version: DEFAULT_XEN_VERSION,
    shutdownReason: -1,
    shutdownCode: -1,
    next: PV_NEXT.CONTINUE,
    memory: pool,
    arch,
    callbacks: arch,
    physdev: arch,
    vcpuOps: arch,
  };
  const view = new DataView(mem.bytes.buffer);
  return { mem, view, pool, cpu, events, arch, env, out };
}

function reservation(
  view: DataView,
  list: number,
  nr: number,
  order: number,
  domid: number,
): number {
  view.setBigUint64(ARG, BigInt(list), true);
  view.setBigUint64(ARG + 8, BigInt(nr), true);
  view.setUint32(ARG + 16, order, true);
  view.setUint32(ARG + 20, 0, true);
  view.setUint16(ARG + 24, domid, true);
  return ARG;
}

describe('memory_op over a frame pool', () => {
  it('balloons a frame out and back: decrease, decrease again, populate and increase', () => {
    const { view, pool, env } = setup();
    const mine = [...pool.owner.keys()][0] ?? -1;
    const q = (cmd: number, arg: number) => memoryOp(pool, env.ctx, cmd, arg);
    view.setBigUint64(LIST, BigInt(mine), true);
    expect(q(XENMEM_decrease_reservation, reservation(view, LIST, 1, 0, SELF))).toBe(1);
    expect(pool.currentReservation(1)).toBe(7);
    expect(q(XENMEM_decrease_reservation, reservation(view, LIST, 1, 0, SELF))).toBe(0);
    view.setBigUint64(LIST, 77n, true);
    expect(q(XENMEM_populate_physmap, reservation(view, LIST, 1, 0, SELF))).toBe(1);
    const mfn = Number(view.getBigUint64(LIST, true));
    expect(pool.m2p.get(mfn)).toBe(77);
    expect(q(XENMEM_increase_reservation, reservation(view, 0, 2, 0, SELF))).toBe(2);
    expect(pool.currentReservation(1)).toBe(10);
    // A null list is guest address 0 for decrease (Xen copies from it like any other address).
    view.setBigUint64(0, BigInt([...pool.owner.keys()][1] ?? -1), true);
    expect(q(XENMEM_decrease_reservation, reservation(view, 0, 1, 0, SELF))).toBe(1);
    expect(pool.currentReservation(1)).toBe(9);
  });

  it('reports "nothing done" for foreign, missing and bad arguments, as Xen does', () => {
    const { view, pool, env } = setup();
    const q = (cmd: number, arg: number) => memoryOp(pool, env.ctx, cmd, arg);
    expect(q(XENMEM_increase_reservation, reservation(view, LIST, 1, 0, 0))).toBe(0);
    expect(q(XENMEM_increase_reservation, reservation(view, LIST, 1, 0, 300))).toBe(0);
    expect(q(XENMEM_increase_reservation, reservation(view, LIST, 1, 20, SELF))).toBe(0);
    expect(q(XENMEM_increase_reservation, UNMAPPED)).toBe(0);
    expect(q(XENMEM_decrease_reservation, reservation(view, UNMAPPED, 1, 0, SELF))).toBe(0);
    // An increase whose list cannot be written keeps the frame (Xen's order: allocate, copy).
    expect(q(XENMEM_increase_reservation, reservation(view, UNMAPPED, 1, 0, SELF))).toBe(0);
    expect(pool.currentReservation(1)).toBe(9);
    // The start extent rides in cmd >> 6.
    expect(q(XENMEM_increase_reservation | (3 << 6), reservation(view, 0, 5, 0, SELF))).toBe(5);
    expect(pool.currentReservation(1)).toBe(11);
    expect(q(XENMEM_increase_reservation | (9 << 6), reservation(view, 0, 5, 0, SELF))).toBe(9);
  });

  it('answers reservation queries with -EPERM for another domain, -ESRCH for none, -EFAULT for a bad pointer', () => {
    const { view, pool, env } = setup();
    const q = (domid: number) => {
      view.setUint16(ARG, domid, true);
      return memoryOp(pool, env.ctx, XENMEM_current_reservation, ARG);
    };
    expect(q(SELF)).toBe(8);
    expect(q(1)).toBe(8);
    expect(q(0)).toBe(-1);
    expect(q(300)).toBe(-3);
    expect(memoryOp(pool, env.ctx, XENMEM_current_reservation, UNMAPPED)).toBe(-14);
    expect(memoryOp(null, env.ctx, XENMEM_current_reservation, ARG)).toBe(-38);
  });

  it('copies as much of the memory map and M2P list as the caller has room for', () => {
    const { view, pool, env } = setup();
    view.setUint32(ARG, 0, true);
    view.setBigUint64(ARG + 8, BigInt(LIST), true);
    expect(memoryOp(pool, env.ctx, XENMEM_memory_map, ARG)).toBe(0);
    expect(view.getUint32(ARG, true)).toBe(0);
    view.setUint32(ARG, 4, true);
    expect(memoryOp(pool, env.ctx, XENMEM_memory_map, ARG)).toBe(0);
    expect(view.getUint32(ARG, true)).toBe(1);
    expect(view.getBigUint64(LIST + 8, true)).toBe(64n * 4096n);
    expect(view.getUint32(LIST + 16, true)).toBe(1);
    view.setBigUint64(ARG + 8, BigInt(UNMAPPED), true);
    expect(memoryOp(pool, env.ctx, XENMEM_memory_map, ARG)).toBe(-14);
    view.setUint32(ARG, 8, true);
    view.setBigUint64(ARG + 8, BigInt(LIST), true);
    expect(memoryOp(pool, env.ctx, XENMEM_machphys_mfn_list, ARG)).toBe(0);
    expect(view.getUint32(ARG + 16, true)).toBe(2); // 1024 M2P frames = 2 extents of 2 MiB
    expect(view.getBigUint64(LIST + 8, true)).toBe(50_512n);
  });
});

describe('multicall', () => {
  it('stores each entry result, refuses nesting and ops above 32 bits, and fails on unreadable entries', () => {
    const { view, env } = setup();
    const entry = (i: number, op: bigint, ...args: bigint[]) => {
      view.setBigUint64(LIST + i * 64, op, true);
      view.setBigUint64(LIST + i * 64 + 8, 0x5a5an, true);
      for (const [j, a] of args.entries()) view.setBigUint64(LIST + i * 64 + 16 + j * 8, a, true);
    };
    entry(0, 17n, 0n); // xen_version
    entry(1, 99n);
    entry(2, 13n, BigInt(LIST), 1n); // nested
    entry(3, 0x100000011n);
    entry(4, 21n, 0n, 99n); // vm_assist, bad type
    expect(pvHypercall(env, 13, [BigInt(LIST), 5n])).toBe(0);
    const result = (i: number) => view.getBigInt64(LIST + i * 64 + 8, true);
    expect([0, 1, 2, 3, 4].map(result)).toEqual([0x40011n, -38n, -22n, -38n, -22n]);
    expect(pvHypercall(env, 13, [BigInt(UNMAPPED), 1n])).toBe(-14);
    expect(pvHypercall(env, 13, [BigInt(UNMAPPED), 0n])).toBe(0);
  });

  it('stops after a call that shuts the domain down', () => {
    const { view, env, mem } = setup();
    view.setUint32(ARG, 0, true); // SHUTDOWN_poweroff
    view.setBigUint64(LIST, 29n, true);
    view.setBigUint64(LIST + 16, 2n, true); // SCHEDOP_shutdown
    view.setBigUint64(LIST + 24, BigInt(ARG), true);
    view.setBigUint64(LIST + 64, 17n, true);
    view.setBigUint64(LIST + 72, 0x5a5an, true);
    let calls = 0;
    const rc = multicall(
      {
        call: (op, args) => {
          calls++;
          return pvHypercall(env, op, args);
        },
        stopped: () => env.next === PV_NEXT.SHUTDOWN,
      },
      { domid: 1, vcpu: 0, abi: 'x86_64', guest: mem },
      LIST,
      2,
    );
    expect(rc).toBe(0);
    expect(calls).toBe(1);
    expect(view.getBigUint64(LIST + 72, true)).toBe(0x5a5an);
  });
});

describe('the small PV families', () => {
  it('toggles only the vm_assist types Xen allows a 64-bit PV domain', () => {
    const { env, arch } = setup();
    const ok = [0, 1, 2, 3, 4, 5, 32];
    for (let t = 0; t < 70; t++) {
      expect(pvHypercall(env, 21, [0n, BigInt(t)])).toBe(ok.includes(t) ? 0 : -22);
    }
    expect(arch.vmAssist).toBe(0x10000003fn);
    expect(pvHypercall(env, 21, [1n, 32n])).toBe(0);
    expect(arch.vmAssist).toBe(0x3fn);
    expect(pvHypercall(env, 21, [2n, 0n])).toBe(-38);
  });

  it('sets segment bases (signed linear addresses), CR0.TS and the kernel stack', () => {
    const { env, cpu, arch } = setup();
    expect(pvHypercall(env, 25, [0n, 0x123456n])).toBe(0);
    expect(cpu.segBase[4]).toBe(0x123456);
    expect(pvHypercall(env, 25, [2n, 0xffff888000000000n])).toBe(0);
    expect(cpu.segBase[5]).toBe(-0x778000000000);
    expect(pvHypercall(env, 25, [1n, 0x7000n])).toBe(0);
    expect(arch.gsUserBase).toBe(0x7000n);
    expect(pvHypercall(env, 25, [0n, 0x0000800000000000n])).toBe(-22);
    expect(pvHypercall(env, 25, [4n, 0n])).toBe(-22);
    expect(pvHypercall(env, 5, [1n])).toBe(0);
    expect(cpu.cr0 & 8).toBe(8);
    expect(pvHypercall(env, 5, [0n])).toBe(0);
    expect(cpu.cr0 & 8).toBe(0);
    expect(pvHypercall(env, 3, [0xe02bn, 0x8000n])).toBe(0);
    expect([arch.kernelSs, arch.kernelSp]).toEqual([0xe02b, 0x8000n]);
  });

  it("loads SEGBASE_GS_USER_SEL's selector into GS with RPL 3, its descriptor's base as the user GS base, and a selector that cannot load as null", () => {
    const { env, cpu, arch } = setup();
    // A GDT in memory: 0x10 DPL-3 data at base 0x12345678, 0x18 DPL-1 data, 0x20 not present,
    // 0x28 execute-only DPL-3 code, 0x30 readable conforming DPL-0 code at base 0x00abc000,
    // 0x38 a call gate; nothing past 0x40.
    const gdt = new Map<number, [number, number]>([
      [0x10, [0x5678ffff, 0x12cff334]],
      [0x18, [0x0000ffff, 0x00cfb300]],
      [0x20, [0x0000ffff, 0x00cf7300]],
      [0x28, [0x0000ffff, 0x00cff800]],
      [0x30, [0xc000ffff, 0x00cf9eab]],
      [0x38, [0x00100000, 0x0000ec00]],
    ]);
    const tables = {
      descLo: 0,
      descHi: 0,
      readDescriptor(selector: number): boolean {
        const d = gdt.get(selector & 0xfff8);
        if (d === undefined) return false;
        [tables.descLo, tables.descHi] = d;
        return true;
      },
    };
    arch.segments = tables;
    cpu.segBase[5] = 0x7000; // the kernel's GS base, untouched by all of this
    const load = (sel: number) => {
      expect(pvHypercall(env, 25, [3n, BigInt(sel)])).toBe(0);
      expect(cpu.segBase[5]).toBe(0x7000);
      expect(arch.gsUserSel).toBe(cpu.segSel[5]);
      return [cpu.segSel[5], arch.gsUserBase];
    };
    expect(load(0x10)).toEqual([0x13, 0x12345678n]);
    expect(cpu.segLimit[5]).toBe(-1);
    expect((cpu.segAttr[5] ?? 0) & 0xff).toBe(0xf3);
    expect(load(0x30)).toEqual([0x33, 0xabc000n]);
    for (const bad of [0x18, 0x20, 0x28, 0x38, 0x40, 0xfff8]) expect(load(bad)).toEqual([0, 0n]);
    expect(load(0x10 | 0x20000)).toEqual([0x13, 0x12345678n]); // the upper bits of `base` ignored
    expect(load(2)).toEqual([2, 0n]); // null selectors keep their RPL
    arch.segments = null;
    expect(load(0x13)).toEqual([0, 0n]);
    expect(
      PvVcpuArch.fromState(JSON.parse(JSON.stringify(arch.getState())), cpu, { eventCallback: 0n })
        .gsUserSel,
    ).toBe(0);
  });

  it('SEGBASE_GS_USER_SEL with any argument and any descriptor returns 0, keeps the kernel GS base and loads either the selector (RPL 3) with its descriptor base or null with base 0', () => {
    const { env, cpu, arch } = setup();
    const table = { descLo: 0, descHi: 0, lo: 0, hi: 0, present: true };
    arch.segments = {
      get descLo() {
        return table.descLo;
      },
      get descHi() {
        return table.descHi;
      },
      readDescriptor(_selector: number): boolean {
        if (!table.present) return false;
        table.descLo = table.lo;
        table.descHi = table.hi;
        return true;
      },
    };
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        fc.boolean(),
        (arg, lo, hi, present) => {
          Object.assign(table, { lo, hi, present });
          cpu.segBase[5] = 0x5000;
          expect(pvHypercall(env, 25, [3n, arg])).toBe(0);
          expect(cpu.segBase[5]).toBe(0x5000);
          const sel = Number(arg & 0xffffn);
          const got = cpu.segSel[5] ?? -1;
          expect(arch.gsUserSel).toBe(got);
          // Loadable at CPL 0 with RPL 3: a present code/data descriptor, readable if code, DPL 3
          // unless conforming code (Intel SDM Vol. 2B, MOV to a segment register).
          const type = (hi >>> 8) & 0x1f;
          const loadable =
            present &&
            (hi & 0x8000) !== 0 &&
            (type & 0x10) !== 0 &&
            ((type & 0x08) === 0 || (type & 0x02) !== 0) &&
            ((type & 0x0c) === 0x0c || ((hi >>> 13) & 3) === 3);
          const base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
          if (sel <= 3) expect([got, arch.gsUserBase]).toEqual([sel, 0n]);
          else if (loadable) expect([got, arch.gsUserBase]).toEqual([sel | 3, BigInt(base)]);
          else expect([got, arch.gsUserBase]).toEqual([0, 0n]);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('registers callbacks, routes the event one to the event slot and unregisters only NMI', () => {
    const { env, view, events, arch } = setup();
    const reg = (type: number, address: bigint) => {
      view.setUint16(ARG, type, true);
      view.setUint16(ARG + 2, 0, true);
      view.setBigUint64(ARG + 8, address, true);
      return pvHypercall(env, 30, [0n, BigInt(ARG)]);
    };
    expect(reg(0, 0x4000n)).toBe(0);
    expect(events.eventCallback).toBe(0x4000n);
    expect([1, 2, 4, 5, 7].map((t) => reg(t, 0x5000n))).toEqual([0, 0, 0, 0, 0]);
    expect([3, 6, 8, 99].map((t) => reg(t, 0x5000n))).toEqual([-38, -38, -38, -38]);
    expect(reg(0, 0x0000800000000000n)).toBe(-22);
    view.setUint16(ARG, 4, true);
    expect(pvHypercall(env, 30, [1n, BigInt(ARG)])).toBe(0);
    expect(arch.callbacks.has(4)).toBe(false);
    view.setUint16(ARG, 0, true);
    expect(pvHypercall(env, 30, [1n, BigInt(ARG)])).toBe(-22);
    expect(pvHypercall(env, 30, [0n, BigInt(UNMAPPED)])).toBe(-14);
  });

  it('hands out free PIRQs top-down (GSI requests from 16 up) and survives a state round trip', () => {
    const { env, view, arch } = setup();
    const free = (type: number) => {
      view.setUint32(ARG, type, true);
      expect(pvHypercall(env, 33, [23n, BigInt(ARG)])).toBe(0);
      return view.getUint32(ARG + 4, true);
    };
    expect([free(0), free(0), free(1)]).toEqual([287, 286, 16]);
    const state = JSON.parse(JSON.stringify(arch.getState()));
    const cpu2 = {
      segBase: new Float64Array(6),
      segSel: new Int32Array(8),
      segLimit: new Int32Array(8),
      segAttr: new Int32Array(8),
      cr0: 0,
      instructions: 0,
    };
    const copy = PvVcpuArch.fromState(state, cpu2, { eventCallback: 0n });
    expect(copy.getState()).toEqual(arch.getState());
    const t = new PirqTable(20, 18);
    expect([t.allocate(1), t.allocate(1), t.allocate(1), t.allocate(0), t.allocate(0)]).toEqual([
      16, 17, 19, 18, -28,
    ]);
  });

  it('registers a runstate area and writes it at once, as Linux requires', () => {
    const { env, view, arch } = setup();
    const vcpuOp = (cmd: number, vcpu: number, arg: number) =>
      pvHypercall(env, 24, [BigInt(cmd), BigInt(vcpu), BigInt(arg)]);
    view.setBigUint64(ARG, BigInt(LIST), true);
    view.setUint32(LIST, 0xeeee, true);
    expect(vcpuOp(5, 0, ARG)).toBe(0);
    expect([view.getUint32(LIST, true), view.getBigUint64(LIST + 16, true)]).toEqual([0, 1234n]);
    expect(arch.runstateArea).toBe(LIST);
    view.setBigUint64(ARG, BigInt(UNMAPPED), true);
    expect(vcpuOp(5, 0, ARG)).toBe(0); // guest-addressable, not mapped: Xen ignores the fault
    view.setBigUint64(ARG, 0xffff800000000000n, true);
    expect(vcpuOp(5, 0, ARG)).toBe(-14);
    expect(vcpuOp(5, 0, UNMAPPED)).toBe(-14);
    expect(vcpuOp(5, 1, ARG)).toBe(-2);
    expect(vcpuOp(3, 0, 0)).toBe(1);
    expect(vcpuOp(4, 0, LIST)).toBe(0);
    expect(vcpuOp(12, 0, LIST)).toBe(-22);
  });

  it('reports Xen leaves through xenCpuidLeaf and leaves others to the CPU', () => {
    const out = new Int32Array(4);
    const info = { major: 4, minor: 17, tscKhz: 2_000_000, machineFrames: 65536 };
    expect(xenCpuidLeaf(0x40000000, 0, info, out)).toBe(true);
    const sig = String.fromCharCode(
      ...[1, 2, 3].flatMap((r) => [0, 8, 16, 24].map((s) => ((out[r] ?? 0) >>> s) & 0xff)),
    );
    expect([out[0], sig]).toEqual([0x40000005, 'XenVMMXenVMM']);
    expect(xenCpuidLeaf(0x40000001, 0, info, out) && out[0]).toBe(0x40011);
    expect(xenCpuidLeaf(0x40000003, 0, info, out) && [out[1], out[2], out[3]]).toEqual([
      0, 2_000_000, 1,
    ]);
    expect(xenCpuidLeaf(0x40000005, 0, info, out) && out[1]).toBe(28); // 2^16 frames of 4 KiB
    expect(xenCpuidLeaf(0x40000005, 1, info, out) && out[1]).toBe(0);
    expect(xenCpuidLeaf(0x400000ff, 0, info, out) && [...out]).toEqual([0, 0, 0, 0]);
    expect(xenCpuidLeaf(0x40000100, 0, info, out)).toBe(false);
    expect(xenCpuidLeaf(0, 0, info, out)).toBe(false);
  });
});

/** Every errno the new families may return. */
const XEN_ERRNOS = new Set([-1, -2, -3, -6, -12, -14, -16, -17, -22, -28, -38]);

describe('hostile arguments to the new families', () => {
  it('never throw and return a count, a value or one of Xen’s errnos', () => {
    const families = [3, 5, 12, 13, 21, 24, 25, 29, 30, 33];
    const word = fc.oneof(
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      fc.constantFrom(0n, BigInt(ARG), BigInt(LIST), BigInt(UNMAPPED), 0x7ff0n, 1n << 47n),
      fc.bigInt({ min: 0n, max: 80n }),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...families),
        fc.array(word, { minLength: 5, maxLength: 5 }),
        fc.uint8Array({ minLength: 256, maxLength: 256 }),
        (nr, args, bytes) => {
          const { env, mem } = setup();
          mem.bytes.set(bytes, ARG);
          mem.bytes.set(bytes, LIST);
          let rc = 0;
          expect(() => {
            rc = pvHypercall(env, nr, args);
          }).not.toThrow();
          expect(Number.isInteger(rc)).toBe(true);
          if (rc < 0) expect(XEN_ERRNOS.has(rc)).toBe(true);
        },
      ),
      { numRuns: 600 },
    );
  });
});
