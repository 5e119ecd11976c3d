/**
 * The host save image: everything a {@link Host} needs to continue its guests elsewhere, as the
 * records of the Typevisor save stream (docs/save-image-format.md): one `DOMAIN_STATE` record
 * with the host's plain-data state (JSON), `PAGE_DATA` records with the contents of every machine
 * frame in use that is not all zeros, keyed by machine frame number, then `END`.
 * @module
 */
import type {
  EventChannelsState,
  GrantTablesState,
  Pv32VcpuState,
  PvVcpuState,
  VcpuTimerState,
} from '@typevisor/hypervisor';
import type { MachineState, PvMmState } from '@typevisor/mmu';
import type { CpuState } from '@typevisor/x86-cpu';
import type { XenstoreState } from '@typevisor/xenstore';
import type { PvLayout } from '../builder/pv-layout.ts';
import type { DomainConfig } from '../config/domain-config.ts';
import { ToolstackError } from '../errors.ts';

/** Version of {@link HostImage}; a reader refuses others. */
export const HOST_IMAGE_VERSION = 1;

/** One guest domain in a {@link HostImage}. */
export interface SavedDomain {
  /** Domain ID (kept on restore: guests see it in their xenstore paths). */
  readonly domid: number;
  /** Name. */
  readonly name: string;
  /** UUID. */
  readonly uuid: string;
  /** The configuration it was created from. */
  readonly config: DomainConfig;
  /** The builder's layout, without the start-of-day page contents. */
  readonly layout: Omit<PvLayout, 'pages'>;
  /** The guest's xenstore and console event-channel ports. */
  readonly storePort: number;
  /** The guest's console port. */
  readonly consolePort: number;
  /** The CPU model's state. */
  readonly cpu: CpuState;
  /** The PV vCPU's state (64- or 32-bit). */
  readonly vcpu: PvVcpuState | Pv32VcpuState;
  /** Whether the toolstack had paused it. */
  readonly paused: boolean;
  /** Whether it was blocked. */
  readonly blocked: boolean;
  /** Instructions executed. */
  readonly instructions: number;
  /** System time at creation. */
  readonly createdAtNs: number;
  /** The tail of its console output, Latin-1. */
  readonly console: string;
  /** The tail of its CONSOLEIO_write output, Latin-1. */
  readonly xenConsole: string;
}

/** A host's plain-data state (machine frame contents travel in PAGE_DATA records). */
export interface HostImage {
  /** {@link HOST_IMAGE_VERSION}. */
  readonly version: number;
  /** Machine memory in MiB. */
  readonly memoryMiB: number;
  /** System time in ns. */
  readonly clockNs: number;
  /** Wall-clock seconds at system time 0. */
  readonly wallClockSec: number;
  /** Next domain ID to try. */
  readonly nextDomid: number;
  /** Frames, owners, types and P2Ms. */
  readonly machine: MachineState;
  /** PV paging state. */
  readonly mm: PvMmState;
  /** The frames holding the 64-bit and the compat M2P tables. */
  readonly m2pFrames: readonly number[];
  /** See {@link HostImage.m2pFrames}. */
  readonly compatM2pFrames: readonly number[];
  /** Event channels. */
  readonly evtchn: EventChannelsState;
  /** Grant tables. */
  readonly grants: GrantTablesState;
  /** vCPU timers. */
  readonly timers: readonly VcpuTimerState[];
  /** The store. */
  readonly xenstore: XenstoreState;
  /** The guests. */
  readonly domains: readonly SavedDomain[];
}

/** JSON with bigints (as `{"$bigint": "…"}`) and Maps (as `{"$map": [[k, v], …]}`). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return { $bigint: v.toString() };
    if (v instanceof Map) return { $map: [...v.entries()] };
    return v;
  });
}

/** The inverse of {@link toJson}. */
export function fromJson(text: string): unknown {
  return reviveJson(JSON.parse(text));
}

/**
 * The JSON text of a {@link HostImage}: its large plain parts (frame table, store, channels)
 * through plain `JSON.stringify`, the guests (which hold bigints) through {@link toJson}.
 */
export function encodeHostImage(image: HostImage): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(image)) {
    parts.push(
      `${JSON.stringify(key)}:${key === 'domains' ? toJson(value) : JSON.stringify(value)}`,
    );
  }
  return `{${parts.join(',')}}`;
}

/** Turns `{"$bigint"}` / `{"$map"}` objects from {@link toJson} back into bigints and Maps, in place where possible. */
export function reviveJson(value: unknown): unknown {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = reviveJson(value[i]);
    return value;
  }
  if (value === null || typeof value !== 'object') return value;
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1 && typeof o.$bigint === 'string') return BigInt(o.$bigint);
  if (keys.length === 1 && Array.isArray(o.$map)) {
    return new Map((o.$map as unknown[]).map((e) => reviveJson(e) as [unknown, unknown]));
  }
  for (const k of keys) o[k] = reviveJson(o[k]);
  return o;
}

/** The {@link HostImage} in a parsed DOMAIN_STATE record (its guests revived). */
export function decodeHostImage(json: unknown): HostImage {
  if (json !== null && typeof json === 'object' && (json as { kind?: unknown }).kind === 'domain') {
    throw new ToolstackError(
      'IO',
      'save image: this is a per-domain image (typevisor save); restore it with restoreDomainImage or typevisor restore, not Host.restore',
    );
  }
  const image = json as HostImage & { domains: unknown };
  if (image !== null && typeof image === 'object' && Array.isArray(image.domains)) {
    (image as { domains: unknown }).domains = reviveJson(image.domains);
  }
  return image as HostImage;
}
