/**
 * Domain IDs are reused after a domain is destroyed (as on Xen, where domain_destroy frees the
 * dead domain's structures): the repository's pv-hello guest boots again under the ID of a
 * destroyed domain, on a host whose MMU and machine forgot the old one, and a domain saved with
 * `xl save` is restored into the same host under its own ID.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Host,
  parseDomainConfig,
  restoreDomainImage,
  saveDomainToBytes,
} from '@typevisor/toolstack';
import { describe, expect, it } from 'vitest';
import { testEnv } from '../grub-boot/support.ts';

const GUEST_DIR = fileURLToPath(new URL('../pv-boot/guest/', import.meta.url));
const haveNasm = ['/usr/bin/nasm', '/usr/local/bin/nasm'].some((p) => existsSync(p));
const env = testEnv('domid-reuse-');

function config(name: string, elf: string) {
  return parseDomainConfig(
    `name = "${name}"\nkernel = "${join(env.dir, elf)}"\nmemory = 16\non_poweroff = "preserve"\n`,
    `${name}.cfg`,
  );
}

/** Makes the host's next allocated domain ID `domid` (its allocator is private). */
function forceNextDomid(host: Host, domid: number): void {
  (host as unknown as { nextDomid: number }).nextDomid = domid;
}

function ticks(text: string): number[] {
  return [...text.matchAll(/tick 0x([0-9a-f]{16})\n/g)].map((m) => Number.parseInt(m[1] ?? '', 16));
}

describe.skipIf(!haveNasm && !process.env.CI)(
  "reusing a destroyed domain's ID",
  { timeout: 300_000 },
  () => {
    env.install();
    it('builds the test guests', () => {
      execFileSync('sh', [join(GUEST_DIR, 'build.sh'), env.dir]);
    });

    it('boots pv-hello again, twice, under the ID of a destroyed domain', async () => {
      const host = env.newHost();
      const free = host.machine.frames.freeFrames;
      const first = await host.createDomain(config('spin', 'pv-spin.elf'));
      const domid = first.domid;
      await host.run({ maxInstructions: 200_000, stopWhenIdle: false });
      expect(first.xenConsoleText()).toContain('hello through console_io');
      await host.destroyDomain(domid);
      expect(host.machine.frames.freeFrames).toBe(free);
      expect(host.mm.hasDomain(domid)).toBe(false);
      expect(host.machine.hasP2m(domid)).toBe(false);

      for (const round of [1, 2]) {
        forceNextDomid(host, domid);
        const again = await host.createDomain(config(`hello-${round}`, 'pv-hello.elf'));
        expect(again.domid).toBe(domid);
        await host.run({ until: () => again.shutdownReason >= 0, maxInstructions: 20_000_000 });
        expect(again.shutdownReason).toBe(0); // SHUTDOWN_poweroff, its last act
        expect(again.xenConsoleText()).toContain('Typevisor PV guest: hello through console_io\n');
        expect(again.vcpus[0]?.vcpu.crash ?? null).toBeNull();
        expect(await host.xs.readString(`/local/domain/${domid}/name`)).toBe(`hello-${round}`);
        await host.destroyDomain(domid);
        expect(host.machine.frames.freeFrames).toBe(free);
      }
    });

    it('skips the ID of a domain whose frame is still referenced (a zombie)', async () => {
      const host = env.newHost();
      const a = await host.createDomain(config('a', 'pv-spin.elf'));
      // Another party holds a reference to one of a's frames, so teardown cannot free it.
      const mfn = host.machine.p2m(a.domid).get(0);
      host.machine.frames.refCount[mfn] = (host.machine.frames.refCount[mfn] ?? 0) + 1;
      await host.destroyDomain(a.domid);
      expect(host.mm.hasDomain(a.domid)).toBe(true);
      forceNextDomid(host, a.domid);
      const b = await host.createDomain(config('b', 'pv-spin.elf'));
      expect(b.domid).not.toBe(a.domid);
    });

    it('restores a saved domain into the same host under its own ID, and it carries on', async () => {
      const host = env.newHost();
      const dom = await host.createDomain(config('count', 'pv-count.elf'));
      await host.run({
        until: () => ticks(dom.xenConsoleText()).length >= 3,
        maxInstructions: 40_000_000,
        stopWhenIdle: false,
      });
      const { image } = await saveDomainToBytes(host, dom.domid);
      expect(host.domains.has(dom.domid)).toBe(false); // xl save destroys the domain
      const saved = ticks(dom.xenConsoleText());
      // Another domain created meanwhile takes the next ID, not the saved one.
      const other = await host.createDomain(config('other', 'pv-spin.elf'), { paused: true });
      expect(other.domid).not.toBe(dom.domid);
      const back = await restoreDomainImage(host, image);
      expect(back.domid).toBe(dom.domid);
      await host.run({
        until: () => ticks(back.xenConsoleText()).length >= saved.length + 3,
        maxInstructions: 40_000_000,
        stopWhenIdle: false,
      });
      // The console carries over; the counter goes on from where it was saved, without a gap.
      const all = ticks(back.xenConsoleText());
      expect(all.length).toBeGreaterThanOrEqual(saved.length + 3);
      expect(all.slice(0, saved.length)).toEqual(saved);
      expect(all.every((v, i) => v === i + 1)).toBe(true);
      expect(await host.xs.readString(`/local/domain/${back.domid}/name`)).toBe('count');
    });
  },
);
