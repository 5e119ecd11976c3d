/**
 * Boots a 32-bit PAE PV domain ("xen-3.0-x86_32p") the way Xen's toolstack and Xen do for a
 * compat guest: the toolstack's PV builder lays out start-of-day memory (3-level PAE tables,
 * 4-byte start_info words and P2M), the layout is copied into machine frames handed out by
 * `@typevisor/mmu`, Xen's read-only compat M2P (4-byte entries) is mapped at
 * HYPERVISOR_COMPAT_VIRT_START (0xF5800000) through the "PAE Xen L2" slots, VMASST
 * pae_extended_cr3 is preset (the kernel says PAE "yes"), the L3 is pinned, the 32-bit hypercall
 * page is filled, the xenstore and console channels are allocated as libxl does, and a
 * `Pv32Vcpu` runs on the x86 CPU model in ring 1.
 *
 * The 32-bit sibling of `bootPvDomain` (`pv-domain.ts`): the same machine, channels and result
 * shape, for kernels whose notes make them "xen-3.0-x86_32p".
 */
import { readFileSync } from 'node:fs';
import {
  COMPAT_GDT_PAGES,
  DeterministicClock,
  EventChannels,
  FIRST_RESERVED_GDT_PAGE,
  fillCompatGdtPage,
  fillHypercallPage32,
  GrantTables,
  type HypercallHost,
  MachinePhysicalMemory,
  type MemoryReservationPort,
  OwnedFramesMemory,
  PV32_INTERCEPTS,
  Pv32Vcpu,
  type Pv32VcpuOptions,
  sharedInfoLayout,
  timeScaleFor,
  VcpuTimers,
  writeVcpuTimeInfo,
  writeWallClock,
  XEN_PVCLOCK_TSC_STABLE_BIT,
} from '@typevisor/hypervisor';
import { Machine, MMUEXT, PvMm } from '@typevisor/mmu';
import { X86Cpu } from '@typevisor/x86-cpu';
import { parseElf } from '../builder/elf.ts';
import { buildPvLayout, type PvLayout } from '../builder/pv-layout.ts';
import { readXenKernelInfo } from '../builder/xen-notes.ts';
import { ToolstackError } from '../errors.ts';

/** The domain id {@link bootPv32Domain} gives its guest (dom0 is 0). */
export const PV32_GUEST_DOMID = 1;
const DOMID = PV32_GUEST_DOMID;
/** DOMID_XEN: owner of the frames holding Xen's read-only M2P mapping. */
const DOMID_XEN = 0x7ff2;
/** `_PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED`: readable, never writable, from any ring. */
const RO = 0x25;
const MAX_GRANT_FRAMES = 4;
/** VMASST_CMD_enable, VMASST_TYPE_pae_extended_cr3. */
const VMASST_CMD_enable = 0;
const VMASST_TYPE_pae_extended_cr3 = 3;

/**
 * Writes `mfn`'s 4-byte entry in the compat M2P that {@link mapCompatM2p} maps (DOMID_XEN's
 * PFN 1 onwards; all-ones when the frame is no longer the guest's).
 */
function writeCompatM2p(machine: Machine, mfn: number, pfn: number | null): void {
  const page = machine.p2m(DOMID_XEN).get(1 + Math.floor(mfn / 1024));
  machine.memory.write32(page, (mfn % 1024) * 4, pfn ?? -1);
}

/**
 * Maps the compat machine-to-phys table read-only at 0xF5800000 (the first Xen slot, 428, of
 * every "PAE Xen L2"): one Xen-owned L1 and the M2P frames (4-byte entries, all-ones for frames
 * the guest does not own). Sets `mm.xenL2Entries`, so every PAE Xen L2 validated afterwards
 * carries it.
 */
function mapCompatM2p(machine: Machine, mm: PvMm): void {
  const frames = machine.memory.frames;
  const m2pPages = Math.ceil((frames * 4) / 4096);
  if (m2pPages > 512)
    throw new ToolstackError('CONFIG', 'machine too large for a single compat M2P L1 table');
  machine.populate(DOMID_XEN, 0, 1 + m2pPages);
  const xp = machine.p2m(DOMID_XEN);
  const l1 = xp.get(0);
  const mem = machine.memory;
  for (let i = 0; i < m2pPages; i++) mem.write32(l1, i * 8, xp.get(1 + i) * 4096 + RO);
  for (let mfn = 0; mfn < frames; mfn++) {
    const owned = machine.frames.owner[mfn] === DOMID;
    mem.write32(
      xp.get(1 + Math.floor(mfn / 1024)),
      (mfn % 1024) * 4,
      owned ? (machine.frames.m2p[mfn] ?? -1) : -1,
    );
  }
  mm.xenL2Entries[0] = l1 * 4096 + RO;
  mm.xenL2Entries[1] = 0;
}

/**
 * Where this boot path maps the domain's GDT: the last "PAE Xen L2" slot (511, VA 0xFFE00000),
 * above the compat M2P. (Xen keeps it in its per-domain area, outside the guest's 4 GiB.)
 */
export const COMPAT_GDT_VIRT = 0xffe00000;
/** `_PAGE_PRESENT | _PAGE_ACCESSED`: read-only, supervisor (descriptor reads are supervisor). */
const RO_SUPERVISOR = 0x21;

/**
 * Maps a read-only GDT at {@link COMPAT_GDT_VIRT}: 14 pages of not-present descriptors (the
 * guest's own GDT pages, which set_gdt would fill) and Xen's page with the four flat compat
 * segments, in new DOMID_XEN frames. Sets the slot in `mm.xenL2Entries`, so every PAE Xen L2
 * validated afterwards carries it: call once per machine, then give each 32-bit vCPU
 * `gdtAddress: COMPAT_GDT_VIRT`.
 */
export function mapCompatGdt(machine: Machine, mm: PvMm): void {
  const xp = machine.p2m(DOMID_XEN);
  const first = xp.size;
  machine.populate(DOMID_XEN, first, 3);
  const [l1, zero, xen] = [xp.get(first), xp.get(first + 1), xp.get(first + 2)];
  const mem = machine.memory;
  const page = new Uint8Array(4096);
  fillCompatGdtPage(page);
  mem.writeBytes(xen, 0, page);
  mem.writeBytes(zero, 0, new Uint8Array(4096));
  for (let i = 0; i < COMPAT_GDT_PAGES; i++) {
    const frame = i === FIRST_RESERVED_GDT_PAGE ? xen : zero;
    mem.write32(l1, i * 8, frame * 4096 + RO_SUPERVISOR);
  }
  const slot = (511 - 428) * 2;
  mm.xenL2Entries[slot] = l1 * 4096 + RO_SUPERVISOR;
  mm.xenL2Entries[slot + 1] = 0;
}

/** A booted (not yet run) 32-bit PV domain: call `vcpu.run(budget)` to run it. */
export interface BootedPv32Domain {
  /** Machine memory and frame ownership. */
  readonly machine: Machine;
  /** Xen's PV page-type rules for the domain. */
  readonly mm: PvMm;
  /** The builder's start-of-day layout. */
  readonly layout: PvLayout;
  /** The CPU model running vCPU 0. */
  readonly cpu: X86Cpu;
  /** vCPU 0. */
  readonly vcpu: Pv32Vcpu;
  /** The options the vCPU was created with (for restoring it over a new CPU). */
  readonly vcpuOptions: Pv32VcpuOptions;
  /** The event channels of dom0 and the guest. */
  readonly evtchn: EventChannels;
  /** Result of pinning the L3 (0, or a negative Xen errno). */
  readonly pinRc: number;
  /** Machine address of the guest's shared_info page. */
  readonly sharedInfoMa: number;
  /** Everything the guest wrote with CONSOLEIO_write, as Latin-1 text. */
  console(): string;
  /** Every (domid, reason) shutdown report. */
  readonly shutdowns: Array<[number, number]>;
  /** dom0's ends of the xenstore and console channels (bound as xenstored/xenconsoled do). */
  readonly dom0Ports: { readonly store: number; readonly console: number };
  /** Guest-side store and console ports (start_info's store_evtchn and console.evtchn). */
  readonly guestPorts: { readonly store: number; readonly console: number };
}

/** Options for {@link bootPv32Domain}. */
export interface Pv32BootOptions {
  /** Memory of the domain in MiB (default 16). */
  readonly memoryMiB?: number;
  /** Called when a port of dom0 becomes pending (the guest notified a backend). */
  readonly dom0PortPending?: (port: number) => void;
  /** Hypercall trace hook, passed to the vCPU (see `Pv32VcpuOptions.trace`). */
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
    /**
     * Writes machine frame `mfn`'s entry in the guest-visible compat M2P (4-byte entries at
     * HYPERVISOR_COMPAT_VIRT_START; null: no longer the guest's). `machineReservations` takes it.
     */
    readonly setM2p: (mfn: number, pfn: number | null) => void;
  }) => MemoryReservationPort;
}

/** The vCPU's TSC runs at 1 GHz: one tick per retired instruction of the CPU model (its default clock). */
const TSC_HZ = 1_000_000_000;

/**
 * Builds and boots a 32-bit PAE PV guest from `kernelPath`. Throws a `CONFIG`
 * {@link ToolstackError} for kernels the PV builder refuses or that are not x86_32p, and a
 * `NOT_FOUND` one for a kernel file that cannot be read.
 */
export function bootPv32Domain(
  kernelPath: string,
  options: Pv32BootOptions = {},
): BootedPv32Domain {
  const memoryMiB = options.memoryMiB ?? 16;
  if (!Number.isInteger(memoryMiB) || memoryMiB < 4 || memoryMiB > 48) {
    throw new ToolstackError(
      'CONFIG',
      `memory must be 4 to 48 MiB for this boot path, got ${memoryMiB}`,
    );
  }
  const nrPages = memoryMiB * 256;
  const machine = new Machine({ bytes: 64 * 1024 * 1024 });
  machine.populate(0, 0, 2); // dom0's shared_info and grant frame
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
  if (kernel.guestType !== 'xen-3.0-x86_32p') {
    throw new ToolstackError(
      'CONFIG',
      `${kernelPath}: this boot path runs 32-bit PAE PV kernels (this one is ${kernel.guestType})`,
    );
  }

  const guestMem = new OwnedFramesMemory(machine.frames, machine.memory, DOMID);
  const dom0Mem = new OwnedFramesMemory(machine.frames, machine.memory, 0);
  const sharedInfoMa = p2m.get(nrPages) * 4096;
  const evtchn = new EventChannels({
    upcallPending: () => undefined,
    portPending: (domid, port) => {
      if (domid === 0) options.dom0PortPending?.(port);
    },
  });
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
    abi: 'x86_32',
    vcpus: 1,
    memory: guestMem,
    sharedInfoAddress: sharedInfoMa,
  });
  evtchn.initSharedInfo(DOMID); // every vCPU starts with evtchn_upcall_mask = 1
  const storePort = evtchn.allocUnbound(0, DOMID, 0);
  const consolePort = evtchn.allocUnbound(0, DOMID, 0);
  const consoleBackendPort = evtchn.bindInterdomain(0, DOMID, consolePort);
  const storeBackendPort = evtchn.bindInterdomain(0, DOMID, storePort);
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
  const timers = new VcpuTimers({ clock, timers: clock, raise: () => undefined });
  timers.addVcpu(DOMID, 0);
  const host: HypercallHost = { evtchn, grants, timers };

  const layout = buildPvLayout({
    kernel,
    elf,
    nrPages,
    cmdline: 'console=hvc0',
    pfnToMfn: (pfn) => p2m.get(pfn),
    sharedInfoMfn: p2m.get(nrPages),
    storeEvtchn: storePort,
    consoleEvtchn: consolePort,
  });
  for (const [pfn, page] of layout.pages) machine.memory.writeBytes(p2m.get(pfn), 0, page);
  if (layout.hypercallPagePfn !== undefined) {
    const page = new Uint8Array(4096);
    fillHypercallPage32(page);
    machine.memory.writeBytes(p2m.get(layout.hypercallPagePfn), 0, page);
  }
  // Time: vcpu_time_info (TSC at 1 GHz, so tsc == ns) and the wall clock, in the 32-bit layout.
  const si = sharedInfoLayout('x86_32');
  writeVcpuTimeInfo(guestMem, sharedInfoMa + si.vcpu_time, {
    tscTimestamp: 0n,
    systemTime: 0n,
    scale: timeScaleFor(TSC_HZ),
    flags: XEN_PVCLOCK_TSC_STABLE_BIT,
  });
  writeWallClock(guestMem, sharedInfoMa, si, 1_700_000_000, 0);
  const mm = new PvMm(machine);
  mm.addDomain(DOMID, { guestWidth: 32 });
  mm.vmAssist(DOMID, VMASST_CMD_enable, VMASST_TYPE_pae_extended_cr3);
  mapCompatM2p(machine, mm);
  mapCompatGdt(machine, mm);
  const top = layout.vcpu.topLevelMfn;
  const pinRc = mm.mmuextOp(DOMID, 0, [
    { cmd: MMUEXT.MMUEXT_PIN_L3_TABLE, arg1Lo: top, arg1Hi: 0, arg2: 0 },
    { cmd: MMUEXT.MMUEXT_NEW_BASEPTR, arg1Lo: top, arg1Hi: 0, arg2: 0 },
  ]);

  const cpu = X86Cpu.create({
    memory: new MachinePhysicalMemory(machine.memory),
    intercepts: PV32_INTERCEPTS,
  });
  const out: number[] = [];
  const shutdowns: Array<[number, number]> = [];
  const vcpuOptions: Pv32VcpuOptions = {
    cpu,
    machine: machine.memory,
    domid: DOMID,
    host,
    mm,
    vcpuInfo: { memory: guestMem, address: sharedInfoMa },
    gdtAddress: COMPAT_GDT_VIRT,
    ...(options.trace ? { trace: options.trace } : {}),
    ...(options.memory
      ? {
          memory: options.memory({
            machine,
            domid: DOMID,
            nrPages,
            sharedInfoMfn: p2m.get(nrPages),
            setM2p: (mfn, pfn) => writeCompatM2p(machine, mfn, pfn),
          }),
        }
      : {}),
    console: { write: (_d, b) => out.push(...b) },
    shutdown: { shutdown: (d, reason) => shutdowns.push([d, reason]) },
  };
  const vcpu = new Pv32Vcpu(vcpuOptions);
  vcpu.boot({
    rip: layout.vcpu.rip,
    rsp: layout.vcpu.rsp,
    rsi: layout.vcpu.rsi,
    cr3: BigInt(top) * 4096n,
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
    sharedInfoMa,
    console: () => String.fromCharCode(...out),
    shutdowns,
    dom0Ports: { store: storeBackendPort, console: consoleBackendPort },
    guestPorts: { store: storePort, console: consolePort },
  };
}
