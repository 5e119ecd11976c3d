/**
 * Issue 9: Debian's unmodified 64-bit PV GRUB (`grub-x86_64-xen.bin`, package grub-xen-host)
 * boots on Typevisor's Host, reads ext2 disks through blkfront/blkback, takes console input,
 * powers off and reboots as configured — and matches what the real Xen 4.17 showed for the
 * same image (golden/, recorded with ../../../shared/tools/xen-reference).
 */
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Host, type HostDomain, ToolstackError } from '@typevisor/toolstack';
import { describe, expect, it } from 'vitest';
import {
  GOLDEN_DIR,
  GRUB_X86_64,
  golden,
  grubConfig,
  haveGrub,
  haveMke2fs,
  makeExt2,
  normaliseConsole,
  plainText,
  testEnv,
  typeCommand,
  waitForConsole,
  withoutProgress,
} from './support.ts';

const env = testEnv('grub-boot-');

const HELLO = 'hello from an ext2 file read by GRUB\nline two\n';
/** The grub.cfg of the golden disk run (golden/grub-x86_64-disk). */
const DEMO_CFG =
  'echo "TYPEVISOR-E2E: grub.cfg from xvda"\nls\nls /\ncat /hello.txt\necho "TYPEVISOR-E2E: halting"\nhalt\n';

/** `xenstore-ls -fp`-style lines of the subtree at `path` in the host's store. */
async function storeDump(host: Host, path: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (p: string): Promise<void> => {
    const value = await host.xs.readString(p);
    const perms = await host.xs.getPerms(p);
    out.push(`${p} = "${value}"   (${perms.join(',')})`);
    for (const child of await host.xs.directory(p)) await walk(`${p}/${child}`);
  };
  await walk(path);
  return out;
}

/** The golden `xenstore-ls -fp` lines under `prefix`. */
function goldenStore(file: string, prefix: string): string[] {
  return golden(file)
    .split('\n')
    .filter((l) => l.startsWith(prefix));
}

describe.skipIf((!haveGrub || !haveMke2fs) && !process.env.CI)(
  "Debian's grub-x86_64-xen.bin on the Host",
  { timeout: 600_000 },
  () => {
    env.install();

    it('boots to the grub> prompt with the same console output as under Xen 4.17', async () => {
      const host = env.newHost();
      const dom = await host.createDomain(grubConfig());
      await waitForConsole(host, dom, 'grub> ');
      const want = normaliseConsole(golden('grub-x86_64-nodisk/console.txt'));
      expect(normaliseConsole(dom.consoleText())).toBe(want);
      expect(dom.state).not.toBe('shutdown');
    });

    it('writes the xenstore entries libxl writes, with the same permissions', async () => {
      const host = env.newHost();
      const dom = await host.createDomain(grubConfig({ name: 'guest' }), { paused: true });
      const ours = await storeDump(host, `/local/domain/${dom.domid}`);
      const theirs = goldenStore('grub-x86_64-nodisk/xenstore-ls-created.txt', '/local/domain/1');
      // Frame numbers of the store and console pages, and xenconsoled's pty, are the host's own.
      const hostSpecific = /\/(store|console)\/ring-ref = |\/console\/tty = /;
      const norm = (lines: string[]) =>
        lines
          .filter((l) => !hostSpecific.test(l))
          .map((l) => l.replace(/\/local\/domain\/\d+/, '/local/domain/N'))
          .sort();
      expect(norm(ours)).toEqual(norm(theirs));
      const vm = await storeDump(host, `/vm/${dom.uuid}`);
      const goldenVm = goldenStore(
        'grub-x86_64-nodisk/xenstore-ls-created.txt',
        '/vm/54797065-7669-736f-7200-000000000001',
      );
      const noTimes = (lines: string[]) =>
        lines.filter((l) => !/start_time|image\/kernel/.test(l)).sort();
      expect(noTimes(vm)).toEqual(noTimes(goldenVm));
    });

    it('reads grub.cfg from an ext2 xvda, lists and cats files, and halt powers the domain off', async () => {
      const disk = makeExt2(env.dir, 'demo', {
        'boot/grub/grub.cfg': DEMO_CFG,
        'hello.txt': HELLO,
        'docs/readme.txt': 'nested file\n',
      });
      const host = env.newHost();
      const shutdowns: string[] = [];
      host.onShutdown = (d, action) => shutdowns.push(`${d.name} ${d.shutdownName} ${action}`);
      const dom = await host.createDomain(grubConfig({ disks: [`${disk},raw,xvda,w`] }));
      const r = await host.run({ timeoutMs: 60_000 });
      expect(r).toBe('idle');
      expect(shutdowns).toEqual(['grub poweroff destroy']);
      expect(host.domains.size).toBe(0);
      const text = plainText(normaliseConsole(dom.consoleText()));
      expect(text).toContain('Reading (xen/xvda)/boot/grub/grub.cfg');
      expect(text).toContain('TYPEVISOR-E2E: grub.cfg from xvda\n(memdisk) (proc) (xen/xvda) \n');
      expect(text).toMatch(/lost\+found\/ boot\/ (docs\/ hello\.txt|hello\.txt docs\/) \n/);
      expect(text).toContain(`<progress hello.txt ${HELLO.length}B>${HELLO}`);
      expect(text).toContain('TYPEVISOR-E2E: halting\n');
      const xvda = dom.disks.get('xvda');
      expect(xvda?.metrics.errors).toBe(0);
      expect(xvda?.metrics.reads).toBeGreaterThan(0);
    });

    it('with the golden disk, console output and the vbd handshake match Xen 4.17', async () => {
      const files = join(GOLDEN_DIR, 'grub-x86_64-disk/disk-files');
      const disk = join(env.dir, 'golden.img');
      execFileSync('mke2fs', ['-q', '-F', '-t', 'ext2', '-d', files, disk, '8M'], {
        stdio: 'pipe',
      });
      const host = env.newHost();
      const dom = await host.createDomain(
        grubConfig({
          name: 'guest',
          disks: [`format=raw,vdev=xvda,access=rw,target=${disk}`],
          extra: 'on_poweroff = "preserve"',
        }),
      );
      await host.run({ until: () => dom.state === 'shutdown', timeoutMs: 300_000 });
      expect(dom.shutdownName).toBe('poweroff');
      expect(normaliseConsole(dom.consoleText())).toBe(
        normaliseConsole(golden('grub-x86_64-disk/console.txt')),
      );
      // What the guest wrote in its frontend directory, and the libxl keys it reads there.
      const fe = `/local/domain/${dom.domid}/device/vbd/51712`;
      const ours = (await storeDump(host, fe)).map((l) =>
        l.replace(`/local/domain/${dom.domid}/`, '/local/domain/1/'),
      );
      const theirs = goldenStore(
        'grub-x86_64-disk/xenstore-ls-shutdown.txt',
        '/local/domain/1/device/vbd/51712',
      );
      expect(ours.sort()).toEqual(theirs.sort());
      const state = await host.xs.readString(
        `/local/domain/0/backend/vbd/${dom.domid}/51712/state`,
      );
      expect(state).toBe('4');
    });

    it('takes commands typed into the console, and reads a second disk', async () => {
      const xvda = makeExt2(env.dir, 'blank', { 'readme.txt': 'no grub.cfg here\n' });
      const content = Array.from({ length: 300 }, (_, i) => `line ${i} of the second disk`).join(
        '\n',
      );
      const xvdb = makeExt2(env.dir, 'second', { 'data/second.txt': `${content}\n` });
      const host = env.newHost();
      const dom = await host.createDomain(
        grubConfig({
          disks: [`${xvda},raw,xvda,w`, `format=raw,vdev=xvdb,access=r,target=${xvdb}`],
        }),
      );
      await waitForConsole(host, dom, 'grub> ');
      const echoed = plainText(await typeCommand(host, dom, 'echo typed into the console'));
      expect(echoed).toContain('\ntyped into the console\n');
      const ls = plainText(await typeCommand(host, dom, 'ls'));
      expect(ls).toContain('(memdisk) (proc) (xen/xvda) (xen/xvdb)');
      const lsB = plainText(await typeCommand(host, dom, 'ls (xen/xvdb)/data/'));
      expect(lsB).toContain('second.txt');
      const cat = withoutProgress(
        plainText(normaliseConsole(await typeCommand(host, dom, 'cat (xen/xvdb)/data/second.txt'))),
      );
      expect(cat).toContain(`${content}\n`);
      const bad = plainText(await typeCommand(host, dom, 'cat (xen/xvdb)/missing.txt'));
      expect(bad).toContain("error: file `/missing.txt' not found.");
      expect(dom.disks.get('xvdb')?.metrics.errors).toBe(0);
    });

    it('reboot follows on_reboot: restart builds a new domain, destroy ends it', async () => {
      const host = env.newHost();
      const events: string[] = [];
      host.onShutdown = (d, action) => events.push(`${d.domid} ${d.shutdownName} ${action}`);
      const first = await host.createDomain(grubConfig({ extra: 'on_reboot = "restart"' }));
      await waitForConsole(host, first, 'grub> ');
      host.consoleInput(first.domid, new TextEncoder().encode('reboot\r'));
      await host.run({ until: () => events.length > 0, timeoutMs: 30_000, stopWhenIdle: false });
      expect(events).toEqual([`${first.domid} reboot restart`]);
      const second = host.lookup('grub');
      expect(second.domid).not.toBe(first.domid);
      await waitForConsole(host, second, 'grub> ');
      host.consoleInput(second.domid, new TextEncoder().encode('halt\r'));
      expect(await host.run({ timeoutMs: 30_000 })).toBe('idle');
      expect(events[1]).toBe(`${second.domid} poweroff destroy`);
    });

    it('refuses a corrupted GRUB image with an error naming the problem, and keeps running others', async () => {
      const host = env.newHost();
      const good = await host.createDomain(grubConfig({ name: 'good' }));
      const bytes = new Uint8Array(
        await import('node:fs').then((fs) => fs.readFileSync(GRUB_X86_64)),
      );
      bytes.set([0, 0, 0, 0], 0); // no ELF magic
      const broken = join(env.dir, 'broken.bin');
      writeFileSync(broken, bytes);
      await expect(host.createDomain(grubConfig({ name: 'bad', kernel: broken }))).rejects.toThrow(
        ToolstackError,
      );
      await expect(host.createDomain(grubConfig({ name: 'bad', kernel: broken }))).rejects.toThrow(
        /broken\.bin/,
      );
      const truncated = join(env.dir, 'truncated.bin');
      writeFileSync(truncated, bytes.subarray(0, 3000).fill(0x7f, 0, 1).fill(0x45, 1, 2));
      await expect(
        host.createDomain(grubConfig({ name: 'bad2', kernel: truncated })),
      ).rejects.toThrow(/truncated\.bin/);
      expect([...host.domains.values()].map((d: HostDomain) => d.name)).toEqual(['good']);
      await waitForConsole(host, good, 'grub> ');
    });

    it('a disk that is not a filesystem gives GRUB errors, not a crash', async () => {
      const junk = join(env.dir, 'junk.img');
      writeFileSync(junk, new Uint8Array(4 * 1024 * 1024).fill(0xa5));
      const host = env.newHost();
      const dom = await host.createDomain(grubConfig({ disks: [`${junk},raw,xvda,w`] }));
      await waitForConsole(host, dom, 'grub> ');
      const out = plainText(await typeCommand(host, dom, 'ls (xen/xvda)/'));
      expect(out).toContain('error: unknown filesystem.');
      expect(dom.state).not.toBe('shutdown');
    });

    it('a disk file removed while the guest runs keeps serving the open image', async () => {
      const disk = makeExt2(env.dir, 'removed', { 'keep.txt': 'still here\n' });
      const host = env.newHost();
      const dom = await host.createDomain(grubConfig({ disks: [`${disk},raw,xvda,w`] }));
      await waitForConsole(host, dom, 'grub> ');
      rmSync(disk);
      const out = plainText(
        normaliseConsole(await typeCommand(host, dom, 'cat (xen/xvda)/keep.txt')),
      );
      expect(out).toContain('still here\n');
      expect(dom.disks.get('xvda')?.metrics.errors).toBe(0);
    });

    it('a missing disk image fails create with a NOT_FOUND error and leaves nothing behind', async () => {
      const host = env.newHost();
      const free = host.machine.frames.freeFrames;
      await expect(
        host.createDomain(grubConfig({ disks: [`${join(env.dir, 'nope.img')},raw,xvda,w`] })),
      ).rejects.toThrow(/nope\.img/);
      expect(host.domains.size).toBe(0);
      expect(host.machine.frames.freeFrames).toBe(free);
    });
  },
);
