/**
 * `mem-set`, `mem-max`, `sched-credit` and `sched-sedf` through a real daemon (virtual time,
 * temporary run directory) with the repository's balloon guest (`tests/guests/balloon`): the
 * guest sees the new target and balloons, `list` shows the new Mem, the scheduler verbs print
 * xl's tables and refuse bad input with xl's messages.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TypevisorDaemon } from '@typevisor/toolstack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleTap, tv } from '../toolstack-cli/support.ts';

const BALLOON = fileURLToPath(new URL('../guests/balloon/balloon-x86_64.elf', import.meta.url));

function listRow(out: string, name: string): string[] {
  const line = out.split('\n').find((l) => l.startsWith(`${name} `)) ?? '';
  return line.trim().split(/\s+/);
}

describe('mem-set and mem-max through the daemon', () => {
  let dir: string;
  let env: Record<string, string>;
  let daemon: TypevisorDaemon;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tv-mem-'));
    env = { TYPEVISOR_RUN_DIR: dir };
    daemon = await TypevisorDaemon.start({
      socketPath: join(dir, 'typevisor.sock'),
      time: 'virtual',
      memoryMiB: 128,
    });
    const cfg = join(dir, 'b.cfg');
    writeFileSync(cfg, `name = "bal"\nkernel = "${BALLOON}"\nmemory = 32\nmaxmem = 48\n`);
    expect((await tv(['create', cfg], env)).code).toBe(0);
  });

  afterAll(async () => {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the guest balloons to the target mem-set writes, and list shows the new Mem', async () => {
    const con = await ConsoleTap.open(join(dir, 'typevisor.sock'), 'bal');
    await con.expect('balloon: target=32768 KiB current=32768 KiB');
    expect(listRow((await tv(['list'], env)).out, 'bal')[2]).toBe('32');

    const mark = con.text.length;
    const r = await tv(['mem-set', 'bal', '20m'], env);
    expect(r).toMatchObject({ code: 0, out: '', err: '' });
    await con.expect('balloon: target=20480 KiB current=20480 KiB', mark);
    expect(listRow((await tv(['list'], env)).out, 'bal')[2]).toBe('20');

    // 24576k is 24 MiB: the units are xl's.
    const mark2 = con.text.length;
    expect((await tv(['mem-set', 'bal', '24576k'], env)).code).toBe(0);
    await con.expect('balloon: target=24576 KiB current=24576 KiB', mark2);
    expect(listRow((await tv(['list'], env)).out, 'bal')[2]).toBe('24');
    con.client.close();
  });

  it('mem-max lowers static-max and later targets above it are refused as xl does', async () => {
    expect((await tv(['mem-max', 'bal', '30m'], env)).code).toBe(0);
    const r = await tv(['mem-set', 'bal', '40m'], env);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/memory_dynamic_max must be less than or equal to memory_static_max/);
    const below = await tv(['mem-max', 'bal', '8m'], env);
    expect(below.code).toBe(1);
    expect(below.err).toMatch(/memory_static_max must be greater than/);
    const json = JSON.parse((await tv(['list', '-l', 'bal'], env)).out) as unknown[];
    expect(json).toHaveLength(1);
  });

  it('rejects bad sizes and unknown domains with xl-style messages', async () => {
    const bad = await tv(['mem-set', 'bal', '12q'], env);
    expect(bad).toMatchObject({ code: 1, err: 'invalid memory size: 12q\n' });
    expect((await tv(['mem-max', 'bal', 'lots'], env)).err).toBe('invalid memory size: lots\n');
    const zero = await tv(['mem-set', 'bal', '0'], env);
    expect(zero.code).toBe(1);
    expect(zero.err).toMatch(/invalid memory size/);
    const nodom = await tv(['mem-set', 'nosuch', '16m'], env);
    expect(nodom.code).toBe(1);
    expect(nodom.err).toMatch(/no domain "nosuch"/);
    expect((await tv(['mem-set', 'bal'], env)).code).toBe(2);
    expect((await tv(['mem-set', 'Domain-0', '16m'], env)).err).toMatch(/Domain-0/);
  });
});

describe('sched-credit through the daemon', () => {
  let dir: string;
  let env: Record<string, string>;
  let daemon: TypevisorDaemon;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tv-sched-'));
    env = { TYPEVISOR_RUN_DIR: dir };
    daemon = await TypevisorDaemon.start({
      socketPath: join(dir, 'typevisor.sock'),
      time: 'virtual',
      memoryMiB: 64,
    });
    for (const [name, extra] of [
      ['alpha', 'cpu_weight = 512\n'],
      ['beta', 'cap = 50\n'],
      ['gamma', 'maxvcpus = 2\n'],
    ] as const) {
      const cfg = join(dir, `${name}.cfg`);
      writeFileSync(cfg, `name = "${name}"\nkernel = "${BALLOON}"\nmemory = 8\n${extra}`);
      expect((await tv(['create', '-p', cfg], env)).code).toBe(0);
    }
  });

  afterAll(async () => {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lists the pool and every domain in xl's columns", async () => {
    const r = await tv(['sched-credit'], env);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      [
        'Cpupool Pool-0: tslice=30ms ratelimit=0us migration-delay=0us',
        'Name                                ID Weight  Cap',
        'Domain-0                             0    256    0',
        'alpha                                1    512    0',
        'beta                                 2    256   50',
        'gamma                                3    256    0',
        '',
      ].join('\n'),
    );
    expect((await tv(['sched-credit', '-s'], env)).out).toBe(
      'Cpupool Pool-0: tslice=30ms ratelimit=0us migration-delay=0us\n',
    );
  });

  it('sets weight and cap of one domain; an omitted value stays', async () => {
    expect(await tv(['sched-credit', '-d', 'alpha', '-w', '1024'], env)).toMatchObject({
      code: 0,
      out: '',
    });
    expect((await tv(['sched-credit', '-d', 'alpha', '-c', '25'], env)).code).toBe(0);
    expect((await tv(['sched-credit', '-d', 'alpha'], env)).out).toBe(
      [
        'Name                                ID Weight  Cap',
        'alpha                                1   1024   25',
        '',
      ].join('\n'),
    );
  });

  it("refuses bad values and combinations with xl's messages", async () => {
    const w = await tv(['sched-credit', '-d', 'alpha', '-w', '70000'], env);
    expect(w.code).toBe(1);
    expect(w.err).toMatch(/Cpu weight out of range, valid values are within range from 1 to 65535/);
    const c = await tv(['sched-credit', '-d', 'beta', '-c', '101'], env);
    expect(c.err).toMatch(/Cpu cap out of range, valid range is from 0 to 100 /);
    // gamma may have 2 vCPUs: 200% is its limit.
    expect((await tv(['sched-credit', '-d', 'gamma', '-c', '200'], env)).code).toBe(0);
    const c2 = await tv(['sched-credit', '-d', 'gamma', '-c', '201'], env);
    expect(c2.err).toMatch(/valid range is from 0 to 200 for specified number of vcpus/);
    expect((await tv(['sched-credit', '-w', '5'], env)).err).toBe('Must specify a domain.\n');
    expect((await tv(['sched-credit', '-s', '-d', 'alpha'], env)).err).toBe(
      'Specifying a cpupool or schedparam is not allowed with domain options.\n',
    );
    expect((await tv(['sched-credit', '-t', '10'], env)).err).toBe(
      'Must specify schedparam to set schedule parameter values.\n',
    );
    expect((await tv(['sched-credit', '-p', 'Pool-9'], env)).err).toBe(
      "unknown cpupool 'Pool-9'\n",
    );
    expect((await tv(['sched-credit', '-d', 'alpha', '-w', 'x'], env)).code).toBe(2);
    const s = await tv(['sched-sedf', '-d', 'alpha'], env);
    expect(s.code).toBe(1);
    expect(s.err).toMatch(/libxl_domain_sched_params_get returned credit not sedf/);
    expect((await tv(['sched-sedf'], env)).out).toBe('');
  });
});

describe('sched-sedf through a daemon running sEDF', () => {
  let dir: string;
  let env: Record<string, string>;
  let daemon: TypevisorDaemon;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tv-sedf-'));
    env = { TYPEVISOR_RUN_DIR: dir };
    daemon = await TypevisorDaemon.start({
      socketPath: join(dir, 'typevisor.sock'),
      time: 'virtual',
      memoryMiB: 64,
      scheduler: 'sedf',
    });
    const cfg = join(dir, 'g.cfg');
    writeFileSync(cfg, `name = "g"\nkernel = "${BALLOON}"\nmemory = 8\n`);
    expect((await tv(['create', '-p', cfg], env)).code).toBe(0);
  });

  afterAll(async () => {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows and sets period, slice, latency, extra and weight in ms', async () => {
    expect(
      (await tv(['sched-sedf', '-d', 'g', '-p', '50', '-s', '10', '-l', '5', '-e', '0'], env)).code,
    ).toBe(0);
    expect((await tv(['sched-sedf'], env)).out).toBe(
      [
        'Cpupool Pool-0:',
        'Name                                ID Period Slice  Latency Extra Weight',
        'g                                    1     50     10       5     0      0',
        '',
      ].join('\n'),
    );
    expect((await tv(['sched-sedf', '-d', 'g', '-w', '3', '-e', '1'], env)).code).toBe(0);
    // Extra-time weight, as Xen's sedf_adjust stores it: a 100 ms period, no slice, and the
    // weight kept as the extra weight (getinfo reports the real-time weight, 0).
    const row = (await tv(['sched-sedf', '-d', 'g'], env)).out.split('\n')[1] ?? '';
    expect(row.trim().split(/\s+/)).toEqual(['g', '1', '100', '0', '5', '1', '0']);
  });

  it('refuses a slice longer than the period, and credit verbs on an sEDF host', async () => {
    const r = await tv(['sched-sedf', '-d', 'g', '-p', '10', '-s', '20'], env);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/setting domain sched sedf/);
    expect((await tv(['sched-sedf', '-w', '2'], env)).err).toBe('Must specify a domain.\n');
    const c = await tv(['sched-credit', '-d', 'g'], env);
    expect(c.err).toMatch(/libxl_domain_sched_params_get returned sedf not credit/);
  });
});
