import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { XEN_EEXIST, XEN_EFAULT, XEN_EINVAL, XEN_ENOENT } from '../src/abi/errno.ts';
import { SHUTDOWN_poweroff } from '../src/abi/sched.ts';
import {
  VCPUOP_down,
  VCPUOP_get_runstate_info,
  VCPUOP_initialise,
  VCPUOP_is_up,
  VCPUOP_up,
} from '../src/abi/vcpu.ts';
import {
  DEFAULT_XEN_VERSION,
  DeterministicClock,
  EventChannels,
  GrantTables,
  PagedGuestMemory,
  PV_NEXT,
  PvDomainVcpus,
  type PvHypercallEnv,
  type PvMmuextOp,
  PvVcpu,
  pvHypercall,
  VCPU_GUEST_CONTEXT_SIZE_64,
  VcpuTimers,
} from '../src/index.ts';

const HC_vcpu_op = 24;
const DOMID = 1;
/** The guest's frames: 0..15; frame 9 is not present (a bad pointer); 12 is a valid L4. */
const L4_MFN = 12;
const CTX_AT = 0x2000; // two frames for the 5168-byte context
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
    run: () => 0,
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

/** Page-table typing as Xen's MMUEXT_NEW_BASEPTR sees it: only frame L4_MFN validates as an L4. */
class BasePointers {
  readonly base = new Map<number, number>();
  readonly user = new Map<number, number>();
  readonly done = 0;
  mmuUpdate(): number {
    return -XEN_EINVAL;
  }
  updateVaMapping(): number {
    return -XEN_EINVAL;
  }
  mmuextOp(_domid: number, vcpu: number, ops: readonly PvMmuextOp[]): number {
    for (const op of ops) {
      if (op.cmd === 5 || op.cmd === 15) {
        if (op.arg1Lo !== 0 && op.arg1Lo !== L4_MFN) return -XEN_EINVAL;
        (op.cmd === 5 ? this.base : this.user).set(vcpu, op.arg1Lo);
      }
    }
    return 0;
  }
}

interface Setup {
  mem: PagedGuestMemory;
  env: (vcpu: number) => PvHypercallEnv;
  smp: PvDomainVcpus;
  vcpus: PvVcpu[];
  ups: number[];
  downs: number[];
  mm: BasePointers;
}

function setup(count: number): Setup {
  const mem = new PagedGuestMemory(16);
  mem.removeFrame(9);
  const evtchn = new EventChannels({ upcallPending: () => undefined });
  evtchn.addDomain({
    domid: DOMID,
    abi: 'x86_64',
    vcpus: count,
    memory: mem,
    sharedInfoAddress: 0,
  });
  const grants = new GrantTables();
  grants.addDomain({ domid: DOMID, memory: mem, grantFrames: [15] });
  const clock = new DeterministicClock();
  const timers = new VcpuTimers({ clock, timers: clock, raise: () => undefined });
  const host = { evtchn, grants, timers };
  const ups: number[] = [];
  const downs: number[] = [];
  const mm = new BasePointers();
  const vcpus: PvVcpu[] = [];
  const smp = new PvDomainVcpus(count, (id) => vcpus[id], mm, {
    up: (v) => ups.push(v),
    down: (v) => downs.push(v),
    runstate: (v) => ({ state: 3, stateEntryTime: BigInt(v), time: [1n, 2n, 3n, BigInt(v)] }),
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
      new PvVcpu({
        cpu: plainCpu(),
        machine,
        domid: DOMID,
        vcpuId: id,
        host,
        console: { write: () => undefined },
        shutdown: { shutdown: () => undefined },
        smp,
      }),
    );
  }
  const env = (vcpu: number): PvHypercallEnv => ({
    host,
    ctx: { domid: DOMID, vcpu, abi: 'x86_64', guest: mem },
    mm: null,
    flushTlb: () => undefined,
    setBasePointer: () => undefined,
    console: () => undefined,
    version: DEFAULT_XEN_VERSION,
    shutdownReason: -1,
    shutdownCode: -1,
    next: PV_NEXT.CONTINUE,
    smp,
  });
  return { mem, env, smp, vcpus, ups, downs, mm };
}

function vcpuOp(e: PvHypercallEnv, cmd: number, vcpu: number, arg = 0): number {
  return pvHypercall(e, HC_vcpu_op, [BigInt(cmd), BigInt(vcpu), BigInt(arg), 0n, 0n]);
}

/** A good 64-bit vcpu_guest_context for vCPU `k`, written at CTX_AT. */
function writeContext(mem: PagedGuestMemory, k: number, edit?: (v: DataView) => void): void {
  const v = new DataView(new ArrayBuffer(VCPU_GUEST_CONTEXT_SIZE_64));
  v.setBigUint64(512, 4n, true); // VGCF_in_kernel
  v.setBigUint64(520 + 112, BigInt(k), true); // rdi
  v.setBigUint64(520 + 40, 0x1234n, true); // rbx
  v.setBigUint64(520 + 128, 0x101000n, true); // rip
  v.setUint16(520 + 136, 0xe033, true);
  v.setBigUint64(520 + 144, 0x3002n, true); // rflags: IOPL 3, IF clear
  v.setBigUint64(520 + 152, 0x8000n + BigInt(k) * 0x1000n, true); // rsp
  v.setUint16(520 + 160, 0xe02b, true);
  // trap_ctxt[14]: #PF handler
  v.setUint8(720 + 14 * 16 + 1, 4);
  v.setUint16(720 + 14 * 16 + 2, 0xe033, true);
  v.setBigUint64(720 + 14 * 16 + 8, 0x102000n, true);
  v.setBigUint64(4968, 0xe02bn, true); // kernel_ss
  v.setBigUint64(4976, 0x9000n, true); // kernel_sp
  v.setBigUint64(4984 + 24, BigInt(L4_MFN) << 12n, true); // ctrlreg[3]
  v.setBigUint64(5112, 0x103000n, true); // event callback
  v.setBigUint64(5128, 0x104000n, true); // syscall callback
  v.setBigUint64(5152, 0xffff888000001000n, true); // gs_base_kernel
  edit?.(v);
  mem.write(CTX_AT, new Uint8Array(v.buffer));
}

describe('VCPUOP_initialise / up / down / is_up on a PV domain with several vCPUs', () => {
  it('starts with vCPU 0 up and the others down until initialised and brought up', () => {
    const s = setup(3);
    const e = s.env(0);
    expect(vcpuOp(e, VCPUOP_is_up, 0)).toBe(1);
    expect(vcpuOp(e, VCPUOP_is_up, 1)).toBe(0);
    expect(vcpuOp(e, VCPUOP_up, 1)).toBe(-XEN_EINVAL); // not initialised
    writeContext(s.mem, 1);
    expect(vcpuOp(e, VCPUOP_initialise, 1, CTX_AT)).toBe(0);
    expect(vcpuOp(e, VCPUOP_is_up, 1)).toBe(0); // initialised, still down
    expect(vcpuOp(e, VCPUOP_initialise, 1, CTX_AT)).toBe(-XEN_EEXIST);
    expect(vcpuOp(e, VCPUOP_initialise, 0, CTX_AT)).toBe(-XEN_EEXIST); // the builder's
    expect(vcpuOp(e, VCPUOP_up, 1)).toBe(0);
    expect(vcpuOp(e, VCPUOP_up, 1)).toBe(0);
    expect(s.ups).toEqual([1]);
    expect(vcpuOp(e, VCPUOP_is_up, 1)).toBe(1);
    expect(s.smp.online).toBe(2);
    expect(s.smp.getState()).toEqual({ count: 3, initialised: [0, 1], up: [0, 1] });
  });

  it('loads the context into the vCPU as arch_set_info_guest does', () => {
    const s = setup(2);
    writeContext(s.mem, 1);
    expect(vcpuOp(s.env(0), VCPUOP_initialise, 1, CTX_AT)).toBe(0);
    const v = s.vcpus[1] as PvVcpu;
    const cpu = v.cpu;
    expect(cpu.rip).toBe(0x101000);
    expect(cpu.lo[4]).toBe(0x9000); // rsp
    expect(cpu.lo[7]).toBe(1); // rdi
    expect(cpu.lo[3]).toBe(0x1234); // rbx
    expect(cpu.cr3).toBe(L4_MFN * 4096);
    expect(s.mm.base.get(1)).toBe(L4_MFN);
    expect(cpu.getRflags() & 0x3200).toBe(0x200); // IOPL virtualised, IF forced on
    expect(v.arch.iopl).toBe(3);
    expect(cpu.segSel[1]).toBe(0xe033);
    expect(cpu.cpl).toBe(3);
    expect(cpu.segBase[5]).toBe(Number(BigInt.asIntN(64, 0xffff888000001000n)));
    expect(v.traps.address[14]).toBe(0x102000n);
    expect(v.traps.flags[14]).toBe(4);
    expect(v.traps.eventCallback).toBe(0x103000n);
    expect(v.arch.callbacks.get(2)?.address).toBe(0x104000n);
    expect(v.arch.kernelSp).toBe(0x9000n);
    expect(v.arch.kernelSs).toBe(0xe02b);
  });

  it('refuses hostile arguments with Xen errnos and leaves the vCPU uninitialised', () => {
    const s = setup(2);
    const e = s.env(0);
    expect(vcpuOp(e, VCPUOP_initialise, 1, BAD)).toBe(-XEN_EFAULT);
    const bad: Array<(v: DataView) => void> = [
      (v) => v.setBigUint64(520 + 128, 0x0000800000000000n, true), // non-canonical rip
      (v) => v.setBigUint64(5112, 0x8000000000000000n, true), // non-canonical callback
      (v) => v.setBigUint64(720 + 3 * 16 + 8, 0x0001000000000000n, true), // trap handler
      (v) => v.setBigUint64(512, 0n, true), // user mode without a user page table
      (v) => v.setBigUint64(4984 + 24, 7n << 12n, true), // cr3: not a page table
      (v) => v.setBigUint64(4984 + 24, 0n, true), // no cr3
      (v) => v.setBigUint64(4816, 0x123n, true), // ldt_base not page-aligned
      (v) => v.setBigUint64(4824, 8193n, true), // too many LDT entries
      (v) => v.setBigUint64(4960, 7169n, true), // too many GDT entries
      (v) => v.setBigUint64(4960, 16n, true), // GDT entries with no set_gdt behind them
    ];
    for (const edit of bad) {
      writeContext(s.mem, 1, edit);
      expect(vcpuOp(e, VCPUOP_initialise, 1, CTX_AT)).toBe(-XEN_EINVAL);
      expect(s.smp.isInitialised(1)).toBe(false);
      expect(vcpuOp(e, VCPUOP_up, 1)).toBe(-XEN_EINVAL);
    }
    expect(s.mm.base.has(1)).toBe(false);
  });

  it('answers -ENOENT for vCPU ids the domain does not have, whatever the command', () => {
    const s = setup(2);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 15 }),
        fc.oneof(fc.integer({ min: 2, max: 300 }), fc.constant(0xffffffff)),
        (cmd, vcpu) => {
          expect(vcpuOp(s.env(0), cmd, vcpu, CTX_AT)).toBe(-XEN_ENOENT);
        },
      ),
    );
    expect(s.smp.getState().initialised).toEqual([0]);
  });

  it('never throws for random context bytes and only succeeds with a usable page table', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({
          minLength: VCPU_GUEST_CONTEXT_SIZE_64,
          maxLength: VCPU_GUEST_CONTEXT_SIZE_64,
        }),
        fc.boolean(),
        (bytes, goodCr3) => {
          const s = setup(2);
          const v = new DataView(bytes.buffer);
          if (goodCr3) v.setBigUint64(4984 + 24, BigInt(L4_MFN) << 12n, true);
          s.mem.write(CTX_AT, bytes);
          const rc = vcpuOp(s.env(0), VCPUOP_initialise, 1, CTX_AT);
          expect([0, -XEN_EINVAL]).toContain(rc);
          expect(s.smp.isInitialised(1)).toBe(rc === 0);
          if (rc === 0) expect(s.mm.base.get(1)).toBe(L4_MFN);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('takes vCPUs down; the caller downing itself stops, and the last one down powers off', () => {
    const s = setup(3);
    writeContext(s.mem, 1);
    vcpuOp(s.env(0), VCPUOP_initialise, 1, CTX_AT);
    vcpuOp(s.env(0), VCPUOP_up, 1);
    const e0 = s.env(0);
    expect(vcpuOp(e0, VCPUOP_down, 2)).toBe(0); // already down: nothing to do
    expect(vcpuOp(e0, VCPUOP_down, 1)).toBe(0);
    expect(e0.next).toBe(PV_NEXT.CONTINUE);
    expect(s.downs).toEqual([1]);
    expect(vcpuOp(e0, VCPUOP_is_up, 1)).toBe(0);
    expect(vcpuOp(e0, VCPUOP_up, 1)).toBe(0); // initialised: up again
    const e1 = s.env(1);
    expect(vcpuOp(e1, VCPUOP_down, 1)).toBe(0);
    expect(e1.next).toBe(PV_NEXT.YIELD);
    expect(vcpuOp(e0, VCPUOP_down, 0)).toBe(0);
    expect(e0.next).toBe(PV_NEXT.SHUTDOWN);
    expect(e0.shutdownReason).toBe(SHUTDOWN_poweroff);
    expect(s.smp.isUp(0)).toBe(true); // domain_shutdown, not _VPF_down
  });

  it('keeps each vCPU its own vcpu_info slot, moved by register_vcpu_info', () => {
    const mem = new PagedGuestMemory(16);
    const evtchn = new EventChannels({ upcallPending: () => undefined });
    evtchn.addDomain({ domid: 3, abi: 'x86_64', vcpus: 3, memory: mem, sharedInfoAddress: 0x1000 });
    expect([0, 1, 2].map((v) => evtchn.vcpuInfoAddress(3, v))).toEqual([0x1000, 0x1040, 0x1080]);
    expect(evtchn.registerVcpuInfo(3, 1, 0x4100)).toBe(0);
    expect(evtchn.vcpuInfoAddress(3, 1)).toBe(0x4100);
    expect(evtchn.vcpuInfoAddress(3, 3)).toBe(-1);
    expect(evtchn.vcpuInfoAddress(4, 0)).toBe(-1);
  });

  it('reports any vCPU runstate through the domain, and -EFAULT for a bad buffer', () => {
    const s = setup(2);
    const e = s.env(0);
    expect(vcpuOp(e, VCPUOP_get_runstate_info, 1, OUT_AT)).toBe(0);
    const out = new Uint8Array(48);
    s.mem.read(OUT_AT, out);
    const v = new DataView(out.buffer);
    expect(v.getUint32(0, true)).toBe(3);
    expect(v.getBigUint64(40, true)).toBe(1n);
    expect(vcpuOp(e, VCPUOP_get_runstate_info, 1, BAD)).toBe(-XEN_EFAULT);
  });
});
