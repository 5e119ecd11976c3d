/**
 * Issue 8's xl verbs on one repository guest, through real daemons (in this process, real time):
 * the lifecycle guest (tests/guests/lifecycle) prints "tick N" every 50 ms, echoes console
 * lines, crashes on "crash" and answers control/shutdown (poweroff, reboot, suspend) as Linux
 * does. Every assertion is on something the guest shows — its counter stopping and going on,
 * its echo, its suspend and resume lines, a new boot after a reboot — not only exit codes.
 * The verbs that need another guest's feature (balloon, vCPU hot-plug, block and network
 * hot-plug) are in every-verb-devices.test.ts.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type HostDomain, TypevisorDaemon } from '@typevisor/toolstack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleTap, spawnTv, tv, waitFor } from '../toolstack-cli/support.ts';

const GUEST = fileURLToPath(new URL('../guests/lifecycle/lifecycle-x86_64.elf', import.meta.url));

/** Every "tick N" in the text, in order. */
function ticks(text: string): number[] {
  return [...text.matchAll(/^tick (\d+)$/gm)].map((m) => Number(m[1]));
}

/** Whether the ticks count 1, 2, 3, … with no gap or repeat. */
function gapless(values: readonly number[]): boolean {
  return values.every((v, i) => v === i + 1);
}

describe('every lifecycle verb on the lifecycle guest', { timeout: 120_000 }, () => {
  let dir: string;
  let envA: Record<string, string>;
  let envB: Record<string, string>;
  let a: TypevisorDaemon;
  let b: TypevisorDaemon;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tv-every-'));
    envA = { TYPEVISOR_SOCKET: join(dir, 'a.sock') };
    envB = { TYPEVISOR_SOCKET: join(dir, 'b.sock') };
    a = await TypevisorDaemon.start({ socketPath: join(dir, 'a.sock'), memoryMiB: 128 });
    b = await TypevisorDaemon.start({
      socketPath: join(dir, 'b.sock'),
      memoryMiB: 128,
      scheduler: 'sedf',
    });
    const cfg = (name: string, more = ''): void =>
      writeFileSync(
        join(dir, `${name}.cfg`),
        `name = "${name}"\nkernel = "${GUEST}"\nmemory = 16\nextra = "period=50"\n${more}`,
      );
    cfg('lc', 'on_crash = "preserve"\n');
    cfg('cc');
  });

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const A = (...args: string[]) => tv(args, envA, dir);
  const B = (...args: string[]) => tv(args, envB, dir);
  /** Waits until `d` has printed `more` ticks beyond what it has now. */
  const ticking = async (d: HostDomain, more = 3): Promise<void> => {
    const want = ticks(d.consoleText()).length + more;
    await waitFor(`${more} more ticks`, () => ticks(d.consoleText()).length >= want, 30_000);
  };
  const listRow = async (name: string, run = A): Promise<string[] | undefined> =>
    (await run('list')).out
      .split('\n')
      .find((l) => l.startsWith(`${name} `))
      ?.split(/\s+/);

  it('create -p leaves the guest paused before its first instruction; unpause starts it', async () => {
    expect((await A('create', '-q', '-p', 'lc.cfg')).code).toBe(0);
    expect((await listRow('lc'))?.[4]).toBe('--p---');
    const lc = a.host.lookup('lc');
    await new Promise((r) => setTimeout(r, 200));
    expect(lc.consoleText()).toBe('');
    expect((await A('unpause', 'lc')).code).toBe(0);
    await ticking(lc);
    expect(lc.consoleText()).toMatch(/^lifecycle: boot period=50 ms/);
    expect(await a.host.xs.readString(`/local/domain/${lc.domid}/control/feature-suspend`)).toBe(
      '1',
    );
  });

  it('pause stops the counter (state p); unpause lets it go on from where it was', async () => {
    const lc = a.host.lookup('lc');
    expect((await A('pause', 'lc')).code).toBe(0);
    // p, and b too when it was waiting for its timer (xl shows Xen's flags side by side).
    expect((await listRow('lc'))?.[4]).toMatch(/^-[b-]p---$/);
    const frozen = ticks(lc.consoleText()).length;
    await new Promise((r) => setTimeout(r, 400));
    expect(ticks(lc.consoleText()).length).toBe(frozen);
    expect((await A('unpause', 'lc')).code).toBe(0);
    await ticking(lc);
    expect(gapless(ticks(lc.consoleText()))).toBe(true);
  });

  it('console: typed input reaches the guest and its echo comes back; Ctrl-] detaches', async () => {
    const child = spawnTv(['console', 'lc'], envA);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString('latin1');
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    await waitFor('the console replay', () => out.includes('lifecycle: boot'), 60_000);
    child.stdin?.write('hello from xl console\r');
    await waitFor('the echo', () => out.includes('echo: hello from xl console\n'), 30_000);
    child.stdin?.write(Buffer.from([0x1d]));
    expect(await exited).toBe(0);
  });

  it('create -c attaches to the new guest at once', async () => {
    const child = spawnTv(['create', '-c', '-q', join(dir, 'cc.cfg')], envA);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString('latin1');
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    await waitFor('the new guest ticking', () => out.includes('tick 2\n'), 60_000);
    child.stdin?.write('typed at create\r');
    await waitFor('the echo', () => out.includes('echo: typed at create\n'), 30_000);
    child.stdin?.write(Buffer.from([0x1d]));
    expect(await exited).toBe(0);
    expect((await A('destroy', 'cc')).code).toBe(0);
    expect(await listRow('cc')).toBeUndefined();
  });

  it('domid, domname and rename agree with list, uptime, vcpu-list, top and xenstore', async () => {
    const lc = a.host.lookup('lc');
    expect((await A('domid', 'lc')).out).toBe(`${lc.domid}\n`);
    expect((await A('domname', String(lc.domid))).out).toBe('lc\n');
    expect((await A('rename', 'lc', 'renamed')).code).toBe(0);
    expect((await A('domid', 'renamed')).out).toBe(`${lc.domid}\n`);
    expect(await a.host.xs.readString(`/local/domain/${lc.domid}/name`)).toBe('renamed');
    expect((await listRow('renamed'))?.[1]).toBe(String(lc.domid));
    expect((await A('uptime')).out).toMatch(
      new RegExp(`\\nrenamed +${lc.domid} +\\d+:\\d\\d:\\d\\d\\n`),
    );
    expect((await A('vcpu-list', 'renamed')).out).toMatch(
      new RegExp(`\\nrenamed +${lc.domid} +0 +0 +[-r][-b]-`),
    );
    const top = (await A('top', '-b', '-i', '1')).out.split('\n');
    expect(top[0]).toMatch(/^ +NAME +STATE +CPU\(sec\)/);
    expect(top.some((l) => /^ +renamed /.test(l))).toBe(true);
    const long = JSON.parse((await A('list', '-l', 'renamed')).out) as {
      config: { c_info: { name: string } };
    }[];
    expect(long[0]?.config.c_info.name).toBe('renamed');
    expect((await A('rename', 'renamed', 'lc')).code).toBe(0);
    // The guest never noticed: it still counts.
    await ticking(lc);
  });

  it('info, dmesg and sched-credit describe the host; sched-sedf only where the daemon runs sEDF', async () => {
    const info = (await A('info')).out;
    expect(info).toMatch(/\nnr_domains +: 2\n/);
    expect(info).toMatch(/\nxen_caps +: xen-3.0-x86_64/);
    expect((await A('dmesg')).out).toMatch(/\(XEN\) dom\d+ \(lc\) created from lc\.cfg\n/);
    expect((await A('sched-credit', '-d', 'lc', '-w', '512')).code).toBe(0);
    expect((await A('sched-credit', '-d', 'lc')).out).toMatch(/\nlc +\d+ +512 +0\n/);
    // xl lists only the cpupools that run the scheduler asked for: none here.
    expect(await A('sched-sedf')).toMatchObject({ code: 0, out: '' });
    expect((await B('sched-sedf')).out).toMatch(
      /^Cpupool Pool-0:\nName +ID +Period Slice +Latency Extra Weight\n/,
    );
  });

  it('save -c: the guest suspends itself, is saved, and resumes in place (hypercall returns 1)', async () => {
    const lc = a.host.lookup('lc');
    const mark = lc.consoleText().length;
    const r = await A('save', '-c', 'lc', 'keep.save');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Saved domain \d+ \(lc\) to keep\.save: \d+ pages/);
    await ticking(lc);
    const after = lc.consoleText().slice(mark);
    expect(after).toMatch(/lifecycle: suspending\nlifecycle: resumed rc=1 at tick \d+\n/);
    expect(gapless(ticks(lc.consoleText()))).toBe(true);
    expect(statSync(join(dir, 'keep.save')).size).toBeGreaterThan(4096 * 8);
  });

  it('save and restore: the domain goes, comes back under a new domid and counts on (hypercall returns 0)', async () => {
    const before = a.host.lookup('lc');
    await ticking(before);
    const saved = await A('save', 'lc', 'lc.save');
    expect(saved.code).toBe(0);
    expect(await listRow('lc')).toBeUndefined();
    const savedTicks = ticks(before.consoleText());
    const restored = await A('restore', '--json', 'lc.save');
    expect(restored.code).toBe(0);
    const { domid } = JSON.parse(restored.out) as { domid: number };
    const lc = a.host.lookup('lc');
    expect(lc.domid).toBe(domid);
    expect(lc).not.toBe(before); // a new domain (its freed ID may be given again, as Xen does)
    await ticking(lc);
    const all = ticks(lc.consoleText());
    expect(all.slice(0, savedTicks.length)).toEqual(savedTicks);
    expect(gapless(all)).toBe(true);
    expect(lc.consoleText()).toContain(`lifecycle: resumed rc=0 at tick ${savedTicks.at(-1)}\n`);
  });

  it('a migration whose peer disconnects midway resumes the suspended guest in place (hypercall returns 1)', async () => {
    const server = createServer((sock) => {
      let got = 0;
      sock.on('data', (d: Buffer) => {
        got += d.length;
        if (got > 16_384) sock.destroy();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const lc = a.host.lookup('lc');
    const mark = lc.consoleText().length;
    const r = await A('migrate', 'lc', `127.0.0.1:${port}`);
    server.close();
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/the migration peer .* disconnected/);
    expect(a.host.lookup('lc')).toBe(lc);
    await ticking(lc);
    expect(lc.consoleText().slice(mark)).toMatch(
      /lifecycle: suspending\nlifecycle: resumed rc=1 at tick \d+\n/,
    );
    expect(gapless(ticks(lc.consoleText()))).toBe(true);
  });

  it('migrate --live to a second daemon: the counter goes on there, the source is gone', async () => {
    const listen = await B('migrate-receive', '--listen', '127.0.0.1:0');
    const port = Number(/:(\d+)\n/.exec(listen.out)?.[1]);
    expect(port).toBeGreaterThan(0);
    const src = a.host.lookup('lc');
    await ticking(src);
    const m = await A('migrate', '--live', '--json', 'lc', `127.0.0.1:${port}`);
    expect(m.code).toBe(0);
    const report = JSON.parse(m.out) as { live: boolean; rounds: number; downtimeMs: number };
    expect(report.live).toBe(true);
    expect(report.downtimeMs).toBeGreaterThan(0);
    expect(a.host.domains.has(src.domid)).toBe(false);
    const moved = b.host.lookup('lc');
    await ticking(moved);
    expect(gapless(ticks(moved.consoleText()))).toBe(true);
    expect(moved.consoleText()).toMatch(/lifecycle: resumed rc=0 at tick \d+\n/);
    // The sEDF daemon runs it with sEDF's defaults.
    expect((await B('sched-sedf', '-d', 'lc')).out).toMatch(/\nlc +\d+ /);
    expect(await listRow('lc', B)).toBeDefined();
  });

  it('reboot: on_reboot=restart destroys the domain and boots a new one, counting from 1 again', async () => {
    const old = b.host.lookup('lc');
    const r = await B('reboot', 'lc');
    expect(r.code).toBe(0);
    expect(r.err).toBe(`Rebooting domain ${old.domid}\n`);
    await waitFor('the new domain', () => {
      const d = [...b.host.domains.values()].find((x) => x.name === 'lc');
      return d !== undefined && d !== old && ticks(d.consoleText()).length >= 2;
    });
    expect(old.consoleText()).toContain('lifecycle: reboot\n');
    const fresh = b.host.lookup('lc');
    expect(fresh.domid).not.toBe(old.domid);
    expect(ticks(fresh.consoleText()).slice(0, 2)).toEqual([1, 2]);
    expect((await B('dmesg')).out).toContain(
      `(XEN) dom${old.domid} (lc) shut down: reboot, action restart\n`,
    );
  });

  it('crash: on_crash=preserve keeps the crashed domain as "c" until destroy', async () => {
    const lc = b.host.lookup('lc');
    const tap = await ConsoleTap.open(join(dir, 'b.sock'), 'lc');
    await tap.type('crash\r');
    await waitFor('the crash', () => lc.shutdownReason >= 0);
    tap.client.close();
    expect(lc.consoleText()).toContain('echo: crash\nlifecycle: crash requested\n');
    expect((await listRow('lc', B))?.[4]).toBe('----c-');
    expect((await B('destroy', 'lc')).code).toBe(0);
    expect(await listRow('lc', B)).toBeUndefined();
    expect(b.host.domains.size).toBe(0);
  });

  it('shutdown -w: the guest powers itself off when asked; on_poweroff=destroy removes it', async () => {
    expect((await A('create', '-q', 'lc.cfg')).code).toBe(0);
    const lc = a.host.lookup('lc');
    await ticking(lc, 2);
    const r = await A('shutdown', '-w', 'lc');
    expect(r).toEqual({
      code: 0,
      out: '',
      err: `Shutting down domain ${lc.domid}\nWaiting for 1 domains\nDomain ${lc.domid} has been destroyed.\nAll domains have been shut down\n`,
    });
    expect(lc.consoleText()).toContain('lifecycle: poweroff\n');
    expect(await listRow('lc')).toBeUndefined();
  });
  it('a guest that suspends by itself shows as "s" with reason suspend and gets no on_* action', async () => {
    expect((await A('create', '-q', 'lc.cfg', 'name="sus"')).code).toBe(0);
    const sus = a.host.lookup('sus');
    await ticking(sus, 2);
    await a.host.xs.write(`/local/domain/${sus.domid}/control/shutdown`, 'suspend');
    await waitFor('the suspend', () => sus.shutdownReason >= 0);
    expect((await listRow('sus'))?.[4]).toBe('---s--');
    const long = JSON.parse((await A('list', '-l', 'sus')).out) as unknown[];
    expect(long).toHaveLength(1);
    expect((await A('dmesg')).out).toContain(`(XEN) dom${sus.domid} (sus) has suspended\n`);
    expect(a.host.lookup('sus')).toBe(sus); // on_poweroff=destroy did not apply
    expect((await A('destroy', 'sus')).code).toBe(0);
  });
});
