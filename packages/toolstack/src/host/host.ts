/**
 * The host: one machine running the hypervisor, dom0 (this process), xenstored and the backends,
 * with PV domains built from xl configurations. This is what `typevisor create` runs on, and what
 * embedders use to run guests from TypeScript.
 *
 * dom0 is a native TypeScript domain: it has event channels and grant tables in the hypervisor
 * like any domain, and its drivers (the xenstore ring, the console, blkback) use them through the
 * same ports a driver domain would.
 * @module
 */
import { readFileSync } from 'node:fs';
import {
  DeterministicClock,
  EventChannels,
  fillHypercallPage32,
  fillHypercallPage64,
  GrantTables,
  type HypercallHost,
  MachinePhysicalMemory,
  OwnedFramesMemory,
  PV_INTERCEPTS,
  PV_RUN,
  PV32_INTERCEPTS,
  Pv32DomainVcpus,
  Pv32Vcpu,
  type Pv32VcpuState,
  PvDomainVcpus,
  type PvDomainVcpusHooks,
  type PvDomainVcpusState,
  type PvRunResult,
  PvVcpu,
  type PvVcpuOptions,
  type PvVcpuState,
  Scheduler,
  SHUTDOWN_poweroff,
  sharedInfoLayout,
  timeScaleFor,
  VcpuTimers,
  VIRQ_TIMER,
  writeVcpuTimeInfo,
  writeWallClock,
  XEN_DOMCTL_SCHEDOP_putinfo,
  XEN_PVCLOCK_TSC_STABLE_BIT,
  XEN_SCHEDULER_CREDIT,
} from '@typevisor/hypervisor';
import { Machine, type MachineState, MMUEXT, PvMm } from '@typevisor/mmu';
import {
  Blkback,
  type BlockStorage,
  ConsoleBackend,
  Qcow2Storage,
  RawStorage,
  vbdDeviceNumber,
  xenbusClientFromXenstore,
} from '@typevisor/split-drivers';
import { type CpuOptions, X86Cpu } from '@typevisor/x86-cpu';
import { inProcessTransport, RingManager, Xenstore, XenstoreClient } from '@typevisor/xenstore';
import { parseElf } from '../builder/elf.ts';
import { buildPvLayout, type PvLayout } from '../builder/pv-layout.ts';
import { readXenKernelInfo } from '../builder/xen-notes.ts';
import type { DiskSpec } from '../config/disk-spec.ts';
import type { DomainConfig, LifecycleAction } from '../config/domain-config.ts';
import { COMPAT_GDT_VIRT, mapCompatGdt } from '../domain/pv-domain32.ts';
import { ToolstackError } from '../errors.ts';
import {
  type ByteSource,
  bytesSource,
  encodeHeader,
  encodeJsonRecord,
  encodeRecord,
  MAX_PAGES_PER_RECORD,
  REC_TYPE,
  readSaveStream,
} from '../migration/stream.ts';
import type { DomainSaveContext } from './domain-save-context.ts';
import { FileByteStore } from './file-byte-store.ts';
import { type MemoryDomainPort, setMaxMemory, setMemoryTarget } from './host-balloon.ts';
import { HostDevices } from './host-devices.ts';
import {
  decodeHostImage,
  encodeHostImage,
  HOST_IMAGE_VERSION,
  type HostImage,
  type SavedDomain,
} from './host-image.ts';
import { applyLifecycle, SUSPEND_TIMEOUT_MS } from './host-lifecycle.ts';
import { HostVcpu } from './host-vcpu.ts';
import { machineReservations } from './machine-reservations.ts';
import { type NativeDomain, NativeGrantIssuer, NativePageAllocator } from './native-domain.ts';
import { NativeEventChannels } from './native-events.ts';
import { framePage, NativeGrantMapper } from './native-grants.ts';

/** DOMID_INVALID: the owner of free machine frames. */
const DOMID_INVALID = 0x7ff4;
/** DOMID_XEN: owner of the frames holding Xen's read-only M2P mapping. */
const DOMID_XEN = 0x7ff2;
/** `_PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED`: readable by a ring-3 kernel, never writable. */
const RO_USER = 0x25;
/** VMASST_CMD_enable and VMASST_TYPE_pae_extended_cr3. */
const VMASST_CMD_enable = 0;
const VMASST_TYPE_pae_extended_cr3 = 3;
/** GTF_permit_access in a v1 grant entry's flags. */
const GTF_permit_access = 1;
/** libxl's default max_grant_frames. */
const MAX_GRANT_FRAMES = 64;
/** Instructions a vCPU runs before the host looks at the others and at dom0's work. */
const SLICE = 200_000;
/** The shortest slice run (so a nearly expired scheduler slice still makes progress). */
const MIN_SLICE = 1000;
/** The virtual TSC runs at 1 GHz: one tick per nanosecond of system time. */
const TSC_HZ = 1_000_000_000;
/** Most physical CPUs a host may have. */
const MAX_PCPUS = 64;
/** Most vCPUs a guest may have here: the vcpu_info slots in shared_info (XEN_LEGACY_MAX_VCPUS). */
const MAX_GUEST_VCPUS = 32;
/** Bytes of console output kept per domain (xenconsoled's default `limit` is 1 MiB). */
const CONSOLE_KEEP = 1 << 20;

/** How time passes on the host. */
export type HostTimeMode = 'virtual' | 'real';

/** Options of {@link Host}. */
export interface HostOptions {
  /** Machine memory in MiB (allocated lazily); default 512, at most 1024. */
  readonly memoryMiB?: number;
  /**
   * `virtual` (default): system time is derived from executed instructions (1 ns each) and jumps
   * to the next timer when every vCPU is blocked, so runs are deterministic. `real`: wall time.
   */
  readonly time?: HostTimeMode;
  /**
   * Under virtual time, the nanoseconds one guest instruction takes (a positive integer; default
   * 1, a 1 GHz one-instruction-per-cycle machine). Larger values make scheduler periods and
   * guest timers come around in fewer instructions.
   */
  readonly instructionNs?: number;
  /** Wall-clock seconds since the epoch reported to guests at boot; default: now. */
  readonly wallClockSec?: number;
  /** Receives the host's log lines (domain crashes, backend failures). Default: dropped. */
  readonly log?: (line: string) => void;
  /**
   * The vCPU scheduler: `credit` (default: weights from `cpu_weight`, caps from `cap`, pinning
   * from `cpus`) or `sedf`. The host has one physical CPU; guests share it as the scheduler
   * decides, in slices of its choosing (one instruction is one nanosecond of virtual time).
   */
  readonly scheduler?: 'credit' | 'sedf';
  /** Hypercall trace hook (domain, number, arguments, result), for diagnostics. */
  readonly trace?: (domid: number, nr: number, args: readonly bigint[], rc: number) => void;
  /**
   * Physical CPUs (1–64, default 1). One JavaScript thread runs them in turn: each round, every
   * pCPU runs its current vCPU for a slice starting at the same virtual time (see DESIGN.md).
   */
  readonly pcpus?: number;
  /**
   * How long a guest that supports suspend gets to acknowledge a suspend request, and then to
   * suspend, before a save or migration (ms; default libxl's 60 000).
   */
  readonly suspendTimeoutMs?: number;
}

/** What a domain is doing. */
export type DomainRunState = 'running' | 'blocked' | 'paused' | 'shutdown';

/** `xl list`-style state letters and the shutdown reason names. */
const SHUTDOWN_NAMES: Readonly<Record<number, string>> = {
  0: 'poweroff',
  1: 'reboot',
  2: 'suspend',
  3: 'crash',
  4: 'watchdog',
  5: 'soft_reset',
};

/** A domain on the host. */
export class HostDomain {
  /** Domain ID. */
  readonly domid: number;
  /** Name (`name=`; `rename` changes it). */
  name: string;
  /** UUID. */
  readonly uuid: string;
  /** The configuration it was created from. */
  readonly config: DomainConfig;
  /** The builder's start-of-day layout. */
  readonly layout: PvLayout;
  /** The CPU model running vCPU 0. */
  readonly cpu: X86Cpu;
  /** vCPU 0 (a 64-bit or a 32-bit PAE PV vCPU). */
  readonly vcpu: PvVcpu | Pv32Vcpu;
  /** Every vCPU (`maxvcpus` of them, index = vCPU ID); vCPU 0 is {@link HostDomain.vcpu}. */
  readonly vcpus: HostVcpu[];
  /** The domain's vCPU lifecycle (which vCPUs are initialised and up), for 64-bit guests. */
  readonly smp: PvDomainVcpus | Pv32DomainVcpus | undefined;
  /** The guest ABI: `xen-3.0-x86_64` or `xen-3.0-x86_32p`. */
  readonly guestType: string;
  /** Whether the toolstack paused it. */
  paused: boolean;
  /** Whether vCPU 0 is blocked in SCHEDOP_block (each vCPU's own flag is in {@link HostDomain.vcpus}). */
  get blocked(): boolean {
    return this.vcpus[0]?.blocked ?? false;
  }

  set blocked(value: boolean) {
    const v = this.vcpus[0];
    if (v !== undefined) v.blocked = value;
  }
  /** The SHUTDOWN_* reason once it shut down, else -1. */
  shutdownReason: number;
  /** System time (ns) at creation. */
  readonly createdAtNs: number;
  /** Instructions executed so far. */
  instructions: number;
  /** Console output received through the PV console ring (the last MiB). */
  private consoleBytes: number[];
  /** Output written with CONSOLEIO_write (Xen's console: `xl dmesg`). */
  private xenConsoleBytes: number[];
  /** Listeners of console output. */
  readonly consoleListeners: Set<(bytes: Uint8Array) => void>;
  /** The console backend (xenconsoled's part). */
  consoleBackend: ConsoleBackend | undefined;
  /** Block backends by vdev. */
  readonly disks: Map<string, Blkback>;
  /** The storage behind each block backend, by vdev (kept across a save's detach/attach). */
  readonly diskStorage: Map<string, BlockStorage>;
  /** The guest's xenstore event-channel port (start_info.store_evtchn). */
  readonly storePort: number;
  /** The guest's console event-channel port (start_info.console.evtchn). */
  readonly consolePort: number;
  /** Disk files to close on destroy. */
  readonly files: FileByteStore[];

  /** @internal Created by {@link Host.createDomain}. */
  constructor(init: {
    domid: number;
    config: DomainConfig;
    uuid: string;
    layout: PvLayout;
    cpu: X86Cpu;
    vcpu: PvVcpu | Pv32Vcpu;
    vcpus?: HostVcpu[];
    smp?: PvDomainVcpus | Pv32DomainVcpus;
    nowNs: number;
    storePort: number;
    consolePort: number;
  }) {
    this.domid = init.domid;
    this.name = init.config.name;
    this.uuid = init.uuid;
    this.config = init.config;
    this.layout = init.layout;
    this.cpu = init.cpu;
    this.vcpu = init.vcpu;
    this.vcpus = init.vcpus ?? [new HostVcpu(0, init.cpu, init.vcpu)];
    this.smp = init.smp;
    this.guestType = init.layout.guestType;
    this.paused = true;
    this.shutdownReason = -1;
    this.createdAtNs = init.nowNs;
    this.instructions = 0;
    this.consoleBytes = [];
    this.xenConsoleBytes = [];
    this.consoleListeners = new Set();
    this.consoleBackend = undefined;
    this.disks = new Map();
    this.diskStorage = new Map();
    this.files = [];
    this.storePort = init.storePort;
    this.consolePort = init.consolePort;
  }

  /** @internal Restores the console tails and counters of a saved domain. */
  restoreFrom(saved: SavedDomain): void {
    this.paused = saved.paused;
    this.blocked = saved.blocked;
    this.instructions = saved.instructions;
    for (let i = 0; i < saved.console.length; i++)
      this.consoleBytes.push(saved.console.charCodeAt(i));
    for (let i = 0; i < saved.xenConsole.length; i++)
      this.xenConsoleBytes.push(saved.xenConsole.charCodeAt(i));
  }

  /** What the domain is doing now. */
  get state(): DomainRunState {
    if (this.shutdownReason >= 0) return 'shutdown';
    if (this.paused) return 'paused';
    for (const v of this.vcpus) if (!v.blocked && this.isUp(v.id)) return 'running';
    return 'blocked';
  }

  /** Whether vCPU `id` is up (vCPU 0 always is until the guest takes it down). */
  isUp(id: number): boolean {
    return this.smp === undefined ? id === 0 : this.smp.isUp(id);
  }

  /** The number of vCPUs that are up (`xl list`'s VCPUs column). */
  get onlineVcpus(): number {
    return this.smp === undefined ? 1 : this.smp.online;
  }

  /** The shutdown reason's name (`poweroff`, `reboot`, `crash`, …), or undefined. */
  get shutdownName(): string | undefined {
    return this.shutdownReason < 0
      ? undefined
      : (SHUTDOWN_NAMES[this.shutdownReason] ?? String(this.shutdownReason));
  }

  /** @internal Console ring output arrived. */
  pushConsole(bytes: Uint8Array): void {
    for (const b of bytes) this.consoleBytes.push(b);
    if (this.consoleBytes.length > CONSOLE_KEEP)
      this.consoleBytes.splice(0, this.consoleBytes.length - CONSOLE_KEEP);
    for (const l of this.consoleListeners) l(bytes);
  }

  /** @internal CONSOLEIO_write output arrived. */
  pushXenConsole(bytes: Uint8Array): void {
    for (const b of bytes) this.xenConsoleBytes.push(b);
    if (this.xenConsoleBytes.length > CONSOLE_KEEP)
      this.xenConsoleBytes.splice(0, this.xenConsoleBytes.length - CONSOLE_KEEP);
  }

  /** The console output so far, as Latin-1 text. */
  consoleText(): string {
    return latin1(this.consoleBytes);
  }

  /** What the guest wrote to Xen's console with CONSOLEIO_write, as Latin-1 text. */
  xenConsoleText(): string {
    return latin1(this.xenConsoleBytes);
  }
}

function latin1(bytes: readonly number[]): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192)
    s += String.fromCharCode(...bytes.slice(i, i + 8192));
  return s;
}

/** Options of {@link Host.createDomain}. */
export interface CreateDomainOptions {
  /** Leave the domain paused (`xl create -p`). */
  readonly paused?: boolean;
}

/** Options of {@link Host.migrate}. */
export interface MigrateOptions {
  /** Most rounds before stop-and-copy, the first full round included (default 8). */
  readonly maxRounds?: number;
  /** Guest instructions run between rounds (default 2 000 000). */
  readonly roundInstructions?: number;
  /** Stop and copy once a round finds at most this many changed pages (default 64). */
  readonly stopPages?: number;
  /** Keep the guests running here afterwards (a live checkpoint) instead of destroying them. */
  readonly keepSource?: boolean;
}

/** What {@link Host.migrate} did. */
export interface MigrationReport {
  /** Rounds, the final stop-and-copy included. */
  readonly rounds: number;
  /** Pages sent in each round. */
  readonly pagesPerRound: readonly number[];
  /** Bytes of stream sent. */
  readonly bytes: number;
  /** Wall time from the start to the END record sent (ms). */
  readonly totalMs: number;
  /** Wall time the guests were stopped on this host (ms): the final round. */
  readonly downtimeMs: number;
}

/** Options of {@link Host.run}. */
export interface HostRunOptions {
  /** Stop when this returns true (checked between slices). */
  readonly until?: () => boolean;
  /** Stop after this many guest instructions in total. */
  readonly maxInstructions?: number;
  /** Stop after this much wall time (ms). */
  readonly timeoutMs?: number;
  /** Stop when no domain is left running (default true). */
  readonly stopWhenIdle?: boolean;
}

/** Why {@link Host.run} returned. */
export type HostRunResult = 'until' | 'instructions' | 'timeout' | 'idle' | 'stopped';

/**
 * A machine with the hypervisor, dom0 (this process), xenstored and backends. Create domains with
 * {@link Host.createDomain} and drive them with {@link Host.run}.
 *
 * @example
 * ```ts
 * import { Host, parseDomainConfig } from '@typevisor/toolstack';
 * const host = new Host();
 * const cfg = parseDomainConfig('name="g"\nkernel="/usr/lib/grub-xen/grub-x86_64-xen.bin"\nmemory=32\n');
 * const dom = await host.createDomain(cfg);
 * await host.run({ until: () => dom.consoleText().includes('grub>'), timeoutMs: 60_000 });
 * ```
 */
export class Host {
  /** Machine memory and frame ownership. */
  readonly machine: Machine;
  /** Xen's PV page-type rules. */
  readonly mm: PvMm;
  /** Event channels of every domain. */
  readonly evtchn: EventChannels;
  /** Grant tables of every domain. */
  readonly grants: GrantTables;
  /** System time and timers. */
  readonly clock: DeterministicClock;
  /** The vCPU scheduler (Xen's core with the credit or sEDF policy) on the physical CPUs. */
  readonly scheduler: Scheduler;
  /** The number of physical CPUs. */
  readonly pcpus: number;
  /** vCPU timers (set_timer_op, VCPUOP_set_*_timer). */
  readonly timers: VcpuTimers;
  /** The store xenstored serves. */
  readonly xenstore: Xenstore;
  /** The guests' xenstore rings. */
  readonly rings: RingManager;
  /** dom0's xenstore client. */
  readonly xs: XenstoreClient;
  /** dom0's event channels. */
  readonly dom0Events: NativeEventChannels;
  /** dom0's grant mappings. */
  readonly dom0Grants: NativeGrantMapper;
  /** Domains by ID (dom0 excluded). */
  readonly domains: Map<number, HostDomain> = new Map();
  /** Hot-plugged block devices, VIFs and the bridges they are on. */
  readonly devices: HostDevices;
  /** Called when a domain shuts down (after the lifecycle action has been applied). */
  onShutdown: ((domain: HostDomain, action: LifecycleAction) => void) | undefined;
  /** How long a guest gets to acknowledge a suspend request, and then to suspend (ms). */
  readonly suspendTimeoutMs: number;
  private readonly timeMode: HostTimeMode;
  private readonly memoryMiB: number;
  private running = false;
  private readonly instructionNs: number;
  /**
   * The scheduler's timers, on their own clock kept at the host's system time, so that "every
   * guest is blocked and no guest timer is armed" is still recognised as idle while the
   * scheduler's accounting tick is armed.
   */
  private readonly schedTimers: DeterministicClock;
  private readonly wallClockSec: number;
  private readonly log: (line: string) => void;
  private readonly trace: HostOptions['trace'];
  private readonly hypercallHost: HypercallHost;
  private readonly m2pFrames: number[];
  private readonly compatM2pFrames: number[];
  private readonly storePorts: Map<number, number> = new Map();
  /** Event channels of native domains (dom0 and driver/test domains), by domid. */
  private readonly natives: Map<number, NativeEventChannels> = new Map();
  private readonly nativeDomains: Map<number, NativeDomain> = new Map();
  /** `max_pages` set by `mem-max` / `mem-set` (XEN_DOMCTL_max_mem), by domid. */
  private readonly maxPagesSet: Map<number, number> = new Map();
  private nextDomid = 1;
  private realStartMs = 0;
  private realStartNs = 0;
  private stopRequested = false;
  private inflight = 0;
  private readonly settleWaiters: (() => void)[] = [];
  /** Slice ends of the round being run on several pCPUs (reused). */
  private readonly sliceEnds: {
    d: HostDomain;
    hv: HostVcpu;
    r: PvRunResult;
    ran: number;
  }[] = [];
  /** Instructions the last slice ran. */
  private sliceRan = 0;
  /** Domains that shut down in the last round, for their lifecycle actions. */
  private readonly shutDown: HostDomain[] = [];
  /** TSC base for the slice being run (virtual time). */
  private sliceNs = 0;
  private sliceInstr = 0;
  private sliceCpu: X86Cpu | undefined;

  /**
   * Creates the machine, dom0 and xenstored. (`image` is internal: {@link Host.restore} passes
   * a saved host's state; its guests are added by `restore`.)
   */
  constructor(options: HostOptions = {}, image?: HostImage) {
    const mib = image?.memoryMiB ?? options.memoryMiB ?? 512;
    if (!Number.isInteger(mib) || mib < 16 || mib > 1024 || mib % 2 !== 0) {
      throw new ToolstackError('CONFIG', `host memory must be an even 16 to 1024 MiB, got ${mib}`);
    }
    this.timeMode = options.time ?? 'virtual';
    this.wallClockSec =
      image?.wallClockSec ?? options.wallClockSec ?? Math.floor(Date.now() / 1000);
    this.memoryMiB = mib;
    this.instructionNs = options.instructionNs ?? 1;
    if (
      !Number.isSafeInteger(this.instructionNs) ||
      this.instructionNs < 1 ||
      this.instructionNs > 1e6
    ) {
      throw new ToolstackError(
        'CONFIG',
        `instructionNs must be an integer from 1 to 1000000, got ${options.instructionNs}`,
      );
    }
    this.log = options.log ?? (() => undefined);
    this.suspendTimeoutMs = options.suspendTimeoutMs ?? SUSPEND_TIMEOUT_MS;
    this.trace = options.trace;
    this.pcpus = options.pcpus ?? 1;
    if (!Number.isInteger(this.pcpus) || this.pcpus < 1 || this.pcpus > MAX_PCPUS) {
      throw new ToolstackError(
        'CONFIG',
        `pcpus must be an integer from 1 to ${MAX_PCPUS}, got ${options.pcpus}`,
      );
    }
    const notifier = {
      upcallPending: (domid: number, vcpu: number) => this.wake(domid, vcpu),
      portPending: (domid: number, port: number) => {
        const native = this.natives.get(domid);
        if (native !== undefined) native.raised(port);
        else this.wake(domid);
      },
    };
    const raise = (domid: number, vcpu: number) => this.evtchn.sendVirq(domid, vcpu, VIRQ_TIMER);
    if (image !== undefined) {
      // A saved host: frames, types and P2Ms, PV paging, channels, grants, timers, time.
      this.machine = Machine.fromState(image.machine);
      const memoryOf = (domid: number) =>
        new OwnedFramesMemory(this.machine.frames, this.machine.memory, domid);
      this.mm = PvMm.fromState(image.mm, this.machine);
      this.m2pFrames = [...image.m2pFrames];
      this.compatM2pFrames = [...image.compatM2pFrames];
      this.clock = new DeterministicClock(image.clockNs);
      this.evtchn = EventChannels.fromState(image.evtchn, { notifier, memoryOf });
      this.grants = GrantTables.fromState(image.grants, { memoryOf });
      this.timers = VcpuTimers.fromState(image.timers, {
        clock: this.clock,
        timers: this.clock,
        raise,
      });
      this.nextDomid = image.nextDomid;
    } else {
      this.machine = new Machine({ bytes: mib * 1024 * 1024 });
      this.mm = new PvMm(this.machine);
      this.m2pFrames = this.mapM2p();
      this.compatM2pFrames = this.mapCompatM2p();
      mapCompatGdt(this.machine, this.mm); // Xen's reserved GDT page for 32-bit guests
      this.clock = new DeterministicClock();
      this.evtchn = new EventChannels(notifier);
      this.grants = new GrantTables();
      this.timers = new VcpuTimers({ clock: this.clock, timers: this.clock, raise });
      // dom0: a shared_info frame and a grant-table frame, no RAM of its own in the machine.
      this.machine.populate(0, 0, 2);
      const dom0Mem = new OwnedFramesMemory(this.machine.frames, this.machine.memory, 0);
      this.evtchn.addDomain({
        domid: 0,
        privileged: true,
        abi: 'x86_64',
        vcpus: 1,
        memory: dom0Mem,
        sharedInfoAddress: this.machine.p2m(0).get(0) * 4096,
      });
      this.grants.addDomain({
        domid: 0,
        privileged: true,
        memory: dom0Mem,
        grantFrames: [this.machine.p2m(0).get(1)],
      });
    }
    this.hypercallHost = { evtchn: this.evtchn, grants: this.grants, timers: this.timers };
    this.schedTimers = new DeterministicClock(this.clock.now());
    this.scheduler = new Scheduler({
      nrCpus: this.pcpus,
      scheduler: options.scheduler ?? 'credit',
      clock: this.clock,
      timers: this.schedTimers,
    });
    this.dom0Events = new NativeEventChannels(this.evtchn, 0, this.log);
    this.natives.set(0, this.dom0Events);
    this.dom0Grants = new NativeGrantMapper(this.grants, this.machine.memory, 0);

    this.xenstore =
      image === undefined
        ? new Xenstore({ log: (line) => this.log(line) })
        : Xenstore.fromState(image.xenstore, { log: (line) => this.log(line) });
    this.rings = new RingManager(this.xenstore, {
      mapRingPage: (domid, mfn) =>
        mfn >= 0 && mfn < this.machine.memory.frames && this.machine.frames.owner[mfn] === domid
          ? framePage(this.machine.memory, mfn)
          : undefined,
      notify: (domid) => {
        const local = this.storePorts.get(domid);
        if (local !== undefined) this.dom0Events.notify(local);
      },
      unmapRingPage: (domid) => {
        const local = this.storePorts.get(domid);
        if (local !== undefined) this.dom0Events.close(local);
        this.storePorts.delete(domid);
      },
    });
    this.xs = new XenstoreClient(inProcessTransport(this.xenstore));
    this.devices = new HostDevices({
      xs: this.xs,
      mapper: this.dom0Grants,
      events: this.dom0Events,
      nowNs: () => this.nowNs(),
      plugVbd: (domid, spec, storage) => this.plugVbd(domid, spec, storage),
    });
  }

  /** System time in ns. */
  nowNs(): number {
    return this.clock.now();
  }

  /**
   * Maps the machine-to-phys table read-only at HYPERVISOR_VIRT_START (L4 slot 256) as Xen does
   * for 64-bit PV guests: one Xen-owned L3, L2 and L1 and the M2P frames (8-byte entries,
   * all-ones for frames no domain owns). Returns the M2P frames.
   */
  private mapM2p(): number[] {
    const machine = this.machine;
    const frames = machine.memory.frames;
    const m2pPages = Math.ceil((frames * 8) / 4096);
    machine.populate(DOMID_XEN, 0, 3 + m2pPages);
    const xp = machine.p2m(DOMID_XEN);
    const [l3, l2, l1] = [xp.get(0), xp.get(1), xp.get(2)];
    const mem = machine.memory;
    mem.write32(l3, 0, l2 * 4096 + RO_USER);
    mem.write32(l2, 0, l1 * 4096 + RO_USER);
    const pages: number[] = [];
    for (let i = 0; i < m2pPages; i++) {
      pages.push(xp.get(3 + i));
      mem.write32(l1, i * 8, xp.get(3 + i) * 4096 + RO_USER);
    }
    for (let mfn = 0; mfn < frames; mfn++) this.writeM2p(pages, mfn, -1);
    this.mm.xenL4Entries[0] = l3 * 4096 + RO_USER;
    this.mm.xenL4Entries[1] = 0;
    return pages;
  }

  /**
   * Maps the compat (32-bit PV) machine-to-phys table read-only at HYPERVISOR_COMPAT_VIRT_START
   * (0xF5800000, the first Xen slot of every PAE "Xen L2"): one Xen-owned L1 and the M2P frames
   * with 4-byte entries. Returns the M2P frames.
   */
  private mapCompatM2p(): number[] {
    const machine = this.machine;
    const frames = machine.memory.frames;
    const m2pPages = Math.ceil((frames * 4) / 4096);
    const base = machine.frames.domainPages(DOMID_XEN);
    machine.populate(DOMID_XEN, base, 1 + m2pPages);
    const xp = machine.p2m(DOMID_XEN);
    const l1 = xp.get(base);
    const pages: number[] = [];
    for (let i = 0; i < m2pPages; i++) {
      pages.push(xp.get(base + 1 + i));
      machine.memory.write32(l1, i * 8, xp.get(base + 1 + i) * 4096 + RO_USER);
    }
    for (let mfn = 0; mfn < frames; mfn++) {
      const page = pages[mfn >>> 10] ?? 0;
      machine.memory.write32(page, (mfn & 1023) * 4, -1);
    }
    this.mm.xenL2Entries[0] = l1 * 4096 + RO_USER;
    this.mm.xenL2Entries[1] = 0;
    return pages;
  }

  /** Sets machine frame `mfn`'s entry in both M2P tables (-1: no domain's). */
  private setM2p(mfn: number, pfn: number): void {
    this.writeM2p(this.m2pFrames, mfn, pfn);
    const page = this.compatM2pFrames[mfn >>> 10] ?? 0;
    this.machine.memory.write32(page, (mfn & 1023) * 4, pfn);
  }

  private writeM2p(pages: readonly number[], mfn: number, pfn: number): void {
    const page = pages[mfn >>> 9] ?? 0;
    const off = (mfn & 511) * 8;
    this.machine.memory.write32(page, off, pfn);
    this.machine.memory.write32(page, off + 4, pfn < 0 ? -1 : 0);
  }

  /** Wakes a domain's blocked vCPU (`vcpu`, or each of them) that has an event for it. */
  private wake(domid: number, vcpu?: number): void {
    const d = this.domains.get(domid);
    if (d === undefined) return;
    for (const v of d.vcpus) {
      if (vcpu !== undefined && v.id !== vcpu) continue;
      if (v.blocked && this.evtchn.upcallDeliverable(domid, v.id)) {
        v.blocked = false;
        if (this.scheduler.hasDomain(domid)) this.scheduler.wake(domid, v.id);
      }
    }
  }

  /** Current TSC for the CPU model. */
  private readTsc(): number {
    if (this.timeMode === 'real') return this.realNs();
    const cpu = this.sliceCpu;
    if (cpu !== undefined)
      return this.sliceNs + (cpu.instructions - this.sliceInstr) * this.instructionNs;
    return this.clock.now();
  }

  /** What a guest vCPU's CPU model is created with: machine memory, PV intercepts, the host's TSC. */
  private cpuOptions(is32: boolean): CpuOptions {
    return {
      memory: new MachinePhysicalMemory(this.machine.memory),
      intercepts: is32 ? PV32_INTERCEPTS : PV_INTERCEPTS,
      time: { readTsc: () => this.readTsc() },
    };
  }

  /** What a guest's PV vCPU is created with (64- or 32-bit). */
  private vcpuOptions(
    domid: number,
    is32: boolean,
    cpu: X86Cpu,
    config: DomainConfig,
    vcpuId = 0,
    smp?: PvDomainVcpus,
  ): PvVcpuOptions & { readonly gdtAddress?: number } {
    const guestMem = new OwnedFramesMemory(this.machine.frames, this.machine.memory, domid);
    const nrPages = config.memory * 256;
    const sharedInfoMfn = this.machine.p2m(domid).get(nrPages);
    const evtchn = this.evtchn;
    return {
      cpu,
      machine: this.machine.memory,
      domid,
      vcpuId,
      host: this.hypercallHost,
      mm: this.mm,
      // vcpu_info[vcpuId] in shared_info (64 bytes each), or where VCPUOP_register_vcpu_info
      // moved it: upcalls, the saved mask and CR2 follow the event channels' record.
      vcpuInfo: {
        memory: guestMem,
        get address(): number {
          const at = evtchn.vcpuInfoAddress(domid, vcpuId);
          return at >= 0 ? at : sharedInfoMfn * 4096 + vcpuId * 64;
        },
      },
      ...(smp !== undefined ? { smp } : {}),
      // memory_op's reservations (ballooning, memory_map, maximum_ram_page) over the machine.
      memory: machineReservations({
        machine: this.machine,
        domid,
        nrPages,
        sharedInfoMfn,
        bootFrames: nrPages + 1 + MAX_GRANT_FRAMES,
        maxPages: config.maxmem * 256,
        setM2p: (mfn, pfn) => this.setM2p(mfn, pfn ?? -1),
        maxPagesNow: () => this.maxPagesSet.get(domid),
      }),
      console: { write: (_d, b) => this.domains.get(domid)?.pushXenConsole(b) },
      shutdown: { shutdown: () => undefined }, // read from the vCPU after each slice
      ...(is32 ? { gdtAddress: COMPAT_GDT_VIRT } : {}),
      ...(this.trace
        ? {
            trace: (nr: number, args: readonly bigint[], rc: number) =>
              this.trace?.(domid, nr, args, rc),
          }
        : {}),
    };
  }

  /** A dom0 blkback for the backend directory `be`, serving `storage` (I/O counted in flight). */
  private newBlkback(be: string, storage: BlockStorage): Blkback {
    return new Blkback({
      xenbus: xenbusClientFromXenstore(this.xs),
      backendPath: be,
      mapper: this.dom0Grants,
      events: this.dom0Events,
      storage: this.tracked(storage),
    });
  }

  private realNs(): number {
    return this.realStartNs + Math.floor((performance.now() - this.realStartMs) * 1e6);
  }

  /**
   * Builds a PV domain from `config` as libxl and Xen's domain builder do, writes its xenstore
   * entries, introduces it to xenstored, connects its console and disks, and (unless
   * `options.paused`) starts it. Throws a {@link ToolstackError} naming the problem for a kernel or
   * disk that cannot be used; nothing is left behind then.
   */
  async createDomain(config: DomainConfig, options: CreateDomainOptions = {}): Promise<HostDomain> {
    if (config.type !== 'pv') {
      throw new ToolstackError(
        'CONFIG',
        `${config.source}: type "${config.type}" is not supported yet (only pv)`,
      );
    }
    if (config.kernel === undefined) {
      throw new ToolstackError('CONFIG', `${config.source}: a PV domain needs kernel=`);
    }
    for (const d of this.domains.values()) {
      if (d.name === config.name)
        throw new ToolstackError('CONFIG', `a domain named "${config.name}" already exists`);
    }
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(config.kernel);
    } catch (err) {
      throw new ToolstackError(
        'NOT_FOUND',
        `cannot read kernel ${config.kernel}: ${(err as Error).message}`,
      );
    }
    const elf = parseElf(bytes, config.kernel);
    const kernel = readXenKernelInfo(elf, config.kernel);
    const is32 = kernel.guestType === 'xen-3.0-x86_32p';
    if (!is32 && kernel.guestType !== 'xen-3.0-x86_64') {
      throw new ToolstackError(
        'CONFIG',
        `${config.kernel}: guest type ${kernel.guestType} is not supported (xen-3.0-x86_64 or xen-3.0-x86_32p)`,
      );
    }
    const abi = is32 ? 'x86_32' : 'x86_64';
    const maxVcpus = this.checkVcpuConfig(config);
    const nrPages = config.memory * 256;
    if (this.machine.frames.freeFrames < nrPages + 1 + MAX_GRANT_FRAMES) {
      throw new ToolstackError(
        'CONFIG',
        `not enough free memory for ${config.memory} MiB (${Math.floor(this.machine.frames.freeFrames / 256)} MiB free)`,
      );
    }
    // Open the disks first: a missing image must fail before anything is built.
    const storages: { spec: DiskSpec; storage: BlockStorage; files: FileByteStore[] }[] = [];
    try {
      for (const spec of config.disks) storages.push(await openDisk(spec));
    } catch (err) {
      for (const s of storages) for (const f of s.files) await f.close();
      throw err;
    }

    const domid = this.allocDomid();
    const machine = this.machine;
    machine.populate(domid, 0, nrPages + 1 + MAX_GRANT_FRAMES);
    const p2m = machine.p2m(domid);
    for (let pfn = 0; pfn < nrPages; pfn++) this.setM2p(p2m.get(pfn), pfn);
    const guestMem = new OwnedFramesMemory(machine.frames, machine.memory, domid);
    const sharedInfoMfn = p2m.get(nrPages);
    this.evtchn.addDomain({
      domid,
      abi,
      vcpus: maxVcpus,
      memory: guestMem,
      sharedInfoAddress: sharedInfoMfn * 4096,
    });
    this.evtchn.initSharedInfo(domid);
    // libxl allocates the xenstore and console ports for dom0 to bind.
    const storePort = this.evtchn.allocUnbound(0, domid, 0);
    const consolePort = this.evtchn.allocUnbound(0, domid, 0);
    this.grants.addDomain({
      domid,
      memory: guestMem,
      grantFrames: Array.from({ length: MAX_GRANT_FRAMES }, (_, i) => p2m.get(nrPages + 1 + i)),
    });
    // vCPU 0's periodic timer runs from now; the others' start when they first come up.
    for (let v = 0; v < maxVcpus; v++) this.timers.addVcpu(domid, v, v === 0 ? undefined : 0);

    const layout = buildPvLayout({
      kernel,
      elf,
      nrPages,
      cmdline: config.cmdline,
      pfnToMfn: (pfn) => p2m.get(pfn),
      sharedInfoMfn,
      storeEvtchn: storePort,
      consoleEvtchn: consolePort,
    });
    for (const [pfn, page] of layout.pages) machine.memory.writeBytes(p2m.get(pfn), 0, page);
    if (layout.hypercallPagePfn !== undefined) {
      const page = new Uint8Array(4096);
      if (is32) fillHypercallPage32(page);
      else fillHypercallPage64(page);
      machine.memory.writeBytes(p2m.get(layout.hypercallPagePfn), 0, page);
    }
    this.mm.addDomain(domid, { guestWidth: is32 ? 32 : 64, vcpus: maxVcpus });
    // A PAE kernel that says so in its notes gets VMASST_TYPE_pae_extended_cr3, as Xen's builder does.
    if (is32) this.mm.vmAssist(domid, VMASST_CMD_enable, VMASST_TYPE_pae_extended_cr3);
    const pinRc = this.mm.mmuextOp(domid, 0, [
      {
        cmd: is32 ? MMUEXT.MMUEXT_PIN_L3_TABLE : MMUEXT.MMUEXT_PIN_L4_TABLE,
        arg1Lo: layout.vcpu.topLevelMfn,
        arg1Hi: 0,
        arg2: 0,
      },
      { cmd: MMUEXT.MMUEXT_NEW_BASEPTR, arg1Lo: layout.vcpu.topLevelMfn, arg1Hi: 0, arg2: 0 },
    ]);
    if (pinRc !== 0) {
      this.teardown(domid);
      throw new ToolstackError(
        'CONFIG',
        `${config.kernel}: the builder's page tables fail validation (${pinRc})`,
      );
    }

    // Seed the grant table as xc_dom_gnttab_seed does: GNTTAB_RESERVED_CONSOLE (0) and
    // GNTTAB_RESERVED_XENSTORE (1) let dom0's console and store daemons map those pages.
    const gnt0 = p2m.get(nrPages + 1);
    for (const [ref, pfn] of [
      [0, layout.consolePfn],
      [1, layout.storePfn],
    ] as const) {
      machine.memory.write32(gnt0, ref * 8, GTF_permit_access); // flags = 1, domid = 0
      machine.memory.write32(gnt0, ref * 8 + 4, p2m.get(pfn));
    }

    // Time: vcpu_time_info (TSC at 1 GHz, so tsc == ns) and the wall clock.
    const layoutSi = sharedInfoLayout(abi);
    for (let v = 0; v < maxVcpus; v++) {
      writeVcpuTimeInfo(guestMem, sharedInfoMfn * 4096 + v * 64 + layoutSi.vcpu_time, {
        tscTimestamp: 0n,
        systemTime: 0n,
        scale: timeScaleFor(TSC_HZ),
        flags: XEN_PVCLOCK_TSC_STABLE_BIT,
      });
    }
    writeWallClock(guestMem, sharedInfoMfn * 4096, layoutSi, this.wallClockSec, 0);
    const cpu = X86Cpu.create(this.cpuOptions(is32));
    const smp = is32 ? undefined : this.domainVcpus(domid, maxVcpus);
    // A 32-bit domain with vcpus > 1 gets its compat vCPU set (compat VCPUOP_initialise / up).
    const smp32 = is32 && maxVcpus > 1 ? this.domainVcpus32(domid, maxVcpus) : undefined;
    const vcpuOptions = this.vcpuOptions(domid, is32, cpu, config, 0, smp);
    const vcpu = is32
      ? new Pv32Vcpu({ ...vcpuOptions, ...(smp32 !== undefined ? { smp32 } : {}) })
      : new PvVcpu(vcpuOptions);
    vcpu.boot({
      rip: layout.vcpu.rip,
      rsp: layout.vcpu.rsp,
      rsi: layout.vcpu.rsi,
      cr3: BigInt(layout.vcpu.topLevelMfn) * 4096n,
    });
    const uuid = config.uuid ?? randomUuid();
    const dom = new HostDomain({
      domid,
      config,
      uuid,
      layout,
      cpu,
      vcpu,
      vcpus: this.secondaryVcpus(domid, is32, config, new HostVcpu(0, cpu, vcpu), smp, smp32),
      ...(smp !== undefined ? { smp } : smp32 !== undefined ? { smp: smp32 } : {}),
      nowNs: this.nowNs(),
      storePort,
      consolePort,
    });
    this.domains.set(domid, dom);
    this.schedAdd(dom);

    try {
      await this.writeDomainStore(dom, p2m.get(layout.storePfn), storePort, consolePort);
      const consoleMfn = p2m.get(layout.consolePfn);
      const d = dom;
      dom.consoleBackend = new ConsoleBackend({
        page: framePage(machine.memory, consoleMfn),
        events: this.dom0Events,
        remoteDomid: domid,
        remotePort: consolePort,
        onOutput: (b) => d.pushConsole(b),
      });
      // xenstored's end of the store channel, bound before the guest can use it.
      const local = this.dom0Events.bindInterdomain(domid, storePort);
      if (local < 0) throw new ToolstackError('STATE', `cannot bind the store port (${local})`);
      this.storePorts.set(domid, local);
      this.dom0Events.onEvent(local, () => this.rings.kick(domid));
      await this.xs.introduceDomain(domid, p2m.get(layout.storePfn), storePort);
      for (const s of storages) await this.attachDisk(dom, s.spec, s.storage, s.files);
      for (const vif of config.vifs) await this.devices.attachVif(domid, vif);
    } catch (err) {
      await this.destroyDomain(domid);
      throw err;
    }
    if (options.paused !== true) this.unpause(domid);
    return dom;
  }

  /** Writes the domain's xenstore entries as libxl does (paths and permissions). */
  private async writeDomainStore(
    dom: HostDomain,
    storeMfn: number,
    storePort: number,
    consolePort: number,
  ): Promise<void> {
    const xs = this.xs;
    const id = dom.domid;
    const dp = `/local/domain/${id}`;
    const vm = `/vm/${dom.uuid}`;
    const roGuest = ['n0', `r${id}`];
    const guestOwned = [`n${id}`];
    const write = async (path: string, value: string, perms: readonly string[]) => {
      await xs.write(path, value);
      await xs.setPerms(path, perms);
    };
    await write(dp, '', roGuest);
    await write(`${vm}`, '', roGuest);
    await write(`${vm}/name`, dom.name, roGuest);
    await write(`${vm}/uuid`, dom.uuid, roGuest);
    await write(`${vm}/image`, '', roGuest);
    await write(`${vm}/image/ostype`, 'linux', roGuest);
    await write(`${vm}/image/kernel`, dom.config.kernel ?? '', roGuest);
    await write(
      `${vm}/start_time`,
      (this.wallClockSec + dom.createdAtNs / 1e9).toFixed(2),
      roGuest,
    );
    await write(`${dp}/vm`, vm, roGuest);
    await write(`${dp}/name`, dom.name, roGuest);
    await write(`${dp}/cpu`, '', roGuest);
    // libxl: cpu/<n>/availability for every possible vCPU, online for the first `vcpus`.
    for (let n = 0; n < dom.vcpus.length; n++) {
      await write(`${dp}/cpu/${n}`, '', roGuest);
      await write(
        `${dp}/cpu/${n}/availability`,
        n < Math.max(1, dom.config.vcpus) ? 'online' : 'offline',
        roGuest,
      );
    }
    await write(`${dp}/memory`, '', roGuest);
    await write(`${dp}/memory/static-max`, String(dom.config.maxmem * 1024), roGuest);
    await write(`${dp}/memory/target`, String(dom.config.memory * 1024), roGuest);
    await write(`${dp}/memory/videoram`, '0', roGuest);
    await write(`${dp}/device`, '', roGuest);
    await write(`${dp}/device/suspend`, '', roGuest);
    await write(`${dp}/device/suspend/event-channel`, '', guestOwned);
    await write(`${dp}/control`, '', roGuest);
    for (const k of [
      'shutdown',
      'feature-poweroff',
      'feature-reboot',
      'feature-suspend',
      'sysrq',
    ]) {
      await write(`${dp}/control/${k}`, '', guestOwned);
    }
    await write(`${dp}/control/platform-feature-multiprocessor-suspend`, '1', roGuest);
    await write(`${dp}/control/platform-feature-xs_reset_watches`, '1', roGuest);
    for (const k of ['data', 'drivers', 'feature', 'attr', 'error'])
      await write(`${dp}/${k}`, '', guestOwned);
    await write(`${dp}/domid`, String(id), roGuest);
    await write(`${dp}/store`, '', roGuest);
    await write(`${dp}/store/port`, String(storePort), roGuest);
    await write(`${dp}/store/ring-ref`, String(storeMfn), roGuest);
    const cb = `/local/domain/0/backend/console/${id}/0`;
    await write(`${dp}/console`, '', roGuest);
    await write(`${dp}/console/backend`, cb, roGuest);
    await write(`${dp}/console/backend-id`, '0', [`n${id}`, 'r0']);
    await write(`${dp}/console/limit`, String(CONSOLE_KEEP), roGuest);
    await write(`${dp}/console/type`, 'xenconsoled', roGuest);
    await write(`${dp}/console/output`, 'pty', roGuest);
    await write(`${dp}/console/port`, String(consolePort), roGuest);
    await write(
      `${dp}/console/ring-ref`,
      String(this.machine.p2m(id).get(dom.layout.consolePfn)),
      roGuest,
    );
    await write(cb, '', roGuest);
    await write(`${cb}/frontend`, `${dp}/console`, roGuest);
    await write(`${cb}/frontend-id`, String(id), roGuest);
    await write(`${cb}/online`, '1', roGuest);
    await write(`${cb}/state`, '1', roGuest);
    await write(`${cb}/protocol`, 'vt100', roGuest);
  }

  /**
   * Adds a virtual block device: the frontend and backend directories as libxl writes them, and
   * a blkback serving `storage`.
   */
  private async attachDisk(
    dom: HostDomain,
    spec: DiskSpec,
    storage: BlockStorage,
    files: FileByteStore[],
  ): Promise<void> {
    const backend = await this.plugVbd(dom.domid, spec, storage);
    dom.disks.set(spec.vdev, backend);
    dom.diskStorage.set(spec.vdev, storage);
    dom.files.push(...files);
  }

  /**
   * Plugs a virtual block device into domain `domid` (a guest or a native domain): the frontend
   * and backend directories as libxl writes them (paths, keys and permissions), and a dom0
   * blkback serving `storage`, started and waiting for the frontend. Returns the backend.
   */
  async plugVbd(
    domid: number,
    spec: Pick<DiskSpec, 'vdev' | 'access' | 'shared' | 'devtype' | 'target'>,
    storage: BlockStorage,
  ): Promise<Blkback> {
    const id = domid;
    const devid = vbdDeviceNumber(spec.vdev);
    const fe = `/local/domain/${id}/device/vbd/${devid}`;
    const be = `/local/domain/0/backend/vbd/${id}/${devid}`;
    const xs = this.xs;
    const feKeys: [string, string][] = [
      ['backend', be],
      ['backend-id', '0'],
      ['virtual-device', String(devid)],
      ['device-type', spec.devtype],
      ['trusted', '1'],
      ['state', '1'],
    ];
    const beKeys: [string, string][] = [
      ['frontend', fe],
      ['frontend-id', String(id)],
      ['online', '1'],
      ['removable', '0'],
      ['bootable', '1'],
      ['dev', spec.vdev],
      ['type', 'vbd'],
      ['mode', spec.access === 'r' ? 'r' : spec.shared ? 'w!' : 'w'],
      ['device-type', spec.devtype],
      ['params', spec.target],
      ['state', '1'],
    ];
    await xs.write(fe, '');
    await xs.setPerms(fe, [`n${id}`, 'r0']);
    for (const [k, v] of feKeys) {
      await xs.write(`${fe}/${k}`, v);
      await xs.setPerms(`${fe}/${k}`, [`n${id}`, 'r0']);
    }
    await xs.write(be, '');
    await xs.setPerms(be, ['n0', `r${id}`]);
    for (const [k, v] of beKeys) {
      await xs.write(`${be}/${k}`, v);
      await xs.setPerms(`${be}/${k}`, ['n0', `r${id}`]);
    }
    const backend = this.newBlkback(be, storage);
    await backend.start();
    return backend;
  }

  private allocDomid(): number {
    for (let tries = 0; tries < 0x7ff0; tries++) {
      const id = this.nextDomid;
      this.nextDomid = this.nextDomid >= 0x7fef ? 1 : this.nextDomid + 1;
      if (!this.domains.has(id) && !this.nativeDomains.has(id) && !this.mm.hasDomain(id)) return id;
    }
    throw new ToolstackError('STATE', 'no free domain IDs');
  }

  /**
   * Creates a native (TypeScript) domain with `pages` frames of its own for rings and buffers,
   * and grant tables and event channels in the hypervisor: a driver domain, or the frontend side
   * of split drivers in tests. Its event handlers run from {@link Host.run} like dom0's.
   */
  createNativeDomain(name: string, pages = 256): NativeDomain {
    if (!Number.isInteger(pages) || pages < 1 || pages > 65536) {
      throw new ToolstackError('CONFIG', `native domain pages must be 1 to 65536, got ${pages}`);
    }
    const grantFrames = 4;
    if (this.machine.frames.freeFrames < pages + 1 + grantFrames) {
      throw new ToolstackError('CONFIG', `not enough free memory for ${pages} pages`);
    }
    const domid = this.allocDomid();
    this.machine.populate(domid, 0, 1 + grantFrames + pages);
    const p2m = this.machine.p2m(domid);
    const memory = new OwnedFramesMemory(this.machine.frames, this.machine.memory, domid);
    this.evtchn.addDomain({
      domid,
      abi: 'x86_64',
      vcpus: 1,
      memory,
      sharedInfoAddress: p2m.get(0) * 4096,
    });
    this.evtchn.initSharedInfo(domid);
    const tableFrames = Array.from({ length: grantFrames }, (_, i) => p2m.get(1 + i));
    this.grants.addDomain({ domid, memory, grantFrames: tableFrames });
    const events = new NativeEventChannels(this.evtchn, domid, this.log);
    this.natives.set(domid, events);
    const pool = new NativePageAllocator(
      this.machine,
      Array.from({ length: pages }, (_, i) => p2m.get(1 + grantFrames + i)),
    );
    const native: NativeDomain = {
      domid,
      name,
      events,
      grants: new NativeGrantIssuer(this.machine, tableFrames, pool),
      pages: pool,
      mapper: new NativeGrantMapper(this.grants, this.machine.memory, domid),
    };
    this.nativeDomains.set(domid, native);
    return native;
  }

  /**
   * Connects dom0's drivers to a domain whose guest side already exists (after a restore, or
   * after a save detached them): xenstored's end of the store channel and the guest's ring, the
   * console backend, and a blkback per disk that offers the device again so the frontend (still
   * Initialised or Connected) is reconnected where its ring left off.
   */
  private async attachDrivers(d: HostDomain): Promise<void> {
    const p2m = this.machine.p2m(d.domid);
    const local = this.dom0Events.bindInterdomain(d.domid, d.storePort);
    if (local < 0) {
      throw new ToolstackError('STATE', `dom${d.domid}: cannot bind the store port (${local})`);
    }
    this.storePorts.set(d.domid, local);
    this.dom0Events.onEvent(local, () => this.rings.kick(d.domid));
    if (this.rings.ring(d.domid) === undefined) {
      this.rings.attach(
        d.domid,
        framePage(this.machine.memory, p2m.get(d.layout.storePfn)),
        d.storePort,
      );
    } else {
      // A domain that stayed on this host kept its xenstore connection (see detachDrivers):
      // serve what it queued meanwhile and tell it about replies and events waiting.
      this.rings.kick(d.domid);
      this.dom0Events.notify(local);
    }
    d.consoleBackend = new ConsoleBackend({
      page: framePage(this.machine.memory, p2m.get(d.layout.consolePfn)),
      events: this.dom0Events,
      remoteDomid: d.domid,
      remotePort: d.consolePort,
      onOutput: (b) => d.pushConsole(b),
    });
    for (const spec of d.config.disks) {
      const storage = d.diskStorage.get(spec.vdev);
      if (storage === undefined) continue;
      const be = `/local/domain/0/backend/vbd/${d.domid}/${vbdDeviceNumber(spec.vdev)}`;
      await this.xs.write(`${be}/state`, '2'); // InitWait: offer the device again
      const backend = this.newBlkback(be, storage);
      await backend.start();
      d.disks.set(spec.vdev, backend);
    }
    await this.devices.resumeVifs(d.domid);
  }

  /** Disconnects dom0's drivers from a domain (closing dom0's ends, unmapping its grants). */
  private async detachDrivers(d: HostDomain): Promise<void> {
    await this.devices.suspendVifs(d.domid);
    for (const b of d.disks.values()) await b.stop();
    d.disks.clear();
    d.consoleBackend?.close();
    d.consoleBackend = undefined;
    // dom0's end of the store channel closes (an image holds the guest's end unbound), but the
    // xenstore connection stays, with the guest's watches, as xenstored keeps it across a
    // suspend under Xen (`save -c`, a failed migration, Host.save); destroyDomain releases it.
    const local = this.storePorts.get(d.domid);
    if (local !== undefined) this.dom0Events.close(local);
    this.storePorts.delete(d.domid);
  }

  /**
   * Saves the whole host — every guest, its memory, vCPU, event channels, grants, timers and
   * xenstore entries — as a Typevisor save image (docs/save-image-format.md), and goes on. The
   * host must not be running ({@link Host.stop} and await {@link Host.run} first); the guests
   * are quiesced (dom0's I/O finished, its drivers detached and re-attached around the capture)
   * and do not notice.
   */
  async save(): Promise<Uint8Array> {
    if (this.running) throw new ToolstackError('STATE', 'stop the host before saving it');
    if (this.nativeDomains.size > 0) {
      throw new ToolstackError('STATE', 'a host with native domains cannot be saved');
    }
    this.refuseSmpImage('saved');
    await this.settleDom0();
    const doms = [...this.domains.values()];
    for (const d of doms) await this.detachDrivers(d);
    await this.settleDom0();
    try {
      return this.encodeImage(doms);
    } finally {
      for (const d of doms) await this.attachDrivers(d);
    }
  }

  /**
   * The whole-host image (version 1) carries one vCPU per domain: a host running a domain with
   * more vCPUs is refused rather than saved without them.
   */
  private refuseSmpImage(verb: string): void {
    for (const d of this.domains.values()) {
      if (d.vcpus.length > 1) {
        throw new ToolstackError(
          'STATE',
          `a host cannot be ${verb} while domain ${d.domid} (${d.name}) has ${d.vcpus.length} vCPUs: the whole-host image carries one vCPU per domain`,
        );
      }
    }
  }

  /** The host's plain-data state for a save image (page contents excluded). */
  private captureImage(doms: readonly HostDomain[], machine: MachineState): HostImage {
    return {
      version: HOST_IMAGE_VERSION,
      memoryMiB: this.memoryMiB,
      clockNs: this.clock.now(),
      wallClockSec: this.wallClockSec,
      nextDomid: this.nextDomid,
      machine,
      mm: this.mm.getState(),
      m2pFrames: this.m2pFrames,
      compatM2pFrames: this.compatM2pFrames,
      evtchn: this.evtchn.getState(),
      grants: this.grants.getState(),
      timers: this.timers.getState(),
      xenstore: this.xenstore.getState(),
      domains: doms.map((d) => {
        const { pages: _pages, ...layout } = d.layout;
        return {
          domid: d.domid,
          name: d.name,
          uuid: d.uuid,
          config: d.config,
          layout,
          storePort: d.storePort,
          consolePort: d.consolePort,
          cpu: d.cpu.getState(),
          vcpu: d.vcpu.getState(),
          paused: d.paused,
          blocked: d.blocked,
          instructions: d.instructions,
          createdAtNs: d.createdAtNs,
          console: d.consoleText().slice(-65536),
          xenConsole: d.xenConsoleText().slice(-65536),
        };
      }),
    };
  }

  private encodeImage(doms: readonly HostDomain[]): Uint8Array {
    const machine = this.machine.getState();
    const image = this.captureImage(doms, machine);
    const chunks: Uint8Array[] = [encodeHeader()];
    chunks.push(encodeJsonRecord(REC_TYPE.DOMAIN_STATE, encodeHostImage(image)));
    let mfns: number[] = [];
    let data: Uint8Array[] = [];
    const flush = () => {
      if (mfns.length === 0) return;
      const body = new Uint8Array(mfns.length * 4096);
      for (let i = 0; i < data.length; i++) body.set(data[i] as Uint8Array, i * 4096);
      chunks.push(encodeRecord({ type: REC_TYPE.PAGE_DATA, pfns: mfns, data: body }));
      mfns = [];
      data = [];
    };
    const mem = this.machine.memory;
    for (const f of machine.frames.used) {
      const mfn = f.mfn;
      if (mem.allocated[mfn >>> 9] === 0) continue; // never written: zeros
      const words = mem.i32Chunks[mfn >>> 9] as Int32Array;
      const base = (mfn & 511) << 10;
      let zero = true;
      for (let i = 0; i < 1024; i++) {
        if (words[base + i] !== 0) {
          zero = false;
          break;
        }
      }
      if (zero) continue;
      mfns.push(mfn);
      data.push(framePage(mem, mfn));
      if (mfns.length === MAX_PAGES_PER_RECORD) flush();
    }
    flush();
    chunks.push(encodeRecord({ type: REC_TYPE.END }));
    let size = 0;
    for (const c of chunks) size += c.length;
    const out = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  /**
   * Live-migrates every guest to another host: sends the save stream to `send` in pre-copy
   * rounds while the guests keep running here (this method runs the host between rounds), each
   * round carrying the pages that changed since the previous one (found by comparing contents),
   * then stops the guests, sends the last changed pages and the host state, and — unless
   * `keepSource` — destroys the guests here, as `xl migrate` does. The receiving side is
   * {@link Host.restore} on the same byte stream. The host must not be running already.
   */
  async migrate(
    send: (chunk: Uint8Array) => Promise<void> | void,
    options: MigrateOptions = {},
  ): Promise<MigrationReport> {
    if (this.running) throw new ToolstackError('STATE', 'stop the host before migrating it');
    if (this.nativeDomains.size > 0) {
      throw new ToolstackError('STATE', 'a host with native domains cannot be migrated');
    }
    this.refuseSmpImage('migrated');
    const maxRounds = options.maxRounds ?? 8;
    const roundInstructions = options.roundInstructions ?? 2_000_000;
    const stopPages = options.stopPages ?? 64;
    const t0 = performance.now();
    let bytes = 0;
    const out = async (chunk: Uint8Array): Promise<void> => {
      bytes += chunk.length;
      await send(chunk);
    };
    const sent = new Map<number, Int32Array>();
    const pagesPerRound: number[] = [];
    const zero = new Int32Array(1024);
    const sendChanged = async (): Promise<number> => {
      const mem = this.machine.memory;
      const owner = this.machine.frames.owner;
      let mfns: number[] = [];
      let total = 0;
      const flush = async (): Promise<void> => {
        if (mfns.length === 0) return;
        const body = new Uint8Array(mfns.length * 4096);
        for (let i = 0; i < mfns.length; i++) body.set(framePage(mem, mfns[i] as number), i * 4096);
        await out(encodeRecord({ type: REC_TYPE.PAGE_DATA, pfns: mfns, data: body }));
        mfns = [];
      };
      for (let mfn = 0; mfn < mem.frames; mfn++) {
        if (owner[mfn] === DOMID_INVALID) continue;
        const c = mfn >>> 9;
        const before = sent.get(mfn) ?? zero;
        let changed = false;
        if (mem.allocated[c] === 0) changed = before !== zero;
        else {
          const words = mem.i32Chunks[c] as Int32Array;
          const base = (mfn & 511) << 10;
          for (let i = 0; i < 1024; i++) {
            if (words[base + i] !== before[i]) {
              changed = true;
              break;
            }
          }
        }
        if (!changed) continue;
        const copy = new Int32Array(1024);
        if (mem.allocated[c] !== 0) {
          const base = (mfn & 511) << 10;
          copy.set((mem.i32Chunks[c] as Int32Array).subarray(base, base + 1024));
        }
        sent.set(mfn, copy);
        mfns.push(mfn);
        total++;
        if (mfns.length === MAX_PAGES_PER_RECORD) await flush();
      }
      await flush();
      return total;
    };

    await out(encodeHeader());
    for (let round = 1; ; round++) {
      const n = await sendChanged();
      pagesPerRound.push(n);
      await out(encodeRecord({ type: REC_TYPE.CHECKPOINT, json: { round, pages: n } }));
      if (round >= maxRounds || (round > 1 && n <= stopPages)) break;
      await this.run({ maxInstructions: roundInstructions, stopWhenIdle: false });
    }
    // Stop and copy: the guests are stopped from here until the destination has everything.
    const down0 = performance.now();
    await this.settleDom0();
    const doms = [...this.domains.values()];
    for (const d of doms) await this.detachDrivers(d);
    await this.settleDom0();
    try {
      pagesPerRound.push(await sendChanged());
      const image = this.captureImage(doms, this.machine.getState());
      await out(encodeJsonRecord(REC_TYPE.DOMAIN_STATE, encodeHostImage(image)));
      await out(encodeRecord({ type: REC_TYPE.END }));
    } catch (err) {
      // The destination never got an END: it restores nothing, and the guests go on here.
      for (const d of doms) await this.attachDrivers(d);
      throw err;
    }
    const downtimeMs = performance.now() - down0;
    if (options.keepSource === true) for (const d of doms) await this.attachDrivers(d);
    else for (const d of doms) await this.destroyDomain(d.domid);
    return {
      rounds: pagesPerRound.length,
      pagesPerRound,
      bytes,
      totalMs: performance.now() - t0,
      downtimeMs,
    };
  }

  /**
   * Restores a host saved by {@link Host.save} (on this machine or another): its guests continue
   * exactly where they were, with the same domain IDs and machine frames, their disks reopened
   * from the paths in their configurations. `options` gives what is not saved (time mode, log,
   * trace). A damaged or truncated image is an `IO` {@link ToolstackError} naming the problem.
   */
  static async restore(source: Uint8Array | ByteSource, options: HostOptions = {}): Promise<Host> {
    const src = source instanceof Uint8Array ? bytesSource(source) : source;
    let image: HostImage | undefined;
    const pages: { mfns: readonly number[]; data: Uint8Array }[] = [];
    let migration = false;
    for await (const rec of readSaveStream(src)) {
      if (rec.type === REC_TYPE.DOMAIN_STATE) image = decodeHostImage(rec.json);
      else if (rec.type === REC_TYPE.PAGE_DATA) pages.push({ mfns: rec.pfns, data: rec.data });
      else if (rec.type === REC_TYPE.CHECKPOINT) migration = true;
    }
    if (image === undefined || image.version !== HOST_IMAGE_VERSION) {
      throw new ToolstackError(
        'IO',
        `save image: no host state of version ${HOST_IMAGE_VERSION} (got ${String(image?.version)})`,
      );
    }
    let host: Host;
    try {
      host = new Host(options, image);
      const mem = host.machine.memory;
      for (const { mfns, data } of pages) {
        mfns.forEach((mfn, i) => {
          // A migration's early rounds may carry frames the guests freed before the end.
          if (migration && mfn < mem.frames && host.machine.frames.owner[mfn] === DOMID_INVALID)
            return;
          if (!(mfn < mem.frames) || host.machine.frames.owner[mfn] === DOMID_INVALID) {
            throw new ToolstackError(
              'IO',
              `save image: page data for frame ${mfn}, which is not in use`,
            );
          }
          mem.writeBytes(mfn, 0, data.subarray(i * 4096, (i + 1) * 4096));
        });
      }
      for (const saved of image.domains) host.adoptDomain(saved);
    } catch (err) {
      if (err instanceof ToolstackError) throw err;
      throw new ToolstackError(
        'IO',
        `save image: inconsistent host state: ${(err as Error).message}`,
      );
    }
    for (const d of host.domains.values()) {
      for (const spec of d.config.disks) {
        const opened = await openDisk(spec);
        d.diskStorage.set(spec.vdev, opened.storage);
        d.files.push(...opened.files);
      }
      await host.attachDrivers(d);
    }
    return host;
  }

  /** Recreates a saved guest's CPU and vCPU over the restored machine. */
  private adoptDomain(saved: SavedDomain): void {
    const is32 = saved.layout.guestType === 'xen-3.0-x86_32p';
    const domid = saved.domid;
    const cpu = X86Cpu.fromState(saved.cpu, this.cpuOptions(is32));
    const vcpuOptions = this.vcpuOptions(domid, is32, cpu, saved.config);
    const vcpu = is32
      ? Pv32Vcpu.fromState(saved.vcpu as Pv32VcpuState, vcpuOptions)
      : PvVcpu.fromState(saved.vcpu as PvVcpuState, vcpuOptions);
    const dom = new HostDomain({
      domid,
      config: saved.config,
      uuid: saved.uuid,
      layout: { ...saved.layout, pages: new Map() },
      cpu,
      vcpu,
      nowNs: saved.createdAtNs,
      storePort: saved.storePort,
      consolePort: saved.consolePort,
    });
    dom.name = saved.name;
    dom.restoreFrom(saved);
    this.domains.set(domid, dom);
    this.schedAdd(dom);
  }

  /** Destroys every domain (closing their disk images); the host can be dropped afterwards. */
  async close(): Promise<void> {
    this.stop();
    for (const domid of [...this.domains.keys()]) await this.destroyDomain(domid);
  }

  /** Finds a domain by ID or name; a `NOT_FOUND` error names what was asked for. */
  lookup(idOrName: string | number): HostDomain {
    if (typeof idOrName === 'number' || /^\d+$/.test(idOrName)) {
      const d = this.domains.get(Number(idOrName));
      if (d !== undefined) return d;
    }
    for (const d of this.domains.values()) if (d.name === idOrName) return d;
    throw new ToolstackError('NOT_FOUND', `no domain "${idOrName}"`);
  }

  /** `xl pause`. */
  pause(domid: number): void {
    const d = this.lookup(domid);
    if (!d.paused && this.scheduler.hasDomain(d.domid)) this.scheduler.pauseDomain(d.domid);
    d.paused = true;
  }

  /** `xl unpause`. */
  unpause(domid: number): void {
    const d = this.lookup(domid);
    if (d.paused && this.scheduler.hasDomain(d.domid)) this.scheduler.unpauseDomain(d.domid);
    d.paused = false;
  }

  /** Adds a domain's vCPU to the scheduler with its configured weight, cap and pinning. */
  private schedAdd(d: HostDomain): void {
    const s = this.scheduler;
    s.createDomain(d.domid);
    // cpus= pins every vCPU (xl's hard affinity); CPUs this host does not have are dropped.
    const cpus = d.config.cpus?.filter((c) => c < this.pcpus);
    for (const v of d.vcpus) {
      s.addVcpu(d.domid, v.id, {
        state: !d.isUp(v.id) ? 'offline' : v.blocked ? 'blocked' : 'runnable',
        ...(cpus !== undefined && cpus.length > 0 ? { affinity: cpus } : {}),
      });
    }
    this.setCredit(d.domid, d.config.cpuWeight, d.config.cap);
    if (d.paused) s.pauseDomain(d.domid);
  }

  /** The vCPU count a configuration asks for (`maxvcpus`), checked against what the host runs. */
  private checkVcpuConfig(config: DomainConfig): number {
    const max = Math.max(config.maxvcpus, config.vcpus);
    if (max > MAX_GUEST_VCPUS) {
      throw new ToolstackError(
        'CONFIG',
        `${config.source}: maxvcpus=${max}: at most ${MAX_GUEST_VCPUS} vCPUs (the vcpu_info slots in shared_info)`,
      );
    }
    return max; // 32-bit domains too: their compat vCPU set (Pv32DomainVcpus)
  }

  /**
   * The vCPU set of a 64-bit domain: VCPUOP_up/down move vCPUs in and out of the scheduler.
   * With `state` (a restore), its flags are taken from there.
   */
  private domainVcpus(domid: number, count: number, state?: PvDomainVcpusState): PvDomainVcpus {
    // A new domain's set is vCPU 0 initialised and up, as PvDomainVcpus' constructor makes it.
    return PvDomainVcpus.fromState(
      state ?? { count, initialised: [0], up: [0] },
      (id) => {
        const v = this.domains.get(domid)?.vcpus[id]?.vcpu;
        return v instanceof PvVcpu ? v : undefined;
      },
      this.mm,
      this.vcpuSetHooks(domid),
    );
  }

  /**
   * The vCPU set of a 32-bit domain with several vCPUs (the same scheduler hooks). With `state`
   * (a restore), its flags are taken from there.
   */
  private domainVcpus32(domid: number, count: number, state?: PvDomainVcpusState): Pv32DomainVcpus {
    return Pv32DomainVcpus.fromState(
      state ?? { count, initialised: [0], up: [0] },
      (id) => {
        const v = this.domains.get(domid)?.vcpus[id]?.vcpu;
        return v instanceof Pv32Vcpu ? v : undefined;
      },
      this.mm,
      this.vcpuSetHooks(domid),
    );
  }

  /** What VCPUOP_up / down and get_runstate_info do to a domain's vCPU in the scheduler. */
  private vcpuSetHooks(domid: number): PvDomainVcpusHooks {
    return {
      up: (id) => this.vcpuCameUp(domid, id),
      down: (id) => {
        if (this.scheduler.hasDomain(domid)) this.scheduler.down(domid, id);
      },
      runstate: (id) => {
        const r = this.scheduler.runstate(domid, id);
        return {
          state: r.state,
          stateEntryTime: BigInt(Math.floor(r.state_entry_time)),
          time: [
            BigInt(Math.floor(r.time[0])),
            BigInt(Math.floor(r.time[1])),
            BigInt(Math.floor(r.time[2])),
            BigInt(Math.floor(r.time[3])),
          ],
        };
      },
    };
  }

  /** VCPUOP_up: the vCPU becomes runnable; its periodic timer starts the first time. */
  private vcpuCameUp(domid: number, id: number): void {
    const v = this.domains.get(domid)?.vcpus[id];
    if (v === undefined) return;
    // A vCPU taken down while blocked stays blocked until an event wakes it (only _VPF_down clears).
    if (!v.everUp) {
      v.everUp = true;
      const t = this.timers.getState().find((e) => e.domid === domid && e.vcpu === id);
      if (t !== undefined && t.periodNs === 0) this.timers.setPeriodic(domid, id, 10_000_000n);
    }
    if (this.scheduler.hasDomain(domid)) this.scheduler.up(domid, id);
  }

  /** vCPUs 1 .. maxvcpus-1 of a new domain (down until the guest brings them up), after `first`. */
  private secondaryVcpus(
    domid: number,
    is32: boolean,
    config: DomainConfig,
    first: HostVcpu,
    smp: PvDomainVcpus | undefined,
    smp32?: Pv32DomainVcpus,
  ): HostVcpu[] {
    first.everUp = true;
    const out = [first];
    if (is32 && smp32 !== undefined) {
      for (let id = 1; id < smp32.vcpuCount; id++) {
        const cpu = X86Cpu.create(this.cpuOptions(true));
        const options = { ...this.vcpuOptions(domid, true, cpu, config, id), smp32 };
        out.push(new HostVcpu(id, cpu, new Pv32Vcpu(options)));
      }
    } else if (is32 || smp === undefined) return out;
    for (let id = 1; !is32 && smp !== undefined && id < smp.vcpuCount; id++) {
      const cpu = X86Cpu.create(this.cpuOptions(false));
      out.push(
        new HostVcpu(id, cpu, new PvVcpu(this.vcpuOptions(domid, false, cpu, config, id, smp))),
      );
    }
    // MMUEXT_TLB_FLUSH_MULTI/ALL and INVLPG_MULTI/ALL from one vCPU reach the others' TLBs.
    if (out.length > 1) {
      for (const v of out) {
        const cpu = v.cpu;
        this.mm.attachTlb(domid, v.id, {
          flush: () => cpu.flushTlb(),
          invlpg: () => cpu.flushTlb(),
        });
      }
    }
    return out;
  }

  /**
   * `xl sched-credit -d DOM -w WEIGHT -c CAP`: sets a domain's credit weight (1–65535) and cap
   * (percent of a CPU, 0 = none). Returns 0, or a negative Xen errno (-EINVAL for bad values or
   * when the host runs another scheduler, -ESRCH for an unknown domain).
   */
  setCredit(domid: number, weight: number, cap: number): number {
    return this.scheduler.schedulerOp(domid, {
      sched_id: XEN_SCHEDULER_CREDIT,
      cmd: XEN_DOMCTL_SCHEDOP_putinfo,
      u: { credit: { weight, cap } },
    });
  }

  /** Types `bytes` into the domain's console. Returns how many fit in the ring. */
  consoleInput(domid: number, bytes: Uint8Array): number {
    const d = this.lookup(domid);
    const n = d.consoleBackend?.sendInput(bytes) ?? 0;
    return n;
  }

  /**
   * `xl destroy`: stops the domain at once, tears down its backends, releases it from xenstored,
   * removes its xenstore entries and gives its memory back.
   */
  async destroyDomain(domid: number): Promise<void> {
    const d = this.domains.get(domid);
    if (d === undefined) throw new ToolstackError('NOT_FOUND', `no domain ${domid}`);
    if (d.shutdownReason < 0) d.shutdownReason = SHUTDOWN_poweroff;
    d.paused = true;
    for (const b of d.disks.values()) {
      try {
        await b.stop();
      } catch (err) {
        this.log(`dom${domid}: stopping a block backend failed: ${(err as Error).message}`);
      }
    }
    for (const f of d.files) await f.close().catch(() => undefined);
    d.consoleBackend?.close();
    await this.devices.removeDomain(domid);
    await this.xs.releaseDomain(domid).catch(() => undefined);
    for (const p of [
      `/local/domain/${domid}`,
      `/vm/${d.uuid}`,
      `/local/domain/0/backend/vbd/${domid}`,
      `/local/domain/0/backend/console/${domid}`,
    ]) {
      await this.xs.rm(p).catch(() => undefined);
    }
    this.domains.delete(domid);
    this.teardown(domid);
  }

  /** Drops the hypervisor's and the machine's state for `domid`. */
  private teardown(domid: number): void {
    this.maxPagesSet.delete(domid);
    if (this.scheduler.hasDomain(domid)) this.scheduler.destroyDomain(domid);
    this.timers.removeDomain(domid);
    if (this.evtchn.hasDomain(domid)) {
      this.evtchn.reset(0, domid);
      this.evtchn.removeDomain(domid);
    }
    this.grants.removeDomain(domid);
    this.mm.relinquish(domid);
    // Every frame the domain owns goes back, with or without a P2M entry (memory_op may have
    // given it frames that are not in its physmap).
    const frames = this.machine.frames;
    const p2m = this.machine.p2m(domid);
    for (let mfn = 0; mfn < frames.frames && frames.domainPages(domid) > 0; mfn++) {
      if (frames.owner[mfn] !== domid) continue;
      this.setM2p(mfn, -1);
      const pfn = frames.m2p[mfn] ?? 0xffffffff;
      const rc =
        pfn !== 0xffffffff && p2m.get(pfn) === mfn
          ? this.machine.depopulate(domid, pfn)
          : frames.free(domid, mfn);
      if (rc !== 0) this.log(`dom${domid}: frame ${mfn} is still referenced (${rc}); leaked`);
    }
    // Xen frees the dead domain's structures; its id may then be reused. A domain with a leaked
    // frame stays known to the MMU (a zombie), and allocDomid skips its id.
    if (frames.domainPages(domid) === 0) {
      if (this.mm.hasDomain(domid)) this.mm.removeDomain(domid);
      this.machine.removeDomain(domid);
    }
  }

  /** Applies the configured action after a guest shut itself down (see host-lifecycle.ts). */
  private applyLifecycle(d: HostDomain): Promise<void> {
    return applyLifecycle({ host: this, log: this.log }, d);
  }

  /**
   * Runs the host until `work` settles and returns its result (or rethrows its error): how
   * native domains' asynchronous operations (a TypeScript frontend's reads and writes) make
   * progress, since their events are delivered by the run loop.
   */
  async drive<T>(work: Promise<T>, timeoutMs = 600_000): Promise<T> {
    let settled = false;
    const done = work.finally(() => {
      settled = true;
    });
    done.catch(() => undefined);
    const r = await this.run({ until: () => settled, timeoutMs, stopWhenIdle: false });
    if (r !== 'until' && !settled) {
      throw new ToolstackError('STATE', `drive: the operation did not finish (${r})`);
    }
    return done;
  }

  /** Asks {@link Host.run} to return at the next slice boundary. */
  stop(): void {
    this.stopRequested = true;
  }

  /**
   * Runs the domains, round robin in slices, interleaved with dom0's work (xenstore requests,
   * console and block backends), until a condition in `options` holds. When every domain is
   * blocked, virtual time jumps to the next timer; real time waits for it.
   */
  async run(options: HostRunOptions = {}): Promise<HostRunResult> {
    if (this.running) throw new ToolstackError('STATE', 'the host is already running');
    this.running = true;
    try {
      return await this.runLoop(options);
    } finally {
      this.running = false;
    }
  }

  private async runLoop(options: HostRunOptions): Promise<HostRunResult> {
    const start = performance.now();
    this.stopRequested = false;
    if (this.timeMode === 'real') {
      this.realStartMs = performance.now();
      this.realStartNs = this.clock.now();
    }
    let total = 0;
    const stopWhenIdle = options.stopWhenIdle ?? true;
    for (;;) {
      if (options.until?.()) return 'until';
      if (this.stopRequested) return 'stopped';
      if (options.maxInstructions !== undefined && total >= options.maxInstructions)
        return 'instructions';
      if (options.timeoutMs !== undefined && performance.now() - start > options.timeoutMs)
        return 'timeout';
      let ran = false;
      let handled = 0;
      const turnEnd = performance.now() + 20;
      for (;;) {
        const round = this.runRound();
        if (round >= 0) {
          ran = true;
          total += round;
          for (const d of this.shutDown.splice(0)) await this.applyLifecycle(d);
        }
        handled = this.dispatchNative();
        if (this.timeMode === 'real') this.advanceClock(this.realNs() - this.clock.now());
        // dom0 has work to do (a request to serve, I/O in flight): let it run now.
        if (handled > 0 || this.inflight > 0) break;
        if (!ran || performance.now() >= turnEnd || options.until?.()) break;
      }
      const worked = await this.settleDom0();
      if (handled > 0 || worked > 0) this.dom0Ran();
      if (ran) continue;
      // Nothing ran: every guest is blocked, paused, held back by its cap, or there is none.
      const states = [...this.domains.values()].map((d) => d.state);
      const waiting = states.includes('running'); // runnable, but the scheduler holds it back
      if (!waiting && !states.includes('blocked')) {
        if (stopWhenIdle && !this.hasPendingIo()) return 'idle';
        // Native domains may be exchanging events among themselves: keep going while they do.
        if (worked === 0) await new Promise<void>((resolve) => setTimeout(resolve, 1));
        continue;
      }
      // Move time to the next event that can make a guest run: a guest timer, or (for a guest
      // the scheduler holds back) the scheduler's next decision.
      const guestNext = this.clock.nextDeadline();
      const schedNext = waiting ? this.schedTimers.nextDeadline() : -1;
      const next =
        guestNext < 0 ? schedNext : schedNext < 0 ? guestNext : Math.min(guestNext, schedNext);
      if (this.timeMode === 'virtual') {
        if (next < 0) {
          if (stopWhenIdle && !this.hasPendingIo()) return 'idle';
          await new Promise<void>((resolve) => setTimeout(resolve, 1));
        } else this.advanceClock(next - this.clock.now());
      } else {
        const waitMs = next < 0 ? 10 : Math.min(10, Math.max(0, (next - this.realNs()) / 1e6));
        await new Promise<void>((resolve) => setTimeout(resolve, waitMs));
        this.advanceClock(this.realNs() - this.clock.now());
      }
    }
  }

  /**
   * dom0 just served events (a xenstore request, console or block I/O). Under Xen, dom0's
   * vCPU wakes BOOSTed and preempts a guest vCPU on a busy pCPU, so a guest that sent a request
   * and yielded (GRUB's xenstore wait: EVTCHNOP_send then SCHEDOP_yield, in a loop) runs again
   * as soon as dom0 has answered. The native dom0 takes no pCPU, so the host preempts pCPU 0
   * in its place (unless some pCPU is idle: dom0 would have run there). Without this, a yielder
   * waited out the other guest's whole 30 ms slice for every request, and a second GRUB booting
   * beside one at its prompt got about 1 % of the CPU.
   */
  private dom0Ran(): void {
    for (let p = 0; p < this.pcpus; p++) if (this.scheduler.current(p) === null) return;
    this.scheduler.preempt(0);
  }

  /** Whether dom0 (or another native domain) still has events to handle or I/O in flight. */
  private hasPendingIo(): boolean {
    for (const n of this.natives.values()) if (n.pending) return true;
    return this.inflight > 0;
  }

  /** Runs the event handlers of every native domain; returns how many ran. */
  private dispatchNative(): number {
    let n = 0;
    for (const e of this.natives.values()) n += e.dispatch();
    return n;
  }

  /**
   * Lets dom0's asynchronous work (xenstore clients, block backends) progress until it has
   * nothing in flight, so disk I/O takes no guest time: with virtual time, a run's result does
   * not depend on how fast the host's disk is. Returns how many event handlers ran.
   */
  private async settleDom0(): Promise<number> {
    let handled = 0;
    for (let round = 0; ; round++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      handled += this.dispatchNative();
      if (this.inflight === 0) {
        if (round > 0 || !this.hasPendingIo()) return handled;
        continue;
      }
      await new Promise<void>((resolve) => this.settleWaiters.push(resolve));
    }
  }

  /** Counts `p` as dom0 work in flight until it settles. */
  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight++;
    return p.finally(() => {
      if (--this.inflight === 0) {
        const waiters = this.settleWaiters.splice(0);
        for (const w of waiters) w();
      }
    });
  }

  /** `storage` with every operation counted as dom0 work in flight. */
  private tracked(storage: BlockStorage): BlockStorage {
    const t: BlockStorage = {
      sectors: storage.sectors,
      sectorSize: storage.sectorSize,
      readOnly: storage.readOnly,
      read: (sector, dest) => this.track(storage.read(sector, dest)),
      write: (sector, src) => this.track(storage.write(sector, src)),
      flush: () => this.track(storage.flush()),
    };
    const discard = storage.discard?.bind(storage);
    return discard === undefined
      ? t
      : { ...t, discard: (sector, count) => this.track(discard(sector, count)) };
  }

  /** Moves system time forward by `deltaNs` (if positive), firing guest and scheduler timers. */
  private advanceClock(deltaNs: number): void {
    if (deltaNs > 0) this.clock.advance(Math.floor(deltaNs));
    const behind = this.clock.now() - this.schedTimers.now();
    if (behind > 0) this.schedTimers.advance(behind);
  }

  /**
   * Runs one slice of domain `d`'s vCPU — up to the scheduler's slice end under virtual time —
   * and tells the scheduler how it ended. Returns instructions executed.
   */
  /**
   * One round of the physical CPUs: each pCPU in turn runs its current vCPU for a slice that
   * starts at the round's system time (one JavaScript thread simulating the pCPUs side by side
   * under virtual time). The slices' ends (block, yield, shutdown) are then applied in the
   * order they happened, moving the clock to each. Returns the instructions run, or -1 if no
   * pCPU had a vCPU to run. With one pCPU this is exactly one slice.
   */
  private runRound(): number {
    const t0 = this.clock.now();
    const ends = this.sliceEnds;
    let total = -1;
    for (let p = 0; p < this.pcpus; p++) {
      const sv = this.scheduler.current(p);
      if (sv === null) continue;
      const d = this.domains.get(sv.domid);
      if (d === undefined || d.paused || d.shutdownReason >= 0) continue;
      const hv = d.vcpus[sv.vcpuId];
      if (hv === undefined || hv.blocked || !d.isUp(hv.id)) continue;
      const r = this.runSlice(d, hv, p, t0);
      total = Math.max(total, 0) + this.sliceRan;
      if (this.pcpus === 1) {
        if (this.timeMode === 'virtual') this.advanceClock(this.sliceRan * this.instructionNs);
        this.endSlice(d, hv, r);
      } else ends.push({ d, hv, r, ran: this.sliceRan });
    }
    if (ends.length > 0) {
      ends.sort((a, b) => a.ran - b.ran); // stable: pCPU order among equal lengths
      for (const e of ends) {
        if (this.timeMode === 'virtual')
          this.advanceClock(t0 + e.ran * this.instructionNs - this.clock.now());
        this.endSlice(e.d, e.hv, e.r);
      }
      ends.length = 0;
    }
    return total;
  }

  /**
   * Runs one slice of vCPU `hv` of domain `d` on pCPU `pcpu` from system time `t0` — up to the
   * scheduler's slice end under virtual time. Leaves the instructions run in `sliceRan` and
   * returns how the slice ended.
   */
  private runSlice(d: HostDomain, hv: HostVcpu, pcpu: number, t0: number): PvRunResult {
    const cpu = hv.cpu;
    const before = cpu.instructions;
    let budget = SLICE;
    if (this.timeMode === 'virtual') {
      const end = this.scheduler.sliceEnd(pcpu);
      if (end >= 0) {
        const left = Math.ceil((end - t0) / this.instructionNs);
        budget = Math.max(MIN_SLICE, Math.min(SLICE, left));
      }
    }
    this.sliceCpu = cpu;
    this.sliceNs = t0;
    this.sliceInstr = before;
    const r = hv.vcpu.run(budget);
    this.sliceCpu = undefined;
    const ran = cpu.instructions - before;
    d.instructions += ran;
    hv.ran(pcpu, ran);
    this.sliceRan = ran;
    return r;
  }

  /** Tells the scheduler how vCPU `hv`'s slice ended (block, yield) and records a shutdown. */
  private endSlice(d: HostDomain, hv: HostVcpu, r: PvRunResult): void {
    if (d.shutdownReason >= 0) return;
    if (r === PV_RUN.BLOCK && !this.evtchn.upcallDeliverable(d.domid, hv.id)) {
      hv.blocked = true;
      this.scheduler.block(d.domid, hv.id);
    } else if (r === PV_RUN.YIELD) this.scheduler.yield(d.domid, hv.id);
    if (r === PV_RUN.SHUTDOWN) {
      d.shutdownReason = hv.vcpu.shutdownReason;
      // A domain that shut down is descheduled for good (domain_shutdown pauses its vCPUs).
      if (!d.paused) this.scheduler.pauseDomain(d.domid);
      this.shutDown.push(d);
    }
  }

  /**
   * The domain's current reservation in KiB (Xen's `tot_pages`: its RAM pages, after any
   * ballooning), as `xl list` shows it.
   */
  currentMemoryKiB(domid: number): number {
    const d = this.lookup(domid);
    return (this.machine.frames.domainPages(d.domid) - 1 - MAX_GRANT_FRAMES) * 4;
  }

  /** The domain's hypervisor maximum (`max_pages`, libxl's 1 MiB slack included) in KiB. */
  maxMemoryKiB(domid: number): number {
    const d = this.lookup(domid);
    const set = this.maxPagesSet.get(d.domid);
    return (set ?? Math.max(d.config.memory, d.config.maxmem) * 256 + 256) * 4;
  }

  /**
   * `xl mem-set`: writes the balloon target (KiB) to the guest's `memory/target` as libxl does
   * (at most `memory/static-max`) and moves the hypervisor maximum with it; the guest's balloon
   * driver gives pages back or takes them.
   */
  async setMemoryTarget(domid: number, targetKiB: number): Promise<void> {
    await setMemoryTarget(this.xs, this.memoryPort(domid), targetKiB);
  }

  /**
   * `xl mem-max`: sets the hypervisor maximum (XEN_DOMCTL_max_mem, plus libxl's slack), so
   * populating beyond it fails, and writes `memory/static-max`.
   */
  async setMaxMemory(domid: number, maxKiB: number): Promise<void> {
    await setMaxMemory(this.xs, this.memoryPort(domid), maxKiB);
  }

  private memoryPort(domid: number): MemoryDomainPort {
    const d = this.lookup(domid);
    return {
      domid: d.domid,
      uuid: d.uuid,
      setMaxKiB: (kib) => this.maxPagesSet.set(d.domid, Math.floor(kib / 4)),
    };
  }

  /**
   * `xl block-attach`: opens the disk of `spec` and hot-plugs it into domain `domid` (a guest or
   * a native domain) with a dom0 blkback; the frontend finds it under `device/vbd`.
   */
  async attachBlock(domid: number, spec: DiskSpec): Promise<void> {
    if (!this.domains.has(domid) && !this.nativeDomains.has(domid))
      throw new ToolstackError('NOT_FOUND', `no domain ${domid}`);
    const opened = await openDisk(spec);
    try {
      await this.devices.attachVbd(domid, spec, opened.storage, opened.files);
    } catch (err) {
      for (const f of opened.files) await f.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * `xl block-detach`: removes block device `vdev` of domain `domid` with libxl's Closing/Closed
   * handshake (forced after `timeoutMs`). Returns whether the frontend closed in time.
   */
  async detachBlock(domid: number, vdev: string, timeoutMs?: number): Promise<boolean> {
    const d = this.domains.get(domid);
    if (d === undefined && !this.nativeDomains.has(domid))
      throw new ToolstackError('NOT_FOUND', `no domain ${domid}`);
    const devid = vbdDeviceNumberOrUndefined(vdev);
    const be = devid === undefined ? undefined : `/local/domain/0/backend/vbd/${domid}/${devid}`;
    if (be === undefined || (await this.xs.readString(`${be}/frontend`).catch(() => '')) === '')
      throw new ToolstackError('NOT_FOUND', `Error: Device ${vdev} not connected.`);
    const dev = await this.xs.readString(`${be}/dev`).catch(() => vdev);
    const backend = d?.disks.get(dev) ?? this.devices.hotVbd(domid, vdev);
    const clean = await this.devices.detachVbd(domid, vdev, backend, timeoutMs);
    d?.disks.delete(dev);
    d?.diskStorage.delete(dev);
    return clean;
  }

  /**
   * The private pieces per-domain save, restore and migration use (`domain-save.ts`,
   * `domain-restore.ts`, `migration/`), handed over as closures so that code lives in its own
   * files with the compiler checking every member it reaches.
   * @internal
   */
  saveContext(): DomainSaveContext {
    return {
      host: this,
      running: () => this.running,
      nativeDomains: () => this.nativeDomains.size,
      setM2p: (mfn, pfn) => this.setM2p(mfn, pfn),
      cpuOptions: (is32) => this.cpuOptions(is32),
      vcpuOptions: (domid, is32, cpu, config, vcpuId, smp) =>
        this.vcpuOptions(domid, is32, cpu, config, vcpuId, smp),
      domainVcpus: (domid, state) => this.domainVcpus(domid, state.count, state),
      domainVcpus32: (domid, state) => this.domainVcpus32(domid, state.count, state),
      schedAdd: (d) => this.schedAdd(d),
      allocDomid: () => this.allocDomid(),
      claimDomid: (domid) => {
        if (this.nextDomid <= domid) this.nextDomid = domid + 1 >= 0x7ff0 ? 1 : domid + 1;
      },
      settleDom0: () => this.settleDom0(),
      attachDrivers: (d) => this.attachDrivers(d),
      detachDrivers: (d) => this.detachDrivers(d),
      teardown: (domid) => this.teardown(domid),
      maxGrantFrames: MAX_GRANT_FRAMES,
    };
  }
}

function vbdDeviceNumberOrUndefined(vdev: string): number | undefined {
  try {
    return vbdDeviceNumber(vdev);
  } catch {
    return undefined;
  }
}

/**
 * Opens the image of an xl disk spec as block storage: raw or qcow2 (a qcow2 overlay's backing
 * file is opened read-only, relative to the overlay's directory). Returns the storage and the
 * files to close when done. Errors name the disk and the problem (`CONFIG`, `NOT_FOUND`).
 */
export async function openDisk(
  spec: DiskSpec,
): Promise<{ spec: DiskSpec; storage: BlockStorage; files: FileByteStore[] }> {
  const readOnly = spec.access === 'r';
  const files: FileByteStore[] = [];
  try {
    const store = await FileByteStore.open(spec.target, readOnly);
    files.push(store);
    let storage: BlockStorage;
    if (spec.format === 'raw') storage = await RawStorage.open(store, { readOnly });
    else if (spec.format === 'qcow2') {
      const { dirname, resolve } = await import('node:path');
      storage = await Qcow2Storage.open(store, {
        readOnly,
        openBacking: async (name, format) => {
          const path = resolve(dirname(spec.target), name);
          const bs = await FileByteStore.open(path, true);
          files.push(bs);
          return format === 'raw'
            ? RawStorage.open(bs, { readOnly: true })
            : Qcow2Storage.open(bs, { readOnly: true });
        },
      });
    } else {
      throw new ToolstackError(
        'CONFIG',
        `disk ${spec.vdev}: format "${spec.format}" is not supported (raw or qcow2)`,
      );
    }
    return { spec, storage, files };
  } catch (err) {
    for (const f of files) await f.close().catch(() => undefined);
    if (err instanceof ToolstackError) throw err;
    throw new ToolstackError(
      'CONFIG',
      `disk ${spec.vdev} (${spec.target}): ${(err as Error).message}`,
    );
  }
}

function randomUuid(): string {
  return crypto.randomUUID();
}
