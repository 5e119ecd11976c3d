/**
 * Runs every example as its own process, as a user would, and checks what it prints.
 * Every `*.ts` file in this folder other than tests must have an entry here, so that no
 * example can rot unnoticed.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const here = fileURLToPath(new URL('.', import.meta.url));

/** Example file → a check of its standard output. */
const EXPECTATIONS: Record<string, (stdout: string) => void> = {
  'x86-cpu-vm-exits.ts': (out) => {
    expect(out).toBe(
      [
        '0x7c00: mov si, 0x7c0f',
        'hello from real mode',
        // One OUT exit per character (21) and the HLT; HLT leaves RIP after itself.
        '22 VM exits, stopped at HLT with RIP 0x7c0f',
        '',
      ].join('\n'),
    );
  },
  'demo.ts': (out) => {
    expect(out).toMatch(/instructions; serial output identical to QEMU's\n/);
    expect(out).toContain("MMUEXT_PIN_L4_TABLE on the builder's tables: validated and pinned\n");
    expect(out).toMatch(
      /start_info at 0x[0-9a-f]+: magic "xen-3\.0-x86_64", store evtchn 1, console evtchn 2\n/,
    );
    if (process.env.CI || existsSync('/usr/lib/grub-xen/grub-x86_64-xen.bin')) {
      // Debian's GRUB laid out as Xen 4.17's builder laid it out (see packages/toolstack/test/golden).
      expect(out).toContain('  page tables : 0x637000 -> 0x63e000   (pfn 0x637 + 0x7 pages)\n');
      expect(out).toContain('  virt_pgtab_end : 0x800000\n');
    }
    if (process.env.CI || existsSync('/usr/bin/xenstore-ls')) {
      expect(out).toMatch(/ {2}name = "demo" +\. .*\(n1,r0\)\n/);
      expect(out).toMatch(/ {3}port = "1" +\. .*\(n1,r0\)\n/);
    }
    expect(out).toContain(
      'sector 8 reads back "written by blkfront, stored by blkback" (status 0)\n',
    );
    expect(out).toMatch(
      /shutdown \[\[1,0\]\] after \d+ run slices; 233 of 233 lines equal the real Xen 4\.17's output\n/,
    );
    if (process.env.CI || existsSync('/usr/lib/grub-xen/grub-x86_64-xen.bin')) {
      expect(out).toContain('  | grub.cfg read from (xen/xvda)\n');
      expect(out).toMatch(/ {2}\| lost\+found\/ boot\/ hello\.txt \n/);
      expect(out).toContain('  | hello from an ext2 file, read by GRUB through blkfront\n');
      expect(out).toMatch(/domain 1 \(grub\) shut down: poweroff; on_poweroff=destroy\n/);
      expect(out).toMatch(/xvda: \d+ block reads, 0 errors;/);
    }
    expect(out).toMatch(/demo complete\n$/);
  },
  'mmu-pv-isolation.ts': (out) => {
    expect(out).toBe(
      [
        'L1[4] -> data page: 0',
        'L2[0] -> L1: 0',
        'L3[0] -> L2: 0',
        'L4[0] -> L3: 0',
        'pin L4 and load it as the base pointer: 0',
        'map the L1 itself writable: -16 (-EBUSY: page tables stay read-only)',
        'guest VA 0x4000 -> machine frame of PFN 8: true',
        '',
      ].join('\n'),
    );
  },
  'split-drivers-blk.ts': (out) => {
    expect(out).toBe(
      [
        'plugged xvda (vdev 51712) at /local/domain/1/device/vbd/51712',
        'connected: 2048 sectors of 512 bytes',
        'read sector 0: status 0, "hello, xvda"',
        '',
      ].join('\n'),
    );
  },
  'hypervisor-evtchn-grants.ts': (out) => {
    expect(out).toBe(
      [
        'domU offers port 1 to dom0',
        // Xen raises the binding side's port on bind_interdomain, in case a notification was lost.
        'upcall pending on d0v0',
        'dom0 bound it as its port 1',
        'upcall pending on d1v0',
        'map status 0; domU\'s frame 3 now reads "hello from dom0"',
        'unmap status 0',
        '',
      ].join('\n'),
    );
  },
  'boot-from-config.ts': (out) => {
    expect(out).toBe(
      [
        'API: built domain 1 (from-config) from guest.cfg',
        'API: its console says "balloon: target=32768 KiB current=32768 KiB"',
        'API: after setMemoryTarget(24 MiB): "balloon: target=24576 KiB current=24576 KiB"',
        'CLI: typevisor create guest.cfg; list shows Mem 32',
        'CLI: typevisor mem-set from-config 20m; the guest says "balloon: target=20480 KiB current=20480 KiB"; list shows Mem 20',
        'CLI: typevisor destroy from-config; list shows Domain-0',
        '',
      ].join('\n'),
    );
  },
  'two-guests-bridge.ts': (out) => {
    expect(out).toBe(
      [
        'typevisor create bob.cfg   (vif mac=00:16:3e:00:00:02, bridge=xenbr0, pong)',
        'typevisor create alice.cfg   (vif mac=00:16:3e:00:00:01, bridge=xenbr0, ping)',
        "alice's console: netping: 00:16:3e:00:00:02 answered: pong to 00:16:3e:00:00:01",
        "bob's console: netping: ping from 00:16:3e:00:00:01",
        'typevisor network-list alice bob',
        'Idx BE Mac Addr.         handle state evt-ch   tx-/rx-ring-ref BE-path                       ',
        '0   0  00:16:3e:00:00:01     0     4      3    17/18          /local/domain/0/backend/vif/2/0',
        '0   0  00:16:3e:00:00:02     0     4      3    17/18          /local/domain/0/backend/vif/1/0',
        '',
      ].join('\n'),
    );
  },
  'xenstore-embedded.ts': (out) => {
    expect(out).toBe(
      [
        'watch registered, initial event for /local/domain/1/device/vbd/51712',
        'watch fired for /local/domain/1/device/vbd/51712/backend',
        'device keys: backend, backend-id, state',
        'state = 1',
        '',
      ].join('\n'),
    );
  },
  'save-restore.ts': (out) => {
    expect(out).toMatch(
      new RegExp(
        [
          '^A: typevisor create count\\.cfg -> domain 1, counting',
          'A: typevisor save count count\\.save -> written; A runs 0 domains',
          'B: runs "other" as domain 1; typevisor restore count\\.save -> domain 2',
          'B: the counter went on after tick \\d+ without a gap: true\n$',
        ].join('\n'),
      ),
    );
  },
  'live-migration.ts': (out) => {
    expect(out).toContain('B: migration target: Ready to receive domains on 127.0.0.1:PORT\n');
    expect(out).toContain('A: domain 1 (count) is counting\n');
    expect(out).toContain('A: Migration successful.\n');
    expect(out).toMatch(/A: Domain 1 \(count\) -> 127\.0\.0\.1:\d+ as domain 1\n/);
    expect(out).toContain('A: Mode: live (pre-copy)\n');
    expect(out).toMatch(/A: Rounds: \d+\nA: Pages per round: \d+( \d+)+\n/);
    expect(out).toMatch(/A: Total time: [\d.]+ ms\nA: Downtime: [\d.]+ ms\n/);
    expect(out).toMatch(
      /B: count runs as domain 1; no gap in the counter: true\nA: runs 0 domains\n$/,
    );
  },
  'toolstack-cli.ts': (out) => {
    expect(out).toMatch(/^typevisor \d+\.\d+\.\d+: info exited 0\n/);
    expect(out).toMatch(/host has \d+ CPUs and \d+ MiB of memory\n$/);
  },
};

async function runExample(file: string): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', '--conditions=@typevisor/source', file],
    { cwd: here, timeout: 60_000 },
  );
  return stdout;
}

describe('examples', () => {
  const files = readdirSync(here).filter(
    (f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'),
  );

  it('every example has an expectation', () => {
    expect(files.filter((f) => !(f in EXPECTATIONS))).toEqual([]);
  });

  for (const [file, check] of Object.entries(EXPECTATIONS)) {
    it(`${file} runs and prints what it promises`, async () => {
      check(await runExample(file));
    });
  }
});
