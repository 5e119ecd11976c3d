/**
 * Event channels, 2-level ABI: per-domain port tables and the operations of Xen's
 * `event_channel.c` (alloc_unbound, bind_interdomain, bind_virq, bind_ipi, bind_vcpu, send, close,
 * status, unmask, reset) with `event_2l.c`'s delivery into the guest's shared_info.
 *
 * Operations return `>= 0` on success (a port, or 0) and `-XEN_E*` on failure, never throw for
 * guest-chosen values. Misuse by the embedder (unknown caller domain) throws {@link HypervisorError}.
 *
 * @see xen/common/event_channel.c
 * @see xen/common/event_2l.c
 * @see xen/include/public/event_channel.h
 */

import {
  XEN_EEXIST,
  XEN_EINVAL,
  XEN_ENOENT,
  XEN_ENOSPC,
  XEN_EPERM,
  XEN_ESRCH,
} from '../abi/errno.ts';
import {
  EVTCHNSTAT_closed,
  EVTCHNSTAT_interdomain,
  EVTCHNSTAT_ipi,
  EVTCHNSTAT_pirq,
  EVTCHNSTAT_unbound,
  EVTCHNSTAT_virq,
} from '../abi/event-channel.ts';
import { type GuestAbi, type SharedInfoLayout, sharedInfoLayout } from '../abi/shared-info.ts';
import {
  DOMID_FIRST_RESERVED,
  DOMID_SELF,
  NR_VIRQS,
  VIRQ_DEBUG,
  VIRQ_TIMER,
  VIRQ_XENOPROF,
  VIRQ_XENPMU,
  XEN_LEGACY_MAX_VCPUS,
} from '../abi/xen.ts';
import { HypervisorError } from '../errors.ts';
import type { GuestBytes } from '../guest-memory.ts';
import {
  guestReadU8,
  guestTestAndClearBit,
  guestTestAndSetBit,
  guestTestBit,
} from '../internal/bits.ts';

/** Port states, as Xen's internal `ECS_*` (reported through EVTCHNOP_status as `EVTCHNSTAT_*`). */
export type ChannelState =
  | 'free'
  | 'reserved'
  | 'unbound'
  | 'interdomain'
  | 'pirq'
  | 'virq'
  | 'ipi';

const ECS_FREE = 0;
const ECS_RESERVED = 1;
const ECS_UNBOUND = 2;
const ECS_INTERDOMAIN = 3;
const ECS_PIRQ = 4;
const ECS_VIRQ = 5;
const ECS_IPI = 6;
/** Most vCPUs a domain may have here (notify_vcpu_id is stored in a byte). */
const MAX_VCPUS = 255;
const STATE_NAMES: readonly ChannelState[] = [
  'free',
  'reserved',
  'unbound',
  'interdomain',
  'pirq',
  'virq',
  'ipi',
];

/** The port the hypervisor uses to tell its embedder that a vCPU needs attention. */
export interface EventNotifier {
  /**
   * vCPU `vcpu` of domain `domid` has just had `evtchn_upcall_pending` set (it was clear): deliver
   * the upcall when the vCPU next runs with events unmasked, and wake it if it is blocked.
   */
  upcallPending(domid: number, vcpu: number): void;
  /**
   * Port `port` of domain `domid` has just become pending (masked or not): wake vCPUs blocked in
   * SCHEDOP_poll on it (Xen's evtchn_check_pollers). Optional.
   */
  portPending?(domid: number, port: number): void;
}

/** How a domain takes part in event channels. */
export interface EventDomainConfig {
  /** The domain's ID (below DOMID_FIRST_RESERVED). */
  readonly domid: number;
  /** Whether it is a control domain that may act for others (dom0). Default false. */
  readonly privileged?: boolean;
  /** The guest ABI, which fixes the shared_info layout and the port count. */
  readonly abi: GuestAbi;
  /**
   * Number of vCPUs, 1..255. The first 32 have vcpu_info slots in shared_info; the others get
   * events only once their vcpu_info is registered ({@link EventChannels.registerVcpuInfo}).
   */
  readonly vcpus: number;
  /** The domain's memory in which its shared_info page lives. */
  readonly memory: GuestBytes;
  /** Address of the shared_info page in `memory`. */
  readonly sharedInfoAddress: number;
  /** Port limit below the ABI's (Xen's `max_event_channels`); default the ABI's 1024 or 4096. */
  readonly maxPorts?: number;
}

/** One in-use port in {@link EventDomainState}. */
export interface ChannelRecord {
  /** The port number. */
  readonly port: number;
  /** Its state (never 'free'). */
  readonly state: ChannelState;
  /** The vCPU notified when it becomes pending. */
  readonly vcpu: number;
  /** unbound: the domain allowed to bind; interdomain: the peer domain; else -1. */
  readonly remoteDomid: number;
  /** interdomain: the peer's port; else -1. */
  readonly remotePort: number;
  /** virq: the VIRQ number; else -1. */
  readonly virq: number;
}

/** Plain-data state of one domain's event channels (bits in shared_info live in guest memory). */
export interface EventDomainState {
  /** The domain's ID. */
  readonly domid: number;
  /** Whether it is privileged. */
  readonly privileged: boolean;
  /** Its guest ABI. */
  readonly abi: GuestAbi;
  /** Number of vCPUs. */
  readonly vcpus: number;
  /** Address of shared_info in its memory. */
  readonly sharedInfoAddress: number;
  /** Port limit. */
  readonly maxPorts: number;
  /** vcpu_info addresses moved by registerVcpuInfo, as [vcpu, address] pairs. */
  readonly registeredVcpuInfo: ReadonlyArray<readonly [number, number]>;
  /** Every port that is not free, in port order. */
  readonly channels: readonly ChannelRecord[];
}

/** Plain-data state of all event channels on the host. */
export interface EventChannelsState {
  /** One entry per domain, in domid order. */
  readonly domains: readonly EventDomainState[];
}

/** Result of a successful EVTCHNOP_status (`struct evtchn_status` OUT fields). */
export interface ChannelStatus {
  /** EVTCHNSTAT_* value. */
  readonly status: number;
  /** vCPU notified by the channel. */
  readonly vcpu: number;
  /** unbound: remote domain allowed to bind; interdomain: peer domain; else 0. */
  readonly dom: number;
  /** interdomain: peer port; pirq: the pirq; virq: the VIRQ; else 0. */
  readonly port: number;
}

class EvtchnDomain {
  readonly domid: number;
  readonly privileged: boolean;
  readonly abi: GuestAbi;
  readonly layout: SharedInfoLayout;
  readonly vcpus: number;
  readonly memory: GuestBytes;
  readonly sharedInfoAddress: number;
  readonly maxPorts: number;
  readonly state: Uint8Array;
  readonly notifyVcpu: Uint8Array;
  readonly remoteDom: Int32Array;
  readonly remotePort: Int32Array;
  readonly virq: Int8Array;
  /** virqToPort[vcpu * NR_VIRQS + virq]: bound port or 0. */
  readonly virqToPort: Int32Array;
  readonly pendingBase: number;
  readonly maskBase: number;
  /** Address of each vCPU's vcpu_info (-1: none yet, for vCPUs beyond the 32 legacy slots). */
  readonly vcpuInfoAt: Float64Array;
  /** Whether the vCPU's vcpu_info was moved with registerVcpuInfo. */
  readonly vcpuInfoRegistered: Uint8Array;

  constructor(config: EventDomainConfig) {
    const { domid, abi, vcpus, sharedInfoAddress } = config;
    if (!Number.isInteger(domid) || domid < 0 || domid >= DOMID_FIRST_RESERVED) {
      throw new HypervisorError('INVALID_ARGUMENT', `domid ${domid} is not a real domain id`);
    }
    if (abi !== 'x86_32' && abi !== 'x86_64')
      throw new HypervisorError('INVALID_ARGUMENT', `unknown ABI ${abi}`);
    if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > MAX_VCPUS) {
      throw new HypervisorError('INVALID_ARGUMENT', `vcpus must be 1..${MAX_VCPUS}, got ${vcpus}`);
    }
    if (!Number.isSafeInteger(sharedInfoAddress) || sharedInfoAddress < 0) {
      throw new HypervisorError('INVALID_ARGUMENT', `bad sharedInfoAddress ${sharedInfoAddress}`);
    }
    this.layout = sharedInfoLayout(abi);
    const maxPorts = config.maxPorts ?? this.layout.nrChannels;
    if (!Number.isInteger(maxPorts) || maxPorts < 1 || maxPorts > this.layout.nrChannels) {
      throw new HypervisorError(
        'INVALID_ARGUMENT',
        `maxPorts must be 1..${this.layout.nrChannels}, got ${maxPorts}`,
      );
    }
    this.domid = domid;
    this.privileged = config.privileged === true;
    this.abi = abi;
    this.vcpus = vcpus;
    this.memory = config.memory;
    this.sharedInfoAddress = sharedInfoAddress;
    this.maxPorts = maxPorts;
    this.state = new Uint8Array(maxPorts);
    this.notifyVcpu = new Uint8Array(maxPorts);
    this.remoteDom = new Int32Array(maxPorts).fill(-1);
    this.remotePort = new Int32Array(maxPorts).fill(-1);
    this.virq = new Int8Array(maxPorts).fill(-1);
    this.virqToPort = new Int32Array(vcpus * NR_VIRQS);
    this.pendingBase = sharedInfoAddress + this.layout.evtchn_pending;
    this.maskBase = sharedInfoAddress + this.layout.evtchn_mask;
    this.vcpuInfoAt = new Float64Array(vcpus);
    this.vcpuInfoRegistered = new Uint8Array(vcpus);
    for (let v = 0; v < vcpus; v++) {
      this.vcpuInfoAt[v] =
        v < XEN_LEGACY_MAX_VCPUS ? sharedInfoAddress + v * this.layout.vcpuInfoSize : -1;
    }
    // Port 0 is reserved and never allocated (evtchn_init).
    this.state[0] = ECS_RESERVED;
  }

  vcpuInfo(vcpu: number): number {
    return this.vcpuInfoAt[vcpu] ?? -1;
  }

  portValid(port: number): boolean {
    return Number.isInteger(port) && port >= 0 && port < this.maxPorts;
  }

  getFreePort(): number {
    const state = this.state;
    for (let port = 1; port < this.maxPorts; port++) if (state[port] === ECS_FREE) return port;
    return -XEN_ENOSPC;
  }

  resetPort(port: number): void {
    this.state[port] = ECS_FREE;
    this.notifyVcpu[port] = 0;
    this.remoteDom[port] = -1;
    this.remotePort[port] = -1;
    this.virq[port] = -1;
  }
}

/** VIRQs bound per vCPU rather than globally (virq_is_global() false). */
function virqIsGlobal(virq: number): boolean {
  return (
    virq !== VIRQ_TIMER && virq !== VIRQ_DEBUG && virq !== VIRQ_XENOPROF && virq !== VIRQ_XENPMU
  );
}

function isU32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}

/**
 * The host's event channels: one port table per domain, 2-level delivery into each domain's
 * shared_info through its memory port.
 *
 * @example
 * ```ts
 * const mem = new PagedGuestMemory(16);
 * const evtchn = new EventChannels({ upcallPending: (d, v) => console.log(`d${d}v${v} upcall`) });
 * evtchn.addDomain({ domid: 1, abi: 'x86_64', vcpus: 1, memory: mem, sharedInfoAddress: 0 });
 * const port = evtchn.bindIpi(1, 0); // a port on vCPU 0
 * evtchn.send(1, port);              // prints "d1v0 upcall"
 * ```
 */
export class EventChannels {
  private readonly notifier: EventNotifier;
  private readonly domains = new Map<number, EvtchnDomain>();

  /** Creates an empty table; `notifier` hears about upcalls that become pending. */
  constructor(notifier: EventNotifier) {
    this.notifier = notifier;
  }

  /** Restores event channels from {@link EventChannels.getState} output and each domain's memory. */
  static fromState(
    state: EventChannelsState,
    ports: { notifier: EventNotifier; memoryOf: (domid: number) => GuestBytes },
  ): EventChannels {
    const channels = new EventChannels(ports.notifier);
    for (const ds of state.domains) {
      const d = channels.attach({
        domid: ds.domid,
        privileged: ds.privileged,
        abi: ds.abi,
        vcpus: ds.vcpus,
        memory: ports.memoryOf(ds.domid),
        sharedInfoAddress: ds.sharedInfoAddress,
        maxPorts: ds.maxPorts,
      });
      for (const [v, address] of ds.registeredVcpuInfo ?? []) {
        if (!(v >= 0 && v < d.vcpus) || !Number.isSafeInteger(address) || address < 0) {
          throw new HypervisorError(
            'INVALID_STATE',
            `d${ds.domid}: bad vcpu_info record for vCPU ${v}`,
          );
        }
        d.vcpuInfoAt[v] = address;
        d.vcpuInfoRegistered[v] = 1;
      }
      for (const c of ds.channels) {
        const code = STATE_NAMES.indexOf(c.state);
        if (!d.portValid(c.port) || code <= ECS_FREE || !(c.vcpu >= 0 && c.vcpu < d.vcpus)) {
          throw new HypervisorError(
            'INVALID_STATE',
            `d${ds.domid}: bad channel record for port ${c.port}`,
          );
        }
        d.state[c.port] = code;
        d.notifyVcpu[c.port] = c.vcpu;
        d.remoteDom[c.port] = c.remoteDomid;
        d.remotePort[c.port] = c.remotePort;
        d.virq[c.port] = c.virq;
        if (code === ECS_VIRQ) {
          if (!(c.virq >= 0 && c.virq < NR_VIRQS))
            throw new HypervisorError('INVALID_STATE', `bad virq ${c.virq}`);
          const owner = virqIsGlobal(c.virq) ? 0 : c.vcpu;
          d.virqToPort[owner * NR_VIRQS + c.virq] = c.port;
        }
      }
    }
    // Interdomain links must be symmetric.
    for (const d of channels.domains.values()) {
      for (let p = 1; p < d.maxPorts; p++) {
        if (d.state[p] !== ECS_INTERDOMAIN) continue;
        const rd = channels.domains.get(d.remoteDom[p] ?? -1);
        const rp = d.remotePort[p] ?? -1;
        if (
          !rd?.portValid(rp) ||
          rd.state[rp] !== ECS_INTERDOMAIN ||
          rd.remoteDom[rp] !== d.domid ||
          rd.remotePort[rp] !== p
        ) {
          throw new HypervisorError(
            'INVALID_STATE',
            `d${d.domid} port ${p}: interdomain peer does not link back`,
          );
        }
      }
    }
    return channels;
  }

  /** Plain, JSON-safe state of every domain's port table. */
  getState(): EventChannelsState {
    const domains: EventDomainState[] = [];
    for (const d of [...this.domains.values()].sort((a, b) => a.domid - b.domid)) {
      const channels: ChannelRecord[] = [];
      for (let p = 0; p < d.maxPorts; p++) {
        const s = d.state[p] ?? ECS_FREE;
        if (s === ECS_FREE) continue;
        channels.push({
          port: p,
          state: STATE_NAMES[s] ?? 'free',
          vcpu: d.notifyVcpu[p] ?? 0,
          remoteDomid: d.remoteDom[p] ?? -1,
          remotePort: d.remotePort[p] ?? -1,
          virq: d.virq[p] ?? -1,
        });
      }
      domains.push({
        domid: d.domid,
        privileged: d.privileged,
        abi: d.abi,
        vcpus: d.vcpus,
        sharedInfoAddress: d.sharedInfoAddress,
        maxPorts: d.maxPorts,
        registeredVcpuInfo: [...d.vcpuInfoRegistered.keys()]
          .filter((v) => d.vcpuInfoRegistered[v] === 1)
          .map((v) => [v, d.vcpuInfoAt[v] ?? -1] as const),
        channels,
      });
    }
    return { domains };
  }

  /** Adds a domain with an empty port table (port 0 reserved). Throws if the domid is taken. */
  addDomain(config: EventDomainConfig): void {
    this.attach(config);
  }

  /**
   * Removes a domain, closing all its ports first (interdomain peers revert to unbound, as Xen's
   * evtchn_destroy). Unknown domids are ignored.
   */
  removeDomain(domid: number): void {
    const d = this.domains.get(domid);
    if (!d) return;
    for (let p = 1; p < d.maxPorts; p++) this.close_(d, p);
    this.domains.delete(domid);
  }

  /** Whether a domain is known. */
  hasDomain(domid: number): boolean {
    return this.domains.has(domid);
  }

  /** The number of vCPUs of domain `domid`. */
  vcpuCount(domid: number): number {
    return this.domain(domid).vcpus;
  }

  /**
   * Where vCPU `vcpu` of `domid` has its vcpu_info now: its shared_info slot, or where
   * VCPUOP_register_vcpu_info moved it; -1 for none (or an unknown domain or vCPU).
   */
  vcpuInfoAddress(domid: number, vcpu: number): number {
    const d = this.domains.get(domid);
    return d === undefined ? -1 : d.vcpuInfo(vcpu);
  }

  /** The number of ports domain `domid` may use (its port-table size). */
  maxPorts(domid: number): number {
    return this.domain(domid).maxPorts;
  }

  /** The state of a port, for inspection (`'free'` for out-of-range ports). */
  portState(domid: number, port: number): ChannelState {
    const d = this.domain(domid);
    return d.portValid(port) ? (STATE_NAMES[d.state[port] ?? 0] ?? 'free') : 'free';
  }

  /**
   * EVTCHNOP_alloc_unbound: allocates a port in domain `dom` (DOMID_SELF or, for a privileged
   * caller, any domain) that `remoteDom` may later bind to. Returns the port or -errno.
   */
  allocUnbound(caller: number, dom: number, remoteDom: number): number {
    const cd = this.domain(caller);
    const d = this.lookupAny(cd, dom);
    if (!d) return -XEN_ESRCH;
    if (d !== cd && !cd.privileged) return -XEN_EPERM;
    const port = d.getFreePort();
    if (port < 0) return port;
    d.state[port] = ECS_UNBOUND;
    d.remoteDom[port] = (remoteDom & 0xffff) === DOMID_SELF ? cd.domid : remoteDom & 0xffff;
    return port;
  }

  /**
   * EVTCHNOP_bind_interdomain: connects a new local port to `remotePort` of `remoteDom`, which must
   * be unbound and accept the caller. The new local port is always set pending (notifications may
   * have been lost while unbound). Returns the local port or -errno.
   */
  bindInterdomain(caller: number, remoteDom: number, remotePort: number): number {
    const ld = this.domain(caller);
    const rd = this.lookupAny(ld, remoteDom);
    if (!rd) return -XEN_ESRCH;
    const lport = ld.getFreePort();
    if (lport < 0) return lport;
    if (!rd.portValid(remotePort)) return -XEN_EINVAL;
    if (rd.state[remotePort] !== ECS_UNBOUND || rd.remoteDom[remotePort] !== ld.domid)
      return -XEN_EINVAL;
    ld.state[lport] = ECS_INTERDOMAIN;
    ld.remoteDom[lport] = rd.domid;
    ld.remotePort[lport] = remotePort;
    rd.state[remotePort] = ECS_INTERDOMAIN;
    rd.remoteDom[remotePort] = ld.domid;
    rd.remotePort[remotePort] = lport;
    this.setPending(ld, ld.notifyVcpu[lport] ?? 0, lport);
    return lport;
  }

  /**
   * EVTCHNOP_bind_virq: binds VIRQ `virq` of vCPU `vcpu` (global VIRQs only on vCPU 0) to a new
   * port. Returns the port or -errno (-EINVAL bad virq/vcpu combination, -ENOENT no such vCPU,
   * -EEXIST already bound).
   */
  bindVirq(caller: number, virq: number, vcpu: number): number {
    const d = this.domain(caller);
    if (!isU32(virq) || virq >= NR_VIRQS) return -XEN_EINVAL;
    if (virqIsGlobal(virq) && vcpu !== 0) return -XEN_EINVAL;
    if (!isU32(vcpu) || vcpu >= d.vcpus) return -XEN_ENOENT;
    if (d.virqToPort[vcpu * NR_VIRQS + virq] !== 0) return -XEN_EEXIST;
    const port = d.getFreePort();
    if (port < 0) return port;
    d.state[port] = ECS_VIRQ;
    d.notifyVcpu[port] = vcpu;
    d.virq[port] = virq;
    d.virqToPort[vcpu * NR_VIRQS + virq] = port;
    return port;
  }

  /** EVTCHNOP_bind_ipi: a new port that notifies vCPU `vcpu` of the caller. Returns the port or -errno. */
  bindIpi(caller: number, vcpu: number): number {
    const d = this.domain(caller);
    if (!isU32(vcpu) || vcpu >= d.vcpus) return -XEN_ENOENT;
    const port = d.getFreePort();
    if (port < 0) return port;
    d.state[port] = ECS_IPI;
    d.notifyVcpu[port] = vcpu;
    return port;
  }

  /** EVTCHNOP_bind_pirq: physical IRQs are not supported; the domain has no IRQ access (-EPERM). */
  bindPirq(caller: number, pirq: number): number {
    this.domain(caller);
    return isU32(pirq) && pirq <= 0x7fffffff ? -XEN_EPERM : -XEN_EINVAL;
  }

  /**
   * EVTCHNOP_bind_vcpu: changes the vCPU notified by an unbound, interdomain or global-VIRQ port.
   * Returns 0 or -errno.
   */
  bindVcpu(caller: number, port: number, vcpu: number): number {
    const d = this.domain(caller);
    if (!isU32(vcpu) || vcpu >= d.vcpus) return -XEN_ENOENT;
    if (!d.portValid(port)) return -XEN_EINVAL;
    switch (d.state[port]) {
      case ECS_VIRQ:
        if (!virqIsGlobal(d.virq[port] ?? 0)) return -XEN_EINVAL;
        d.notifyVcpu[port] = vcpu;
        return 0;
      case ECS_UNBOUND:
      case ECS_INTERDOMAIN:
        d.notifyVcpu[port] = vcpu;
        return 0;
      default:
        return -XEN_EINVAL;
    }
  }

  /**
   * EVTCHNOP_send: notifies the other end of an interdomain port, or the bound vCPU of an IPI
   * port; unbound ports silently drop the notification. Returns 0 or -EINVAL.
   */
  send(caller: number, port: number): number {
    const ld = this.domain(caller);
    if (!ld.portValid(port)) return -XEN_EINVAL;
    switch (ld.state[port]) {
      case ECS_INTERDOMAIN: {
        const rd = this.domains.get(ld.remoteDom[port] ?? -1);
        const rport = ld.remotePort[port] ?? 0;
        if (rd) this.setPending(rd, rd.notifyVcpu[rport] ?? 0, rport);
        return 0;
      }
      case ECS_IPI:
        this.setPending(ld, ld.notifyVcpu[port] ?? 0, port);
        return 0;
      case ECS_UNBOUND:
        return 0;
      default:
        return -XEN_EINVAL;
    }
  }

  /**
   * EVTCHNOP_close: frees a port (an interdomain peer reverts to unbound, accepting the closer)
   * and clears its pending bit. Returns 0 or -EINVAL.
   */
  close(caller: number, port: number): number {
    const d = this.domain(caller);
    if (!d.portValid(port)) return -XEN_EINVAL;
    return this.close_(d, port);
  }

  /**
   * EVTCHNOP_status: describes port `port` of domain `dom` (DOMID_SELF, or any domain for a
   * privileged caller). Returns the status or -errno.
   */
  status(caller: number, dom: number, port: number): ChannelStatus | number {
    const cd = this.domain(caller);
    const d = this.lookupAny(cd, dom);
    if (!d) return -XEN_ESRCH;
    if (!d.portValid(port)) return -XEN_EINVAL;
    if (d !== cd && !cd.privileged) return -XEN_EPERM;
    const vcpu = d.notifyVcpu[port] ?? 0;
    switch (d.state[port]) {
      case ECS_UNBOUND:
        return { status: EVTCHNSTAT_unbound, vcpu, dom: d.remoteDom[port] ?? 0, port: 0 };
      case ECS_INTERDOMAIN:
        return {
          status: EVTCHNSTAT_interdomain,
          vcpu,
          dom: d.remoteDom[port] ?? 0,
          port: d.remotePort[port] ?? 0,
        };
      case ECS_PIRQ:
        return { status: EVTCHNSTAT_pirq, vcpu, dom: 0, port: 0 };
      case ECS_VIRQ:
        return { status: EVTCHNSTAT_virq, vcpu, dom: 0, port: d.virq[port] ?? 0 };
      case ECS_IPI:
        return { status: EVTCHNSTAT_ipi, vcpu, dom: 0, port: 0 };
      default:
        return { status: EVTCHNSTAT_closed, vcpu, dom: 0, port: 0 };
    }
  }

  /**
   * EVTCHNOP_unmask: clears the port's mask bit and, if it is pending, marks the notified vCPU's
   * selector and upcall (event_2l unmask). Returns 0 or -EINVAL.
   */
  unmask(caller: number, port: number): number {
    const d = this.domain(caller);
    if (!d.portValid(port)) return -XEN_EINVAL;
    const v = d.notifyVcpu[port] ?? 0;
    const mem = d.memory;
    const info = d.vcpuInfo(v);
    if (
      guestTestAndClearBit(mem, d.maskBase, port) &&
      guestTestBit(mem, d.pendingBase, port, false) &&
      info >= 0 &&
      !guestTestAndSetBit(
        mem,
        info + d.layout.vcpu_evtchn_pending_sel,
        (port / d.layout.bitsPerWord) | 0,
      )
    ) {
      this.markEventsPending(d, v);
    }
    return 0;
  }

  /**
   * For a native (TypeScript) domain such as dom0, which handles its events in the embedder
   * rather than through an upcall: clears `port`'s pending bit and returns whether it was set,
   * as a guest's event handler does with the bitmap. Notifications through
   * {@link EventNotifier.portPending} resume for the port once it is clear.
   */
  clearPending(domid: number, port: number): boolean {
    const d = this.domain(domid);
    if (!d.portValid(port)) return false;
    return guestTestAndClearBit(d.memory, d.pendingBase, port);
  }

  /**
   * EVTCHNOP_reset: closes every port of domain `dom` (DOMID_SELF or, privileged, any).
   * Returns 0 or -errno.
   */
  reset(caller: number, dom: number): number {
    const cd = this.domain(caller);
    const d = this.lookupAny(cd, dom);
    if (!d) return -XEN_ESRCH;
    if (d !== cd && !cd.privileged) return -XEN_EPERM;
    for (let p = 1; p < d.maxPorts; p++) this.close_(d, p);
    return 0;
  }

  /** Raises per-vCPU VIRQ `virq` on vCPU `vcpu` of `domid` if bound (send_guest_vcpu_virq). */
  sendVirq(domid: number, vcpu: number, virq: number): void {
    const d = this.domains.get(domid);
    if (!d || !(vcpu >= 0 && vcpu < d.vcpus) || !(virq >= 0 && virq < NR_VIRQS)) return;
    const port = d.virqToPort[vcpu * NR_VIRQS + virq] ?? 0;
    if (port !== 0) this.setPending(d, vcpu, port);
  }

  /** Raises global VIRQ `virq` of `domid` if bound, on the vCPU it is bound to (send_guest_global_virq). */
  sendGlobalVirq(domid: number, virq: number): void {
    const d = this.domains.get(domid);
    if (!d || !(virq >= 0 && virq < NR_VIRQS)) return;
    const port = d.virqToPort[virq] ?? 0;
    if (port !== 0) this.setPending(d, d.notifyVcpu[port] ?? 0, port);
  }

  /**
   * VCPUOP_register_vcpu_info: moves vCPU `vcpu`'s vcpu_info to `address` in the domain's memory
   * (which must not cross a page), copying the old contents (or starting masked), then marks every
   * selector bit and the upcall pending, as Xen's map_vcpu_info does so nothing is lost. Returns 0
   * or -EINVAL (bad vCPU, crossing a page, not the domain's memory, already registered).
   */
  registerVcpuInfo(domid: number, vcpu: number, address: number): number {
    const d = this.domain(domid);
    const size = d.layout.vcpuInfoSize;
    if (!isU32(vcpu) || vcpu >= d.vcpus) return -XEN_ENOENT;
    if (!Number.isSafeInteger(address) || address < 0 || address % 4096 > 4096 - size)
      return -XEN_EINVAL;
    if (d.vcpuInfoRegistered[vcpu] === 1) return -XEN_EINVAL;
    const info = new Uint8Array(size);
    const old = d.vcpuInfo(vcpu);
    if (old < 0 || !d.memory.read(old, info)) {
      info.fill(0);
      info[d.layout.vcpu_evtchn_upcall_mask] = 1;
    }
    info.fill(
      0xff,
      d.layout.vcpu_evtchn_pending_sel,
      d.layout.vcpu_evtchn_pending_sel + d.layout.bitsPerWord / 8,
    );
    info[d.layout.vcpu_evtchn_upcall_pending] = 0;
    if (!d.memory.write(address, info)) return -XEN_EINVAL;
    d.vcpuInfoAt[vcpu] = address;
    d.vcpuInfoRegistered[vcpu] = 1;
    this.markEventsPending(d, vcpu);
    return 0;
  }

  /**
   * Puts the event state in shared_info into its boot condition: no pending or masked ports,
   * empty selectors, and upcalls masked on every vCPU (Xen starts vCPUs with
   * `evtchn_upcall_mask = 1`). Returns false if the page is not in the domain's memory.
   */
  initSharedInfo(domid: number): boolean {
    const d = this.domain(domid);
    const l = d.layout;
    const bitmapBytes = l.nrChannels / 8;
    let ok =
      d.memory.write(d.pendingBase, new Uint8Array(bitmapBytes)) &&
      d.memory.write(d.maskBase, new Uint8Array(bitmapBytes));
    const head = new Uint8Array(l.vcpu_evtchn_pending_sel + l.bitsPerWord / 8);
    head[l.vcpu_evtchn_upcall_mask] = 1;
    for (let v = 0; v < d.vcpus; v++)
      if (d.vcpuInfo(v) >= 0) ok = d.memory.write(d.vcpuInfo(v), head) && ok;
    return ok;
  }

  /**
   * Whether vCPU `vcpu` of `domid` has an upcall deliverable now: the 16-bit word
   * `evtchn_upcall_pending | evtchn_upcall_mask << 8` is in 1..0xFF.
   */
  upcallDeliverable(domid: number, vcpu: number): boolean {
    const d = this.domain(domid);
    if (!(vcpu >= 0 && vcpu < d.vcpus)) return false;
    const base = d.vcpuInfo(vcpu);
    return guestReadU8(d.memory, base) > 0 && guestReadU8(d.memory, base + 1) === 0;
  }

  private attach(config: EventDomainConfig): EvtchnDomain {
    if (this.domains.has(config.domid)) {
      throw new HypervisorError(
        'INVALID_STATE',
        `domain ${config.domid} already has event channels`,
      );
    }
    const d = new EvtchnDomain(config);
    this.domains.set(d.domid, d);
    return d;
  }

  private domain(domid: number): EvtchnDomain {
    const d = this.domains.get(domid);
    if (!d) throw new HypervisorError('NOT_FOUND', `no event-channel domain ${domid}`);
    return d;
  }

  /** rcu_lock_domain_by_any_id: DOMID_SELF is the caller. */
  private lookupAny(caller: EvtchnDomain, dom: number): EvtchnDomain | undefined {
    return dom === DOMID_SELF ? caller : this.domains.get(dom);
  }

  private close_(d: EvtchnDomain, port: number): number {
    switch (d.state[port]) {
      case ECS_FREE:
      case ECS_RESERVED:
        return -XEN_EINVAL;
      case ECS_VIRQ: {
        const virq = d.virq[port] ?? 0;
        for (let v = 0; v < d.vcpus; v++) {
          if (d.virqToPort[v * NR_VIRQS + virq] === port) d.virqToPort[v * NR_VIRQS + virq] = 0;
        }
        break;
      }
      case ECS_INTERDOMAIN: {
        const rd = this.domains.get(d.remoteDom[port] ?? -1);
        const rport = d.remotePort[port] ?? -1;
        if (rd?.portValid(rport) && rd.state[rport] === ECS_INTERDOMAIN) {
          rd.state[rport] = ECS_UNBOUND;
          rd.remoteDom[rport] = d.domid;
          rd.remotePort[rport] = -1;
        }
        break;
      }
      default:
        break;
    }
    // Clear pending to avoid unexpected behaviour on re-bind; the binding returns to vCPU 0.
    guestTestAndClearBit(d.memory, d.pendingBase, port);
    d.resetPort(port);
    return 0;
  }

  /** evtchn_2l_set_pending. */
  private setPending(d: EvtchnDomain, vcpu: number, port: number): void {
    const mem = d.memory;
    if (guestTestAndSetBit(mem, d.pendingBase, port)) return;
    const info = d.vcpuInfo(vcpu);
    if (
      info >= 0 &&
      !guestTestBit(mem, d.maskBase, port, true) &&
      !guestTestAndSetBit(
        mem,
        info + d.layout.vcpu_evtchn_pending_sel,
        (port / d.layout.bitsPerWord) | 0,
      )
    ) {
      this.markEventsPending(d, vcpu);
    }
    if (this.notifier.portPending !== undefined) this.notifier.portPending(d.domid, port);
  }

  /** vcpu_mark_events_pending: set evtchn_upcall_pending; notify only on a 0 → 1 change. */
  private markEventsPending(d: EvtchnDomain, vcpu: number): void {
    const address = d.vcpuInfo(vcpu);
    const old = guestReadU8(d.memory, address);
    if (old !== 0) return;
    const one = d.memory.write(address, UPCALL_ONE);
    if (one) this.notifier.upcallPending(d.domid, vcpu);
  }
}

const UPCALL_ONE = /* @__PURE__ */ new Uint8Array([1]);
