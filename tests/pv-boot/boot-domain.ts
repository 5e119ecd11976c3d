/**
 * Builds a 64-bit PV domain the way the toolstack and Xen do — the builder's start-of-day layout
 * in MMU frames, the L4 validated and pinned, the hypercall page filled — and puts a PvVcpu on it.
 */
import { readFileSync } from 'node:fs';
import {
  DeterministicClock,
  EventChannels,
  GrantTables,
  type HypercallHost,
  VcpuTimers,
} from '@typevisor/hypervisor';
import { Machine, MMUEXT, PvMm } from '@typevisor/mmu';
import { buildPvLayout, type PvLayout, parseElf, readXenKernelInfo } from '@typevisor/toolstack';
import { X86Cpu } from '@typevisor/x86-cpu';
import {
  fillHypercallPage64,
  MachinePhysicalMemory,
  P2mGuestMemory,
  PV_INTERCEPTS,
  PvVcpu,
} from '../../packages/hypervisor/src/pv/index.ts';

export const DOMID = 1;

/** A booted (not yet run) PV domain. */
export interface PvDomainUnderTest {
  readonly machine: Machine;
  readonly mm: PvMm;
  readonly layout: PvLayout;
  readonly cpu: X86Cpu;
  readonly vcpu: PvVcpu;
  readonly evtchn: EventChannels;
  readonly pinRc: number;
  /** Everything the guest wrote with CONSOLEIO_write, as Latin-1 text. */
  console(): string;
  /** Every (domid, reason) shutdown report. */
  readonly shutdowns: Array<[number, number]>;
}

export function bootPvDomain(kernelPath: string, memoryMiB = 16): PvDomainUnderTest {
  const nrPages = memoryMiB * 256;
  const machine = new Machine({ bytes: 256 * 1024 * 1024 });
  machine.populate(0, 0, 1); // dom0's first frame, so the guest's frames are not identity-mapped
  machine.populate(DOMID, 0, nrPages + 2); // RAM, shared_info, one grant frame
  const p2m = machine.p2m(DOMID);
  const bytes = readFileSync(kernelPath);
  const elf = parseElf(bytes, kernelPath);
  const kernel = readXenKernelInfo(elf, kernelPath);

  const guestMem = new P2mGuestMemory(p2m, machine.memory);
  const evtchn = new EventChannels({ upcallPending: () => undefined });
  evtchn.addDomain({
    domid: 0,
    privileged: true,
    abi: 'x86_64',
    vcpus: 1,
    memory: guestMem,
    sharedInfoAddress: 0,
  });
  evtchn.addDomain({
    domid: DOMID,
    abi: 'x86_64',
    vcpus: 1,
    memory: guestMem,
    sharedInfoAddress: nrPages * 4096,
  });
  const storePort = evtchn.allocUnbound(0, DOMID, 0);
  const consolePort = evtchn.allocUnbound(0, DOMID, 0);
  const grants = new GrantTables();
  grants.addDomain({ domid: DOMID, memory: guestMem, grantFrames: [nrPages + 1] });
  const clock = new DeterministicClock();
  const timers = new VcpuTimers({ clock, timers: clock, raise: () => undefined });
  timers.addVcpu(DOMID, 0);
  const host: HypercallHost = { evtchn, grants, timers };

  const layout = buildPvLayout({
    kernel,
    elf,
    nrPages,
    cmdline: '',
    pfnToMfn: (pfn) => p2m.get(pfn),
    sharedInfoMfn: p2m.get(nrPages),
    storeEvtchn: storePort,
    consoleEvtchn: consolePort,
  });
  for (const [pfn, page] of layout.pages) machine.memory.writeBytes(p2m.get(pfn), 0, page);
  if (layout.hypercallPagePfn !== undefined) {
    const page = new Uint8Array(4096);
    fillHypercallPage64(page);
    machine.memory.writeBytes(p2m.get(layout.hypercallPagePfn), 0, page);
  }
  const mm = new PvMm(machine);
  mm.addDomain(DOMID, { guestWidth: 64 });
  const pinRc = mm.mmuextOp(DOMID, 0, [
    { cmd: MMUEXT.MMUEXT_PIN_L4_TABLE, arg1Lo: layout.vcpu.topLevelMfn, arg1Hi: 0, arg2: 0 },
    { cmd: MMUEXT.MMUEXT_NEW_BASEPTR, arg1Lo: layout.vcpu.topLevelMfn, arg1Hi: 0, arg2: 0 },
  ]);

  const cpu = X86Cpu.create({
    memory: new MachinePhysicalMemory(machine.memory),
    intercepts: PV_INTERCEPTS,
  });
  const out: number[] = [];
  const shutdowns: Array<[number, number]> = [];
  const vcpu = new PvVcpu({
    cpu,
    machine: machine.memory,
    domid: DOMID,
    host,
    console: { write: (_d, b) => out.push(...b) },
    shutdown: { shutdown: (d, reason) => shutdowns.push([d, reason]) },
  });
  vcpu.boot({
    rip: layout.vcpu.rip,
    rsp: layout.vcpu.rsp,
    rsi: layout.vcpu.rsi,
    cr3: BigInt(layout.vcpu.topLevelMfn) * 4096n,
  });
  return {
    machine,
    mm,
    layout,
    cpu,
    vcpu,
    evtchn,
    pinRc,
    console: () => String.fromCharCode(...out),
    shutdowns,
  };
}
