import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  COMPAT_GDT_LIMIT,
  compatFlatSegmentAttr,
  DEFAULT_XEN_VERSION,
  DeterministicClock,
  EventChannels,
  FIRST_RESERVED_GDT_PAGE,
  FLAT_RING1_CS,
  FLAT_RING1_DS,
  FLAT_RING3_CS32,
  FLAT_RING3_DS32,
  fillCompatGdtPage,
  fillHypercallPage32,
  GrantTables,
  HYPERVISOR_COMPAT_VIRT_START,
  type MemoryReservationPort,
  PagedGuestMemory,
  PV_NEXT,
  Pv32Traps,
  type PvHypercallEnv,
  pv32Hypercall,
  VcpuTimers,
} from '../src/index.ts';

/** A 32-bit guest's hypercall environment over 16 frames of paged memory (frame 9 absent). */
function env32(): { env: PvHypercallEnv; mem: PagedGuestMemory; out: number[] } {
  const mem = new PagedGuestMemory(16);
  mem.removeFrame(9);
  const evtchn = new EventChannels({ upcallPending: () => undefined });
  evtchn.addDomain({ domid: 1, abi: 'x86_32', vcpus: 1, memory: mem, sharedInfoAddress: 0 });
  const grants = new GrantTables();
  grants.addDomain({ domid: 1, memory: mem, grantFrames: [15] });
  const clock = new DeterministicClock();
  const timers = new VcpuTimers({ clock, timers: clock, raise: () => undefined });
  timers.addVcpu(1, 0);
  const out: number[] = [];
  return {
    mem,
    out,
    env: {
      host: { evtchn, grants, timers },
      ctx: { domid: 1, vcpu: 0, abi: 'x86_32', guest: mem },
      mm: null,
      flushTlb: () => undefined,
      setBasePointer: () => undefined,
      console: (b) => out.push(...b),
      version: DEFAULT_XEN_VERSION,
      shutdownReason: -1,
      shutdownCode: -1,
      next: PV_NEXT.CONTINUE,
    },
  };
}

describe('the 32-bit PV hypercall page', () => {
  it('holds `mov $i,%eax; int $0x82; ret` at 32-byte strides, the iret slot pushing EAX first, 0xCC elsewhere', () => {
    const page = new Uint8Array(4096);
    fillHypercallPage32(page);
    for (let i = 0; i < 128; i++) {
      const slot = [...page.subarray(i * 32, i * 32 + 32)];
      const stub =
        i === 23 ? [0x50, 0xb8, 23, 0, 0, 0, 0xcd, 0x82] : [0xb8, i, 0, 0, 0, 0xcd, 0x82, 0xc3];
      expect(slot.slice(0, stub.length)).toEqual(stub);
      expect(slot.slice(stub.length).every((b) => b === 0xcc)).toBe(true);
    }
  });
});

describe("Xen's compat GDT page", () => {
  it('holds the four flat compat descriptors at selectors 0xe018..0xe030 of reserved page 14, all else zero', () => {
    const page = new Uint8Array(4096);
    page.fill(0x55);
    fillCompatGdtPage(page);
    const v = new DataView(page.buffer);
    const desc = (sel: number): bigint =>
      v.getBigUint64((sel & 0xfff8) - FIRST_RESERVED_GDT_PAGE * 4096, true);
    expect(desc(FLAT_RING1_CS)).toBe(0x00cfbb000000ffffn);
    expect(desc(FLAT_RING1_DS)).toBe(0x00cfb3000000ffffn);
    expect(desc(FLAT_RING3_CS32)).toBe(0x00cffb000000ffffn);
    expect(desc(FLAT_RING3_DS32)).toBe(0x00cff3000000ffffn);
    const nonZero = [...page].filter((b) => b !== 0).length;
    expect(nonZero).toBe(4 * 4); // per descriptor: limit 15:0 (2 bytes), access byte, G/D/limit 19:16
    expect(COMPAT_GDT_LIMIT).toBe((FLAT_RING3_DS32 | 7) & 0xffff);
  });

  it('matches the segment-cache attributes the vCPU loads directly (descriptor bits 8-15 and 20-23)', () => {
    const page = new Uint8Array(4096);
    fillCompatGdtPage(page);
    const v = new DataView(page.buffer);
    for (const sel of [FLAT_RING1_CS, FLAT_RING1_DS, FLAT_RING3_CS32, FLAT_RING3_DS32]) {
      const hi = v.getUint32((sel & 0xfff8) - FIRST_RESERVED_GDT_PAGE * 4096 + 4, true);
      expect(compatFlatSegmentAttr(sel)).toBe((hi >> 8) & 0xf0ff);
    }
    expect(compatFlatSegmentAttr(0x10)).toBe(-1);
    expect(compatFlatSegmentAttr(0xe033 + 8)).toBe(-1);
  });
});

describe('the compat virtual IDT (Pv32Traps)', () => {
  /** Writes compat trap_info entries (8 bytes) at `at`, then a terminator. */
  function writeTable(
    mem: PagedGuestMemory,
    at: number,
    entries: readonly { vector: number; flags: number; cs: number; eip: number }[],
  ): void {
    const buf = new Uint8Array((entries.length + 1) * 8);
    const v = new DataView(buf.buffer);
    entries.forEach((e, i) => {
      v.setUint8(i * 8, e.vector);
      v.setUint8(i * 8 + 1, e.flags);
      v.setUint16(i * 8 + 2, e.cs, true);
      v.setUint32(i * 8 + 4, e.eip, true);
    });
    mem.write(at, buf);
  }

  it('installs 8-byte trap_info entries up to the zero address, with RPL 0 selectors made RPL 1 (any table)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            vector: fc.integer({ min: 0, max: 255 }),
            flags: fc.integer({ min: 0, max: 255 }),
            cs: fc.integer({ min: 0, max: 0xffff }),
            eip: fc.integer({ min: 1, max: 0xffffffff }),
          }),
          { maxLength: 40 },
        ),
        (entries) => {
          const mem = new PagedGuestMemory(4);
          writeTable(mem, 0x1000, entries);
          const t = new Pv32Traps();
          expect(t.setTrapTable(mem, 0x1000)).toBe(0);
          const want = new Map<number, { flags: number; cs: number; eip: number }>();
          for (const e of entries) want.set(e.vector, e);
          for (let vec = 0; vec < 256; vec++) {
            const w = want.get(vec);
            expect(t.address[vec]).toBe(w?.eip ?? 0);
            if (w === undefined) continue;
            expect(t.flags[vec]).toBe(w.flags);
            expect(t.cs[vec]).toBe((w.cs & 3) === 0 ? w.cs | 1 : w.cs);
          }
        },
      ),
    );
  });

  it('keeps the entries before an unreadable one and returns -EFAULT; NULL clears the table', () => {
    const mem = new PagedGuestMemory(4);
    mem.removeFrame(2);
    // One entry ending exactly where the absent frame begins: its terminator is unreadable.
    mem.write(0x2000 - 8, Uint8Array.of(14, 0, 0x18, 0xe0, 0x34, 0x12, 0, 0));
    const t = new Pv32Traps();
    expect(t.setTrapTable(mem, 0x2000 - 8)).toBe(-14); // the terminator lies in the absent frame
    expect(t.address[14]).toBe(0x1234);
    expect(t.cs[14]).toBe(0xe019);
    expect(t.setTrapTable(mem, 0)).toBe(0);
    expect(t.address[14]).toBe(0);
  });

  it('fixes up callback and kernel-stack selectors as Xen does (RPL 0 becomes 1)', () => {
    const t = new Pv32Traps();
    expect(t.setCallbacks(0xe018, 0x1000, 0xe019, 0x2000)).toBe(0);
    expect([t.eventCs, t.eventEip, t.failsafeCs, t.failsafeEip]).toEqual([
      0xe019, 0x1000, 0xe019, 0x2000,
    ]);
    expect(t.stackSwitch(0xe020, 0x9000)).toBe(0);
    expect([t.kernelSs, t.kernelSp]).toEqual([0xe021, 0x9000]);
  });
});

describe('the compat hypercall table', () => {
  it('reports platform_parameters as a 4-byte virt_start of 0xF5800000', () => {
    const { env, mem } = env32();
    mem.write(0x3000, Uint8Array.of(0xaa, 0xaa, 0xaa, 0xaa, 0xaa));
    expect(pv32Hypercall(env, 17, [5n, 0x3000n])).toBe(0);
    const b = new Uint8Array(5);
    mem.read(0x3000, b);
    expect(new DataView(b.buffer).getUint32(0, true)).toBe(HYPERVISOR_COMPAT_VIRT_START);
    expect(b[4]).toBe(0xaa); // nothing past the 32-bit xen_ulong_t
    expect(pv32Hypercall(env, 17, [5n, 0x9000n])).toBe(-14);
    expect(pv32Hypercall(env, 17, [0n, 0n])).toBe(0x40011);
  });

  it("decodes SCHEDOP_poll's 16-byte compat sched_poll, and needs the MMU for the MMU calls", () => {
    const { env, mem } = env32();
    // { ports = 0x2000 (4-byte handle), nr_ports = 129, timeout = 0 }: read at offset 4, the
    // count is too large; the 64-bit layout would have seen 0 ports (and returned 0).
    mem.write(0x1000, Uint8Array.of(0, 0x20, 0, 0, 129, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
    expect(pv32Hypercall(env, 29, [3n, 0x1000n])).toBe(-22); // SCHEDOP_poll
    expect(pv32Hypercall(env, 29, [3n, 0x9000n])).toBe(-14); // unreadable struct
    expect(pv32Hypercall(env, 29, [0n, 0n])).toBe(0); // SCHEDOP_yield
    expect(env.next).toBe(PV_NEXT.YIELD);
    expect(pv32Hypercall(env, 21, [0n, 3n])).toBe(-38); // vm_assist without an MMU
    expect(pv32Hypercall(env, 26, [0x1000n, 1n, 0n, 0x7ff0n])).toBe(-38); // mmuext_op
    expect(pv32Hypercall(env, 14, [0x1000n, 0x1063n, 0n, 2n])).toBe(-38); // update_va_mapping
  });

  it('runs event channels with the x86_32 ABI: bind_ipi then send sets the 32-bit pending word', () => {
    const { env, mem } = env32();
    mem.write(0x3000, new Uint8Array(8)); // evtchn_bind_ipi { vcpu = 0; port }
    expect(pv32Hypercall(env, 32, [7n, 0x3000n])).toBe(0);
    const b = new Uint8Array(8);
    mem.read(0x3000, b);
    const port = new DataView(b.buffer).getUint32(4, true);
    expect(port).toBeGreaterThan(0);
    mem.write(0x3100, Uint8Array.of(port, 0, 0, 0));
    expect(pv32Hypercall(env, 32, [4n, 0x3100n])).toBe(0);
    const word = new Uint8Array(4);
    mem.read(2048, word); // shared_info.evtchn_pending[0], 32 bits on x86_32
    expect(new DataView(word.buffer).getUint32(0, true)).toBe(1 << port);
  });

  it('returns an int32 result or -errno for any number and 32-bit arguments, never throwing', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 80 }),
        fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 5, maxLength: 5 }),
        (nr, args) => {
          const { env } = env32();
          const rc = pv32Hypercall(
            env,
            nr,
            args.map((a) => BigInt(a)),
          );
          expect(Number.isInteger(rc)).toBe(true);
          expect(rc | 0).toBe(rc);
          expect(rc >= 0 || rc >= -4095).toBe(true);
        },
      ),
    );
  });
});

/** A real in-memory frame pool for one domain (domid 1), as the toolstack's machine provides. */
class FramePool implements MemoryReservationPort {
  readonly owned = new Set<number>();
  private readonly free: number[] = [];
  private nextGpfn: number;
  constructor(own: number, spare: number) {
    for (let i = 0; i < own; i++) this.owned.add(100 + i);
    for (let i = 0; i < spare; i++) this.free.push(500 + i);
    this.nextGpfn = own;
  }
  exists(domid: number): boolean {
    return domid === 1;
  }
  currentReservation(): number {
    return this.owned.size;
  }
  maximumReservation(): number {
    return this.owned.size + this.free.length;
  }
  maximumRamPage(): number {
    return 1024;
  }
  maximumGpfn(): number {
    return this.nextGpfn - 1;
  }
  memoryMap(): readonly { addr: number; size: number; type: number }[] {
    return [{ addr: 0, size: this.maximumReservation() * 4096, type: 1 }];
  }
  m2pFrames(): readonly number[] {
    return [7];
  }
  increase(): number {
    const mfn = this.free.pop();
    if (mfn === undefined) return -12;
    this.owned.add(mfn);
    return mfn;
  }
  populate(_domid: number, gpfn: number): number {
    this.nextGpfn = Math.max(this.nextGpfn, gpfn + 1);
    return this.increase();
  }
  decrease(_domid: number, mfn: number): number {
    if (!this.owned.delete(mfn)) return -22;
    this.free.push(mfn);
    return 0;
  }
}

describe('compat memory_op (32-bit layouts)', () => {
  function withPool(own = 8, spare = 4) {
    const e = env32();
    const pool = new FramePool(own, spare);
    return { ...e, pool, env: { ...e.env, memory: pool } };
  }
  const u32s = (mem: PagedGuestMemory, at: number, n: number): number[] => {
    const b = new Uint8Array(n * 4);
    mem.read(at, b);
    const v = new DataView(b.buffer);
    return Array.from({ length: n }, (_, i) => v.getUint32(i * 4, true));
  };

  it('answers the domid queries, maximum_ram_page, a compat memory_map and the compat M2P window', () => {
    const { env, mem } = withPool();
    mem.write(0x3000, Uint8Array.of(0xf0, 0x7f)); // DOMID_SELF
    expect(pv32Hypercall(env, 12, [3n, 0x3000n])).toBe(8); // current_reservation
    expect(pv32Hypercall(env, 12, [4n, 0x3000n])).toBe(12); // maximum_reservation
    expect(pv32Hypercall(env, 12, [2n, 0n])).toBe(1024); // maximum_ram_page
    mem.write(0x3000, Uint8Array.of(5, 0)); // another domain
    expect(pv32Hypercall(env, 12, [3n, 0x3000n])).toBe(-3); // -ESRCH
    // struct xen_memory_map { u32 nr_entries; u32 buffer } with room for 4 entries at 0x3100.
    mem.write(0x3000, Uint8Array.of(4, 0, 0, 0, 0x00, 0x31, 0, 0));
    expect(pv32Hypercall(env, 12, [9n, 0x3000n])).toBe(0);
    expect(u32s(mem, 0x3000, 1)).toEqual([1]);
    const e820 = new Uint8Array(20);
    mem.read(0x3100, e820);
    const v = new DataView(e820.buffer);
    expect([v.getBigUint64(0, true), v.getBigUint64(8, true), v.getUint32(16, true)]).toEqual([
      0n,
      12n * 4096n,
      1,
    ]);
    expect(pv32Hypercall(env, 12, [12n, 0x3200n])).toBe(0); // machphys_mapping: 12 bytes
    expect(u32s(mem, 0x3200, 4)).toEqual([0xf5800000, 0xffe00000, 0x297ffff, 0]);
    expect(pv32Hypercall(env, 12, [9n, 0x9000n])).toBe(-14);
  });

  it('balloons out and back in with 20-byte reservations and 4-byte extents', () => {
    const { env, mem, pool } = withPool();
    // decrease_reservation of MFNs 100 and 101: { extent_start, nr_extents, order, flags, domid }
    mem.write(0x3100, Uint8Array.of(100, 0, 0, 0, 101, 0, 0, 0));
    const r = new Uint8Array(20);
    const rv = new DataView(r.buffer);
    rv.setUint32(0, 0x3100, true);
    rv.setUint32(4, 2, true);
    rv.setUint16(16, 0x7ff0, true);
    mem.write(0x3000, r);
    expect(pv32Hypercall(env, 12, [1n, 0x3000n])).toBe(2);
    expect(pool.owned.has(100) || pool.owned.has(101)).toBe(false);
    // populate_physmap at gpfns 20 and 21: the MFNs come back in the same 4-byte cells.
    mem.write(0x3100, Uint8Array.of(20, 0, 0, 0, 21, 0, 0, 0));
    expect(pv32Hypercall(env, 12, [6n, 0x3000n])).toBe(2);
    const mfns = u32s(mem, 0x3100, 2);
    for (const m of mfns) expect(pool.owned.has(m)).toBe(true);
    expect(pool.currentReservation()).toBe(8);
    // A MFN the domain does not own stops the batch where it is (nothing-done count, no errno).
    mem.write(0x3100, Uint8Array.of(0xff, 0xff, 0, 0));
    expect(pv32Hypercall(env, 12, [1n, 0x3000n])).toBe(0);
    // Order > 0 extents are not modelled: nothing done.
    rv.setUint32(8, 1, true);
    mem.write(0x3000, r);
    expect(pv32Hypercall(env, 12, [0n, 0x3000n])).toBe(0);
  });

  it('returns an int32 count, value or -errno for any command and argument, never throwing', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.uint8Array({ minLength: 20, maxLength: 20 }),
        (cmd, arg, struct) => {
          const { env, mem } = withPool();
          mem.write(0x3000, struct);
          for (const a of [arg, 0x3000]) {
            const rc = pv32Hypercall(env, 12, [BigInt(cmd), BigInt(a)]);
            expect(Number.isInteger(rc)).toBe(true);
            expect(rc | 0).toBe(rc);
          }
        },
      ),
    );
  });
});
