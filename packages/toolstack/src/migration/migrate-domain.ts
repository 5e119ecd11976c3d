/**
 * Migrating one domain to another host (`xl migrate`): the per-domain image of
 * docs/save-image-format.md sent over a connection. Non-live: the domain is stopped, copied and
 * resumed there. Live: iterative pre-copy while the guest keeps running here — every page, then
 * the pages that changed since they were sent, round after round — and a stop-and-copy once a
 * round finds few changed pages or the rounds run out. The source is destroyed only after the
 * receiver confirms that the domain runs there; any failure before that resumes it here.
 *
 * Changed pages are found by comparing each page with the copy sent last (and its frame and page
 * type), not with log-dirty mode: the CPU model walks page tables itself and does not report
 * its writes to `@typevisor/mmu`'s DirtyLog (see docs/save-image-format.md).
 * @module
 */
import { ToolstackError } from '../errors.ts';
import {
  DomainPageReader,
  domainStateRecords,
  domainVcpus,
  readDomainXenstore,
  stopForSave,
} from '../host/domain-save.ts';
import type { DomainSaveContext } from '../host/domain-save-context.ts';
import type { Host } from '../host/host.ts';
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
  /** Bytes sent. */
  readonly bytes: number;
  /** Milliseconds from the start to the receiver's confirmation. */
  readonly totalMs: number;
  /** Milliseconds the guest was stopped: from the pause here to its resumption there. */
  readonly downtimeMs: number;
}

/** What was sent of a page: its frame, its type and its raw words. */
interface SentPage {
  readonly mfn: number;
  readonly type: number;
  readonly words: Int32Array;
}

/** The PFNs whose page changed since it was sent (or was never sent and is not zero). */
function changedPfns(reader: DomainPageReader, sent: Map<number, SentPage>): number[] {
  const out: number[] = [];
  for (const pfn of reader.pfns) {
    const prev = sent.get(pfn);
    const raw = reader.raw(pfn);
    if (prev === undefined) {
      if (raw !== null && !reader.isZero(pfn)) out.push(pfn);
      continue;
    }
    if (prev.mfn !== reader.mfnOf(pfn) || prev.type !== reader.typeOf(pfn)) {
      out.push(pfn);
      continue;
    }
    const w = prev.words;
    if (raw === null) {
      if (w.some((x) => x !== 0)) out.push(pfn);
      continue;
    }
    for (let i = 0; i < 1024; i++) {
      if (raw[i] !== w[i]) {
        out.push(pfn);
        break;
      }
    }
  }
  return out;
}

function remember(reader: DomainPageReader, sent: Map<number, SentPage>, pfns: number[]): void {
  for (const pfn of pfns) {
    const raw = reader.raw(pfn);
    sent.set(pfn, {
      mfn: reader.mfnOf(pfn),
      type: reader.typeOf(pfn),
      words: raw === null ? new Int32Array(1024) : raw.slice(),
    });
  }
}

async function defaultBetween(ctx: DomainSaveContext): Promise<void> {
  if (ctx.running()) await new Promise<void>((resolve) => setTimeout(resolve, 20));
  else await ctx.host.run({ maxInstructions: 2_000_000, stopWhenIdle: false });
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
  const sent = new Map<number, SentPage>();
  const pagesPerRound: number[] = [];
  await send(encodeHeader());
  if (live) {
    for (let round = 1; ; round++) {
      if (host.domains.get(d.domid) !== d || d.shutdownReason >= 0) {
        throw new ToolstackError('STATE', `dom${d.domid} went away during the migration`);
      }
      const reader = new DomainPageReader(ctx, d);
      const pfns = changedPfns(reader, sent);
      const recs = reader.pageRecords(pfns, true);
      remember(reader, sent, pfns);
      for (const r of recs) await send(r);
      await send(encodeRecord({ type: REC_TYPE.CHECKPOINT, json: { round, pages: pfns.length } }));
      pagesPerRound.push(pfns.length);
      options.progress?.(round, pfns.length);
      if (round >= maxRounds || (round > 1 && pfns.length <= stopPages)) break;
      await between();
    }
  }
  // Stop and copy: the guest is stopped from here until the receiver runs it.
  const down0 = performance.now();
  const stopped = await stopForSave(ctx, d);
  let targetDomid: number;
  try {
    const xenstore = await readDomainXenstore(ctx, d);
    const reader = new DomainPageReader(ctx, d);
    const pfns = changedPfns(reader, sent);
    const records = domainStateRecords(ctx, d, reader, xenstore, stopped.wasPaused);
    records.push(...reader.pageRecords(pfns, true), encodeRecord({ type: REC_TYPE.END }));
    pagesPerRound.push(pfns.length);
    options.progress?.(pagesPerRound.length, pfns.length);
    for (const r of records) await send(r);
    targetDomid = await channel.confirmed();
  } catch (err) {
    // The receiver restores nothing without END (or reported why it did not): run on here.
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
    bytes,
    totalMs: performance.now() - t0,
    downtimeMs,
  };
}
