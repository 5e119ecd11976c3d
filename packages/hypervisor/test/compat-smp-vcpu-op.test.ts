import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { XEN_EEXIST, XEN_EFAULT, XEN_EINVAL, XEN_ENOENT } from '../src/abi/errno.ts';
import {
  VCPUOP_down,
  VCPUOP_get_runstate_info,
  VCPUOP_initialise,
  VCPUOP_is_up,
  VCPUOP_up,
} from '../src/abi/vcpu.ts';
import {
  compatCr3ToPfn,
  compatPfnToCr3,
  compatSmpVcpuOp,
  DeterministicClock,
  EventChannels,
  FLAT_RING1_CS,
  FLAT_RING1_DS,
  GrantTables,
  type HypercallContext,
  PagedGuestMemory,
  PV_RUN,
  Pv32DomainVcpus,
  Pv32Vcpu,
  type PvMmuextOp,
  VCPU_GUEST_CONTEXT_SIZE_32,
  VCPU_LIFECYCLE,
  VcpuTimers,
} from '../src/index.ts';

const DOMID = 1;
/** The guest's frames: 0..15; frame 9 is not present (a bad pointer); 12 is a valid PAE L3. */
const L3_MFN = 12;
const CTX_AT = 0x2000;
const OUT_AT = 0x5000;
const BAD = 9 * 4096;

/** A CPU as plain registers (a small, real implementation of the PvCpuPort shape). */
function plainCpu() {
  return {
    lo: new Int32Array(16),
    hi: new Int32Array(16),
    rip: 0,
    cpl: 0,
    segSel: new Int32Array(8),
    segBase: new Float64Array(8),
    segLimit: new Int32Array(8),
    segAttr: new Int32Array(8),
    gdtBase: 0,
    gdtLimit: 0,
    idtBase: 0,
    idtLimit: 0,
    cr0: 0,
    cr2: 0,
    cr3: 0,
    cr4: 0,
    efer: 0,
    instructions: 0,
    exit: { reason: 0, vector: 0, errorCode: -1 },
    walker: { walk: () => undefined },
    rflags: 0,
    /** Every run stops at an `int $0x82` from ring 1 (the registers say which hypercall). */
    run(): number {
      this.instructions++;
      this.exit.vector = 0x82;
      return 9;
    },
    updateMode: () => undefined,
    flushTlb: () => undefined,
    getRflags(): number {
      return this.rflags;
    },
    setRflags(v: number): void {
      this.rflags = v;
    },
  };
}

/** Base-pointer typing as MMUEXT_NEW_BASEPTR on a 32-bit domain: only frame L3_MFN is an L3. */
class BasePointers {
  readonly base = new Map<number, number>();
  readonly ldt = new Map<number, [number, number]>();
  readonly done = 0;
  mmuUpdate(): number {
    return -XEN_EINVAL;
  }
  updateVaMapping(): number {
    return -XEN_EINVAL;
  }
  mmuextOp(_domid: number, vcpu: number, ops: readonly PvMmuextOp[]): number {
    for (const op of ops) {
      if (op.cmd === 5) {
        if (op.arg1Lo !== L3_MFN) return -XEN_EINVAL;
        this.base.set(vcpu, op.arg1Lo);
      }
      if (op.cmd === 13) this.ldt.set(vcpu, [op.arg1Lo >>> 0, op.arg2]);
    }
    return 0;
  }
}

function setup(count: number) {
  const mem = new PagedGuestMemory(16);
  mem.removeFrame(9);
  const evtchn = new EventChannels({ upcallPending: () => undefined });
  evtchn.addDomain({
    domid: DOMID,
    abi: 'x86_32',
    vcpus: count,
    memory: mem,
    sharedInfoAddress: 0,
  });
  const grants = new GrantTables();
  grants.addDomain({ domid: DOMID, memory: mem, grantFrames: [15] });
  const clock = new DeterministicClock();
  const timers = new VcpuTimers({ clock, timers: clock, raise: () => undefined });
  for (let id = 0; id < count; id++) timers.addVcpu(DOMID, id);
  const host = { evtchn, grants, timers };
  const ups: number[] = [];
  const downs: number[] = [];
  const shutdowns: number[] = [];
  const mm = new BasePointers();
  const vcpus: Pv32Vcpu[] = [];
  const smp = new Pv32DomainVcpus(count, (id) => vcpus[id], mm, {
    up: (v) => ups.push(v),
    down: (v) => downs.push(v),
    runstate: (v) => ({ state: 1, stateEntryTime: 0x1_0000_0002n, time: [1n, 2n, 3n, BigInt(v)] }),
  });
  const machine = {
    frames: 16,
    readMa8: (ma: number) => mem.bytes[ma] ?? 0,
    writeMa8: (ma: number, v: number) => {
      mem.bytes[ma] = v;
    },
    readMa32: () => 0,
    writeMa32: () => undefined,
  };
  for (let id = 0; id < count; id++) {
    vcpus.push(
      new Pv32Vcpu({
        cpu: plainCpu(),
        machine,
        domid: DOMID,
        vcpuId: id,
        host,
        console: { write: () => undefined },
        shutdown: { shutdown: (_d, reason) => shutdowns.push(reason) },
        smp32: smp,
      }),
    );
  }
  const ctx = (vcpu: number): HypercallContext => ({
    domid: DOMID,
    vcpu,
    abi: 'x86_32',
    guest: mem,
  });
  return { mem, ctx, smp, vcpus, ups, downs, shutdowns, mm };
}

type Setup = ReturnType<typeof setup>;

function op(s: Setup, caller: number, cmd: number, vcpu: number, arg = 0): number {
  const r = compatSmpVcpuOp(s.smp, s.ctx(caller), cmd, vcpu, arg);
  if (r === null) throw new Error('not an SMP command');
  return r.rc;
}

/** A good compat vcpu_guest_context for vCPU `k`, written at CTX_AT. */
function writeContext(mem: PagedGuestMemory, k: number, edit?: (v: DataView) => void): void {
  const v = new DataView(new ArrayBuffer(VCPU_GUEST_CONTEXT_SIZE_32));
  const regs = 516;
  v.setUint32(512, 4, true); // VGCF_in_kernel
  v.setUint32(regs + 16, k, true); // edi
  v.setUint32(regs + 0, 0x1234, true); // ebx
  v.setUint32(regs + 24, 0xaaaa, true); // eax
  v.setUint32(regs + 32, 0xc0101000, true); // eip
  v.setUint16(regs + 36, 0xe018, true); // cs, RPL 0: fixed up to 0xe019
  v.setUint32(regs + 40, 0x3002, true); // eflags: IOPL 3, IF clear
  v.setUint32(regs + 44, 0xc0008000 + k * 0x1000, true); // esp
  v.setUint16(regs + 48, FLAT_RING1_DS, true); // ss
  v.setUint16(regs + 56, FLAT_RING1_DS, true); // ds
  v.setUint16(regs + 52, FLAT_RING1_DS, true); // es
  // trap_ctxt[14]: #PF handler on a ring-0 selector (fixed up to ring 1)
  v.setUint8(584 + 14 * 8 + 1, 4);
  v.setUint16(584 + 14 * 8 + 2, 0xe018, true);
  v.setUint32(584 + 14 * 8 + 4, 0xc0102000, true);
  v.setUint32(2708, 0xe020, true); // kernel_ss, RPL 0
  v.setUint32(2712, 0xc0009000, true); // kernel_sp
  v.setUint32(2716 + 12, compatPfnToCr3(L3_MFN), true); // ctrlreg[3]
  v.setUint32(2780, 0xe019, true); // event_callback_cs
  v.setUint32(2784, 0xc0103000, true);
  v.setUint32(2788, 0xe018, true); // failsafe_callback_cs, RPL 0
  v.setUint32(2792, 0xc0104000, true);
  edit?.(v);
  mem.write(CTX_AT, new Uint8Array(v.buffer));
}

describe('the compat extended-cr3 encoding', () => {
  it('keeps frame bits 20-31 in CR3 bits 0-11 and round-trips every 32-bit frame number', () => {
    expect(compatPfnToCr3(0x12345)).toBe(0x12345000);
    expect(compatPfnToCr3(0x123456)).toBe(0x23456001);
    expect(compatCr3ToPfn(0x23456001)).toBe(0x123456);
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), (pfn) => {
        expect(compatCr3ToPfn(compatPfnToCr3(pfn))).toBe(pfn);
      }),
    );
  });
});

describe('compat VCPUOP_initialise / up / down / is_up on a 32-bit PV domain', () => {
  it('starts with vCPU 0 up and the others down until initialised and brought up', () => {
    const s = setup(4);
    expect(op(s, 0, VCPUOP_is_up, 0)).toBe(1);
    expect(op(s, 0, VCPUOP_is_up, 3)).toBe(0);
    expect(op(s, 0, VCPUOP_up, 1)).toBe(-XEN_EINVAL); // not initialised
    writeContext(s.mem, 1);
    expect(op(s, 0, VCPUOP_initialise, 1, CTX_AT)).toBe(0);
    expect(op(s, 0, VCPUOP_is_up, 1)).toBe(0);
    expect(op(s, 0, VCPUOP_initialise, 1, CTX_AT)).toBe(-XEN_EEXIST);
    expect(op(s, 0, VCPUOP_initialise, 0, CTX_AT)).toBe(-XEN_EEXIST); // the builder's
    expect(op(s, 0, VCPUOP_up, 1)).toBe(0);
    expect(op(s, 0, VCPUOP_up, 1)).toBe(0);
    expect(s.ups).toEqual([1]);
    expect(op(s, 0, VCPUOP_is_up, 1)).toBe(1);
    expect(s.smp.online).toBe(2);
    expect(s.smp.getState()).toEqual({ count: 4, initialised: [0, 1], up: [0, 1] });
    const back = Pv32DomainVcpus.fromState(s.smp.getState(), () => undefined, s.mm, {
      up: () => undefined,
      down: () => undefined,
      runstate: () => ({ state: 0, stateEntryTime: 0n, time: [0n, 0n, 0n, 0n] }),
    });
    expect(back.getState()).toEqual(s.smp.getState());
  });

  it('loads the compat context as arch_set_info_guest does: ring-1 selectors, L3, IDT, callbacks', () => {
    const s = setup(2);
    writeContext(s.mem, 1, (v) => {
      v.setUint32(2632, 0xc0200000, true); // ldt_base
      v.setUint32(2636, 16, true); // ldt_ents
    });
    expect(op(s, 0, VCPUOP_initialise, 1, CTX_AT)).toBe(0);
    const v = s.vcpus[1] as Pv32Vcpu;
    const cpu = v.cpu;
    expect(cpu.rip).toBe(0xc0101000);
    expect(cpu.lo[4]).toBe(0xc0009000 | 0); // esp
    expect(cpu.lo[7]).toBe(1); // edi
    expect(cpu.lo[3]).toBe(0x1234); // ebx
    expect(cpu.lo[0]).toBe(0xaaaa); // eax
    expect(cpu.cr3).toBe(L3_MFN * 4096);
    expect(s.mm.base.get(1)).toBe(L3_MFN);
    expect(s.mm.ldt.get(1)).toEqual([0xc0200000, 16]);
    expect(cpu.getRflags() & 0x3200).toBe(0x200); // IOPL virtualised, IF forced on
    expect(v.iopl).toBe(3);
    expect(cpu.segSel[1]).toBe(FLAT_RING1_CS);
    expect(cpu.segSel[2]).toBe(FLAT_RING1_DS);
    expect(cpu.segSel[3]).toBe(FLAT_RING1_DS);
    expect(cpu.segSel[4]).toBe(0); // a null FS
    expect(cpu.cpl).toBe(1);
    expect(v.traps.address[14]).toBe(0xc0102000);
    expect(v.traps.cs[14]).toBe(0xe019);
    expect(v.traps.flags[14]).toBe(4);
    expect([v.traps.eventCs, v.traps.eventEip]).toEqual([0xe019, 0xc0103000]);
    expect([v.traps.failsafeCs, v.traps.failsafeEip]).toEqual([0xe019, 0xc0104000]);
    expect([v.traps.kernelSs, v.traps.kernelSp]).toEqual([0xe021, 0xc0009000]);
    // vCPU 0 is untouched.
    expect(s.mm.base.has(0)).toBe(false);
  });

  it('refuses hostile compat contexts with Xen errnos and leaves the vCPU uninitialised', () => {
    const s = setup(2);
    expect(op(s, 0, VCPUOP_initialise, 1, BAD)).toBe(-XEN_EFAULT);
    expect(op(s, 0, VCPUOP_initialise, 1, 16 * 4096 - 100)).toBe(-XEN_EFAULT); // runs off the end
    const bad: Array<(v: DataView) => void> = [
      (v) => v.setUint32(2716 + 12, compatPfnToCr3(7), true), // cr3: not an L3
      (v) => v.setUint32(2716 + 12, 0, true), // no cr3
      (v) => v.setUint32(2716 + 12, 0x00000001, true), // frame 0x100000 in extended form
      (v) => v.setUint32(2632, 0x123, true), // ldt_base not page-aligned
      (v) => v.setUint32(2636, 8193, true), // too many LDT entries
      (v) => v.setUint32(2704, 7169, true), // too many GDT entries
      (v) => v.setUint32(2704, 16, true), // GDT entries with no set_gdt behind them
      (v) => v.setUint16(516 + 36, 0xe02b, true), // CS of ring 3
      (v) => v.setUint16(516 + 48, 0xe033, true), // SS of ring 3
      (v) => v.setUint16(516 + 36, 0x0801, true), // CS naming no ring-1 code segment
      (v) => v.setUint16(516 + 48, FLAT_RING1_CS, true), // SS naming a code segment
      (v) => v.setUint16(516 + 36, FLAT_RING1_DS, true), // CS naming a data segment
    ];
    for (const [i, edit] of bad.entries()) {
      writeContext(s.mem, 1, edit);
      expect(op(s, 0, VCPUOP_initialise, 1, CTX_AT), `case ${i}`).toBe(-XEN_EINVAL);
      expect(s.smp.isInitialised(1)).toBe(false);
      expect(op(s, 0, VCPUOP_up, 1)).toBe(-XEN_EINVAL);
    }
    // The same frame in both encodings while it is below 2^20: the plain CR3 works too.
    writeContext(s.mem, 1, (v) => v.setUint32(2716 + 12, L3_MFN << 12, true));
    expect(op(s, 0, VCPUOP_initialise, 1, CTX_AT)).toBe(0);
  });

  it('answers -ENOENT for vCPU ids the domain does not have, and passes other commands on', () => {
    const s = setup(2);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4 }),
        fc.oneof(fc.integer({ min: 2, max: 300 }), fc.constant(0xffffffff), fc.constant(-1)),
        (cmd, vcpu) => {
          expect(op(s, 0, cmd, vcpu, CTX_AT)).toBe(-XEN_ENOENT);
        },
      ),
    );
    expect(compatSmpVcpuOp(s.smp, s.ctx(0), 6, 0, 0)).toBeNull(); // set_periodic_timer
    expect(s.smp.getState().initialised).toEqual([0]);
  });

  it('never throws for random compat context bytes and only succeeds with a usable L3 and ring-1 CS/SS', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({
          minLength: VCPU_GUEST_CONTEXT_SIZE_32,
          maxLength: VCPU_GUEST_CONTEXT_SIZE_32,
        }),
        fc.boolean(),
        fc.boolean(),
        (bytes, goodCr3, goodSelectors) => {
          const s = setup(2);
          const v = new DataView(bytes.buffer);
          if (goodCr3) v.setUint32(2716 + 12, compatPfnToCr3(L3_MFN), true);
          if (goodSelectors) {
            v.setUint16(516 + 36, FLAT_RING1_CS & ~3, true);
            v.setUint16(516 + 48, FLAT_RING1_DS, true);
          }
          s.mem.write(CTX_AT, bytes);
          const rc = op(s, 0, VCPUOP_initialise, 1, CTX_AT);
          expect([0, -XEN_EINVAL]).toContain(rc);
          expect(s.smp.isInitialised(1)).toBe(rc === 0);
          if (rc === 0) {
            expect(s.mm.base.get(1)).toBe(L3_MFN);
            expect((s.vcpus[1] as Pv32Vcpu).cpu.cpl).toBe(1);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('writes the 44-byte compat runstate of any vCPU, and -EFAULT for a bad buffer', () => {
    const s = setup(2);
    s.mem.write(OUT_AT + 44, new Uint8Array([0x5a]));
    expect(op(s, 0, VCPUOP_get_runstate_info, 1, OUT_AT)).toBe(0);
    const out = new Uint8Array(48);
    s.mem.read(OUT_AT, out);
    const v = new DataView(out.buffer);
    expect(v.getUint32(0, true)).toBe(1);
    expect(v.getBigUint64(4, true)).toBe(0x1_0000_0002n);
    expect(v.getBigUint64(12, true)).toBe(1n);
    expect(v.getBigUint64(36, true)).toBe(1n); // time[3] = the vCPU id
    expect(out[44]).toBe(0x5a); // nothing past 44 bytes
    expect(op(s, 0, VCPUOP_get_runstate_info, 1, BAD)).toBe(-XEN_EFAULT);
  });

  it('answers any vcpu_op from int $0x82 with an int32 result and never crashes the domain', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 20 }),
        fc.oneof(fc.integer({ min: 0, max: 5 }), fc.nat({ max: 0xffffffff })),
        fc.oneof(fc.constant(CTX_AT), fc.constant(BAD), fc.nat({ max: 0xffffffff })),
        (cmd, vcpu, arg) => {
          const s = setup(3);
          const v = s.vcpus[0] as Pv32Vcpu;
          v.cpu.cpl = 1;
          v.cpu.lo.set([24, vcpu | 0, arg | 0, cmd]); // EAX, ECX, EDX, EBX
          const r = v.run(1);
          expect(v.crash).toBeNull();
          expect([PV_RUN.BUDGET, PV_RUN.YIELD, PV_RUN.SHUTDOWN]).toContain(r);
          const rc = v.cpu.lo[0] ?? 0;
          if (vcpu >= 3 && cmd <= VCPUOP_get_runstate_info) expect(rc).toBe(-XEN_ENOENT);
          expect(Number.isInteger(rc)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('runs the commands from the vCPU itself: int $0x82 with EAX=24; self-down yields, last down powers off', () => {
    const s = setup(3);
    writeContext(s.mem, 1);
    expect(op(s, 0, VCPUOP_initialise, 1, CTX_AT)).toBe(0);
    const call = (v: Pv32Vcpu, cmd: number, id: number): [number, number] => {
      v.cpu.cpl = 1;
      v.cpu.lo[0] = 24;
      v.cpu.lo[3] = cmd;
      v.cpu.lo[1] = id;
      v.cpu.lo[2] = 0;
      const r = v.run(1);
      return [r, v.cpu.lo[0] ?? 0];
    };
    const v0 = s.vcpus[0] as Pv32Vcpu;
    const v1 = s.vcpus[1] as Pv32Vcpu;
    expect(call(v0, VCPUOP_up, 1)).toEqual([PV_RUN.BUDGET, 0]);
    expect(call(v0, VCPUOP_is_up, 1)).toEqual([PV_RUN.BUDGET, 1]);
    expect(call(v0, VCPUOP_up, 2)).toEqual([PV_RUN.BUDGET, -XEN_EINVAL]);
    expect(call(v0, VCPUOP_is_up, 3)).toEqual([PV_RUN.BUDGET, -XEN_ENOENT]);
    expect(call(v1, VCPUOP_down, 1)).toEqual([PV_RUN.YIELD, 0]);
    expect(s.downs).toEqual([1]);
    expect(call(v0, VCPUOP_down, 0)).toEqual([PV_RUN.SHUTDOWN, 0]);
    expect(s.shutdowns).toEqual([0]); // SHUTDOWN_poweroff
    expect(VCPU_LIFECYCLE.LAST_DOWN).toBe(2);
  });
});
