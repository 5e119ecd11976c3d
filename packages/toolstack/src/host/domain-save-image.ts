/**
 * The per-domain save image (`typevisor save`, `xl save`): one domain's records in the Typevisor
 * save stream, keyed by PFN as Xen's migration stream v2 is, so that it restores into any host
 * under a new domain ID and new machine frames. This file holds the records' shapes and the
 * reader that gathers them; `domain-save.ts` writes them and `domain-restore.ts` applies them
 * (docs/save-image-format.md).
 * @module
 */
import type {
  ChannelRecord,
  Pv32VcpuState,
  PvDomainVcpusState,
  PvVcpuState,
} from '@typevisor/hypervisor';
import type { CpuState } from '@typevisor/x86-cpu';
import type { PvLayout } from '../builder/pv-layout.ts';
import type { DomainConfig } from '../config/domain-config.ts';
import { ToolstackError } from '../errors.ts';
import { type ByteSource, REC_TYPE, readSaveStream } from '../migration/stream.ts';
import { reviveJson } from './host-image.ts';

/** Version of the per-domain records' JSON shapes; a reader refuses others. */
export const DOMAIN_IMAGE_VERSION = 1;

/** One frame's page-type bookkeeping: `[pfn, type, typeCount, refCount, pinned (0/1)]`. */
export type SavedFrameInfo = readonly [number, number, number, number, number];

/** One PV vCPU's paging registers, with machine frames turned into PFNs. */
export interface SavedPagingVcpu {
  /** PFN of the kernel base pointer, or -1. */
  readonly basePfn: number;
  /** PFN of the user base pointer, or -1. */
  readonly userBasePfn: number;
  /** LDT base, low word. */
  readonly ldtBaseLo: number;
  /** LDT base, high word. */
  readonly ldtBaseHi: number;
  /** LDT entries. */
  readonly ldtEnts: number;
  /** GDT frames as PFNs. */
  readonly gdtPfns: readonly number[];
  /** GDT entries. */
  readonly gdtEnts: number;
  /** Mapped (shadow) LDT pages as PFNs, -1 where not mapped. */
  readonly ldtPfns: readonly number[];
}

/** The `DOMAIN_STATE` record of a per-domain image. */
export interface DomainImageState {
  /** Always `"domain"` (a whole-host image's DOMAIN_STATE has no `kind`). */
  readonly kind: 'domain';
  /** {@link DOMAIN_IMAGE_VERSION}. */
  readonly version: number;
  /** Domain ID on the source host (only to rewrite xenstore paths and permissions). */
  readonly domid: number;
  /** Name. */
  readonly name: string;
  /** UUID. */
  readonly uuid: string;
  /** `xen-3.0-x86_64` or `xen-3.0-x86_32p`. */
  readonly guestType: string;
  /** RAM pages the domain was built with (`start_info.nr_pages`). */
  readonly nrPages: number;
  /** Grant-table frames (at PFNs `nrPages + 1 …`; shared_info is at `nrPages`). */
  readonly grantFrames: number;
  /** Populated PFNs as `[first, count]` runs. */
  readonly pfnRuns: readonly (readonly [number, number])[];
  /**
   * Frames typed as page tables (L1–L4) or descriptor pages, or pinned. The counts are for
   * diagnostics: a restore validates the tables again and takes its own references.
   */
  readonly frames: readonly SavedFrameInfo[];
  /** The builder's layout, without page contents. */
  readonly layout: Omit<PvLayout, 'pages'>;
  /** The guest's xenstore event-channel port. */
  readonly storePort: number;
  /** The guest's console event-channel port. */
  readonly consolePort: number;
  /** Whether the domain was paused before the save paused it. */
  readonly paused: boolean;
  /** How it was stopped: `toolstack` (paused by the toolstack) or `suspend` (the guest suspended). */
  readonly stoppedBy: 'toolstack' | 'suspend';
  /** Instructions executed. */
  readonly instructions: number;
  /** Nanoseconds since the domain was created, at the save. */
  readonly ageNs: number;
  /**
   * An SMP domain's vCPU set (`max_vcpus`, which vCPUs have a context, which are up); absent for
   * a domain built with one vCPU. There is a `VCPU_STATE` record for each of its vCPUs.
   */
  readonly smp?: PvDomainVcpusState;
  /** PV paging: vm_assist, m2p_strict, and each vCPU's registers. */
  readonly paging: {
    readonly guestWidth: 32 | 64;
    readonly vmAssist: number;
    readonly m2pStrict: boolean;
    readonly initialised: boolean;
    readonly vcpus: readonly SavedPagingVcpu[];
  };
}

/** A `VCPU_STATE` record: one vCPU. */
export interface DomainImageVcpu {
  /** vCPU ID. */
  readonly id: number;
  /** The CPU model's state; `cr3` holds the PFN of the page table (`pfn << 12 | flags`). */
  readonly cpu: CpuState;
  /** The PV vCPU's state. */
  readonly vcpu: PvVcpuState | Pv32VcpuState;
  /** Whether it was blocked (SCHEDOP_block). */
  readonly blocked: boolean;
  /**
   * Whether it has ever been up (its periodic timer is started the first time it comes up);
   * absent means vCPU 0's default, true.
   */
  readonly everUp?: boolean;
  /**
   * False for a vCPU the guest never initialised (VCPUOP_initialise): its CPU state is the reset
   * state and `cpu.cr3` holds no PFN. Absent means true.
   */
  readonly initialised?: boolean;
}

/** The `EVTCHN_STATE` record. */
export interface DomainImageEvtchn {
  /** Port limit. */
  readonly maxPorts: number;
  /** vcpu_info areas moved with VCPUOP_register_vcpu_info: `[vcpu, pfn, offset]`. */
  readonly registeredVcpuInfo: readonly (readonly [number, number, number])[];
  /** Every port in use (interdomain ports are saved as unbound to their peer). */
  readonly channels: readonly ChannelRecord[];
}

/** The `GNTTAB_STATE` record. */
export interface DomainImageGnttab {
  /** Grant-table frames in use. */
  readonly nrFrames: number;
  /** Maptrack capacity. */
  readonly maxMaptrack: number;
}

/** The `TIMER_STATE` record: each vCPU's timers, relative to the save. */
export interface DomainImageTimers {
  /** One entry per vCPU. */
  readonly timers: readonly {
    readonly vcpu: number;
    readonly periodNs: number;
    /** Nanoseconds until the single-shot timer fires, or -1 when not armed. */
    readonly singleshotInNs: number;
  }[];
}

/** One xenstore node in a `DEVICE_STATE` record of kind `xenstore`. */
export interface SavedXenstoreNode {
  /** Absolute path on the source host. */
  readonly path: string;
  /** Value, base64. */
  readonly value: string;
  /** Permissions (`n0`, `r5`, …). */
  readonly perms: readonly string[];
}

/** `DEVICE_STATE` records: the xenstore subtree and the console tails. */
export type DomainImageDevice =
  | { readonly kind: 'xenstore'; readonly nodes: readonly SavedXenstoreNode[] }
  | { readonly kind: 'console'; readonly console: string; readonly xenConsole: string };

/** A per-domain image read back. */
export interface DomainImage {
  /** The configuration (`DOMAIN_CONFIG`). */
  readonly config: DomainConfig;
  /** `DOMAIN_STATE`. */
  readonly state: DomainImageState;
  /** `VCPU_STATE`s, by vCPU ID. */
  readonly vcpus: readonly DomainImageVcpu[];
  /** `EVTCHN_STATE`. */
  readonly evtchn: DomainImageEvtchn;
  /** `GNTTAB_STATE`. */
  readonly gnttab: DomainImageGnttab;
  /** `TIMER_STATE`. */
  readonly timers: DomainImageTimers;
  /** `DEVICE_STATE`s. */
  readonly devices: readonly DomainImageDevice[];
  /** Canonical page contents by PFN (the last copy in the stream); pages not listed are zero. */
  readonly pages: ReadonlyMap<number, Uint8Array>;
  /** Bytes of page data read (for rates). */
  readonly pageBytes: number;
}

function refuse(msg: string): never {
  throw new ToolstackError('IO', `save image: ${msg}`);
}

/** Progress of {@link readDomainImage}: records and page bytes so far. */
export type ReadProgress = (records: number, pageBytes: number) => void;

/**
 * Reads a per-domain image (a file, or a migration stream up to its END) and checks that every
 * record a restore needs is there. Truncation and corruption are `IO` errors from the stream
 * reader; a whole-host image is refused with a message saying so.
 */
export async function readDomainImage(
  source: ByteSource,
  progress?: ReadProgress,
): Promise<DomainImage> {
  let config: DomainConfig | undefined;
  let state: DomainImageState | undefined;
  let evtchn: DomainImageEvtchn | undefined;
  let gnttab: DomainImageGnttab | undefined;
  let timers: DomainImageTimers | undefined;
  const vcpus: DomainImageVcpu[] = [];
  const devices: DomainImageDevice[] = [];
  const pages = new Map<number, Uint8Array>();
  let pageBytes = 0;
  let records = 0;
  for await (const rec of readSaveStream(source)) {
    records++;
    switch (rec.type) {
      case REC_TYPE.PAGE_DATA:
        rec.pfns.forEach((pfn, i) => {
          pages.set(pfn, rec.data.subarray(i * 4096, (i + 1) * 4096));
        });
        pageBytes += rec.data.length;
        break;
      case REC_TYPE.DOMAIN_CONFIG:
        config = reviveJson(rec.json) as DomainConfig;
        break;
      case REC_TYPE.DOMAIN_STATE: {
        // Only the layout holds bigints; the large frame list is plain JSON.
        const s = rec.json as Partial<DomainImageState> | null;
        if (s !== null && typeof s === 'object' && 'layout' in s)
          (s as { layout: unknown }).layout = reviveJson(s.layout);
        if (s === null || typeof s !== 'object' || s.kind !== 'domain') {
          refuse(
            'this is a whole-host image (Host.save); restore it with Host.restore, not as one domain',
          );
        }
        if (s.version !== DOMAIN_IMAGE_VERSION) {
          refuse(
            `domain state version ${String(s.version)} is not supported (this build reads ${DOMAIN_IMAGE_VERSION})`,
          );
        }
        state = s as DomainImageState;
        break;
      }
      case REC_TYPE.VCPU_STATE:
        vcpus.push(reviveJson(rec.json) as DomainImageVcpu);
        break;
      case REC_TYPE.EVTCHN_STATE:
        evtchn = rec.json as DomainImageEvtchn;
        break;
      case REC_TYPE.GNTTAB_STATE:
        gnttab = rec.json as DomainImageGnttab;
        break;
      case REC_TYPE.TIMER_STATE:
        timers = rec.json as DomainImageTimers;
        break;
      case REC_TYPE.DEVICE_STATE:
        devices.push(rec.json as DomainImageDevice);
        break;
      default:
        break;
    }
    progress?.(records, pageBytes);
  }
  const missing = [
    config === undefined ? 'DOMAIN_CONFIG' : '',
    state === undefined ? 'DOMAIN_STATE' : '',
    vcpus.length === 0 ? 'VCPU_STATE' : '',
    evtchn === undefined ? 'EVTCHN_STATE' : '',
    gnttab === undefined ? 'GNTTAB_STATE' : '',
    timers === undefined ? 'TIMER_STATE' : '',
  ].filter((s) => s !== '');
  if (missing.length > 0 || config === undefined || state === undefined) {
    refuse(`the image has no ${missing.join(', ')} record (not a domain image?)`);
  }
  vcpus.sort((a, b) => a.id - b.id);
  return {
    config,
    state,
    vcpus,
    evtchn: evtchn as DomainImageEvtchn,
    gnttab: gnttab as DomainImageGnttab,
    timers: timers as DomainImageTimers,
    devices,
    pages,
    pageBytes,
  };
}
