/**
 * Issue 8's log-dirty tracking, checked against the content of guest memory: while two
 * repository guests run in log-dirty mode — `tests/guests/dirty` writing pages at a random rate,
 * `tests/guests/blkhot` connecting a hot-plugged disk and reading its first sector through
 * dom0's blkback (grant-mapped ring and data pages), with console input, event sends and grant
 * copies into blkhot's buffer page from dom0 in between — every page whose content changed between two CLEANs is in the second
 * CLEAN's bitmap (the content diff is the oracle). Then live migration driven by the bitmap:
 * rounds shrink to the pages the guest dirties, the content check of `verify` passes, and the
 * guest's tick counter goes on without a gap on the receiving host.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DOMID_SELF,
  GNTCOPY_dest_gref,
  GNTCOPY_source_gref,
  GNTST_okay,
  XEN_DOMCTL_SHADOW_OP_CLEAN,
  XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY,
  XEN_DOMCTL_SHADOW_OP_OFF,
  XEN_DOMCTL_SHADOW_OP_PEEK,
  XEN_EINVAL,
  XEN_EPERM,
  XEN_ESRCH,
} from '@typevisor/hypervisor';
import {
  connectMigration,
  Host,
  type HostDomain,
  hostLogDirty,
  listenForMigrations,
  migrateDomain,
  parseDiskSpec,
  parseDomainConfig,
} from '@typevisor/toolstack';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const DIRTY = fileURLToPath(new URL('../guests/dirty/dirty-x86_64.elf', import.meta.url));
const BLKHOT = fileURLToPath(new URL('../guests/blkhot/blkhot-x86_64.elf', import.meta.url));

let dir = '';

/** Every populated page of `d`: PFN → its frame number and a copy of its words. */
function snapshot(host: Host, d: HostDomain): Map<number, [number, Int32Array]> {
  const p2m = host.machine.p2m(d.domid);
  const mem = host.machine.memory;
  const out = new Map<number, [number, Int32Array]>();
  for (let pfn = 0; pfn < p2m.size; pfn++) {
    const mfn = p2m.get(pfn);
    if (mfn === 0xffffffff || host.machine.frames.owner[mfn] !== d.domid) continue;
    const words = new Int32Array(1024);
    mem.readFrameWords(mfn, words);
    out.set(pfn, [mfn, words]);
  }
  return out;
}

/** PFNs whose frame or content differs between two snapshots. */
function changed(
  before: Map<number, [number, Int32Array]>,
  after: Map<number, [number, Int32Array]>,
): number[] {
  const out: number[] = [];
  for (const [pfn, [mfn, words]] of after) {
    const prev = before.get(pfn);
    if (prev === undefined || prev[0] !== mfn || prev[1].some((w, i) => w !== words[i])) {
      out.push(pfn);
    }
  }
  return out;
}

function ticks(text: string): number[] {
  return [...text.matchAll(/dirty: tick (\d+) /g)].map((m) => Number(m[1]));
}

type Action =
  | { readonly kind: 'run'; readonly instructions: number }
  | { readonly kind: 'attach' }
  | { readonly kind: 'console'; readonly toDirty: boolean; readonly text: string }
  | { readonly kind: 'event'; readonly toDirty: boolean }
  | { readonly kind: 'copy'; readonly offset: number; readonly len: number }
  | { readonly kind: 'peek' };

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({
    kind: fc.constant('run' as const),
    instructions: fc.integer({ min: 10_000, max: 1_500_000 }),
  }),
  fc.record({ kind: fc.constant('attach' as const) }),
  fc.record({
    kind: fc.constant('console' as const),
    toDirty: fc.boolean(),
    text: fc.string({ minLength: 1, maxLength: 40 }),
  }),
  fc.record({ kind: fc.constant('event' as const), toDirty: fc.boolean() }),
  fc.record({
    kind: fc.constant('copy' as const),
    offset: fc.integer({ min: 0, max: 4000 }),
    len: fc.integer({ min: 1, max: 96 }),
  }),
  fc.record({ kind: fc.constant('peek' as const) }),
);

describe('log-dirty mode for PV domains', { timeout: 300_000 }, () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'log-dirty-'));
    const img = new Uint8Array(1 << 20);
    img.set(new TextEncoder().encode('SECTOR ZERO WHILE LOGGING'));
    writeFileSync(join(dir, 'disk.img'), img);
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports every page whose content changed: guest stores, block reads, rings, event bits', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 64 }),
        fc.array(action, { minLength: 3, maxLength: 9 }),
        async (rate, actions) => {
          const host = new Host();
          try {
            const dirty = await host.createDomain(
              parseDomainConfig(
                `name = "d"\nkernel = "${DIRTY}"\nmemory = 16\nextra = "rate=${rate}"\n`,
                'd.cfg',
              ),
            );
            const hot = await host.createDomain(
              parseDomainConfig(`name = "hot"\nkernel = "${BLKHOT}"\nmemory = 16\n`, 'h.cfg'),
            );
            // Capped at 20% of the pCPU, the CPU-bound guest leaves blkhot time to connect.
            expect(host.setCredit(dirty.domid, 256, 20)).toBe(0);
            await host.run({ maxInstructions: 3_000_000, stopWhenIdle: false });
            const ld = hostLogDirty(host);
            for (const d of [dirty, hot]) {
              expect(
                ld.shadowOp(0, { op: XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY, domid: d.domid }),
              ).toMatchObject({ status: 0 });
            }
            let before = [snapshot(host, dirty), snapshot(host, hot)];
            let sawGuestWrites = false;
            /** CLEANs both logs: every page changed since the last check must be reported. */
            const check = (): void => {
              const after = [snapshot(host, dirty), snapshot(host, hot)];
              [dirty, hot].forEach((d, i) => {
                const r = ld.shadowOp(0, { op: XEN_DOMCTL_SHADOW_OP_CLEAN, domid: d.domid });
                expect(r.status).toBe(0);
                const reported = new Set(r.dirty);
                const diff = changed(before[i] ?? new Map(), after[i] ?? new Map());
                expect(diff.filter((pfn) => !reported.has(pfn))).toEqual([]);
                if (i === 0 && diff.length > 0) sawGuestWrites = true;
              });
              before = after;
            };
            let attached = false;
            let copied = false;
            for (const a of [...actions, { kind: 'run', instructions: 2_000_000 } as const]) {
              if (a.kind === 'run') {
                await host.run({ maxInstructions: a.instructions, stopWhenIdle: false });
              } else if (a.kind === 'attach' && !attached) {
                attached = true;
                await host.attachBlock(
                  hot.domid,
                  parseDiskSpec(`${join(dir, 'disk.img')},raw,xvdb,r`),
                );
                // Check the logs all along while blkhot connects and reads.
                for (let i = 0; i < 40 && !hot.consoleText().includes('sector 0:'); i++) {
                  await host.run({ maxInstructions: 2_000_000, stopWhenIdle: false });
                  check();
                }
                // One grant copy into the connected disk's buffer page, always: the sector's text
                // (at its start) to its second half, a content change only the copy makes.
                const rc = host.grants.copy(0, {
                  source: { domid: hot.domid, refOrGmfn: 9, offset: 0 },
                  dest: { domid: hot.domid, refOrGmfn: 9, offset: 2048 },
                  len: 25,
                  flags: GNTCOPY_source_gref | GNTCOPY_dest_gref,
                });
                expect(rc).toBe(GNTST_okay);
                copied = true;
              } else if (a.kind === 'console') {
                host.consoleInput(
                  (a.toDirty ? dirty : hot).domid,
                  new TextEncoder().encode(a.text),
                );
              } else if (a.kind === 'event') {
                const d = a.toDirty ? dirty : hot;
                host.evtchn.sendVirq(d.domid, 0, 0); // VIRQ_TIMER: a pending bit in shared_info
              } else if (a.kind === 'copy') {
                // GNTTABOP_copy from dom0 into blkhot's buffer page (its second grant, ref 9,
                // granted to dom0 once a disk is attached), as netback's rx path copies.
                const rc = host.grants.copy(0, {
                  source: { domid: DOMID_SELF, refOrGmfn: host.machine.p2m(0).get(0), offset: 0 },
                  dest: { domid: hot.domid, refOrGmfn: 9, offset: a.offset },
                  len: Math.min(a.len, 4096 - a.offset),
                  flags: GNTCOPY_dest_gref,
                });
                if (rc === GNTST_okay) copied = true;
              } else if (a.kind === 'peek') {
                const p = ld.shadowOp(0, { op: XEN_DOMCTL_SHADOW_OP_PEEK, domid: dirty.domid });
                expect(p.status).toBe(0);
                continue; // PEEK cleans nothing: the next CLEAN still covers this interval
              }
              check();
            }
            if (attached) {
              expect(hot.consoleText()).toContain('sector 0: SECTOR ZERO WHILE LOGGING');
            }
            expect(sawGuestWrites).toBe(true);
            if (copied) expect(attached).toBe(true);
            for (const d of [dirty, hot]) {
              expect(ld.shadowOp(0, { op: XEN_DOMCTL_SHADOW_OP_OFF, domid: d.domid }).status).toBe(
                0,
              );
            }
            expect(host.machine.memory.writeWatch).toBe(null);
          } finally {
            await host.close();
          }
        },
      ),
      { numRuns: 5 },
    );
  });

  it('refuses what Xen refuses, with Xen errnos', async () => {
    const host = new Host();
    try {
      const d = await host.createDomain(
        parseDomainConfig(`name = "d"\nkernel = "${DIRTY}"\nmemory = 16\n`, 'd.cfg'),
      );
      const ld = hostLogDirty(host);
      const op = (caller: number, o: number, domid = d.domid) =>
        ld.shadowOp(caller, { op: o, domid }).status;
      expect(op(d.domid, XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY)).toBe(-XEN_EPERM);
      expect(op(0, XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY, 77)).toBe(-XEN_ESRCH);
      expect(op(0, XEN_DOMCTL_SHADOW_OP_CLEAN)).toBe(-XEN_EINVAL); // not in log-dirty mode
      expect(op(0, XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY)).toBe(0);
      expect(op(0, XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY)).toBe(-XEN_EINVAL); // already on
      expect(ld.getState().domains.map((s) => s.domid)).toEqual([d.domid]);
      expect(JSON.parse(JSON.stringify(ld.getState()))).toEqual(ld.getState());
      // Leaving log-dirty mode puts the vCPU's own walker back.
      const wrapped = d.cpu.walker;
      expect(op(0, XEN_DOMCTL_SHADOW_OP_OFF)).toBe(0);
      expect(d.cpu.walker).not.toBe(wrapped);
      expect(op(0, XEN_DOMCTL_SHADOW_OP_OFF)).toBe(0); // off twice is fine, as in Xen
      expect(ld.getState().domains).toEqual([]);
    } finally {
      await host.close();
    }
  });

  it('migrates a dirtying guest with pre-copy rounds driven by the bitmap, verified against page contents', async () => {
    const host = new Host();
    const target = new Host();
    const listener = await listenForMigrations(target, { host: '127.0.0.1', port: 0 });
    const conn = await connectMigration('127.0.0.1', listener.address.port);
    try {
      const d = await host.createDomain(
        parseDomainConfig(
          `name = "m"\nkernel = "${DIRTY}"\nmemory = 64\nextra = "rate=40"\n`,
          'm.cfg',
        ),
      );
      await host.run({
        until: () => ticks(d.consoleText()).length >= 2,
        stopWhenIdle: false,
        maxInstructions: 100_000_000,
      });
      const report = await migrateDomain(host, 'm', conn, {
        live: true,
        verify: true,
        maxRounds: 5,
        stopPages: 10,
        between: async () => {
          await host.run({ maxInstructions: 2_000_000, stopWhenIdle: false });
        },
      });
      // Round 1 sends every page the guest has; later rounds only what it dirtied in between
      // (2 ms of virtual time at 40 pages per ms, spread over its 512-page area).
      expect(report.pagesPerRound[0]).toBeGreaterThan(500);
      expect(report.rounds).toBe(6); // 5 pre-copy rounds and the stop-and-copy
      for (const n of report.pagesPerRound.slice(1, -1)) {
        expect(n).toBeGreaterThan(40);
        expect(n).toBeLessThan(200);
      }
      expect(report.dirtyPerRound).toHaveLength(report.rounds);
      expect(host.domains.size).toBe(0);
      const moved = target.lookup('m');
      // The console history moves with the domain; the guest goes on counting there.
      const seen = ticks(d.consoleText());
      await target.run({
        until: () => ticks(moved.consoleText()).length >= seen.length + 2,
        stopWhenIdle: false,
        maxInstructions: 100_000_000,
      });
      const after = ticks(moved.consoleText());
      expect(after.slice(0, seen.length)).toEqual(seen);
      expect(after.length).toBeGreaterThanOrEqual(seen.length + 2);
      expect(after.every((t, i) => t === i + 1)).toBe(true);
    } finally {
      conn.close();
      await listener.close();
      await target.close();
      await host.close();
    }
  });
});
