/**
 * Restoring one domain from a per-domain image (`xl restore`, and the receiving end of a
 * migration): the domain gets a new domain ID and new machine frames on this host, and every PFN
 * the image holds where the guest keeps a frame number (page tables, grant entries, start_info,
 * its P2M list, CR3, the paging registers) is turned into the new frame, as libxc's restore does.
 * The hypervisor's state (frame types and counts, paging, event channels, grant table, timers)
 * is rebuilt around the same guest-visible values (ports, grant references), the domain's
 * xenstore subtree is re-created under the new ID and dom0's drivers are attached to it.
 * @module
 */
import {
  OwnedFramesMemory,
  Pv32Vcpu,
  type Pv32VcpuState,
  PvVcpu,
  type PvVcpuState,
} from '@typevisor/hypervisor';
import { INVALID_MFN, MMUEXT } from '@typevisor/mmu';
import { X86Cpu } from '@typevisor/x86-cpu';
import type { DomainConfig } from '../config/domain-config.ts';
import { ToolstackError } from '../errors.ts';
import { type ByteSource, bytesSource } from '../migration/stream.ts';
import type { DomainSaveContext } from './domain-save-context.ts';
import {
  type DomainImage,
  type ReadProgress,
  readDomainImage,
  type SavedXenstoreNode,
} from './domain-save-image.ts';
import {
  rewriteGrantFrame,
  rewriteP2mList,
  rewritePageTable,
  rewriteStartInfo,
} from './domain-save-pagetables.ts';
import { type Host, HostDomain, openDisk } from './host.ts';
import { localiseStartInfo, resumeInNewDomain } from './host-lifecycle.ts';
import { HostVcpu } from './host-vcpu.ts';

/** Most vCPUs an image may bring: the vcpu_info slots in shared_info (as the host's limit). */
const MAX_RESTORE_VCPUS = 32;

/** Options of {@link restoreDomainImage}. */
export interface DomainRestoreOptions {
  /** Leave the domain paused (`xl restore -p`). */
  readonly paused?: boolean;
  /**
   * A configuration to use instead of the one in the image (`xl restore CONFIG FILE`); its
   * memory must match the image.
   */
  readonly config?: DomainConfig;
}

function inconsistent(msg: string): never {
  throw new ToolstackError('IO', `save image: ${msg}`);
}

/** Rewrites `/local/domain/<old>`, its backend directories and `/vm/<old uuid>` for the new domain. */
function rewriteXsText(text: string, from: XsIds, to: XsIds): string {
  return text
    .replace(new RegExp(`^/local/domain/${from.domid}(?=/|$)`), `/local/domain/${to.domid}`)
    .replace(
      new RegExp(`^(/local/domain/0/backend/[A-Za-z0-9_-]+/)${from.domid}(?=/|$)`),
      `$1${to.domid}`,
    )
    .replace(new RegExp(`^/vm/${from.uuid}(?=/|$)`), `/vm/${to.uuid}`);
}

/** A domain's IDs in xenstore paths. */
interface XsIds {
  readonly domid: number;
  readonly uuid: string;
}

/** Whether `path` is one a domain's image may hold: its own directories only. */
function ownPath(path: string, ids: XsIds): boolean {
  return (
    new RegExp(`^/local/domain/${ids.domid}(/[A-Za-z0-9_.@-]+)*$`).test(path) ||
    new RegExp(`^/vm/${ids.uuid}(/[A-Za-z0-9_.@-]+)*$`).test(path) ||
    new RegExp(`^/local/domain/0/backend/(vbd|console|vif)/${ids.domid}(/[A-Za-z0-9_.@-]+)*$`).test(
      path,
    )
  );
}

/**
 * Re-creates the saved xenstore nodes under the new domain ID, with frames re-pointed. Every
 * node must lie in the domain's own directories (a forged image cannot write elsewhere).
 */
async function writeXenstore(
  ctx: DomainSaveContext,
  nodes: readonly SavedXenstoreNode[],
  from: XsIds,
  dom: HostDomain,
  ringRefs: { readonly store: number; readonly console: number },
): Promise<void> {
  const xs = ctx.host.xs;
  const id = dom.domid;
  const to: XsIds = { domid: id, uuid: dom.uuid };
  const dp = `/local/domain/${id}`;
  if (!Array.isArray(nodes)) inconsistent('the xenstore record holds no node list');
  for (const n of nodes) {
    if (
      typeof n?.path !== 'string' ||
      typeof n.value !== 'string' ||
      !Array.isArray(n.perms) ||
      !n.perms.every((p: unknown) => typeof p === 'string' && /^[nrwb]\d+$/.test(p))
    ) {
      inconsistent('a xenstore node record is malformed');
    }
    const path = rewriteXsText(n.path, from, to);
    if (!ownPath(path, to)) inconsistent(`xenstore node ${n.path} is not the domain's`);
    let value: string | Uint8Array = new Uint8Array(Buffer.from(n.value, 'base64'));
    const text = Buffer.from(value).toString('latin1');
    if (path === `${dp}/store/ring-ref`) value = String(ringRefs.store);
    else if (path === `${dp}/console/ring-ref`) value = String(ringRefs.console);
    else if (path === `${dp}/domid`) value = String(id);
    else if (path === `${dp}/name` || path === `/vm/${dom.uuid}/name`) value = dom.name;
    else if (path === `/vm/${dom.uuid}/uuid`) value = dom.uuid;
    else if (path.endsWith('/frontend-id') && text === String(from.domid)) value = String(id);
    else if (text.startsWith('/local/domain/') || text.startsWith('/vm/'))
      value = rewriteXsText(text, from, to);
    try {
      await xs.write(path, value);
      await xs.setPerms(
        path,
        n.perms.map((p: string) => {
          const m = /^([nrwb])(\d+)$/.exec(p);
          return m !== null && Number(m[2]) === from.domid ? `${m[1]}${id}` : p;
        }),
      );
    } catch (err) {
      inconsistent(`xenstore node ${path}: ${(err as Error).message}`);
    }
  }
}

/**
 * The image's vCPUs must be 0 … n-1 in order, with the SMP set's count (one vCPU without it),
 * each initialised one with a context; 64- and 32-bit sets alike.
 */
function checkVcpus(image: DomainImage, is32: boolean): void {
  const smp = image.state.smp;
  const n = smp?.count ?? 1;
  const ok =
    image.vcpus.length === n &&
    image.vcpus.every((v, i) => v.id === i) &&
    (smp === undefined ||
      (Number.isInteger(n) &&
        n >= 1 &&
        n <= MAX_RESTORE_VCPUS &&
        smp.initialised.includes(0) &&
        smp.up.every((i) => smp.initialised.includes(i)) &&
        image.vcpus.every((v) => (v.initialised ?? true) === smp.initialised.includes(v.id))));
  if (!ok) {
    throw new ToolstackError(
      'STATE',
      `the image's ${image.vcpus.length} vCPU record(s) do not match its vCPU set (${n} vCPU(s)${is32 ? ', 32-bit' : ''})`,
    );
  }
}

/**
 * Builds domain `image` on the host behind `ctx` under a new domain ID and new frames, attaches
 * dom0's drivers and (unless `paused`) unpauses it. Nothing is left behind on failure.
 */
export async function restoreDomain(
  ctx: DomainSaveContext,
  image: DomainImage,
  options: DomainRestoreOptions = {},
): Promise<HostDomain> {
  const host = ctx.host;
  const s = image.state;
  const config = options.config ?? image.config;
  const is32 = s.guestType === 'xen-3.0-x86_32p';
  if (!is32 && s.guestType !== 'xen-3.0-x86_64')
    inconsistent(`unknown guest type ${String(s.guestType)}`);
  if (config.memory * 256 !== s.nrPages) {
    throw new ToolstackError(
      'CONFIG',
      `${config.source}: memory = ${config.memory} MiB, but the saved domain has ${s.nrPages / 256} MiB`,
    );
  }
  if (config.name === 'Domain-0' || [...host.domains.values()].some((d) => d.name === config.name))
    throw new ToolstackError('STATE', `a domain named "${config.name}" already exists`);
  checkVcpus(image, is32);
  let total = 0;
  for (const [first, count] of s.pfnRuns) {
    if (!(Number.isInteger(first) && Number.isInteger(count) && first >= 0 && count > 0))
      inconsistent(`bad PFN run [${first}, ${count}]`);
    total += count;
  }
  if (host.machine.frames.freeFrames < total) {
    throw new ToolstackError(
      'STATE',
      `not enough free memory to restore "${config.name}": it needs ${Math.ceil(total / 256)} MiB, ${Math.floor(host.machine.frames.freeFrames / 256)} MiB free`,
    );
  }
  // Disks first: a missing image must fail before anything is built (they are shared storage).
  const disks: Awaited<ReturnType<typeof openDisk>>[] = [];
  try {
    for (const spec of config.disks) disks.push(await openDisk(spec));
  } catch (err) {
    for (const o of disks) for (const f of o.files) await f.close().catch(() => undefined);
    throw err;
  }

  // The saved domain ID when it is free here (a guest that cached its xenstore paths, such as
  // GRUB, then finds them unchanged), else a new one.
  const keepId =
    Number.isInteger(s.domid) &&
    s.domid >= 1 &&
    s.domid < 0x7ff0 &&
    !host.domains.has(s.domid) &&
    !host.evtchn.hasDomain(s.domid) &&
    host.machine.frames.domainPages(s.domid) === 0 &&
    !host.mm.hasDomain(s.domid);
  const domid = keepId ? s.domid : ctx.allocDomid();
  if (keepId) ctx.claimDomid(domid);
  let dom: HostDomain | undefined;
  try {
    dom = build(ctx, image, config, domid, is32);
  } catch (err) {
    for (const o of disks) for (const f of o.files) await f.close().catch(() => undefined);
    host.domains.delete(domid);
    abandon(ctx, domid);
    if (err instanceof ToolstackError) throw err;
    inconsistent(`the domain's state does not fit together: ${(err as Error).message}`);
  }
  try {
    for (const o of disks) {
      dom.diskStorage.set(o.spec.vdev, o.storage);
      dom.files.push(...o.files);
    }
    const p2m = host.machine.p2m(domid);
    const storeMfn = p2m.get(s.layout.storePfn);
    await writeXenstore(
      ctx,
      image.devices.flatMap((d) => (d?.kind === 'xenstore' ? d.nodes : [])),
      { domid: s.domid, uuid: s.uuid },
      dom,
      { store: storeMfn, console: p2m.get(s.layout.consolePfn) },
    );
    await host.xs.introduceDomain(domid, storeMfn, s.storePort);
    await ctx.attachDrivers(dom);
  } catch (err) {
    await host.destroyDomain(domid).catch(() => undefined);
    throw err;
  }
  if (options.paused !== true && !s.paused) host.unpause(domid);
  return dom;
}

/**
 * Undoes a build that failed halfway: the copied type and reference counts are dropped (no
 * page-table walk can trust them) and the frames go back.
 */
function abandon(ctx: DomainSaveContext, domid: number): void {
  const machine = ctx.host.machine;
  const ft = machine.frames;
  const p2m = machine.p2m(domid);
  for (let pfn = 0; pfn < p2m.size; pfn++) {
    const mfn = p2m.get(pfn);
    if (mfn === INVALID_MFN || ft.owner[mfn] !== domid) continue;
    ft.type[mfn] = 0;
    ft.typeCount[mfn] = 0;
    ft.refCount[mfn] = 0;
    ft.pinned[mfn] = 0;
  }
  let pvd: ReturnType<typeof ctx.host.mm.domain>;
  try {
    pvd = ctx.host.mm.domain(domid);
  } catch {
    pvd = ctx.host.mm.addDomain(domid, { guestWidth: 64 });
  }
  for (const v of pvd.vcpus) {
    v.baseMfn = -1;
    v.userBaseMfn = -1;
    v.gdtFrames = [];
    v.ldtFrames = [];
    v.ldtEnts = 0;
  }
  ctx.teardown(domid);
}

/** The synchronous part: frames, pages, paging, channels, grants, timers, vCPUs, the domain. */
function build(
  ctx: DomainSaveContext,
  image: DomainImage,
  config: DomainConfig,
  domid: number,
  is32: boolean,
): HostDomain {
  const host = ctx.host;
  const s = image.state;
  const machine = host.machine;
  for (const [first, count] of s.pfnRuns) {
    const rc = machine.populate(domid, first, count);
    if (rc !== 0) inconsistent(`cannot populate PFNs ${first}+${count} (${rc})`);
  }
  const p2m = machine.p2m(domid);
  const toMfn = (pfn: number): number => {
    const mfn = p2m.get(pfn);
    return mfn === INVALID_MFN ? -1 : mfn;
  };
  const need = (pfn: number, what: string): number => {
    const mfn = toMfn(pfn);
    if (mfn < 0) inconsistent(`${what} is at PFN ${pfn}, which the image does not populate`);
    return mfn;
  };
  // The saved page types say which pages hold frame numbers to rewrite. The type and reference
  // counts themselves are not trusted: pinning and loading the base pointers below validates
  // the tables again and takes every reference, as libxc's restore pins them through Xen.
  const types = new Map<number, number>();
  for (const [pfn, type] of s.frames) {
    need(pfn, 'a typed frame');
    types.set(pfn, type);
  }
  // The saved UUID, unless a domain here has it already (a copy restored beside its original).
  const uuid =
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(String(s.uuid)) &&
    ![...host.domains.values()].some((d) => d.uuid === s.uuid)
      ? s.uuid
      : crypto.randomUUID();
  // Page contents, with PFNs turned into this host's frames.
  const mem = machine.memory;
  const seg = s.layout.segments.find((x) => x.name === 'phys2mach');
  const grantLast = s.nrPages + s.grantFrames;
  for (const [pfn, saved] of image.pages) {
    const mfn = toMfn(pfn);
    if (mfn < 0) continue; // a migration's early copy of a frame the guest gave back
    const page = saved.slice();
    const bad = rewritePageTable(
      page,
      types.get(pfn) ?? 0,
      is32,
      toMfn,
      host.mm.xenL4Entries,
      host.mm.xenL2Entries,
    );
    if (bad >= 0) inconsistent(`page table at PFN ${pfn} entry ${bad} maps an unpopulated PFN`);
    if (pfn > s.nrPages && pfn <= grantLast) rewriteGrantFrame(page, toMfn);
    if (pfn === s.layout.startInfoPfn) {
      rewriteStartInfo(page, is32, toMfn);
      localiseStartInfo(page, is32, toMfn(s.nrPages) * 4096); // shared_info follows the RAM
    }
    if (seg !== undefined && pfn >= seg.pfn && pfn < seg.pfn + seg.pages)
      rewriteP2mList(page, pfn - seg.pfn, is32, s.nrPages, toMfn);
    mem.writeBytes(mfn, 0, page);
  }
  // Page tables that were all zeros are not in the image, but Xen's slots must be there.
  for (const [pfn, type] of types) {
    if (image.pages.has(pfn)) continue;
    const page = new Uint8Array(4096);
    rewritePageTable(page, type, is32, toMfn, host.mm.xenL4Entries, host.mm.xenL2Entries);
    mem.writeBytes(need(pfn, 'a page table'), 0, page);
  }
  for (const [first, count] of s.pfnRuns) {
    for (let pfn = first; pfn < first + count; pfn++) {
      if (pfn < s.nrPages || pfn > grantLast) ctx.setM2p(p2m.get(pfn), pfn);
    }
  }
  // PV paging.
  const pg = s.paging;
  const pvd = host.mm.addDomain(domid, {
    guestWidth: pg.guestWidth,
    vcpus: pg.vcpus.length,
    initialised: pg.initialised,
  });
  pvd.vmAssist = pg.vmAssist;
  pvd.m2pStrict = pg.m2pStrict;
  const mmuext = (vcpu: number, cmd: number, pfn: number, what: string): void => {
    const rc = host.mm.mmuextOp(domid, vcpu, [
      { cmd, arg1Lo: need(pfn, what), arg1Hi: 0, arg2: 0 },
    ]);
    if (rc !== 0) inconsistent(`${what} at PFN ${pfn} fails validation (${rc})`);
  };
  // Pins top level first: validating a top-level table validates what it references.
  const PIN = [
    -1,
    MMUEXT.MMUEXT_PIN_L1_TABLE,
    MMUEXT.MMUEXT_PIN_L2_TABLE,
    MMUEXT.MMUEXT_PIN_L3_TABLE,
    MMUEXT.MMUEXT_PIN_L4_TABLE,
  ];
  const pins = s.frames.filter((f) => f[4] === 1).sort((a, b) => (b[1] & 0xff) - (a[1] & 0xff));
  for (const [pfn, type] of pins) {
    const cmd = PIN[type & 0xff] ?? -1;
    if (cmd < 0) inconsistent(`PFN ${pfn} is pinned with page type ${type}`);
    mmuext(0, cmd, pfn, 'a pinned page table');
  }
  pg.vcpus.forEach((v, i) => {
    const pv = pvd.vcpus[i];
    if (pv === undefined) return;
    if (v.basePfn >= 0) mmuext(i, MMUEXT.MMUEXT_NEW_BASEPTR, v.basePfn, 'the base page table');
    if (v.userBasePfn >= 0 && !is32)
      mmuext(i, MMUEXT.MMUEXT_NEW_USER_BASEPTR, v.userBasePfn, 'the user page table');
    if (v.gdtPfns.length > 0) {
      const rc = host.mm.setGdt(
        domid,
        i,
        v.gdtPfns.map((p) => need(p, 'a GDT frame')),
        v.gdtEnts,
      );
      if (rc !== 0) inconsistent(`vCPU ${i}'s GDT fails validation (${rc})`);
    }
    // The LDT is mapped again lazily, on the guest's first use, as after a Xen restore.
    pv.ldtBaseLo = v.ldtBaseLo;
    pv.ldtBaseHi = v.ldtBaseHi;
    pv.ldtEnts = v.ldtEnts;
  });
  // Event channels: the same ports, allocated in order (placeholders fill the gaps).
  const guestMem = new OwnedFramesMemory(machine.frames, machine.memory, domid);
  const sharedInfoMfn = need(s.nrPages, 'shared_info');
  const ev = image.evtchn;
  host.evtchn.addDomain({
    domid,
    abi: is32 ? 'x86_32' : 'x86_64',
    vcpus: image.vcpus.length,
    memory: guestMem,
    sharedInfoAddress: sharedInfoMfn * 4096,
    maxPorts: ev.maxPorts,
  });
  const byPort = new Map(ev.channels.map((c) => [c.port, c]));
  const top = ev.channels.reduce((m, c) => Math.max(m, c.port), 0);
  const placeholders: number[] = [];
  const oldId = s.domid;
  for (let port = 1; port <= top; port++) {
    const c = byPort.get(port);
    let got: number;
    if (c === undefined) {
      got = host.evtchn.allocUnbound(0, domid, domid);
      placeholders.push(port);
    } else if (c.state === 'unbound') {
      got = host.evtchn.allocUnbound(0, domid, c.remoteDomid === oldId ? domid : c.remoteDomid);
    } else if (c.state === 'virq') got = host.evtchn.bindVirq(domid, c.virq, c.vcpu);
    else if (c.state === 'ipi') got = host.evtchn.bindIpi(domid, c.vcpu);
    else if (c.state === 'interdomain' && c.remotePort < port) {
      // A loopback channel within the domain: its other end is already there, unbound.
      got = host.evtchn.bindInterdomain(domid, domid, c.remotePort);
    } else if (c.state === 'interdomain') got = host.evtchn.allocUnbound(0, domid, domid);
    else inconsistent(`port ${port} is in state ${String(c.state)}`);
    if (got !== port) inconsistent(`port ${port} could not be re-created (${got})`);
    if (c !== undefined && c.vcpu !== 0 && c.state !== 'virq' && c.state !== 'ipi')
      host.evtchn.bindVcpu(domid, port, c.vcpu);
  }
  for (const port of placeholders) host.evtchn.close(domid, port);
  for (const [v, pfn, offset] of ev.registeredVcpuInfo) {
    const rc = host.evtchn.registerVcpuInfo(domid, v, need(pfn, 'a vcpu_info') * 4096 + offset);
    if (rc !== 0) inconsistent(`vCPU ${v}'s vcpu_info cannot be registered (${rc})`);
  }
  // Grant table: the same frames (by PFN), entries already rewritten in their pages.
  host.grants.addDomain({
    domid,
    memory: guestMem,
    grantFrames: Array.from({ length: s.grantFrames }, (_, i) =>
      need(s.nrPages + 1 + i, 'a grant-table frame'),
    ),
    nrFrames: image.gnttab.nrFrames,
    maxMaptrack: image.gnttab.maxMaptrack,
  });
  // Timers: what was left to run at the save runs from now.
  const now = host.nowNs();
  for (const t of image.timers.timers) {
    host.timers.addVcpu(domid, t.vcpu, t.periodNs);
    if (t.singleshotInNs >= 0)
      host.timers.setSingleshot(domid, t.vcpu, BigInt(now + t.singleshotInNs), 0);
  }
  // The vCPUs: vCPU 0, then (SMP) the others, up or down as they were.
  const saved = image.vcpus[0];
  if (saved === undefined) inconsistent('no vCPU 0');
  // The vCPU set with its up / initialised flags: the compat one (Pv32DomainVcpus) for 32-bit.
  const smp = s.smp === undefined || is32 ? undefined : ctx.domainVcpus(domid, s.smp);
  const smp32 = s.smp !== undefined && is32 ? ctx.domainVcpus32(domid, s.smp) : undefined;
  const vcpus = image.vcpus.map((v) => {
    const initialised = v.initialised ?? true;
    const cr3Pfn = v.cpu.cr3 >>> 12;
    const cpuState = initialised
      ? { ...v.cpu, cr3: ((need(cr3Pfn, 'CR3') << 12) | (v.cpu.cr3 & 0xfff)) >>> 0 }
      : v.cpu;
    const cpu = X86Cpu.fromState(cpuState, ctx.cpuOptions(is32));
    const vcpuOptions = ctx.vcpuOptions(domid, is32, cpu, config, v.id, smp);
    const vcpu = is32
      ? Pv32Vcpu.fromState(
          { ...(v.vcpu as Pv32VcpuState), domid },
          { ...vcpuOptions, ...(smp32 !== undefined ? { smp32 } : {}) },
        )
      : PvVcpu.fromState({ ...(v.vcpu as PvVcpuState), domid }, vcpuOptions);
    const hv = new HostVcpu(v.id, cpu, vcpu);
    hv.blocked = v.blocked;
    hv.everUp = v.everUp ?? v.id === 0;
    return hv;
  });
  const first = vcpus[0] as HostVcpu;
  resumeInNewDomain(vcpus.map((v) => v.vcpu)); // a guest saved suspended wakes in a new domain: its hypercall returns 0
  if (vcpus.length > 1) {
    // MMUEXT_TLB_FLUSH_MULTI/ALL and INVLPG_MULTI/ALL from one vCPU reach the others' TLBs.
    for (const v of vcpus) {
      const c = v.cpu;
      host.mm.attachTlb(domid, v.id, { flush: () => c.flushTlb(), invlpg: () => c.flushTlb() });
    }
  }
  const dom = new HostDomain({
    domid,
    config,
    uuid,
    layout: { ...s.layout, pages: new Map() },
    cpu: first.cpu,
    vcpu: first.vcpu,
    vcpus,
    ...(smp !== undefined ? { smp } : smp32 !== undefined ? { smp: smp32 } : {}),
    nowNs: now - s.ageNs,
    storePort: s.storePort,
    consolePort: s.consolePort,
  });
  dom.name = config.name;
  dom.paused = true;
  dom.instructions = s.instructions;
  for (const dev of image.devices) {
    if (dev.kind !== 'console') continue;
    dom.pushConsole(new Uint8Array(Buffer.from(dev.console, 'latin1')));
    dom.pushXenConsole(new Uint8Array(Buffer.from(dev.xenConsole, 'latin1')));
  }
  host.domains.set(domid, dom);
  ctx.schedAdd(dom);
  return dom;
}

/**
 * `xl restore`: reads a per-domain image (bytes, or a stream such as a file or a migration
 * connection) and builds the domain on `host` under a new domain ID and new frames. A damaged,
 * truncated or whole-host image is an `IO` error naming the problem; a name that is taken or too
 * little free memory is a `STATE` error; nothing is left behind.
 */
export async function restoreDomainImage(
  host: Host,
  source: Uint8Array | ByteSource,
  options: DomainRestoreOptions & { readonly progress?: ReadProgress } = {},
): Promise<HostDomain> {
  const image = await readDomainImage(
    source instanceof Uint8Array ? bytesSource(source) : source,
    options.progress,
  );
  try {
    return await restoreDomain(host.saveContext(), image, options);
  } catch (err) {
    if (err instanceof ToolstackError) throw err;
    inconsistent(`the domain's state does not fit together: ${(err as Error)?.message}`);
  }
}
