/**
 * Issue 8's save/restore: a host running Debian's unmodified PV GRUB (64- and 32-bit) is saved as
 * a Typevisor save image and restored on a fresh host (its own machine, hypervisor, xenstored and
 * backends); the guest continues exactly where it was — console, typed commands, its disk — while
 * the source host goes on too. Damaged images are refused with errors that say what is wrong.
 */
import { Host, type HostDomain, ToolstackError } from '@typevisor/toolstack';
import { describe, expect, it } from 'vitest';
import {
  GRUB_I386,
  GRUB_X86_64,
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
} from '../grub-boot/support.ts';

const env = testEnv('save-restore-');
let diskCount = 0;

/** A GRUB domain with an ext2 disk, at its prompt. */
async function grubAtPrompt(kernel: string): Promise<{ host: Host; dom: HostDomain }> {
  diskCount++;
  const disk = makeExt2(env.dir, `disk-${diskCount}`, {
    'notes/hello.txt': 'saved and restored\n',
  });
  const host = env.newHost();
  const dom = await host.createDomain(grubConfig({ kernel, disks: [`${disk},raw,xvda,w`] }));
  await waitForConsole(host, dom, 'grub> ');
  return { host, dom };
}

describe.skipIf((!haveGrub || !haveMke2fs) && !process.env.CI)(
  'saving and restoring a host with a running GRUB',
  { timeout: 600_000 },
  () => {
    env.install();

    for (const kernel of [GRUB_X86_64, GRUB_I386]) {
      it(`${kernel.split('/').pop()}: the restored guest continues where it was, and so does the source`, async () => {
        const { host, dom } = await grubAtPrompt(kernel);
        expect(plainText(await typeCommand(host, dom, 'echo before the save'))).toContain(
          '\nbefore the save\n',
        );
        const cpuAtSave = dom.cpu.getState();
        const image = await host.save();
        const restored = env.track(await Host.restore(image));
        const copy = restored.lookup(dom.domid);
        expect(copy.name).toBe(dom.name);
        expect(copy.cpu.getState()).toEqual(cpuAtSave);
        expect(copy.consoleText()).toBe(dom.consoleText());
        // Both hosts take the same input and answer alike (virtual time: the same work).
        for (const h of [host, restored]) {
          const d = h.lookup(dom.domid);
          const out = plainText(await typeCommand(h, d, 'echo after the save'));
          expect(out).toContain('\nafter the save\n');
        }
        expect(copy.instructions).toBe(dom.instructions);
        // The restored guest's disk is reconnected: its frontend never noticed.
        const cat = withoutProgress(
          plainText(
            normaliseConsole(await typeCommand(restored, copy, 'cat (xen/xvda)/notes/hello.txt')),
          ),
        );
        expect(cat).toContain('\nsaved and restored\n');
        expect(copy.disks.get('xvda')?.metrics.errors).toBe(0);
        restored.consoleInput(copy.domid, new TextEncoder().encode('halt\r'));
        expect(await restored.run({ timeoutMs: 120_000 })).toBe('idle');
        expect(restored.domains.size).toBe(0);
        expect(dom.state).not.toBe('shutdown');
      });
    }

    it('refuses truncated, corrupted and inconsistent images, and saving a running host', async () => {
      const { host, dom } = await grubAtPrompt(GRUB_X86_64);
      const image = await host.save();
      const expectIo = async (bytes: Uint8Array, message: RegExp) => {
        const err = await Host.restore(bytes).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ToolstackError);
        expect((err as ToolstackError).code).toBe('IO');
        expect((err as Error).message).toMatch(message);
      };
      await expectIo(image.subarray(0, image.length - 100), /truncated/);
      await expectIo(image.subarray(0, 10), /not a Typevisor save image/);
      const corrupt = image.slice();
      corrupt[5000] = (corrupt[5000] ?? 0) ^ 0xff;
      await expectIo(corrupt, /corrupted \(checksum mismatch\)/);
      // A save that was cut short keeps the source running.
      expect(plainText(await typeCommand(host, dom, 'echo still here'))).toContain(
        '\nstill here\n',
      );
      const running = host.run({ timeoutMs: 60_000, stopWhenIdle: false });
      await expect(host.save()).rejects.toThrow(/stop the host before saving it/);
      host.stop();
      await running;
    });
  },
);
