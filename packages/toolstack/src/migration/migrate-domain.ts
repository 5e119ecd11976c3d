/**
 * Migrating one domain to another host (`xl migrate`): the per-domain image of
 * docs/save-image-format.md sent over a connection. Non-live: the domain is stopped, copied and
 * resumed there. Live: iterative pre-copy while the guest keeps running here, driven by
 * log-dirty mode as libxc's save does — the domain is put in log-dirty mode
 * (`XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY`), round 1 sends every page, each later round cleans the
 * dirty bitmap (`XEN_DOMCTL_SHADOW_OP_CLEAN`) and sends only the pages marked since, and once a
 * round finds few dirty pages or the rounds run out the domain is stopped and the last dirty
 * pages go with its state (stop-and-copy). Pages whose frame or page type changed since they
 * were sent (ballooning, pinning) are resent too. The source is destroyed only after the
 * receiver confirms that the domain runs there; any failure before that resumes it here, and
 * log-dirty mode is switched off whatever happens.
 *
 * With {@link DomainMigrateOptions.verify} the sender also keeps a copy of every page it sent
 * and, in the stop-and-copy, checks that each page whose content differs is in the dirty set
 * (the content diff as the log's oracle): a debugging aid, off by default because the copies
 * cost the guest's memory size again and the check runs while the guest is stopped.
 * @module
 */

import {
  XEN_DOMCTL_SHADOW_OP_CLEAN,
  XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY,
  XEN_DOMCTL_SHADOW_OP_OFF,
} from '@typevisor/hypervisor';
import { ToolstackError } from '../errors.ts';
import {
  DomainPageReader,
  domainStateRecords,
  domainVcpus,
  readDomainXenstore,
  stopForSave,
} from '../host/domain-save.ts';
import type { DomainSaveContext } from '../host/domain-save-context.ts';
import type { Host, HostDomain } from '../host/host.ts';
import { hostLogDirty } from '../host/host-log-dirty.ts';
import { encodeHeader, encodeRecord, REC_TYPE } from './stream.ts';

/** Where a migration stream goes. */
export interface MigrationChannel {
  /** Sends bytes of the stream (rejects when the peer is gone). */
  send(chunk: Uint8Array): Promise<void> | void;
  /**
   * Resolves once the receiver has the domain running (after END), with its new domain ID;
   * rejects with the receiver's error, or when the peer disconnects.
   */
  confirmed(): Promise<number>;
}

/** Options of {@link migrateDomain}. */
export interface DomainMigrateOptions {
  /** Iterative pre-copy while the guest runs (`--live`); otherwise stop, copy and resume. */
  readonly live?: boolean;
  /** Most pre-copy rounds (the first, full one included) before stop-and-copy; default 8. */
  readonly maxRounds?: number;
  /** Stop and copy once a round finds at most this many changed pages; default 50. */
  readonly stopPages?: number;
  /**
   * Lets the guest run between two pre-copy rounds. Default: when the host's run loop is
   * running (a daemon), wait 20 ms; otherwise run the host for 2 000 000 instructions.
   */
  readonly between?: () => Promise<void>;
  /** Called after each round: round number, pages sent. */
  readonly progress?: (round: number, pages: number) => void;
  /**
   * Keep a copy of every page sent and check, in the stop-and-copy, that each page whose content
   * changed since is among the dirty pages sent then (throws a `STATE` error otherwise,
   * leaving the domain running here). Default false: it costs the guest's memory size again and
   * runs while the guest is stopped.
   */
  readonly verify?: boolean;
}

/** What {@link migrateDomain} did. */
export interface DomainMigrationReport {
  /** The domain's ID here. */
  readonly domid: number;
  /** Its ID on the receiving host. */
  readonly targetDomid: number;
  /** Its name. */
  readonly name: string;
  /** Whether it was a live migration. */
  readonly live: boolean;
  /** Rounds, the stop-and-copy included. */
  readonly rounds: number;
  /** Pages sent in each round. */
  readonly pagesPerRound: readonly number[];
  /**
   * Dirty pages the log reported for each round (round 1: every page, as libxc counts it), the
   * stop-and-copy included; empty for a non-live migration.
   */
  readonly dirtyPerRound: readonly number[];
  /** Bytes sent. */
  readonly bytes: number;
  /** Milliseconds from the start to the receiver's confirmation. */
  readonly totalMs: number;
  /** Milliseconds the guest was stopped: from the pause here to its resumption there. */
  readonly downtimeMs: number;
}

/** The frame and page type of every PFN when its page was last sent (-1: never sent). */
class SentFrames {
  readonly mfn: Float64Array;
  readonly type: Float64Array;

  constructor(pfns: number) {
    this.mfn = new Float64Array(pfns).fill(-1);
    this.type = new Float64Array(pfns).fill(-1);
  }

  /** Records what `pfns` are now. */
  remember(reader: DomainPageReader, pfns: readonly number[]): void {
    for (const pfn of pfns) {
      if (pfn >= this.mfn.length) continue;
      this.mfn[pfn] = reader.mfnOf(pfn);
      this.type[pfn] = reader.typeOf(pfn);
    }
  }

  /** Populated PFNs sent before whose frame or type is not what was sent (ballooning, pinning). */
  moved(reader: DomainPageReader): number[] {
    const out: number[] = [];
    for (const pfn of reader.pfns) {
      const m = this.mfn[pfn] ?? -1;
      if (m >= 0 && (m !== reader.mfnOf(pfn) || this.type[pfn] !== reader.typeOf(pfn))) {
        out.push(pfn);
      }
    }
    return out;
  }
}

/** The populated PFNs among `dirty` and `moved`, ascending, without repeats. */
function toSend(
  reader: DomainPageReader,
  dirty: readonly number[],
  moved: readonly number[],
): number[] {
  const populated = new Set(reader.pfns);
  const out = new Set<number>();
  for (const pfn of dirty) if (populated.has(pfn)) out.add(pfn);
  for (const pfn of moved) out.add(pfn);
  return [...out].sort((x, y) => x - y);
}

/** The first round's pages: every populated page that is not all zeros. */
function allPages(reader: DomainPageReader): number[] {
  return reader.pfns.filter((pfn) => reader.raw(pfn) !== null && !reader.isZero(pfn));
}

/** {@link DomainMigrateOptions.verify}: copies of the pages as sent. */
class SentCopies {
  private readonly pages = new Map<number, Int32Array>();

  remember(reader: DomainPageReader, pfns: readonly number[]): void {
    for (const pfn of pfns) {
      const raw = reader.raw(pfn);
      this.pages.set(pfn, raw === null ? new Int32Array(1024) : raw.slice());
    }
  }

  /** PFNs whose content differs from what was sent (never-sent pages count as sent zeros). */
  changed(reader: DomainPageReader): number[] {
    const out: number[] = [];
    for (const pfn of reader.pfns) {
      const raw = reader.raw(pfn);
      const prev = this.pages.get(pfn);
      if (raw === null) {
        if (prev?.some((x) => x !== 0)) out.push(pfn);
        continue;
      }
      if (prev === undefined) {
        if (!reader.isZero(pfn)) out.push(pfn);
        continue;
      }
      for (let i = 0; i < 1024; i++) {
        if (raw[i] !== prev[i]) {
          out.push(pfn);
          break;
        }
      }
    }
    return out;
  }
}

async function defaultBetween(ctx: DomainSaveContext): Promise<void> {
  if (ctx.running()) await new Promise<void>((resolve) => setTimeout(resolve, 20));
  else await ctx.host.run({ maxInstructions: 2_000_000, stopWhenIdle: false });
}

/** Puts `d` in log-dirty mode, or says why not. */
function enableLogDirty(host: Host, d: HostDomain): void {
  const r = hostLogDirty(host).shadowOp(0, {
    op: XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY,
    domid: d.domid,
  });
  if (r.status !== 0) {
    throw new ToolstackError(
      'STATE',
      `dom${d.domid} (${d.name}): cannot enable log-dirty mode (${r.status}); is it being migrated already?`,
    );
  }
}

/** The dirty PFNs since the last clean (and cleans the log). */
function cleanLogDirty(host: Host, d: HostDomain): number[] {
  const r = hostLogDirty(host).shadowOp(0, { op: XEN_DOMCTL_SHADOW_OP_CLEAN, domid: d.domid });
  if (r.status !== 0) {
    throw new ToolstackError('STATE', `dom${d.domid}: log-dirty CLEAN failed (${r.status})`);
  }
  return [...r.dirty];
}

/**
 * Migrates domain `domain` (ID or name) of `host` through `channel`; see the module comment.
 * On success the domain is destroyed here; on failure it continues here as before.
 */
export async function migrateDomain(
  host: Host,
  domain: number | string,
  channel: MigrationChannel,
  options: DomainMigrateOptions = {},
): Promise<DomainMigrationReport> {
  const ctx = host.saveContext();
  const d = host.lookup(domain);
  if (d.shutdownReason >= 0) {
    throw new ToolstackError(
      'STATE',
      `dom${d.domid} (${d.name}) has shut down (${d.shutdownName ?? '?'}); there is nothing to migrate`,
    );
  }
  domainVcpus(d); // refuses what the image cannot carry before anything is sent
  const live = options.live === true;
  const maxRounds = Math.max(1, options.maxRounds ?? 8);
  const stopPages = options.stopPages ?? 50;
  const between = options.between ?? (() => defaultBetween(ctx));
  const t0 = performance.now();
  let bytes = 0;
  const send = async (chunk: Uint8Array): Promise<void> => {
    await channel.send(chunk);
    bytes += chunk.length;
  };
  const sent = new SentFrames(host.machine.p2m(d.domid).size);
  const copies = options.verify === true ? new SentCopies() : null;
  const pagesPerRound: number[] = [];
  const dirtyPerRound: number[] = [];
  const note = (reader: DomainPageReader, pfns: readonly number[]): void => {
    sent.remember(reader, pfns);
    copies?.remember(reader, pfns);
  };
  if (live) enableLogDirty(host, d);
  try {
    await send(encodeHeader());
    if (live) {
      for (let round = 1; ; round++) {
        if (host.domains.get(d.domid) !== d || d.shutdownReason >= 0) {
          throw new ToolstackError('STATE', `dom${d.domid} went away during the migration`);
        }
        // Clean first: whatever is written while this round's pages are read and sent is in
        // the next round's bitmap.
        const dirty = cleanLogDirty(host, d);
        const reader = new DomainPageReader(ctx, d);
        const pfns = round === 1 ? allPages(reader) : toSend(reader, dirty, sent.moved(reader));
        const recs = reader.pageRecords(pfns, true);
        note(reader, pfns);
        for (const r of recs) await send(r);
        await send(
          encodeRecord({ type: REC_TYPE.CHECKPOINT, json: { round, pages: pfns.length } }),
        );
        pagesPerRound.push(pfns.length);
        dirtyPerRound.push(round === 1 ? reader.pfns.length : dirty.length);
        options.progress?.(round, pfns.length);
        if (round >= maxRounds || (round > 1 && pfns.length <= stopPages)) break;
        await between();
      }
    }
  } catch (err) {
    if (live) offLogDirty(host, d);
    throw err;
  }
  // Stop and copy: the guest is stopped from here until the receiver runs it.
  const down0 = performance.now();
  let stopped: Awaited<ReturnType<typeof stopForSave>>;
  try {
    stopped = await stopForSave(ctx, d);
  } catch (err) {
    if (live) offLogDirty(host, d);
    throw err;
  }
  let targetDomid: number;
  try {
    const xenstore = await readDomainXenstore(ctx, d);
    const reader = new DomainPageReader(ctx, d);
    let pfns: number[];
    if (live) {
      const dirty = cleanLogDirty(host, d);
      pfns = toSend(reader, dirty, sent.moved(reader));
      dirtyPerRound.push(dirty.length);
      if (copies !== null) {
        const have = new Set(pfns);
        const lost = copies.changed(reader).filter((pfn) => !have.has(pfn));
        if (lost.length > 0) {
          throw new ToolstackError(
            'STATE',
            `dom${d.domid}: log-dirty missed ${lost.length} changed page(s) (PFN ${lost.slice(0, 8).join(', ')})`,
          );
        }
      }
      offLogDirty(host, d);
    } else {
      pfns = allPages(reader);
    }
    const records = domainStateRecords(ctx, d, reader, xenstore, stopped.wasPaused);
    records.push(...reader.pageRecords(pfns, true), encodeRecord({ type: REC_TYPE.END }));
    pagesPerRound.push(pfns.length);
    options.progress?.(pagesPerRound.length, pfns.length);
    for (const r of records) await send(r);
    targetDomid = await channel.confirmed();
  } catch (err) {
    // The receiver restores nothing without END (or reported why it did not): run on here.
    if (live) offLogDirty(host, d);
    await stopped.resume();
    throw err;
  }
  const downtimeMs = performance.now() - down0;
  await host.destroyDomain(d.domid);
  return {
    domid: d.domid,
    targetDomid,
    name: d.name,
    live,
    rounds: pagesPerRound.length,
    pagesPerRound,
    dirtyPerRound,
    bytes,
    totalMs: performance.now() - t0,
    downtimeMs,
  };
}

/** Leaves log-dirty mode (nothing when it is off already; a domain that is gone is torn down). */
function offLogDirty(host: Host, d: HostDomain): void {
  const ld = hostLogDirty(host);
  if (ld.shadowOp(0, { op: XEN_DOMCTL_SHADOW_OP_OFF, domid: d.domid }).status !== 0) {
    ld.teardown(d.domid);
  }
}
