/**
 * `vcpu-list`, `vcpu-pin`, `vcpu-set` and `list`'s VCPUs column through a real daemon started
 * with `--pcpus 2` (virtual time, temporary run directory), with the repository's SMP guest in
 * its hotplug mode: the guest watches cpu/<n>/availability and takes vCPUs down or up.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TypevisorDaemon } from '@typevisor/toolstack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleTap, tv } from '../toolstack-cli/support.ts';

const GUEST = fileURLToPath(new URL('./guest/smp-x86_64.elf', import.meta.url));

function rows(out: string, name: string): string[][] {
  return out
    .split('\n')
    .filter((l) => l.startsWith(`${name} `))
    .map((l) => l.trim().split(/\s+/));
}

describe('the vCPU verbs through a daemon with two physical CPUs', () => {
  let dir: string;
  let env: Record<string, string>;
  let daemon: TypevisorDaemon;
  let con: ConsoleTap;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tv-smp-'));
    env = { TYPEVISOR_RUN_DIR: dir };
    daemon = await TypevisorDaemon.start({
      socketPath: join(dir, 'typevisor.sock'),
      time: 'virtual',
      memoryMiB: 64,
      pcpus: 2,
    });
    const cfg = join(dir, 'smp.cfg');
    writeFileSync(
      cfg,
      `name = "smp"\nkernel = "${GUEST}"\nmemory = 16\nvcpus = 2\nmaxvcpus = 3\nextra = "hotplug"\n`,
    );
    expect((await tv(['create', cfg], env)).code).toBe(0);
    con = await ConsoleTap.open(join(dir, 'typevisor.sock'), 'smp');
  });

  afterAll(async () => {
    con?.client.close();
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists every vCPU with xl columns, and list counts the online ones', async () => {
    await con.expect('hotplug.online 2\n');
    const out = (await tv(['vcpu-list', 'smp'], env)).out;
    expect(out.split('\n')[0]).toBe(
      'Name                                ID  VCPU   CPU State   Time(s) Affinity (Hard / Soft)',
    );
    const r = rows(out, 'smp');
    expect(r.map((x) => x[2])).toEqual(['0', '1', '2']);
    expect(r[2]?.[3]).toBe('-'); // offline: no CPU
    expect(r[2]?.[4]).toBe('--p');
    expect(r.map((x) => x.slice(6).join(' '))).toEqual(['all / all', 'all / all', 'all / all']);
    const listed = rows((await tv(['list', 'smp'], env)).out, 'smp')[0];
    expect(listed?.[3]).toBe('2');
    expect(listed?.[4]).toBe('-b----'); // every vCPU that is up waits for an event
    expect((await tv(['info'], env)).out).toContain('\nnr_cpus                : 2\n');
    const all = (await tv(['vcpu-list'], env)).out;
    expect(rows(all, 'Domain-0')).toHaveLength(1);
    expect(rows(all, 'smp')).toHaveLength(3);
  });

  it('vcpu-pin sets hard affinity (and shows soft), observed in vcpu-list', async () => {
    expect(await tv(['vcpu-pin', 'smp', '1', '0'], env)).toMatchObject({ code: 0, err: '' });
    expect(await tv(['vcpu-pin', 'smp', '0', '1', '0-1'], env)).toMatchObject({ code: 0 });
    const r = rows((await tv(['vcpu-list', 'smp'], env)).out, 'smp');
    expect(r.map((x) => x.slice(6).join(' '))).toEqual(['1 / all', '0 / all', 'all / all']);
    expect(r[1]?.[3]).toBe('0');
    expect(r[0]?.[3]).toBe('1');
    expect(await tv(['vcpu-pin', 'smp', 'all', 'all'], env)).toMatchObject({ code: 0 });
    const bad = await tv(['vcpu-pin', 'smp', '0', '5'], env);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/invalid CPU list "5"/);
    expect((await tv(['vcpu-pin', 'smp', '7', '0'], env)).err).toMatch(/invalid vCPU 7/);
    expect((await tv(['vcpu-pin', 'smp', 'x', '0'], env)).err).toBe('Invalid vcpu: x\n');
  });

  it('vcpu-set changes availability; the guest brings vCPU 2 up and list shows 3 VCPUs', async () => {
    const mark = con.text.length;
    expect(await tv(['vcpu-set', 'smp', '3'], env)).toMatchObject({ code: 0, err: '' });
    await con.expect('cpu.2.hotplug.up 0\nhotplug.online 3\n', mark);
    expect(rows((await tv(['list', 'smp'], env)).out, 'smp')[0]?.[3]).toBe('3');
    const mark2 = con.text.length;
    expect((await tv(['vcpu-set', 'smp', '1'], env)).code).toBe(0);
    await con.expect('hotplug.online 1\n', mark2);
    expect(rows((await tv(['list', 'smp'], env)).out, 'smp')[0]?.[3]).toBe('1');
    const tooMany = await tv(['vcpu-set', 'smp', '4'], env);
    expect(tooMany.code).not.toBe(0);
    expect(tooMany.err).toMatch(/at most 3/);
    expect((await tv(['vcpu-set', 'smp', 'two'], env)).err).toBe('Invalid vcpus: two\n');
  });
});
