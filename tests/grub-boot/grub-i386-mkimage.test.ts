/**
 * Issue 9, the other GRUB images: Debian's prebuilt 32-bit PAE PV GRUB (`grub-i386-xen.bin`,
 * "xen-3.0-x86_32p": ring-1 kernel, `int 0x82` hypercalls) and images made in the test with
 * `grub-mkimage -O x86_64-xen` / `-O i386-xen` from Debian's grub-xen-bin, each booted unmodified
 * on the Host with an ext2 disk. The real Xen 4.17 in shared/tools/xen-reference has a 64-bit-only
 * toolstack (it refuses 32-bit guests), so the 32-bit image is checked against what the same GRUB
 * release prints as a 64-bit guest under Xen (golden/grub-x86_64-disk).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  GOLDEN_DIR,
  GRUB_I386,
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
} from './support.ts';

const env = testEnv('grub-i386-');
let diskCount = 0;

const haveMkimage = existsSync('/usr/bin/grub-mkimage') && existsSync('/usr/lib/grub/i386-xen');

/** Boots `kernel` with the golden disk (grub.cfg: echo, ls, cat, halt) and returns the console. */
async function bootGoldenDisk(kernel: string): Promise<string> {
  diskCount++;
  const disk = join(env.dir, `golden-${diskCount}.img`);
  execFileSync(
    'mke2fs',
    ['-q', '-F', '-t', 'ext2', '-d', join(GOLDEN_DIR, 'grub-x86_64-disk/disk-files'), disk, '8M'],
    { stdio: 'pipe' },
  );
  const host = env.newHost();
  const shutdowns: string[] = [];
  host.onShutdown = (d, action) => shutdowns.push(`${d.shutdownName} ${action}`);
  const dom = await host.createDomain(
    grubConfig({ kernel, disks: [`format=raw,vdev=xvda,access=rw,target=${disk}`] }),
  );
  expect(await host.run({ timeoutMs: 300_000 })).toBe('idle');
  expect(shutdowns).toEqual(['poweroff destroy']);
  return dom.consoleText();
}

describe.skipIf((!haveGrub || !haveMke2fs || !haveMkimage) && !process.env.CI)(
  '32-bit PV GRUB and grub-mkimage images on the Host',
  { timeout: 600_000 },
  () => {
    env.install();

    it('grub-i386-xen.bin reads the golden disk and prints what the 64-bit GRUB printed under Xen', async () => {
      const text = await bootGoldenDisk(GRUB_I386);
      // The image's built-in config (608 bytes, not 620) looks for the i386 PV boot file.
      const asX86_64 = normaliseConsole(text)
        .replace('<progress grub.cfg 608B>', '<progress grub.cfg 620B>')
        .replaceAll('pvboot-i386.elf', 'pvboot-x86_64.elf');
      expect(asX86_64).toBe(normaliseConsole(golden('grub-x86_64-disk/console.txt')));
    });

    it('grub-i386-xen.bin takes console input and reads a second, read-only disk', async () => {
      const xvda = makeExt2(env.dir, 'i386-a', { 'a.txt': 'first\n' });
      const xvdb = makeExt2(env.dir, 'i386-b', { 'dir/b.txt': 'second disk, 32-bit guest\n' });
      const host = env.newHost();
      const dom = await host.createDomain(
        grubConfig({
          kernel: GRUB_I386,
          disks: [`${xvda},raw,xvda,w`, `format=raw,vdev=xvdb,access=r,target=${xvdb}`],
        }),
      );
      await waitForConsole(host, dom, 'grub> ');
      expect(dom.guestType).toBe('xen-3.0-x86_32p');
      expect(plainText(await typeCommand(host, dom, 'ls'))).toContain(
        '(memdisk) (proc) (xen/xvda) (xen/xvdb)',
      );
      const cat = plainText(
        normaliseConsole(await typeCommand(host, dom, 'cat (xen/xvdb)/dir/b.txt')),
      );
      expect(cat).toContain('second disk, 32-bit guest\n');
    });

    for (const arch of ['x86_64', 'i386'] as const) {
      it(`an image made with grub-mkimage -O ${arch}-xen boots, runs its embedded config and the disk's`, async () => {
        const embed = join(env.dir, `embed-${arch}.cfg`);
        writeFileSync(
          embed,
          'echo "embedded config of a grub-mkimage image"\nset root=(xen/xvda)\nconfigfile /boot/grub/grub.cfg\n',
        );
        const image = join(env.dir, `grub-${arch}.img`);
        execFileSync('grub-mkimage', [
          '-O',
          `${arch}-xen`,
          '-o',
          image,
          '-c',
          embed,
          '-p',
          '/boot/grub',
          'ext2',
          'ls',
          'cat',
          'echo',
          'halt',
          'configfile',
          'normal',
        ]);
        const text = plainText(normaliseConsole(await bootGoldenDisk(image)));
        expect(text).toContain('embedded config of a grub-mkimage image\n');
        expect(text).toContain('TYPEVISOR-E2E: grub.cfg from xvda\n');
        expect(text).toContain('hello from an ext2 file read by GRUB\nline two\n');
        expect(text).toContain('TYPEVISOR-E2E: halting\n');
      });
    }
  },
);
