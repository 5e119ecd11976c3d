/**
 * Durable state for the daemon: a snapshot file plus an append-only journal of committed
 * changes, each record one line with a CRC-32.
 *
 * Guarantee: with {@link Journal.sync} called before replies leave the daemon (the socket
 * server does this through its `beforeReply` hook), every acknowledged change is on disk
 * (`fdatasync`) before the client sees the acknowledgement. A crash can only tear the last,
 * unacknowledged record; replay stops at the first record whose checksum fails and cuts
 * the journal there. Records hold whole node states and removals, so replaying a record
 * twice is harmless, which makes compaction (new snapshot via temp file + fsync + rename,
 * then truncating the journal) safe at any crash point.
 *
 * @module
 */
import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { XenstoreError } from '../errors.ts';
import {
  nodeFromState,
  nodeToState,
  Xenstore,
  type XenstoreNodeState,
  type XenstoreOptions,
  type XenstoreState,
} from '../xenstore.ts';

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/**
 * CRC-32 (IEEE 802.3, as zlib computes it) of a byte string. Pass a previous result as `crc`
 * to continue it over more bytes.
 */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc;
  for (let i = 0; i < bytes.length; i++)
    c = (CRC_TABLE[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

interface JournalRecord {
  /** Next generation count after the change. */
  g: number;
  /** Changed nodes: state, or null for removed. */
  n: [string, XenstoreNodeState | null][];
  /** Domains and special-node permissions after the change. */
  d: Pick<XenstoreState, 'domains' | 'special'>;
}

/** Options of {@link Journal.open}. */
export interface JournalOptions {
  /** Options for the recreated {@link Xenstore}. */
  readonly xenstore?: XenstoreOptions;
  /** Journal size in bytes above which a new snapshot is written (default 8 MiB). */
  readonly compactAt?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The snapshot-plus-journal store of one state directory. */
export class Journal {
  /** The store, as recovered from disk and kept up to date. */
  readonly xs: Xenstore;
  /** Number of journal records replayed at open. */
  readonly replayed: number;
  /** Whether replay found (and cut off) a torn or corrupt tail. */
  readonly truncatedTail: boolean;
  private readonly dir: string;
  private readonly compactAt: number;
  private fd: number;
  private journalBytes: number;
  private pending: string[] = [];
  /** Domain state as of the last record, to skip records that change nothing. */
  private lastDomains: string;

  private constructor(
    dir: string,
    xs: Xenstore,
    fd: number,
    bytes: number,
    replayed: number,
    torn: boolean,
    compactAt: number,
  ) {
    this.dir = dir;
    this.xs = xs;
    this.fd = fd;
    this.journalBytes = bytes;
    this.replayed = replayed;
    this.truncatedTail = torn;
    this.compactAt = compactAt;
    xs.store.dirty = new Set();
    this.lastDomains = JSON.stringify(xs.getDomainState());
    xs.onCommit = () => this.record();
  }

  /** Opens (creating if needed) the state in `dir` and recovers the store from it. */
  static open(dir: string, options: JournalOptions = {}): Journal {
    mkdirSync(dir, { recursive: true });
    const snapPath = join(dir, 'state.json');
    const journalPath = join(dir, 'journal.log');
    let xs: Xenstore;
    if (existsSync(snapPath)) {
      let state: XenstoreState;
      try {
        state = JSON.parse(readFileSync(snapPath, 'utf8')) as XenstoreState;
      } catch (err) {
        throw new XenstoreError('IO', `unreadable snapshot ${snapPath}`, { cause: err });
      }
      xs = Xenstore.fromState(state, options.xenstore);
    } else xs = new Xenstore(options.xenstore);
    let replayed = 0;
    let good = 0;
    let torn = false;
    if (existsSync(journalPath)) {
      const data = readFileSync(journalPath);
      let off = 0;
      while (off < data.length) {
        const nl = data.indexOf(10, off);
        if (nl < 0) {
          torn = true;
          break;
        }
        const line = data.subarray(off, nl);
        const crc = Number.parseInt(decoder.decode(line.subarray(0, 8)), 16);
        const body = line.subarray(9);
        if (line.length < 10 || line[8] !== 0x20 || crc !== crc32(body)) {
          torn = true;
          break;
        }
        Journal.apply(xs, JSON.parse(decoder.decode(body)) as JournalRecord);
        replayed++;
        off = nl + 1;
        good = off;
      }
    }
    const fd = openSync(journalPath, 'a+');
    if (torn) {
      ftruncateSync(fd, good);
      fsyncSync(fd);
    }
    return new Journal(dir, xs, fd, good, replayed, torn, options.compactAt ?? 8 << 20);
  }

  private static apply(xs: Xenstore, rec: JournalRecord): void {
    for (const [path, st] of rec.n) {
      if (st === null) xs.store.remove(path);
      else {
        const node = nodeFromState(st);
        xs.store.put(node);
        node.generation = st.generation;
      }
    }
    xs.store.generation = rec.g;
    xs.setDomainState(rec.d);
  }

  /** Queues a record of everything changed since the last one (called by the store on commit). */
  record(): void {
    const dirty = this.xs.store.dirty;
    const domains = this.xs.getDomainState();
    const domainsJson = JSON.stringify(domains);
    // Nothing to make durable (an empty transaction, a no-op INTRODUCE): no record, no sync.
    if ((dirty === undefined || dirty.size === 0) && domainsJson === this.lastDomains) return;
    this.lastDomains = domainsJson;
    const n: [string, XenstoreNodeState | null][] = [];
    if (dirty !== undefined) {
      for (const p of dirty) {
        const node = this.xs.store.get(p);
        n.push([p, node === undefined ? null : nodeToState(node)]);
      }
      dirty.clear();
    }
    const body = JSON.stringify({
      g: this.xs.store.generation,
      n,
      d: domains,
    } satisfies JournalRecord);
    const crc = crc32(encoder.encode(body)).toString(16).padStart(8, '0');
    this.pending.push(`${crc} ${body}\n`);
  }

  /** Whether records wait to be written. */
  get dirty(): boolean {
    return this.pending.length > 0;
  }

  /** Writes queued records and waits for the disk (`fdatasync`); compacts when the journal is large. */
  sync(): void {
    if (this.pending.length === 0) return;
    const bytes = encoder.encode(this.pending.join(''));
    this.pending = [];
    let off = 0;
    while (off < bytes.length) off += writeSync(this.fd, bytes, off);
    fdatasyncSync(this.fd);
    this.journalBytes += bytes.length;
    if (this.journalBytes >= this.compactAt) this.compact();
  }

  /** Writes a full snapshot (temp file, fsync, rename, fsync of the directory) and empties the journal. */
  compact(): void {
    this.sync();
    const snap = join(this.dir, 'state.json');
    const tmp = `${snap}.tmp`;
    const fd = openSync(tmp, 'w');
    const bytes = encoder.encode(JSON.stringify(this.xs.getState()));
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, snap);
    const dfd = openSync(this.dir, 'r');
    fsyncSync(dfd);
    closeSync(dfd);
    ftruncateSync(this.fd, 0);
    fsyncSync(this.fd);
    this.journalBytes = 0;
  }

  /** Flushes and closes the journal. */
  close(): void {
    this.sync();
    closeSync(this.fd);
    this.fd = -1;
    this.xs.onCommit = undefined;
    this.xs.store.dirty = undefined;
  }
}
