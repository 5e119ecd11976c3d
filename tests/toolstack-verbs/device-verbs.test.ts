/**
 * `block-attach`, `block-detach`, `network-attach`, `network-detach`, `network-list` and `top`
 * through a real daemon (virtual time, temporary run directory) with the repository's balloon
 * guest, which has no block or network frontend: devices stay at the frontend's Initialising
 * state, as under Xen for a guest without the drivers, and removal needs no frontend answer.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TypevisorDaemon } from '@typevisor/toolstack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tv } from '../toolstack-cli/support.ts';

const BALLOON = fileURLToPath(new URL('../guests/balloon/balloon-x86_64.elf', import.meta.url));

describe('device verbs through the daemon', () => {
  let dir: string;
  let env: Record<string, string>;
  let daemon: TypevisorDaemon;
  let domid: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tv-dev-'));
    env = { TYPEVISOR_RUN_DIR: dir };
    writeFileSync(join(dir, 'disk.img'), new Uint8Array(1 << 20));
    writeFileSync(join(dir, 'extra.img'), new Uint8Array(2 << 20));
    daemon = await TypevisorDaemon.start({
      socketPath: join(dir, 'typevisor.sock'),
      time: 'virtual',
      memoryMiB: 64,
    });
    const cfg = join(dir, 'g.cfg');
    writeFileSync(
      cfg,
      [
        'name = "g"',
        `kernel = "${BALLOON}"`,
        'memory = 16',
        `disk = [ "${join(dir, 'disk.img')},raw,xvda,rw" ]`,
        'vif = [ "mac=00:16:3e:12:34:56,bridge=xenbr0,ip=10.1.1.2" ]',
        '',
      ].join('\n'),
    );
    const r = await tv(['create', cfg], env);
    expect(r.code).toBe(0);
    domid = daemon.host.lookup('g').domid;
  });

  afterAll(async () => {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a vif from the configuration is in network-list with xl's columns", async () => {
    const r = await tv(['network-list', 'g'], env);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      [
        'Idx BE Mac Addr.         handle state evt-ch   tx-/rx-ring-ref BE-path                       ',
        `0   0  00:16:3e:12:34:56     0     1     -1    -1/-1          /local/domain/0/backend/vif/${domid}/0`,
        '',
      ].join('\n'),
    );
    const be = `/local/domain/0/backend/vif/${domid}/0`;
    expect(await daemon.host.xs.readString(`${be}/ip`)).toBe('10.1.1.2');
    expect(await daemon.host.xs.readString(`${be}/state`)).toBe('2'); // netback waits (InitWait)
  });

  it('network-attach adds the next device id, network-detach removes it by MAC or id', async () => {
    expect(
      (await tv(['network-attach', 'g', 'mac=00:16:3e:aa:bb:cc', 'bridge=br1'], env)).code,
    ).toBe(0);
    expect((await tv(['network-attach', 'g'], env)).code).toBe(0);
    let rows = (await tv(['network-list', 'g'], env)).out.trim().split('\n').slice(1);
    expect(rows.map((l) => l.split(/\s+/).slice(0, 3).join(' '))).toEqual([
      '0 0 00:16:3e:12:34:56',
      '1 0 00:16:3e:aa:bb:cc',
      expect.stringMatching(/^2 0 00:16:3e:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$/),
    ]);
    expect(await daemon.host.xs.readString(`/local/domain/0/backend/vif/${domid}/1/bridge`)).toBe(
      'br1',
    );
    expect(await tv(['network-detach', 'g', '00:16:3e:aa:bb:cc'], env)).toMatchObject({
      code: 0,
      err: '',
    });
    expect((await tv(['network-detach', 'g', '2'], env)).code).toBe(0);
    rows = (await tv(['network-list', 'g'], env)).out.trim().split('\n').slice(1);
    expect(rows).toHaveLength(1);
    await expect(
      daemon.host.xs.readString(`/local/domain/${domid}/device/vif/1/mac`),
    ).rejects.toThrow();
  });

  it('refuses a bad MAC, a MAC in use and an unknown device', async () => {
    const bad = await tv(['network-attach', 'g', 'mac=00:16:3e:zz:00:01'], env);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/mac/i);
    const dup = await tv(['network-attach', 'g', 'mac=00:16:3e:12:34:56'], env);
    expect(dup.code).toBe(1);
    expect(dup.err).toMatch(/already used/);
    const driverDomain = await tv(['network-attach', 'g', 'backend=netdom'], env);
    expect(driverDomain.code).toBe(1);
    expect(driverDomain.err).toMatch(/only Domain-0 serves network devices/);
    const unknown = await tv(['network-detach', 'g', '7'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/Unknown device 7\./);
  });

  it('block-attach hot-plugs a disk shown by block-list; block-detach removes it', async () => {
    const r = await tv(
      ['block-attach', 'g', 'format=raw,vdev=xvdb,access=rw,target=extra.img'],
      env,
      dir,
    );
    expect(r).toMatchObject({ code: 0, err: '' });
    let list = (await tv(['block-list', 'g'], env)).out.trim().split('\n');
    expect(list.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['51712', '51728']);
    const be = `/local/domain/0/backend/vbd/${domid}/51728`;
    expect(await daemon.host.xs.readString(`${be}/params`)).toBe(join(dir, 'extra.img'));
    expect(await daemon.host.xs.readString(`${be}/state`)).toBe('2');
    expect(await tv(['block-detach', 'g', 'xvdb'], env)).toMatchObject({ code: 0, err: '' });
    list = (await tv(['block-list', 'g'], env)).out.trim().split('\n');
    expect(list.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['51712']);
  });

  it('refuses an unknown vdev, a missing image and a used vdev', async () => {
    const nodev = await tv(['block-detach', 'g', 'xvdz'], env);
    expect(nodev).toMatchObject({ code: 1 });
    expect(nodev.err).toMatch(/Error: Device xvdz not connected\./);
    const missing = await tv(['block-attach', 'g', `${join(dir, 'nope.img')},raw,xvdc,rw`], env);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/nope\.img/);
    const used = await tv(['block-attach', 'g', `${join(dir, 'extra.img')},raw,xvda,rw`], env);
    expect(used.code).toBe(1);
    expect(used.err).toMatch(/already has a disk xvda/);
    expect((await tv(['block-attach', 'g'], env)).code).toBe(2);
  });

  it("top -b prints xentop's columns with the domain's memory, nets and vbds", async () => {
    const r = await tv(['top', '-b', '-i', '2', '-d', '0.05'], env);
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toBe(
      '      NAME  STATE   CPU(sec) CPU(%)     MEM(k) MEM(%)  MAXMEM(k) MAXMEM(%) VCPUS NETS NETTX(k) NETRX(k) VBDS   VBD_OO   VBD_RD   VBD_WR  VBD_RSECT  VBD_WSECT SSID',
    );
    expect(lines.filter((l) => l.includes('NAME'))).toHaveLength(2);
    const g = lines.filter((l) => l.trim().startsWith('g '));
    expect(g).toHaveLength(2);
    const cols = (g[1] ?? '').trim().split(/\s+/);
    expect(cols[0]).toBe('g');
    expect(cols[4]).toBe('16384'); // MEM(k)
    expect(cols[6]).toBe(String(17 * 1024)); // MAXMEM(k): 16 MiB + libxl's 1 MiB
    expect(cols.slice(8, 13)).toEqual(['1', '1', '0', '0', '1']); // VCPUS NETS NETTX NETRX VBDS
    expect(lines.some((l) => l.includes('Domain-0') && l.includes('no limit'))).toBe(true);
    expect((await tv(['top', '-b', '-i', '0'], env)).code).toBe(2);
  });
});
