import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CONSOLEIO_write,
  DEFAULT_XEN_VERSION,
  DeterministicClock,
  EventChannels,
  fillHypercallPage64,
  GrantTables,
  type MachineBytesPort,
  MachinePhysicalMemory,
  OwnedFramesMemory,
  P2mGuestMemory,
  PagedGuestMemory,
  PV_DOMU_FEATURES,
  PV_NEXT,
  type PvHypercallEnv,
  pvHypercall,
  VcpuTimers,
} from '../src/index.ts';

/** Machine memory as one byte array (a real, small implementation of the port). */
class ByteMachine implements MachineBytesPort {
  readonly bytes: Uint8Array;
  readonly frames: number;
  constructor(frames: number) {
    this.frames = frames;
    this.bytes = new Uint8Array(frames * 4096);
  }
  readMa8(ma: number): number {
    return this.bytes[ma] ?? 0;
  }
  writeMa8(ma: number, v: number): void {
    this.bytes[ma] = v;
  }
  readMa32(ma: number): number {
    return new DataView(this.bytes.buffer).getInt32(ma, true);
  }
  writeMa32(ma: number, v: number): void {
    new DataView(this.bytes.buffer).setInt32(ma, v, true);
  }
}

function env(): { env: PvHypercallEnv; mem: PagedGuestMemory; out: number[]; flushes: number[] } {
  const mem = new PagedGuestMemory(16);
  mem.removeFrame(9);
  const evtchn = new EventChannels({ upcallPending: () => undefined });
  evtchn.addDomain({ domid: 1, abi: 'x86_64', vcpus: 1, memory: mem, sharedInfoAddress: 0 });
  const grants = new GrantTables();
  grants.addDomain({ domid: 1, memory: mem, grantFrames: [15] });
  const clock = new DeterministicClock();
  const timers = new VcpuTimers({ clock, timers: clock, raise: () => undefined });
  timers.addVcpu(1, 0);
  const out: number[] = [];
  const flushes: number[] = [];
  return {
    mem,
    out,
    flushes,
    env: {
      host: { evtchn, grants, timers },
      ctx: { domid: 1, vcpu: 0, abi: 'x86_64', guest: mem },
      mm: null,
      flushTlb: () => flushes.push(1),
      setBasePointer: () => undefined,
      console: (b) => out.push(...b),
      version: DEFAULT_XEN_VERSION,
      shutdownReason: -1,
      shutdownCode: -1,
      next: PV_NEXT.CONTINUE,
    },
  };
}

const HC = { xen_version: 17, console_io: 18, sched_op: 29, update_va_mapping: 14, bogus: 99 };

describe('the 64-bit PV hypercall page', () => {
  it('holds the syscall stubs of xen-abi §1.3 at 32-byte strides and 0xCC elsewhere', () => {
    const page = new Uint8Array(4096);
    fillHypercallPage64(page);
    expect([...page.subarray(18 * 32, 18 * 32 + 15)]).toEqual([
      0x51, 0x41, 0x53, 0xb8, 18, 0, 0, 0, 0x0f, 0x05, 0x41, 0x5b, 0x59, 0xc3, 0xcc,
    ]);
    expect([...page.subarray(23 * 32, 23 * 32 + 12)]).toEqual([
      0x51, 0x41, 0x53, 0x50, 0xb8, 23, 0, 0, 0, 0x0f, 0x05, 0xcc,
    ]);
    expect(page[4095]).toBe(0xcc);
  });
});

describe('the PV hypercall table', () => {
  it('writes console_io output to the sink and refuses unbacked buffers with -EFAULT', () => {
    const { env: e, mem, out } = env();
    mem.write(0x2000, new TextEncoder().encode('hello'));
    expect(pvHypercall(e, HC.console_io, [BigInt(CONSOLEIO_write), 5n, 0x2000n])).toBe(0);
    expect(String.fromCharCode(...out)).toBe('hello');
    expect(pvHypercall(e, HC.console_io, [0n, 5n, 0x9000n])).toBe(-14);
    expect(pvHypercall(e, HC.console_io, [0n, 5n, 0xffff800000000000n])).toBe(-14);
    expect(pvHypercall(e, HC.console_io, [7n, 5n, 0x2000n])).toBe(-38);
  });

  it('answers xen_version: 4.17, the strings, platform parameters and the domU feature map', () => {
    const { env: e, mem } = env();
    expect(pvHypercall(e, HC.xen_version, [0n, 0n])).toBe(0x40011);
    expect(pvHypercall(e, HC.xen_version, [7n, 0n])).toBe(4096);
    expect(pvHypercall(e, HC.xen_version, [1n, 0x3000n])).toBe(0);
    const buf = new Uint8Array(16);
    mem.read(0x3000, buf);
    expect(String.fromCharCode(...buf.subarray(0, buf.indexOf(0)))).toBe('.0-typevisor');
    expect(pvHypercall(e, HC.xen_version, [5n, 0x3000n])).toBe(0);
    const pp = new Uint8Array(8);
    mem.read(0x3000, pp);
    expect(new DataView(pp.buffer).getBigUint64(0, true)).toBe(0xffff800000000000n);
    mem.write(0x3000, new Uint8Array(8));
    expect(pvHypercall(e, HC.xen_version, [6n, 0x3000n])).toBe(0);
    mem.read(0x3000, pp);
    expect(new DataView(pp.buffer).getUint32(4, true)).toBe(PV_DOMU_FEATURES);
    mem.write(0x3000, Uint8Array.of(1, 0, 0, 0));
    expect(pvHypercall(e, HC.xen_version, [6n, 0x3000n])).toBe(-22);
    expect(pvHypercall(e, HC.xen_version, [1n, 0x9000n])).toBe(-14);
    expect(pvHypercall(e, HC.xen_version, [9n, 0x3000n])).toBe(-1);
    expect(pvHypercall(e, HC.xen_version, [99n, 0x3000n])).toBe(-38);
  });

  it('handles sched_op yield, block and shutdown (reason from guest memory, -EFAULT on a bad pointer)', () => {
    const { env: e, mem } = env();
    expect(pvHypercall(e, HC.sched_op, [0n, 0n])).toBe(0);
    expect(e.next).toBe(PV_NEXT.YIELD);
    expect(pvHypercall(e, HC.sched_op, [1n, 0n])).toBe(0);
    expect(e.next).toBe(PV_NEXT.BLOCK);
    expect(pvHypercall(e, HC.sched_op, [2n, 0x9000n])).toBe(-14);
    expect(e.next).toBe(PV_NEXT.CONTINUE);
    expect(pvHypercall(e, HC.sched_op, [4n, 0x1000n])).toBe(-1);
    expect(pvHypercall(e, HC.sched_op, [42n, 0x1000n])).toBe(-38);
    mem.write(0x1000, Uint8Array.of(3, 0, 0, 0));
    expect(pvHypercall(e, HC.sched_op, [2n, 0x1000n])).toBe(0);
    expect(e.next).toBe(PV_NEXT.SHUTDOWN);
    expect(e.shutdownReason).toBe(3);
  });

  it('routes the core families and refuses unknown numbers and update_va_mapping without an MMU', () => {
    const { env: e } = env();
    expect(pvHypercall(e, HC.bogus, [])).toBe(-38);
    expect(pvHypercall(e, HC.update_va_mapping, [0x1000n, 0n, 0n])).toBe(-38);
    expect(pvHypercall(e, 32, [7n, 0x9000n])).toBe(-14); // EVTCHNOP_bind_ipi, bad pointer
  });

  it('never throws and always returns an int32 for any hypercall number and arguments', () => {
    const arg = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        fc.array(fc.oneof(arg, fc.bigInt({ min: 0n, max: 0x10000n })), {
          minLength: 5,
          maxLength: 5,
        }),
        (nr, args) => {
          const { env: e } = env();
          const rc = pvHypercall(e, nr, args);
          expect(Number.isInteger(rc)).toBe(true);
          expect(rc).toBe(rc | 0);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('machine-memory adapters', () => {
  it('OwnedFramesMemory only reaches frames the domain owns, by machine address', () => {
    const m = new ByteMachine(8);
    const owner = Uint16Array.of(0, 1, 1, 2, 1, 0, 0, 0);
    const mem = new OwnedFramesMemory({ owner }, m, 1);
    expect(mem.hasFrame(1)).toBe(true);
    expect(mem.hasFrame(3)).toBe(false);
    expect(mem.hasFrame(8)).toBe(false);
    expect(mem.write(0x1ffe, Uint8Array.of(1, 2, 3, 4))).toBe(true);
    expect(m.bytes[0x2001]).toBe(4);
    expect(mem.write(0x2ffe, Uint8Array.of(9, 9, 9, 9))).toBe(false); // crosses into dom2's frame
    expect(m.bytes[0x2ffe]).toBe(0); // nothing written
    expect(mem.read(-1, new Uint8Array(1))).toBe(false);
  });

  it('P2mGuestMemory translates PFNs and refuses unpopulated ones', () => {
    const m = new ByteMachine(8);
    const table = [5, 2, 0xffffffff];
    const mem = new P2mGuestMemory({ get: (pfn) => table[pfn] ?? 0xffffffff }, m);
    expect(mem.write(0xffe, Uint8Array.of(1, 2, 3))).toBe(true);
    expect(m.bytes[5 * 4096 + 0xffe]).toBe(1);
    expect(m.bytes[2 * 4096]).toBe(3);
    expect(mem.hasFrame(2)).toBe(false);
    expect(mem.read(0x2000, new Uint8Array(1))).toBe(false);
  });

  it("MachinePhysicalMemory keeps the CPU inside the machine and Xen's read-only pages", () => {
    const m = new ByteMachine(2);
    const pm = new MachinePhysicalMemory(m);
    pm.write32(0x1000, 0x11223344);
    expect(pm.read32(0x1000)).toBe(0x11223344);
    expect(pm.read16(0x1002)).toBe(0x1122);
    // Xen's read-only pages follow the machine: the zero page, the 64-bit and the compat GDT page.
    expect(pm.isRam(0x2000)).toBe(true);
    expect(pm.read32(0x2000)).toBe(0);
    expect(pm.read32(0x3000 + 0x34)).toBe(0x00affb00); // FLAT_KERNEL_CS 0xe033, high dword
    expect(pm.read32(0x4000 + 0x1c)).toBe(0x00cfbb00); // FLAT_RING1_CS 0xe019, high dword
    pm.write32(0x3030, 0); // dropped
    expect(pm.read16(0x3030)).toBe(0xffff);
    expect(pm.isRam(0x5000)).toBe(false);
    expect(pm.read32(0x5000)).toBe(-1);
    pm.write8(0x5000, 1); // dropped
    expect(pm.read8(0x5000)).toBe(0xff);
  });
});
