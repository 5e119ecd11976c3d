/**
 * Issue 8's resource and device verbs with the repository guests that have the feature (one
 * daemon, two physical CPUs, virtual time): the balloon guest for `mem-set`/`mem-max`, the SMP
 * guest in hot-plug mode for `vcpu-set`/`vcpu-pin`/`vcpu-list`, the blkhot guest for
 * `block-attach`/`-detach`/`-list` and the netping guest for `network-attach`/`-detach`/`-list`.
 * Each change is seen by the guest and by `list -l`, which reports the configuration as it is
 * now (libxl_retrieve_domain_configuration), not as it was created.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TypevisorDaemon } from '@typevisor/toolstack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleTap, tv } from '../toolstack-cli/support.ts';

const guest = (dir: string, elf: string): string =>
  fileURLToPath(new URL(`../${dir}/${elf}`, import.meta.url));
const BALLOON = guest('guests/balloon', 'balloon-x86_64.elf');
const SMP = guest('smp/guest', 'smp-x86_64.elf');
const BLKHOT = guest('guests/blkhot', 'blkhot-x86_64.elf');
const NETPING = guest('guests/netping', 'netping-x86_64.elf');

/** `xl list -l`'s JSON for one domain. */
interface LongEntry {
  domid: number;
  config: {
    c_info: { name: string };
    b_info: { max_memkb: number; target_memkb: number; avail_vcpus: number[] };
    disks?: { pdev_path: string; vdev: string; readwrite: number }[];
    nics?: { mac: string; bridge: string; devid: number }[];
  };
}

describe('every device and resource verb, seen by the guests and by list -l', () => {
  let dir: string;
  let env: Record<string, string>;
  let daemon: TypevisorDaemon;
  const sock = (): string => join(dir, 'typevisor.sock');
  const long = async (name: string): Promise<LongEntry> =>
    (JSON.parse((await tv(['list', '-l', name], env)).out) as LongEntry[])[0] as LongEntry;
  const cfg = (name: string, text: string): string => {
    const path = join(dir, `${name}.cfg`);
    writeFileSync(path, `name = "${name}"\n${text}`);
    return path;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tv-every-dev-'));
    env = { TYPEVISOR_RUN_DIR: dir };
    const img = new Uint8Array(1 << 20);
    img.set(new TextEncoder().encode('EVERY VERB DISK'));
    writeFileSync(join(dir, 'disk.img'), img);
    daemon = await TypevisorDaemon.start({
      socketPath: sock(),
      time: 'virtual',
      memoryMiB: 160,
      pcpus: 2,
    });
  });

  afterAll(async () => {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('mem-set: the balloon guest gives pages back and list / list -l show the target; mem-max caps it; shutdown does nothing to a guest without the PV control interface', async () => {
    const path = cfg('bal', `kernel = "${BALLOON}"\nmemory = 32\nmaxmem = 48\n`);
    expect((await tv(['create', '-q', path], env)).code).toBe(0);
    const con = await ConsoleTap.open(sock(), 'bal');
    await con.expect('balloon: target=32768 KiB current=32768 KiB');
    let mark = con.text.length;
    expect((await tv(['mem-set', 'bal', '20m'], env)).code).toBe(0);
    await con.expect('balloon: target=20480 KiB current=20480 KiB', mark);
    const row = (await tv(['list', 'bal'], env)).out.split('\n')[1]?.split(/\s+/);
    expect(row?.[2]).toBe('20');
    let l = await long('bal');
    expect(l.config.b_info.target_memkb).toBe(20480);
    expect(l.config.b_info.max_memkb).toBe(48 * 1024);
    expect((await tv(['mem-max', 'bal', '40m'], env)).code).toBe(0);
    l = await long('bal');
    expect(l.config.b_info.max_memkb).toBe(40 * 1024);
    mark = con.text.length;
    expect((await tv(['mem-set', 'bal', '28m'], env)).code).toBe(0); // it takes pages back
    await con.expect('balloon: target=28672 KiB current=28672 KiB', mark);
    expect((await long('bal')).config.b_info.target_memkb).toBe(28672);
    expect((await tv(['mem-set', 'bal', '44m'], env)).code).toBe(1); // above static-max
    // shutdown asks every PV guest through control/shutdown, as libxl does; this one does not
    // watch the node, so nothing happens and the request stays unacknowledged.
    const domid = Number((await tv(['domid', 'bal'], env)).out);
    expect(await tv(['shutdown', 'bal'], env)).toEqual({
      code: 0,
      out: '',
      err: `Shutting down domain ${domid}\n`,
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(await daemon.host.xs.readString(`/local/domain/${domid}/control/shutdown`)).toBe(
      'poweroff',
    );
    expect(daemon.host.lookup('bal').shutdownReason).toBe(-1);
    con.client.close();
    expect((await tv(['destroy', 'bal'], env)).code).toBe(0);
  });

  it('vcpu-set: the SMP guest brings vCPUs up and down; vcpu-pin shows in vcpu-list; list -l follows', async () => {
    const path = cfg(
      'smp',
      `kernel = "${SMP}"\nmemory = 16\nvcpus = 2\nmaxvcpus = 3\nextra = "hotplug"\n`,
    );
    expect((await tv(['create', '-q', path], env)).code).toBe(0);
    const con = await ConsoleTap.open(sock(), 'smp');
    await con.expect('hotplug.online 2\n');
    expect((await long('smp')).config.b_info.avail_vcpus).toEqual([0, 1]);
    let mark = con.text.length;
    expect((await tv(['vcpu-set', 'smp', '3'], env)).code).toBe(0);
    await con.expect('hotplug.online 3\n', mark);
    expect((await long('smp')).config.b_info.avail_vcpus).toEqual([0, 1, 2]);
    expect((await tv(['vcpu-pin', 'smp', '2', '1'], env)).code).toBe(0);
    const rows = (await tv(['vcpu-list', 'smp'], env)).out
      .split('\n')
      .filter((x) => x.startsWith('smp '))
      .map((x) => x.trim().split(/\s+/));
    expect(rows.map((r) => r.slice(6).join(' '))).toEqual(['all / all', 'all / all', '1 / all']);
    mark = con.text.length;
    expect((await tv(['vcpu-set', 'smp', '1'], env)).code).toBe(0);
    await con.expect('hotplug.online 1\n', mark);
    expect((await long('smp')).config.b_info.avail_vcpus).toEqual([0]);
    expect((await tv(['list', 'smp'], env)).out.split('\n')[1]?.split(/\s+/)[3]).toBe('1');
    con.client.close();
    expect((await tv(['destroy', 'smp'], env)).code).toBe(0);
  });

  it('block-attach: the blkhot guest reads the new disk; block-list and list -l show it until block-detach', async () => {
    const path = cfg('hot', `kernel = "${BLKHOT}"\nmemory = 16\n`);
    expect((await tv(['create', '-q', path], env)).code).toBe(0);
    const con = await ConsoleTap.open(sock(), 'hot');
    await con.expect('blkhot: waiting for disks');
    expect((await long('hot')).config.disks).toBeUndefined();
    let mark = con.text.length;
    const attach = await tv(['block-attach', 'hot', 'disk.img,raw,xvdb,rw'], env, dir);
    expect(attach).toMatchObject({ code: 0, err: '' });
    await con.expect('sector 0: EVERY VERB DISK', mark);
    const list = (await tv(['block-list', 'hot'], env)).out.trim().split('\n');
    expect(list.slice(1).map((x) => x.split(/\s+/).slice(0, 4).join(' '))).toEqual([
      '51728 0 51728 4',
    ]);
    const disks = (await long('hot')).config.disks;
    expect(disks).toEqual([
      expect.objectContaining({ pdev_path: join(dir, 'disk.img'), vdev: 'xvdb', readwrite: 1 }),
    ]);
    mark = con.text.length;
    expect(await tv(['block-detach', 'hot', 'xvdb'], env)).toMatchObject({ code: 0, err: '' });
    await con.expect('closed', mark);
    expect((await tv(['block-list', 'hot'], env)).out.trim().split('\n')).toHaveLength(1);
    expect((await long('hot')).config.disks).toBeUndefined();
    con.client.close();
    expect((await tv(['destroy', 'hot'], env)).code).toBe(0);
  });

  it('network-attach before the guest starts: netping connects the new VIF with its MAC; network-list and list -l show it until network-detach', async () => {
    const path = cfg('net', `kernel = "${NETPING}"\nmemory = 16\n`);
    expect((await tv(['create', '-q', '-p', path], env)).code).toBe(0);
    expect((await long('net')).config.nics).toBeUndefined();
    const mac = '00:16:3e:0e:0e:01';
    expect((await tv(['network-attach', 'net', `mac=${mac}`, 'bridge=xenbr7'], env)).code).toBe(0);
    const con = await ConsoleTap.open(sock(), 'net');
    expect((await tv(['unpause', 'net'], env)).code).toBe(0);
    await con.expect(`netping: pong ${mac}`);
    const domid = Number((await tv(['domid', 'net'], env)).out);
    const be = `/local/domain/0/backend/vif/${domid}/0`;
    await con.expect('connected');
    const rows = (await tv(['network-list', 'net'], env)).out.trim().split('\n').slice(1);
    expect(rows.map((x) => x.split(/\s+/).slice(0, 5).join(' '))).toEqual([`0 0 ${mac} 0 4`]);
    expect((await long('net')).config.nics).toEqual([
      expect.objectContaining({ mac, bridge: 'xenbr7', devid: 0 }),
    ]);
    expect(await daemon.host.xs.readString(`${be}/state`)).toBe('4');
    expect((await tv(['network-detach', 'net', mac], env)).code).toBe(0);
    expect((await tv(['network-list', 'net'], env)).out.trim().split('\n')).toHaveLength(1);
    expect((await long('net')).config.nics).toBeUndefined();
    con.client.close();
    expect((await tv(['destroy', 'net'], env)).code).toBe(0);
  });
});
