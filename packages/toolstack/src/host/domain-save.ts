/**
 * Saving one domain (`xl save`): the domain is stopped, dom0's drivers are detached from it so
 * that no request is in flight and no dom0 mapping or channel is saved, and its state is written
 * as the records of a per-domain image (docs/save-image-format.md) with every machine frame
 * number turned into a PFN, as libxc does for PV guests. Afterwards the domain is destroyed or
 * (`xl save -c`) continues.
 * @module
 */
import { type Pv32Vcpu, type PvVcpu, SHUTDOWN_suspend } from '@typevisor/hypervisor';
import { INVALID_MFN } from '@typevisor/mmu';
import type { X86Cpu } from '@typevisor/x86-cpu';
import type { DomainConfig } from '../config/domain-config.ts';
import { ToolstackError } from '../errors.ts';
import {
  encodeHeader,
  encodeJsonRecord,
  encodeRecord,
  MAX_PAGES_PER_RECORD,
  REC_TYPE,
} from '../migration/stream.ts';
import type { DomainSaveContext } from './domain-save-context.ts';
import {
  DOMAIN_IMAGE_VERSION,
  type DomainImageDevice,
  type DomainImageEvtchn,
  type DomainImageState,
  type DomainImageTimers,
  type DomainImageVcpu,
  type SavedFrameInfo,
  type SavedXenstoreNode,
} from './domain-save-image.ts';
import {
  rewriteGrantFrame,
  rewriteP2mList,
  rewritePageTable,
  rewriteStartInfo,
} from './domain-save-pagetables.ts';
import type { Host, HostDomain } from './host.ts';
import { toJson } from './host-image.ts';
import { resumeSuspended, suspendGuest } from './host-lifecycle.ts';

/** One vCPU of a domain as the save code sees it. */
export interface DomainVcpuView {
  /** vCPU ID. */
  readonly id: number;
  /** Its CPU model. */
  readonly cpu: X86Cpu;
  /** Its PV vCPU. */
  readonly vcpu: PvVcpu | Pv32Vcpu;
  /** Whether it is blocked. */
  readonly blocked: boolean;
  /** Whether it has ever been up. */
  readonly everUp: boolean;
  /** Whether it has a context (vCPU 0 always; others after VCPUOP_initialise). */
  readonly initialised: boolean;
}

/**
 * The vCPUs of a domain, as the image carries them (a `VCPU_STATE` record each, `max_vcpus` of
 * them for an SMP domain, up or down, initialised or not; the set's flags go in `DOMAIN_STATE`).
 */
export function domainVcpus(d: HostDomain): DomainVcpuView[] {
  return d.vcpus.map((v) => ({
    id: v.id,
    cpu: v.cpu,
    vcpu: v.vcpu,
    blocked: v.blocked,
    everUp: v.everUp,
    initialised: d.smp === undefined ? v.id === 0 : d.smp.isInitialised(v.id),
  }));
}

/**
 * A domain's memory seen by PFN, with the frame rewriting of a save: `canonical(pfn)` is the
 * page as it goes into the image.
 */
export class DomainPageReader {
  /** The domain's populated PFNs, ascending. */
  readonly pfns: number[];
  /** Machine frame → PFN for the domain's frames, -1 elsewhere. */
  private readonly inverse: Int32Array;
  private readonly ctx: DomainSaveContext;
  private readonly d: HostDomain;
  private readonly is32: boolean;
  private readonly nrPages: number;
  private readonly p2mSeg: { readonly pfn: number; readonly pages: number } | undefined;
  private readonly grantLast: number;

  /** Reads domain `d` of the host behind `ctx`. */
  constructor(ctx: DomainSaveContext, d: HostDomain) {
    this.ctx = ctx;
    this.d = d;
    this.is32 = d.guestType === 'xen-3.0-x86_32p';
    this.nrPages = d.config.memory * 256;
    const machine = ctx.host.machine;
    const p2m = machine.p2m(d.domid);
    this.inverse = new Int32Array(machine.memory.frames).fill(-1);
    this.pfns = [];
    for (let pfn = 0; pfn < p2m.size; pfn++) {
      const mfn = p2m.get(pfn);
      if (mfn === INVALID_MFN || machine.frames.owner[mfn] !== d.domid) continue;
      this.inverse[mfn] = pfn;
      this.pfns.push(pfn);
    }
    this.p2mSeg = d.layout.segments.find((s) => s.name === 'phys2mach');
    this.grantLast = this.nrPages + ctx.maxGrantFrames;
  }

  /** The PFN of machine frame `mfn` if the domain owns it, else -1. */
  pfnOf(mfn: number): number {
    return mfn >= 0 && mfn < this.inverse.length ? (this.inverse[mfn] ?? -1) : -1;
  }

  /** The machine frame of `pfn`. */
  mfnOf(pfn: number): number {
    return this.ctx.host.machine.p2m(this.d.domid).get(pfn);
  }

  /** Whether the frame of `pfn` has never been written or holds only zeros. */
  isZero(pfn: number): boolean {
    const mem = this.ctx.host.machine.memory;
    const mfn = this.mfnOf(pfn);
    if (mem.allocated[mfn >>> 9] === 0) return true;
    const words = mem.i32Chunks[mfn >>> 9] as Int32Array;
    const base = (mfn & 511) << 10;
    for (let i = 0; i < 1024; i++) if (words[base + i] !== 0) return false;
    return true;
  }

  /** The raw contents of `pfn`'s frame as 1024 words (a view: copy it to keep it). */
  raw(pfn: number): Int32Array | null {
    const mem = this.ctx.host.machine.memory;
    const mfn = this.mfnOf(pfn);
    if (mem.allocated[mfn >>> 9] === 0) return null;
    const base = (mfn & 511) << 10;
    return (mem.i32Chunks[mfn >>> 9] as Int32Array).subarray(base, base + 1024);
  }

  /** The page type of `pfn`'s frame. */
  typeOf(pfn: number): number {
    return this.ctx.host.machine.frames.type[this.mfnOf(pfn)] ?? 0;
  }

  /**
   * The page of `pfn` as saved: a copy with machine frames turned into PFNs (page tables, grant
   * entries, start_info, the P2M list). Throws a `STATE` error naming the entry when a page
   * table maps a frame the domain does not own (a foreign or grant mapping cannot be saved).
   */
  canonical(pfn: number): Uint8Array {
    const mem = this.ctx.host.machine.memory;
    const mfn = this.mfnOf(pfn);
    const page = new Uint8Array(4096);
    if (mem.allocated[mfn >>> 9] !== 0) {
      const chunk = mem.u8Chunks[mfn >>> 9] as Uint8Array;
      const base = (mfn & 511) << 12;
      page.set(chunk.subarray(base, base + 4096));
    }
    const map = (f: number): number => this.pfnOf(f);
    const type = this.typeOf(pfn);
    const bad = rewritePageTable(page, type, this.is32, map, null, null);
    if (bad >= 0) {
      throw new ToolstackError(
        'STATE',
        `dom${this.d.domid}: page table at PFN ${pfn} entry ${bad} maps a frame the domain does not own (a grant or foreign mapping); such a domain cannot be saved`,
      );
    }
    if (pfn > this.nrPages && pfn <= this.grantLast) rewriteGrantFrame(page, map);
    // A guest that suspended has named start_info's frames by PFN itself (Linux's
    // xen_pre_suspend); libxc's save copies that page as it is. Others are rewritten here.
    if (pfn === this.d.layout.startInfoPfn && this.d.shutdownReason !== SHUTDOWN_suspend)
      rewriteStartInfo(page, this.is32, map);
    const seg = this.p2mSeg;
    if (seg !== undefined && pfn >= seg.pfn && pfn < seg.pfn + seg.pages) {
      rewriteP2mList(page, pfn - seg.pfn, this.is32, this.nrPages, (n) =>
        this.mfnOf(n) === INVALID_MFN ? -1 : n,
      );
    }
    return page;
  }

  /** PAGE_DATA records of `pfns` (zero pages are sent only when `withZeros`). */
  pageRecords(pfns: readonly number[], withZeros: boolean): Uint8Array[] {
    const out: Uint8Array[] = [];
    let batch: number[] = [];
    let pages: Uint8Array[] = [];
    const flush = (): void => {
      if (batch.length === 0) return;
      const body = new Uint8Array(batch.length * 4096);
      for (let i = 0; i < pages.length; i++) body.set(pages[i] as Uint8Array, i * 4096);
      out.push(encodeRecord({ type: REC_TYPE.PAGE_DATA, pfns: batch, data: body }));
      batch = [];
      pages = [];
    };
    for (const pfn of pfns) {
      if (!withZeros && this.isZero(pfn)) continue;
      batch.push(pfn);
      pages.push(this.canonical(pfn));
      if (batch.length === MAX_PAGES_PER_RECORD) flush();
    }
    flush();
    return out;
  }
}

/** Reads the domain's xenstore subtrees (its directory, /vm, its backends) with permissions. */
export async function readDomainXenstore(
  ctx: DomainSaveContext,
  d: HostDomain,
): Promise<SavedXenstoreNode[]> {
  const xs = ctx.host.xs;
  const nodes: SavedXenstoreNode[] = [];
  const walk = async (path: string): Promise<void> => {
    let value: Uint8Array;
    try {
      value = await xs.read(path);
    } catch {
      return; // gone (or never written)
    }
    nodes.push({
      path,
      value: Buffer.from(value).toString('base64'),
      perms: await xs.getPerms(path),
    });
    const children = await xs.directory(path).catch(() => [] as string[]);
    for (const c of children) await walk(`${path}/${c}`);
  };
  for (const root of [
    `/local/domain/${d.domid}`,
    `/vm/${d.uuid}`,
    `/local/domain/0/backend/vbd/${d.domid}`,
    `/local/domain/0/backend/console/${d.domid}`,
  ]) {
    await walk(root);
  }
  return nodes;
}

/**
 * The state records of a stopped domain (everything but its pages), captured synchronously so
 * that no timer or event changes the domain in between.
 */
export function domainStateRecords(
  ctx: DomainSaveContext,
  d: HostDomain,
  reader: DomainPageReader,
  xenstore: readonly SavedXenstoreNode[],
  paused: boolean,
  config: DomainConfig = d.config,
): Uint8Array[] {
  const host = ctx.host;
  const frames = host.machine.frames;
  const now = host.nowNs();
  const pfnRuns: [number, number][] = [];
  const info: SavedFrameInfo[] = [];
  for (const pfn of reader.pfns) {
    const last = pfnRuns[pfnRuns.length - 1];
    if (last !== undefined && last[0] + last[1] === pfn) last[1]++;
    else pfnRuns.push([pfn, 1]);
    const mfn = reader.mfnOf(pfn);
    const t = frames.type[mfn] ?? 0;
    const tc = frames.typeCount[mfn] ?? 0;
    const rc = frames.refCount[mfn] ?? 0;
    const pin = frames.pinned[mfn] ?? 0;
    const level = t & 0xff;
    // Writable and untyped pages need nothing on restore: their references come back when
    // the page tables mapping them are validated again.
    if ((level >= 1 && level <= 5) || pin !== 0) info.push([pfn, t, tc, rc, pin]);
  }
  const pvd = host.mm.domain(d.domid);
  const toPfn = (mfn: number): number => (mfn < 0 ? -1 : reader.pfnOf(mfn));
  const { pages: _pages, ...layout } = d.layout;
  const state: DomainImageState = {
    kind: 'domain',
    version: DOMAIN_IMAGE_VERSION,
    domid: d.domid,
    name: d.name,
    uuid: d.uuid,
    guestType: d.guestType,
    nrPages: d.config.memory * 256,
    grantFrames: ctx.maxGrantFrames,
    pfnRuns,
    frames: info,
    layout,
    storePort: d.storePort,
    consolePort: d.consolePort,
    paused,
    stoppedBy: 'toolstack',
    instructions: d.instructions,
    ageNs: Math.max(0, now - d.createdAtNs),
    ...(d.smp !== undefined ? { smp: d.smp.getState() } : {}),
    paging: {
      guestWidth: pvd.is32 ? 32 : 64,
      vmAssist: pvd.vmAssist,
      m2pStrict: pvd.m2pStrict,
      initialised: pvd.initialised,
      vcpus: pvd.vcpus.map((v) => ({
        basePfn: toPfn(v.baseMfn),
        userBasePfn: toPfn(v.userBaseMfn),
        ldtBaseLo: v.ldtBaseLo,
        ldtBaseHi: v.ldtBaseHi,
        ldtEnts: v.ldtEnts,
        gdtPfns: v.gdtFrames.map(toPfn),
        gdtEnts: v.gdtEnts,
        ldtPfns: v.ldtFrames.map(toPfn),
      })),
    },
  };
  const out: Uint8Array[] = [];
  out.push(encodeJsonRecord(REC_TYPE.DOMAIN_CONFIG, toJson(config)));
  // The frame list is large and plain: JSON.stringify without toJson's replacer (5x faster).
  const { frames: frameList, ...rest } = state;
  out.push(
    encodeJsonRecord(
      REC_TYPE.DOMAIN_STATE,
      `${toJson(rest).slice(0, -1)},"frames":${JSON.stringify(frameList)}}`,
    ),
  );
  for (const v of domainVcpus(d)) {
    const cpu = v.cpu.getState();
    // CR3 holds the machine address of the running page table: save its PFN instead (a vCPU
    // the guest never initialised has none).
    const cr3Mfn = cpu.cr3 >>> 12;
    const cr3Pfn = v.initialised ? reader.pfnOf(cr3Mfn) : 0;
    if (cr3Pfn < 0) {
      throw new ToolstackError(
        'STATE',
        `dom${d.domid}: vCPU ${v.id}'s CR3 (frame ${cr3Mfn}) is not one of the domain's frames`,
      );
    }
    const saved: DomainImageVcpu = {
      id: v.id,
      cpu: { ...cpu, cr3: v.initialised ? ((cr3Pfn << 12) | (cpu.cr3 & 0xfff)) >>> 0 : 0 },
      vcpu: v.vcpu.getState(),
      blocked: v.blocked,
      everUp: v.everUp,
      initialised: v.initialised,
    };
    // A guest that suspended for the save is saved as such (its restore resumes it).
    if (saved.vcpu.shutdownReason >= 0 && saved.vcpu.shutdownReason !== SHUTDOWN_suspend) {
      throw new ToolstackError(
        'STATE',
        `dom${d.domid} has shut down (${d.shutdownName ?? saved.vcpu.shutdownReason}); there is nothing to save`,
      );
    }
    out.push(encodeJsonRecord(REC_TYPE.VCPU_STATE, toJson(saved)));
  }
  const ev = host.evtchn.getState().domains.find((x) => x.domid === d.domid);
  if (ev === undefined) throw new ToolstackError('STATE', `dom${d.domid} has no event channels`);
  const evtchn: DomainImageEvtchn = {
    maxPorts: ev.maxPorts,
    registeredVcpuInfo: ev.registeredVcpuInfo.map(([v, address]) => {
      const pfn = reader.pfnOf(Math.floor(address / 4096));
      if (pfn < 0)
        throw new ToolstackError(
          'STATE',
          `dom${d.domid}: vCPU ${v}'s vcpu_info is not in its memory`,
        );
      return [v, pfn, address % 4096] as const;
    }),
    channels: ev.channels.map((c) => {
      if (c.state === 'pirq')
        throw new ToolstackError('STATE', `dom${d.domid} has a PIRQ bound; it cannot be saved`);
      // A peer is not part of the image: the port waits, unbound, for the peer to bind again.
      return c.state === 'interdomain' && c.remoteDomid !== d.domid
        ? { ...c, state: 'unbound' as const, remotePort: -1 }
        : c;
    }),
  };
  out.push(encodeRecord({ type: REC_TYPE.EVTCHN_STATE, json: evtchn }));
  const gt = host.grants.getState().domains.find((x) => x.domid === d.domid);
  if (gt === undefined) throw new ToolstackError('STATE', `dom${d.domid} has no grant table`);
  if (gt.maptrack.length > 0) {
    throw new ToolstackError(
      'STATE',
      `dom${d.domid} maps ${gt.maptrack.length} grant(s) of other domains; it cannot be saved`,
    );
  }
  out.push(
    encodeRecord({
      type: REC_TYPE.GNTTAB_STATE,
      json: { nrFrames: gt.nrFrames, maxMaptrack: gt.maxMaptrack },
    }),
  );
  const timers: DomainImageTimers = {
    timers: host.timers
      .getState()
      .filter((t) => t.domid === d.domid)
      .map((t) => ({
        vcpu: t.vcpu,
        periodNs: t.periodNs,
        singleshotInNs: t.singleshotAt < 0 ? -1 : Math.max(0, t.singleshotAt - now),
      })),
  };
  out.push(encodeRecord({ type: REC_TYPE.TIMER_STATE, json: timers }));
  const devices: DomainImageDevice[] = [
    { kind: 'xenstore', nodes: xenstore },
    {
      kind: 'console',
      console: d.consoleText().slice(-65536),
      xenConsole: d.xenConsoleText().slice(-65536),
    },
  ];
  for (const dev of devices) out.push(encodeRecord({ type: REC_TYPE.DEVICE_STATE, json: dev }));
  return out;
}

/** A domain stopped for a save: how to put it back. */
export interface StoppedDomain {
  /** Whether the toolstack had paused it before. */
  readonly wasPaused: boolean;
  /** Re-attaches dom0's drivers and unpauses it (unless it was paused), as before the save. */
  resume(): Promise<void>;
}

/**
 * Stops a domain for a save: a guest that supports it is asked to suspend itself first, as xl
 * does (host-lifecycle.ts; one that does not cooperate is saved paused, where xl would ask it
 * anyway and time out); then it is paused, dom0 finishes its requests and its drivers are
 * detached. `resume` undoes all that (a suspended guest is resumed in place: its suspend
 * hypercall returns 1).
 */
export async function stopForSave(ctx: DomainSaveContext, d: HostDomain): Promise<StoppedDomain> {
  if (d.shutdownReason >= 0) {
    throw new ToolstackError(
      'STATE',
      `dom${d.domid} (${d.name}) has shut down (${d.shutdownName ?? '?'}); there is nothing to save`,
    );
  }
  if (ctx.nativeDomains() > 0) {
    // Native domains may hold grant mappings of guests; the image cannot carry them.
    for (const g of ctx.host.grants.getState().domains) {
      if (g.domid !== d.domid && g.maptrack.some((m) => m.granter === d.domid)) {
        throw new ToolstackError(
          'STATE',
          `dom${d.domid}: domain ${g.domid} maps its grants; it cannot be saved`,
        );
      }
    }
  }
  domainVcpus(d); // refuses what the image cannot carry before anything is stopped
  const wasPaused = d.paused;
  const suspended = await suspendGuest(ctx, d);
  ctx.host.pause(d.domid);
  await ctx.settleDom0();
  await ctx.detachDrivers(d);
  await ctx.settleDom0();
  let resumed = false;
  return {
    wasPaused,
    resume: async (): Promise<void> => {
      if (resumed) return;
      resumed = true;
      if (suspended) resumeSuspended(ctx.host, d);
      await ctx.attachDrivers(d);
      if (!wasPaused) ctx.host.unpause(d.domid);
    },
  };
}

/** Options of {@link saveDomainImage}. */
export interface DomainSaveOptions {
  /** Leave the domain running afterwards (`xl save -c`); by default it is destroyed. */
  readonly keep?: boolean;
  /** Called as pages are written: pages so far and in all. */
  readonly progress?: (pages: number, total: number) => void;
  /**
   * The configuration to store in the image instead of the domain's (`xl save DOM FILE CONFIG`);
   * its memory must match the domain's.
   */
  readonly config?: DomainConfig;
}

/** What {@link saveDomainImage} did. */
export interface DomainSaveResult {
  /** The domain's ID. */
  readonly domid: number;
  /** Its name. */
  readonly name: string;
  /** Pages written (zero pages are left out). */
  readonly pages: number;
  /** Bytes of image. */
  readonly bytes: number;
  /** Milliseconds from the request to the last byte. */
  readonly ms: number;
  /** Milliseconds the domain was stopped (to the end of the save, or until it was resumed). */
  readonly downtimeMs: number;
}

/**
 * Saves domain `d` as a per-domain image through `emit`, then destroys it (or, with `keep`,
 * resumes it). On any failure (including `emit` failing) the domain continues as before.
 */
export async function saveDomain(
  ctx: DomainSaveContext,
  d: HostDomain,
  emit: (chunk: Uint8Array) => Promise<void> | void,
  options: DomainSaveOptions = {},
): Promise<DomainSaveResult> {
  const t0 = performance.now();
  if (options.config !== undefined && options.config.memory !== d.config.memory) {
    throw new ToolstackError(
      'CONFIG',
      `${options.config.source}: memory = ${options.config.memory} MiB, but dom${d.domid} has ${d.config.memory} MiB`,
    );
  }
  const stopped = await stopForSave(ctx, d);
  let bytes = 0;
  let pages = 0;
  try {
    const xenstore = await readDomainXenstore(ctx, d);
    // From here to the last record, nothing awaits: the capture is one consistent instant.
    const reader = new DomainPageReader(ctx, d);
    const records = [encodeHeader()];
    records.push(
      ...domainStateRecords(ctx, d, reader, xenstore, stopped.wasPaused, options.config),
    );
    const pageRecs = reader.pageRecords(reader.pfns, false);
    for (const r of pageRecs) pages += new DataView(r.buffer, r.byteOffset).getUint32(16, true);
    records.push(...pageRecs, encodeRecord({ type: REC_TYPE.END }));
    let written = 0;
    for (const r of records) {
      await emit(r);
      bytes += r.length;
      const dv = new DataView(r.buffer, r.byteOffset, r.byteLength);
      if (r.length > 16 && dv.getUint32(0, true) === REC_TYPE.PAGE_DATA) {
        written += dv.getUint32(16, true);
        options.progress?.(written, pages);
      }
    }
  } catch (err) {
    await stopped.resume();
    throw err;
  }
  const downEnd = performance.now();
  if (options.keep === true) await stopped.resume();
  else await ctx.host.destroyDomain(d.domid);
  return {
    domid: d.domid,
    name: d.name,
    pages,
    bytes,
    ms: performance.now() - t0,
    downtimeMs: downEnd - t0,
  };
}

/**
 * `xl save`: saves domain `domain` (ID or name) of `host` as a per-domain image through `emit`
 * (docs/save-image-format.md), then destroys it, or with `keep` lets it continue. The host may
 * be running: the domain is paused for the save, the others go on. On any failure the domain
 * continues as before and the error says what went wrong.
 */
export function saveDomainImage(
  host: Host,
  domain: number | string,
  emit: (chunk: Uint8Array) => Promise<void> | void,
  options: DomainSaveOptions = {},
): Promise<DomainSaveResult> {
  return saveDomain(host.saveContext(), host.lookup(domain), emit, options);
}

/** {@link saveDomainImage} into memory: the image's bytes and what was done. */
export async function saveDomainToBytes(
  host: Host,
  domain: number | string,
  options: DomainSaveOptions = {},
): Promise<{ image: Uint8Array; result: DomainSaveResult }> {
  const chunks: Uint8Array[] = [];
  const result = await saveDomainImage(host, domain, (c) => void chunks.push(c), options);
  const image = new Uint8Array(result.bytes);
  let at = 0;
  for (const c of chunks) {
    image.set(c, at);
    at += c.length;
  }
  return { image, result };
}
