/**
 * `mem-set` and `mem-max` at the Host level with the repository's balloon guest
 * (`tests/guests/balloon`): the guest watches `memory/target`, gives pages back or takes them
 * with memory_op, and its reservation (what `xl list` shows) follows; a lowered maximum makes
 * populate_physmap fail in the hypervisor.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Host, parseDomainConfig } from '@typevisor/toolstack';
import { describe, expect, it } from 'vitest';

const BALLOON = fileURLToPath(new URL('../guests/balloon/balloon-x86_64.elf', import.meta.url));

async function bootBalloon(host: Host, extra = '') {
  const dom = await host.createDomain(
    parseDomainConfig(`name = "b"\nkernel = "${BALLOON}"\nmemory = 32\n${extra}`, 'b.cfg'),
  );
  await host.run({
    until: () => dom.consoleText().includes('current=32768 KiB'),
    timeoutMs: 30_000,
    stopWhenIdle: false,
  });
  return dom;
}

describe('the balloon guest under Typevisor and under the real Xen 4.17', () => {
  it('prints the same lines for the same configuration (its selftest balloons 4 MiB down and up)', async () => {
    const golden = readFileSync(
      new URL('../guests/balloon/golden-xen-4.17.txt', import.meta.url),
      'utf8',
    );
    const cfg = readFileSync(new URL('../guests/balloon/selftest.cfg', import.meta.url), 'utf8');
    const host = new Host();
    const dom = await host.createDomain(
      parseDomainConfig(cfg.replace(/^kernel = .*$/m, `kernel = "${BALLOON}"`), 'selftest.cfg'),
    );
    await host.run({
      until: () => dom.consoleText().includes('selftest done'),
      timeoutMs: 30_000,
      stopWhenIdle: false,
    });
    expect(dom.consoleText()).toBe(golden);
    await host.close();
  });
});

describe('mem-set observed by the balloon guest', () => {
  it('balloons down to the new target and back up, and the reservation follows', async () => {
    const host = new Host();
    const dom = await bootBalloon(host);
    expect(dom.consoleText()).toContain('balloon: target=32768 KiB current=32768 KiB');
    expect(host.currentMemoryKiB(dom.domid)).toBe(32768);
    const free0 = host.machine.frames.freeFrames;

    await host.setMemoryTarget(dom.domid, 20 * 1024);
    expect(await host.xs.readString(`/local/domain/${dom.domid}/memory/target`)).toBe('20480');
    await host.run({
      until: () => dom.consoleText().includes('current=20480 KiB'),
      timeoutMs: 30_000,
      stopWhenIdle: false,
    });
    expect(dom.consoleText()).toContain('balloon: target=20480 KiB current=20480 KiB');
    expect(host.currentMemoryKiB(dom.domid)).toBe(20480);
    expect(host.machine.frames.freeFrames).toBe(free0 + 3072);
    expect(host.maxMemoryKiB(dom.domid)).toBe(20480 + 1024);

    await host.setMemoryTarget(dom.domid, 28 * 1024);
    await host.run({
      until: () => dom.consoleText().includes('current=28672 KiB'),
      timeoutMs: 30_000,
      stopWhenIdle: false,
    });
    expect(host.currentMemoryKiB(dom.domid)).toBe(28672);
    expect(dom.vcpu.crash).toBeNull();
    await host.close();
  });

  it('refuses a target above static-max, and a maximum below the target', async () => {
    const host = new Host();
    const dom = await bootBalloon(host);
    await expect(host.setMemoryTarget(dom.domid, 64 * 1024)).rejects.toThrow(
      /memory_dynamic_max must be less than or equal to memory_static_max/,
    );
    await expect(host.setMaxMemory(dom.domid, 16 * 1024)).rejects.toThrow(
      /memory_static_max must be greater than/,
    );
    await expect(host.setMemoryTarget(dom.domid, 0)).rejects.toThrow(/invalid memory size/);
    expect(await host.xs.readString(`/local/domain/${dom.domid}/memory/target`)).toBe('32768');
    await host.close();
  });

  it('a lowered maximum makes populate_physmap fail in the hypervisor', async () => {
    const host = new Host();
    const dom = await bootBalloon(host);
    await host.setMemoryTarget(dom.domid, 16 * 1024);
    await host.run({
      until: () => dom.consoleText().includes('current=16384 KiB'),
      timeoutMs: 30_000,
      stopWhenIdle: false,
    });
    await host.setMaxMemory(dom.domid, 16 * 1024);
    expect(host.maxMemoryKiB(dom.domid)).toBe(17 * 1024);
    // Bypass libxl's static-max check, as a guest-visible target beyond max_pages would be.
    await host.xs.write(`/local/domain/${dom.domid}/memory/target`, String(24 * 1024));
    await host.run({
      until: () => dom.consoleText().includes('refused'),
      timeoutMs: 30_000,
      stopWhenIdle: false,
    });
    // max_pages is 16 MiB + libxl's 1 MiB slack: the guest gets exactly that far.
    expect(dom.consoleText()).toContain('balloon: populate_physmap refused at current=17408 KiB');
    expect(host.currentMemoryKiB(dom.domid)).toBe(17408);
    await host.close();
  });
});
