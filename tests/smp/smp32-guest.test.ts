/**
 * The focused 32-bit PAE PV SMP guest (`guest32/smp32.asm`, nasm-built at test time) on a Host
 * with two physical CPUs: vCPU 0 counts the vCPUs with the compat VCPUOP_is_up, makes hostile
 * calls, brings every other vCPU up with a 2800-byte compat vcpu_guest_context (ctrlreg[3] in
 * the extended-cr3 encoding, a ring-0 CS fixed up to ring 1) and VCPUOP_up, waits for it to run
 * and take itself down, reads its compat runstate and brings it up again. The expected lines are
 * Xen's values for each call (the errno values of do_vcpu_op / arch_set_info_guest; runstate
 * offline = 3). Brought up again, each vCPU blocks in SCHEDOP_poll on an IPI port bound to it until
 * vCPU 0 sends it, then on its own VIRQ_TIMER port until its periodic timer ticks; then it
 * unmasks its vcpu_info and takes vCPU 0's second IPI as an event upcall. Xen's reference tool
 * runs 64-bit guests only, so this guest has no recorded golden of its own — `smp-guest.test.ts`
 * holds the 64-bit one. Saved mid-run (or live-migrated) and restored on a host that already runs
 * another such domain, it must finish with the same lines as an unsaved run, and so must the other.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  connectMigration,
  Host,
  type HostDomain,
  listenForMigrations,
  migrateDomain,
  parseDomainConfig,
  pinVcpu,
  restoreDomainImage,
  saveDomainToBytes,
  vcpuRows,
} from '@typevisor/toolstack';
import { beforeAll, describe, expect, it } from 'vitest';

const GUEST_DIR = fileURLToPath(new URL('./guest32/', import.meta.url));
const haveNasm = ['/usr/bin/nasm', '/usr/local/bin/nasm'].some((p) => existsSync(p));
let dir = '';

const hex = (v: number): string => `0x${(v >>> 0).toString(16).padStart(8, '0')}`;

/** What Xen returns to the guest for each of its calls with `n` vCPUs. */
function expected(n: number): string[] {
  const lines = [
    'TYPEVISOR-SMP32 begin',
    `shared_info.map ${hex(0)}`,
    `vcpus ${hex(n)}`,
    `is_up.past_last ${hex(-2)}`, // -ENOENT
    `up.uninitialised ${hex(-22)}`, // -EINVAL
    `initialise.bad_pointer ${hex(-14)}`, // -EFAULT
    `initialise.cr3_0 ${hex(-22)}`,
    `initialise.ring3_cs ${hex(-22)}`,
  ];
  for (let i = 1; i < n; i++) {
    lines.push(
      `cpu ${hex(i)}`,
      `  bind_ipi ${hex(0)}`,
      `  bind_virq.timer ${hex(0)}`,
      `  initialise ${hex(0)}`,
      `  initialise.again ${hex(-17)}`, // -EEXIST
      `  up ${hex(0)}`,
      `  ran ${hex(1)}`,
      `  is_up ${hex(0)}`,
      `  runstate.rc ${hex(0)}`,
      `  runstate.state ${hex(3)}`, // RUNSTATE_offline
      `  up ${hex(0)}`,
      `  send ${hex(0)}`,
      `  send ${hex(0)}`, // the second IPI, once it has unmasked events
      `  ran ${hex(6)}`, // polls woken by the IPI and its timer, then the upcall
      `  poll.ipi ${hex(0)}`,
      `  poll.timer ${hex(0)}`,
      `  upcall.ipi ${hex(1)}`,
    );
  }
  lines.push('TYPEVISOR-SMP32 end');
  return lines;
}

function transcript(d: HostDomain): string[] {
  const text = d.xenConsoleText(); // CONSOLEIO_write
  const at = text.indexOf('TYPEVISOR-SMP32 begin');
  const end = text.indexOf('TYPEVISOR-SMP32 end');
  return text.slice(at, end + 'TYPEVISOR-SMP32 end'.length).split('\n');
}

async function run(
  vcpus: number,
  before?: (host: Host, d: HostDomain) => void,
): Promise<{ host: Host; d: HostDomain }> {
  const host = new Host({ pcpus: 2, memoryMiB: 64, instructionNs: 20 });
  const d = await host.createDomain(
    parseDomainConfig(
      `name = "smp32"\nkernel = "${join(dir, 'smp32.elf')}"\nmemory = 16\non_poweroff = "preserve"\nvcpus = ${vcpus}\n`,
      'smp32.cfg',
    ),
    { paused: before !== undefined },
  );
  if (before !== undefined) {
    before(host, d);
    host.unpause(d.domid);
  }
  await host.run({ until: () => d.state === 'shutdown', timeoutMs: 30_000 });
  return { host, d };
}

describe.skipIf(!haveNasm && !process.env.CI)(
  'the 32-bit PAE PV SMP guest on a Host with two physical CPUs',
  () => {
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'smp32-'));
      execFileSync('sh', [join(GUEST_DIR, 'build.sh'), dir]);
    });

    for (const n of [2, 4]) {
      it(`${n} vCPUs: every secondary vCPU comes up from a compat context, runs, goes down and up again, and takes its IPIs, timer ticks and an upcall`, async () => {
        const { d } = await run(n);
        expect(transcript(d)).toEqual(expected(n));
        expect(d.shutdownName).toBe('poweroff');
        expect(d.vcpus).toHaveLength(n);
        for (const v of d.vcpus) {
          expect(v.vcpu.crash).toBeNull();
          expect(v.instructions).toBeGreaterThan(0);
        }
      });
    }

    it('vcpu-pin before unpausing keeps vCPU 0 on pCPU 0 and vCPU 1 on pCPU 1; vcpu-list shows both', async () => {
      const { host, d } = await run(2, (h, dom) => {
        pinVcpu(h, dom, 0, '0');
        pinVcpu(h, dom, 1, '1');
      });
      expect(transcript(d)).toEqual(expected(2));
      expect(d.vcpus[0]?.ranOn[1] ?? 0).toBe(0);
      expect(d.vcpus[1]?.ranOn[0] ?? 0).toBe(0);
      expect(d.vcpus[1]?.ranOn[1]).toBeGreaterThan(0);
      expect(vcpuRows(host, d).map((r) => [r.vcpu, r.affinity])).toEqual([
        [0, '0'],
        [1, '1'],
      ]);
    });

    /** A 32-bit SMP domain named `name` on `host`, running (or paused). */
    async function create(host: Host, name: string, vcpus: number, paused = false) {
      return host.createDomain(
        parseDomainConfig(
          `name = "${name}"\nkernel = "${join(dir, 'smp32.elf')}"\nmemory = 16\non_poweroff = "preserve"\nvcpus = ${vcpus}\n`,
          `${name}.cfg`,
        ),
        { paused },
      );
    }

    /** The guest run until `marker` is on its console, with the end not reached yet. */
    async function started(vcpus: number, marker: string): Promise<{ host: Host; d: HostDomain }> {
      const host = new Host({ pcpus: 2, memoryMiB: 64, instructionNs: 20 });
      const d = await create(host, 'smp32', vcpus);
      await host.run({ until: () => d.xenConsoleText().includes(marker), timeoutMs: 30_000 });
      expect(d.xenConsoleText()).not.toContain('TYPEVISOR-SMP32 end');
      return { host, d };
    }

    /** A host already running another 32-bit SMP domain, which must finish too. */
    async function busyTarget(): Promise<{ target: Host; other: HostDomain }> {
      const target = new Host({ pcpus: 2, memoryMiB: 64, instructionNs: 20 });
      const other = await create(target, 'other', 2);
      await target.run({
        until: () => other.xenConsoleText().includes('cpu 0x00000001'),
        timeoutMs: 30_000,
      });
      expect(other.state).toBe('running');
      return { target, other };
    }

    async function finish(host: Host, d: HostDomain, n: number, other: HostDomain): Promise<void> {
      await host.run({
        until: () => d.state === 'shutdown' && other.state === 'shutdown',
        timeoutMs: 60_000,
      });
      for (const [dom, count] of [
        [d, n],
        [other, 2],
      ] as const) {
        expect(transcript(dom)).toEqual(expected(count));
        expect(dom.shutdownName).toBe('poweroff');
        for (const v of dom.vcpus) expect(v.vcpu.crash).toBeNull();
      }
    }

    it("4 vCPUs saved mid-run (vCPUs 1 and 2 initialised, 3 not) and restored beside a running domain: it finishes with the unsaved run's output", async () => {
      const { host, d } = await started(4, 'cpu 0x00000002');
      const flags = d.smp?.getState();
      expect(flags?.initialised).toContain(1);
      expect(flags?.initialised).not.toContain(3);
      const { image } = await saveDomainToBytes(host, d.domid);
      await host.close();
      const { target, other } = await busyTarget();
      try {
        const r = await restoreDomainImage(target, image);
        expect(r.domid).not.toBe(other.domid);
        expect(r.vcpus).toHaveLength(4);
        expect(r.smp?.getState()).toEqual(flags);
        expect(r.isUp(3)).toBe(false);
        await finish(target, r, 4, other);
      } finally {
        await target.close();
      }
    });

    it("2 vCPUs saved while vCPU 1 polls its IPI and timer ports and restored beside a running domain: it finishes with the unsaved run's output", async () => {
      const { host, d } = await started(2, `  send ${hex(0)}`);
      expect(d.isUp(1)).toBe(true);
      const { image } = await saveDomainToBytes(host, d.domid);
      await host.close();
      const { target, other } = await busyTarget();
      try {
        const r = await restoreDomainImage(target, image);
        expect(r.isUp(1)).toBe(true);
        expect(r.smp?.isInitialised(1)).toBe(true);
        await finish(target, r, 2, other);
      } finally {
        await target.close();
      }
    });

    it('a 2-vCPU domain live-migrates mid-run over loopback TCP to a host running another domain', async () => {
      const { host, d } = await started(2, `  up ${hex(0)}`);
      const { target, other } = await busyTarget();
      const listener = await listenForMigrations(target, { host: '127.0.0.1', port: 0 });
      const conn = await connectMigration('127.0.0.1', listener.address.port);
      try {
        const report = await migrateDomain(host, 'smp32', conn, {
          live: true,
          verify: true,
          maxRounds: 3,
          // The guest runs on between rounds, one console line at a time (its whole run is short).
          between: async () => {
            const seen = d.xenConsoleText().length;
            await host.run({ until: () => d.xenConsoleText().length > seen, timeoutMs: 5_000 });
          },
        });
        expect(report.rounds).toBeGreaterThanOrEqual(2);
        const moved = target.lookup('smp32');
        expect(moved.vcpus).toHaveLength(2);
        await finish(target, moved, 2, other);
      } finally {
        conn.close();
        await listener.close();
        await target.close();
        await host.close();
      }
    });
  },
);
