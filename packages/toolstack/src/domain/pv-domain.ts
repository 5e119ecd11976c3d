/**
 * Boots a 64-bit PV domain the way Xen's toolstack and Xen do: the PV builder's start-of-day
 * layout copied into machine frames handed out by `@typevisor/mmu`, the read-only M2P mapped at
 * HYPERVISOR_VIRT_START, the top-level page table validated and pinned under Xen's PV rules, the
 * hypercall page filled, the xenstore and console event channels allocated as libxl does (and
 * the console's bound in dom0, as xenconsoled does), and a `PvVcpu` from `@typevisor/hypervisor`
 * over the x86 CPU model, ready to run.
 *
 * This is the first end-to-end path from a kernel file to a running guest; the host daemon and
 * the `typevisor create` verb will build on it.
 */
import { readFileSync } from 'node:fs';
import {
  DeterministicClock,
  EventChannels,
  fillHypercallPage64,
  GrantTables,
  type HypercallHost,
  MachinePhysicalMemory,
  type MemoryReservationPort,
  OwnedFramesMemory,
  PV_INTERCEPTS,
  PvVcpu,
  type PvVcpuOptions,
  VcpuTimers,
  VIRQ_TIMER,
} from '@typevisor/hypervisor';
import { Machine, MMUEXT, PvMm } from '@typevisor/mmu';
import { X86Cpu } from '@typevisor/x86-cpu';
import { parseElf } from '../builder/elf.ts';
import { buildPvLayout, type PvLayout } from '../builder/pv-layout.ts';
import { readXenKernelInfo } from '../builder/xen-notes.ts';
import { ToolstackError } from '../errors.ts';

/** The domain id {@link bootPvDomain} gives its guest (dom0 is 0). */
export const PV_GUEST_DOMID = 1;
const DOMID = PV_GUEST_DOMID;
/** DOMID_XEN: owner of the frames holding Xen's read-only M2P mapping. */
const DOMID_XEN = 0x7ff2;
/** `_PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED`: readable by the ring-3 kernel, never writable. */
const RO_USER = 0x25;
/** libxl's default max_grant_frames (what Xen 4.17 reports in query_size for the reference run). */
const MAX_GRANT_FRAMES = 64;

/**
 * Maps the machine-to-phys table read-only at HYPERVISOR_VIRT_START (0xFFFF800000000000, L4 slot
 * 256) as Xen does for 64-bit PV guests: one Xen-owned L3, L2 and L1, and the M2P frames (8-byte
 * entries, all-ones for frames no domain owns). Sets the slot in `mm.xenL4Entries`, so every L4
 * validated afterwards carries it.
 */
function mapM2p(machine: Machine, mm: PvMm): void {
  const frames = machine.memory.frames;
  const m2pPages = Math.ceil((frames * 8) / 4096);
  if (m2pPages > 512)
    throw new ToolstackError('CONFIG', 'machine too large for a single M2P L1 table');
  machine.populate(DOMID_XEN, 0, 3 + m2pPages);
  const xp = machine.p2m(DOMID_XEN);
  const [l3, l2, l1] = [xp.get(0), xp.get(1), xp.get(2)];
  const mem = machine.memory;
  mem.write32(l3, 0, l2 * 4096 + RO_USER);
  mem.write32(l2, 0, l1 * 4096 + RO_USER);
  for (let i = 0; i < m2pPages; i++) mem.write32(l1, i * 8, xp.get(3 + i) * 4096 + RO_USER);
  for (let mfn = 0; mfn < frames; mfn++) {
    const owned = machine.frames.owner[mfn] === DOMID;
    const page = xp.get(3 + Math.floor(mfn / 512));
    const off = (mfn % 512) * 8;
    mem.write32(page, off, owned ? (machine.frames.m2p[mfn] ?? -1) : -1);
    mem.write32(page, off + 4, owned ? 0 : -1);
  }
  mm.xenL4Entries[0] = l3 * 4096 + RO_USER;
  mm.xenL4Entries[1] = 0;
}

/** A booted (not yet run) PV domain: call `vcpu.run(budget)` to run it. */
export interface BootedPvDomain {
  /** Machine memory and frame ownership. */
  readonly machine: Machine;
  /** Xen's PV page-type rules for the domain. */
  readonly mm: PvMm;
  /** The builder's start-of-day layout. */
  readonly layout: PvLayout;
  /** The CPU model running vCPU 0. */
  readonly cpu: X86Cpu;
  /** vCPU 0. */
  readonly vcpu: PvVcpu;
  /** The options the vCPU was created with (for restoring it over a new CPU). */
  readonly vcpuOptions: PvVcpuOptions;
  /** The event channels of dom0 and the guest. */
  readonly evtchn: EventChannels;
  /** Result of pinning the top-level page table (0, or a negative Xen errno). */
  readonly pinRc: number;
  /** dom0's end of the console event channel (xenconsoled's port). */
  readonly consoleBackendPort: number;
  /** Everything the guest wrote with CONSOLEIO_write, as Latin-1 text. */
  console(): string;
  /**
   * Acts as xenconsoled for the guest's console ring: moves everything between out_cons and
   * out_prod to the console output (returns how many bytes).
   */
  drainConsoleRing(): number;
  /** Every (domid, reason) shutdown report. */
  readonly shutdowns: Array<[number, number]>;
  /** System time and the timers (advance it to fire the guest's timers as VIRQ_TIMER). */
  readonly clock: DeterministicClock;
}

/** Extra options for {@link bootPvDomain}. */
export interface BootPvOptions {
  /** Hypercall trace hook, passed to the vCPU (see `PvVcpuOptions.trace`). */
  readonly trace?: (nr: number, args: readonly bigint[], rc: number) => void;
  /**
   * Builds memory_op's frame owner over the booted machine (without it memory_op is -ENOSYS):
   * called once with the machine, the guest's domid and page count, and the shared_info MFN.
   */
  readonly memory?: (boot: {
    readonly machine: Machine;
    readonly domid: number;
    readonly nrPages: number;
    readonly sharedInfoMfn: number;
  }) => MemoryReservationPort;
}

/**
 * Builds and boots a 64-bit PV guest from `kernelPath` with `memoryMiB` of memory. Throws a
 * `CONFIG` {@link ToolstackError} for kernels the PV builder refuses (see `readXenKernelInfo`).
 */
export function bootPvDomain(
  kernelPath: string,
  memoryMiB = 16,
  options: BootPvOptions = {},
): BootedPvDomain {
  if (!Number.isInteger(memoryMiB) || memoryMiB < 4 || memoryMiB > 192) {
    throw new ToolstackError(
      'CONFIG',
      `memory must be 4 to 192 MiB for this boot path, got ${memoryMiB}`,
    );
  }
  const nrPages = memoryMiB * 256;
  const machine = new Machine({ bytes: 256 * 1024 * 1024 });
  machine.populate(0, 0, 2); // dom0's shared_info and grant frame (and the guest's frames are not identity-mapped)
  machine.populate(DOMID, 0, nrPages + 1 + MAX_GRANT_FRAMES); // RAM, shared_info, grant frames
  const p2m = machine.p2m(DOMID);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(kernelPath);
  } catch (err) {
    throw new ToolstackError(
      'NOT_FOUND',
      `cannot read kernel ${kernelPath}: ${(err as Error).message}`,
    );
  }
  const elf = parseElf(bytes, kernelPath);
  const kernel = readXenKernelInfo(elf, kernelPath);
  if (kernel.guestType !== 'xen-3.0-x86_64') {
    throw new ToolstackError(
      'CONFIG',
      `${kernelPath}: only 64-bit PV kernels boot on this path so far (this one is ${kernel.guestType})`,
    );
  }

  // A 64-bit PV guest is not translated: the core families address its memory by MFN.
  const guestMem = new OwnedFramesMemory(machine.frames, machine.memory, DOMID);
  const dom0Mem = new OwnedFramesMemory(machine.frames, machine.memory, 0);
  const evtchn = new EventChannels({ upcallPending: () => undefined });
  evtchn.addDomain({
    domid: 0,
    privileged: true,
    abi: 'x86_64',
    vcpus: 1,
    memory: dom0Mem,
    sharedInfoAddress: machine.p2m(0).get(0) * 4096,
  });
  evtchn.addDomain({
    domid: DOMID,
    abi: 'x86_64',
    vcpus: 1,
    memory: guestMem,
    sharedInfoAddress: p2m.get(nrPages) * 4096,
  });
  evtchn.initSharedInfo(DOMID); // Xen starts every vCPU with evtchn_upcall_mask = 1
  // libxl allocates the xenstore and console ports; xenconsoled (dom0) then binds the console's.
  const storePort = evtchn.allocUnbound(0, DOMID, 0);
  const consolePort = evtchn.allocUnbound(0, DOMID, 0);
  const consoleBackendPort = evtchn.bindInterdomain(0, DOMID, consolePort);
  const grants = new GrantTables();
  grants.addDomain({
    domid: 0,
    privileged: true,
    memory: dom0Mem,
    grantFrames: [machine.p2m(0).get(1)],
  });
  grants.addDomain({
    domid: DOMID,
    memory: guestMem,
    grantFrames: Array.from({ length: MAX_GRANT_FRAMES }, (_, i) => p2m.get(nrPages + 1 + i)),
  });
  const clock = new DeterministicClock();
  const timers = new VcpuTimers({
    clock,
    timers: clock,
    raise: (domid, vcpu) => evtchn.sendVirq(domid, vcpu, VIRQ_TIMER),
  });
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
  mapM2p(machine, mm);
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
  const vcpuOptions: PvVcpuOptions = {
    cpu,
    machine: machine.memory,
    domid: DOMID,
    host,
    mm,
    vcpuInfo: { memory: guestMem, address: p2m.get(nrPages) * 4096 },
    console: { write: (_d, b) => out.push(...b) },
    shutdown: { shutdown: (d, reason) => shutdowns.push([d, reason]) },
    ...(options.trace ? { trace: options.trace } : {}),
    ...(options.memory
      ? {
          memory: options.memory({
            machine,
            domid: DOMID,
            nrPages,
            sharedInfoMfn: p2m.get(nrPages),
          }),
        }
      : {}),
  };
  const vcpu = new PvVcpu(vcpuOptions);
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
    vcpuOptions,
    evtchn,
    pinRc,
    consoleBackendPort,
    console: () => String.fromCharCode(...out),
    drainConsoleRing: () => {
      // struct xencons_interface: in[1024], out[2048], in_cons, in_prod, out_cons @3080, out_prod @3084.
      const ring = p2m.get(layout.consolePfn);
      const mem = machine.memory;
      let cons = mem.read32(ring, 3080) >>> 0;
      const prod = mem.read32(ring, 3084) >>> 0;
      let n = 0;
      while (cons !== prod && n < 2048) {
        out.push(mem.read8(ring, 1024 + (cons & 2047)));
        cons = (cons + 1) >>> 0;
        n++;
      }
      mem.write32(ring, 3080, cons | 0);
      return n;
    },
    shutdowns,
    clock,
  };
}
