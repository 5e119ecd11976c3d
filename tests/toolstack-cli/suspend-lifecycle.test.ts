/**
 * SHUTDOWN_suspend and xl's cooperative suspend protocol, and the on_poweroff / on_reboot /
 * on_crash policies, on a Host with the repository's lifecycle guest
 * (tests/guests/lifecycle: it ticks every `period` ms, echoes console lines, crashes on
 * "crash", and answers control/shutdown as Linux does).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  Host,
  type HostDomain,
  localiseStartInfo,
  parseDomainConfig,
  preserveSuffix,
  restoreDomainImage,
  resumeSuspended,
  saveDomainToBytes,
} from '@typevisor/toolstack';
import { describe, expect, it } from 'vitest';

const LIFECYCLE = fileURLToPath(
  new URL('../guests/lifecycle/lifecycle-x86_64.elf', import.meta.url),
);
const GOLDEN = (name: string): string =>
  readFileSync(new URL(`../guests/lifecycle/${name}`, import.meta.url), 'utf8');
const BALLOON = fileURLToPath(new URL('../guests/balloon/balloon-x86_64.elf', import.meta.url));

function config(name: string, extra = '', more = '') {
  return parseDomainConfig(
    `name = "${name}"\nkernel = "${LIFECYCLE}"\nmemory = 16\nextra = "period=20 ${extra}"\n${more}`,
  );
}

/** Runs `host` until `cond` holds (virtual time: the guests' timers come at once). */
async function until(host: Host, what: string, cond: () => boolean): Promise<void> {
  const r = await host.run({ until: cond, timeoutMs: 30_000, stopWhenIdle: false });
  if (r !== 'until') throw new Error(`timed out waiting for ${what}`);
}

/** The highest "tick N" in the text. */
function lastTick(text: string): number {
  const all = [...text.matchAll(/^tick (\d+)$/gm)];
  return Number(all.at(-1)?.[1] ?? 0);
}

const ticked = (d: HostDomain, n: number) => () => lastTick(d.consoleText()) >= n;

describe('a guest that supports suspend, around a save', () => {
  it('save -c: it suspends when asked (control/shutdown), resumes in place with 1 ("cancelled") and keeps counting', async () => {
    const host = new Host();
    const d = await host.createDomain(config('keep'));
    await until(host, 'tick 3', ticked(d, 3));
    const { result } = await saveDomainToBytes(host, d.domid, { keep: true });
    expect(result.pages).toBeGreaterThan(0);
    expect(d.state).not.toBe('shutdown');
    const at = lastTick(d.consoleText());
    await until(host, 'more ticks', ticked(d, at + 3));
    const text = d.consoleText();
    expect(text).toContain('lifecycle: suspending\n');
    expect(text).toMatch(new RegExp(`lifecycle: resumed rc=1 at tick ${at}\\n`));
    // The request was acknowledged: control/shutdown is empty again.
    expect(await host.xs.readString(`/local/domain/${d.domid}/control/shutdown`)).toBe('');
    // Resuming a domain that runs is refused (libxc: not in suspended state).
    expect(resumeSuspended(host, d)).toBe(-22);
    await host.close();
  });

  it('save, then restore on another host: the hypercall returns 0 in the new domain, which reconnects (console input, control/shutdown) and counts on', async () => {
    const host = new Host();
    const d = await host.createDomain(config('moved', '', 'on_poweroff = "preserve"\n'));
    await until(host, 'tick 4', ticked(d, 4));
    const firstMfn = host.machine.p2m(d.domid).get(0);
    const { image } = await saveDomainToBytes(host, d.domid);
    expect(host.domains.size).toBe(0); // saved and destroyed, as xl save does
    const savedAt = lastTick(d.consoleText());

    // Another host, whose frames are laid out differently (a domain there already): every
    // frame the guest knows by machine number moves, shared_info included.
    const other = new Host();
    other.createNativeDomain('filler', 300);
    const r = await restoreDomainImage(other, image);
    expect(other.machine.p2m(r.domid).get(0)).not.toBe(firstMfn);
    await until(other, 'resume', () => r.consoleText().includes('lifecycle: resumed'));
    await until(other, 'ticks after the restore', ticked(r, savedAt + 3));
    expect(r.consoleText()).toContain(`lifecycle: resumed rc=0 at tick ${savedAt}\n`);
    // Every tick once, in order, across the move.
    const ticks = [...r.consoleText().matchAll(/^tick (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ticks).toEqual(Array.from({ length: ticks.length }, (_, i) => i + 1));
    // The console ring and port from the rewritten start_info work both ways.
    other.consoleInput(r.domid, new TextEncoder().encode('after restore\r'));
    await until(other, 'echo', () => r.consoleText().includes('echo: after restore\n'));
    // Its watch on control/shutdown was registered again: a poweroff request works.
    await other.xs.write(`/local/domain/${r.domid}/control/shutdown`, 'poweroff');
    await until(other, 'poweroff', () => r.shutdownReason >= 0);
    expect(r.shutdownName).toBe('poweroff');
    await other.close();
  });

  it('through its suspend event channel when it offers one (device/suspend/event-channel), twice', async () => {
    const host = new Host();
    const d = await host.createDomain(config('evtchn', 'suspend-evtchn'));
    await until(host, 'tick 2', ticked(d, 2));
    const port = await host.xs.readString(`/local/domain/${d.domid}/device/suspend/event-channel`);
    expect(port).toMatch(/^\d+$/);
    for (let i = 0; i < 2; i++) {
      await saveDomainToBytes(host, d.domid, { keep: true });
      await until(host, 'ticks', ticked(d, lastTick(d.consoleText()) + 2));
    }
    expect(d.consoleText().match(/resumed rc=1/g)).toHaveLength(2);
    // control/shutdown was not used.
    expect(await host.xs.readString(`/local/domain/${d.domid}/control/shutdown`)).toBe('');
    await host.close();
  });

  it("a guest that never acknowledges has the request withdrawn (libxl: guest didn't acknowledge suspend) and goes on untouched", async () => {
    const host = new Host({ suspendTimeoutMs: 300 });
    const d = await host.createDomain(config('deaf', 'suspend=ignore'));
    await until(host, 'tick 2', ticked(d, 2));
    await expect(saveDomainToBytes(host, d.domid, { keep: true })).rejects.toThrow(
      `dom${d.domid} (deaf): guest didn't acknowledge suspend, cancelling request`,
    );
    expect(await host.xs.readString(`/local/domain/${d.domid}/control/shutdown`)).toBe('');
    expect(d.paused).toBe(false);
    await until(host, 'ticks', ticked(d, lastTick(d.consoleText()) + 2));
    expect(d.consoleText()).not.toContain('suspending');
    await host.close();
  });

  it('a guest that acknowledges but does not suspend times out (libxl: guest did not suspend, timed out) and goes on', async () => {
    const host = new Host({ suspendTimeoutMs: 300 });
    const d = await host.createDomain(config('lazy', 'suspend=ack'));
    await until(host, 'tick 2', ticked(d, 2));
    await expect(saveDomainToBytes(host, d.domid)).rejects.toThrow(
      `dom${d.domid} (lazy): guest did not suspend, timed out`,
    );
    expect(host.domains.get(d.domid)).toBe(d); // not destroyed
    expect(d.consoleText()).toContain('lifecycle: not suspending\n');
    await until(host, 'ticks', ticked(d, lastTick(d.consoleText()) + 2));
    await host.close();
  });

  it('a guest without the PV control interface (no control/feature-suspend) is saved paused, never asked, and keeps its watches', async () => {
    const host = new Host();
    const cfg = parseDomainConfig(`name = "b"\nkernel = "${BALLOON}"\nmemory = 16\n`);
    const d = await host.createDomain(cfg);
    await until(host, 'balloon start', () => d.consoleText().includes('balloon: target='));
    await saveDomainToBytes(host, d.domid, { keep: true });
    expect(await host.xs.readString(`/local/domain/${d.domid}/control/shutdown`)).toBe('');
    expect(d.state).not.toBe('shutdown');
    // Its xenstore connection, and so its watch on memory/target, outlived the save (as under
    // Xen): mem-set still reaches it. The same after a whole-host save.
    await host.setMemoryTarget(d.domid, 12 * 1024);
    await until(host, 'balloon', () => d.consoleText().includes('balloon: target=12288 KiB'));
    await host.save();
    await host.setMemoryTarget(d.domid, 14 * 1024);
    await until(host, 'balloon', () => d.consoleText().includes('balloon: target=14336 KiB'));
    await host.close();
  });
});

describe('the lifecycle guest beside the real Xen 4.17', () => {
  it('prints the same console and leaves the same control directory as under Xen 4.17 (selftest: it asks itself to power off)', async () => {
    const host = new Host();
    const cfgText = GOLDEN('xen-reference.cfg').replace(
      /^kernel = .*$/m,
      `kernel = "${LIFECYCLE}"`,
    );
    const d = await host.createDomain(parseDomainConfig(cfgText));
    await until(host, 'poweroff', () => d.shutdownReason >= 0);
    expect(d.consoleText()).toBe(GOLDEN('golden-xen-4.17.txt'));
    expect(d.shutdownName).toBe('poweroff');
    expect(host.lookup(d.domid).state).toBe('shutdown'); // on_poweroff = "preserve"
    // xenstore-ls -fp lines of the control directory, with the domain ID of the Xen run (1).
    const lines: string[] = [];
    const base = `/local/domain/${d.domid}/control`;
    const show = async (path: string): Promise<void> => {
      const value = await host.xs.readString(path);
      const perms = (await host.xs.getPerms(path)).join(',');
      lines.push(
        `${path.replace(`/local/domain/${d.domid}/`, '/local/domain/1/')} = "${value}"   (${perms})`,
      );
    };
    await show(base);
    for (const k of [
      'shutdown',
      'feature-poweroff',
      'feature-reboot',
      'feature-suspend',
      'sysrq',
      'platform-feature-multiprocessor-suspend',
      'platform-feature-xs_reset_watches',
    ])
      await show(`${base}/${k}`);
    expect(`${lines.join('\n')}\n`).toBe(
      GOLDEN('golden-xen-4.17-control.txt')
        .replaceAll('r1', `r${d.domid}`)
        .replaceAll('(n1)', `(n${d.domid})`),
    );
    await host.close();
  });
});

describe("start_info after a restore (libxc's process_start_info)", () => {
  it('points shared_info at the new frame in both layouts, and leaves a page that is no longer start_info alone', () => {
    const page = (magic: string): Uint8Array => {
      const p = new Uint8Array(4096).fill(0xee);
      p.set(new TextEncoder().encode(magic));
      return p;
    };
    const p64 = page('xen-3.0-x86_64');
    localiseStartInfo(p64, false, 0x1234_5000);
    const v64 = new DataView(p64.buffer);
    expect(v64.getBigUint64(40, true)).toBe(0x1234_5000n);
    expect(v64.getUint32(32, true)).toBe(0xeeeeeeee); // nr_pages untouched
    expect(v64.getUint32(48, true)).toBe(0xeeeeeeee); // flags untouched
    const p32 = page('xen-3.0-x86_32p');
    localiseStartInfo(p32, true, 0x0abc_d000);
    const v32 = new DataView(p32.buffer);
    expect(v32.getUint32(36, true)).toBe(0x0abc_d000);
    expect(v32.getUint32(32, true)).toBe(0xeeeeeeee);
    expect(v32.getUint32(40, true)).toBe(0xeeeeeeee);
    const other = page('not start_info');
    const before = other.slice();
    localiseStartInfo(other, false, 0x5000);
    expect(other).toEqual(before);
  });
});

describe('on_poweroff, on_reboot and on_crash', () => {
  async function shutDown(host: Host, d: HostDomain, how: 'poweroff' | 'reboot' | 'crash') {
    await until(host, 'tick 2', ticked(d, 2));
    if (how === 'crash') host.consoleInput(d.domid, new TextEncoder().encode('crash\r'));
    else await host.xs.write(`/local/domain/${d.domid}/control/shutdown`, how);
    await until(host, `${how}`, () => d.shutdownReason >= 0 || host.domains.get(d.domid) !== d);
  }

  it('restart (on_reboot default): the domain is destroyed and a new one boots under the name, counting from 1', async () => {
    const host = new Host();
    const actions: string[] = [];
    host.onShutdown = (dom, action) => actions.push(`${dom.name}:${dom.shutdownName}:${action}`);
    const d = await host.createDomain(config('rb'));
    await shutDown(host, d, 'reboot');
    expect(d.consoleText()).toContain('lifecycle: reboot\n');
    expect(host.domains.get(d.domid)).toBeUndefined();
    const next = host.lookup('rb');
    expect(next.domid).not.toBe(d.domid);
    await until(host, 'new ticks', ticked(next, 2));
    expect(next.consoleText()).toMatch(/^lifecycle: boot period=20 ms[^\n]*\ntick 1\n/);
    expect(actions).toEqual(['rb:reboot:restart']);
    await host.close();
  });

  it("rename-restart: the old domain stays, shut down, renamed with xl's time suffix; a new one runs under the name", async () => {
    const host = new Host();
    const uuid = '5a1f0e2d-0000-4000-8000-00000000c0de';
    const d = await host.createDomain(
      config('rr', '', `on_reboot = "rename-restart"\nuuid = "${uuid}"\n`),
    );
    expect(d.uuid).toBe(uuid);
    await shutDown(host, d, 'reboot');
    expect(host.domains.get(d.domid)).toBe(d);
    expect(d.state).toBe('shutdown');
    expect(d.name).toMatch(/^rr-\d{8}T\d{4}Z$/);
    expect(await host.xs.readString(`/local/domain/${d.domid}/name`)).toBe(d.name);
    const next = host.lookup('rr');
    expect(next.domid).not.toBe(d.domid);
    // Two domains, two UUIDs and /vm directories.
    expect(next.uuid).not.toBe(uuid);
    expect(await host.xs.readString(`/vm/${uuid}/name`)).toBe(d.name);
    expect(await host.xs.readString(`/vm/${next.uuid}/name`)).toBe('rr');
    await until(host, 'new ticks', ticked(next, 1));
    await host.close();
  });

  it("xl's preserve suffix is -YYYYMMDDTHHMMZ in UTC", () => {
    expect(preserveSuffix(new Date(Date.UTC(2026, 0, 2, 3, 4, 5)))).toBe('-20260102T0304Z');
  });

  for (const [action, expectDomain] of [
    ['preserve', 'kept'],
    ['destroy', 'gone'],
    ['restart', 'new'],
  ] as const) {
    it(`on_crash=${action}: a guest that crashes (console "crash") is ${expectDomain}`, async () => {
      const host = new Host();
      const d = await host.createDomain(config(`c-${action}`, '', `on_crash = "${action}"\n`));
      await shutDown(host, d, 'crash');
      expect(d.consoleText()).toContain('echo: crash\nlifecycle: crash requested\n');
      expect(d.shutdownName).toBe('crash');
      if (expectDomain === 'kept') expect(host.lookup(d.domid).state).toBe('shutdown');
      else if (expectDomain === 'gone') expect(host.domains.size).toBe(0);
      else {
        const next = host.lookup(`c-${action}`);
        expect(next.domid).not.toBe(d.domid);
        await until(host, 'new boot', ticked(next, 1));
      }
      await host.close();
    });
  }

  it('on_poweroff=preserve keeps the powered-off domain; a suspended domain gets no action at all', async () => {
    const host = new Host();
    const actions: string[] = [];
    host.onShutdown = (dom, action) => actions.push(`${dom.shutdownName}:${action}`);
    const d = await host.createDomain(config('po', '', 'on_poweroff = "preserve"\n'));
    await shutDown(host, d, 'poweroff');
    expect(host.lookup(d.domid).state).toBe('shutdown');
    // A guest that suspends by itself (nobody saving it) stays suspended: xl only logs it.
    const s = await host.createDomain(config('sus'));
    await until(host, 'tick 1', ticked(s, 1));
    await host.xs.write(`/local/domain/${s.domid}/control/shutdown`, 'suspend');
    await until(host, 'suspend', () => s.shutdownReason >= 0);
    expect(s.shutdownName).toBe('suspend');
    expect(host.lookup(s.domid)).toBe(s);
    // …until resumed in place.
    expect(resumeSuspended(host, s)).toBe(0);
    await until(host, 'resumed', () => s.consoleText().includes('lifecycle: resumed rc=1'));
    await until(host, 'ticks', ticked(s, lastTick(s.consoleText()) + 2));
    expect(actions).toEqual(['poweroff:preserve', 'suspend:preserve']);
    await host.close();
  });
});
