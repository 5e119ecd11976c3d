/**
 * Lifecycle policies and the hypervisor console through the daemon, with the repository's
 * nasm-built PV test guest (tests/pv-boot/guest/pv-hello.asm): it prints with
 * HYPERVISOR_console_io (what `dmesg` shows as `(d<id>)` lines) and powers off, or crashes.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DaemonClient, type DomainListEntry, TypevisorDaemon } from '@typevisor/toolstack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tv, waitFor } from './support.ts';

const GUEST = fileURLToPath(new URL('../pv-boot/guest/pv-hello.asm', import.meta.url));
const haveNasm = existsSync('/usr/bin/nasm');

describe.skipIf(!haveNasm && !process.env.CI)('domain lifecycle through the daemon', () => {
  let dir: string;
  let env: Record<string, string>;
  let daemon: TypevisorDaemon;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tv-life-'));
    env = { TYPEVISOR_RUN_DIR: dir };
    for (const [out, def] of [
      ['hello.elf', []],
      ['crash.elf', ['-DCRASH_PF']],
    ] as const) {
      execFileSync('/usr/bin/nasm', ['-f', 'bin', ...def, '-o', join(dir, out), GUEST]);
    }
    daemon = await TypevisorDaemon.start({
      socketPath: join(dir, 'typevisor.sock'),
      time: 'virtual',
      memoryMiB: 64,
    });
  });

  afterAll(async () => {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const cfg = (name: string, kernel: string, extra: string): string => {
    const path = join(dir, `${name}.cfg`);
    writeFileSync(path, `name = "${name}"\nkernel = "${join(dir, kernel)}"\nmemory = 8\n${extra}`);
    return path;
  };

  const row = async (name: string): Promise<DomainListEntry | undefined> => {
    const r = await tv(['list', '-l'], env);
    const all = JSON.parse(r.out) as { domid: number; config: { c_info: { name: string } } }[];
    const hit = all.find((d) => d.config.c_info.name === name);
    if (hit === undefined) return undefined;
    const text = (await tv(['list', String(hit.domid)], env)).out.split('\n')[1] ?? '';
    return { domid: hit.domid, state: text.split(/\s+/)[4] } as DomainListEntry;
  };

  it('on_poweroff=preserve keeps a powered-off guest as "s" until destroy; dmesg has its console_io output', async () => {
    const r = await tv(
      ['create', '-q', cfg('hello', 'hello.elf', 'on_poweroff = "preserve"\n')],
      env,
    );
    expect(r).toEqual({ code: 0, out: '', err: '' });
    await waitFor('the guest to power off', async () => (await row('hello'))?.state === '---s--');
    const { domid } = (await row('hello')) as DomainListEntry;
    const dmesg = (await tv(['dmesg'], env)).out;
    expect(dmesg).toMatch(new RegExp(`\\(d${domid}\\) \\S`));
    expect(dmesg).toContain(`(XEN) dom${domid} (hello) shut down: poweroff, action preserve\n`);
    // xl dmesg -c prints, then clears.
    expect((await tv(['dmesg', '-c'], env)).out).toBe(dmesg);
    expect((await tv(['dmesg'], env)).out).toBe('');
    expect((await tv(['destroy', 'hello'], env)).code).toBe(0);
    expect(await row('hello')).toBeUndefined();
  });

  it('on_crash=preserve shows a crashed guest as "c" and logs the crash; on_crash=destroy removes it', async () => {
    await tv(['create', '-q', cfg('crashy', 'crash.elf', 'on_crash = "preserve"\n')], env);
    await waitFor('the guest to crash', async () => (await row('crashy'))?.state === '----c-');
    const { domid } = (await row('crashy')) as DomainListEntry;
    const dmesg = (await tv(['dmesg'], env)).out;
    expect(dmesg).toContain(`(XEN) dom${domid} (crashy) crashed: `);
    expect(dmesg).toContain(`(XEN) dom${domid} (crashy) shut down: crash, action preserve\n`);
    expect((await tv(['destroy', String(domid)], env)).code).toBe(0);

    await tv(['create', '-q', cfg('gone', 'crash.elf', '')], env);
    await waitFor('the crashed guest to be destroyed', async () =>
      (await tv(['dmesg'], env)).out.includes('(gone) shut down: crash, action destroy'),
    );
    expect(await row('gone')).toBeUndefined();
  });

  it('rename changes the name everywhere and refuses a taken one', async () => {
    await tv(['create', '-q', '-p', cfg('a', 'hello.elf', '')], env);
    await tv(['create', '-q', '-p', cfg('b', 'hello.elf', '')], env);
    expect(await tv(['rename', 'a', 'b'], env)).toEqual({
      code: 1,
      out: '',
      err: 'typevisor rename: a domain named "b" already exists\n',
    });
    expect((await tv(['rename', 'a', 'c'], env)).code).toBe(0);
    const id = (await tv(['domid', 'c'], env)).out.trim();
    expect(await daemon.host.xs.read(`/local/domain/${id}/name`)).toEqual(
      new TextEncoder().encode('c'),
    );
    expect((await tv(['domid', 'a'], env)).err).toBe('typevisor domid: no domain "a"\n');
    await tv(['destroy', 'b'], env);
    await tv(['destroy', 'c'], env);
  });
  it('console input for a guest that does not read is queued up to 1 MiB, then refused', async () => {
    await tv(['create', '-q', '-p', cfg('deaf', 'hello.elf', '')], env);
    const c = await DaemonClient.connect(join(dir, 'typevisor.sock'));
    const chunk = Buffer.alloc(400 * 1024, 0x61).toString('base64');
    expect(await c.call('console.input', { domain: 'deaf', data: chunk })).toMatchObject({
      bytes: 400 * 1024,
    });
    await c.call('console.input', { domain: 'deaf', data: chunk });
    await expect(c.call('console.input', { domain: 'deaf', data: chunk })).rejects.toThrow(
      /is not reading its console \(\d+ bytes of input waiting\)/,
    );
    // The daemon still answers, and destroying the domain drops its queue.
    expect((await tv(['destroy', 'deaf'], env)).code).toBe(0);
    c.close();
  });
  it('create: -n prints the checked config, KEY=VALUE overrides win, a bad one names its line, names are unique', async () => {
    const path = cfg('dry', 'hello.elf', '');
    const dry = await tv(['create', '-n', '-q', path, 'memory=16', 'name="wet"'], env);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.out)).toMatchObject({
      name: 'wet',
      memory: 16,
      kernel: join(dir, 'hello.elf'),
      source: path,
    });
    expect((await tv(['list'], env)).out).not.toContain('wet');
    // The file has 3 lines; overrides are appended after it, as xl does.
    expect(await tv(['create', '-q', path, 'vcpus=1', 'memory="lots"'], env)).toEqual({
      code: 1,
      out: '',
      err: `typevisor create: ${path}:5: memory: expected a number, got "lots"\n`,
    });
    expect((await tv(['create', '-q', path, 'memory=lots'], env)).err).toBe(
      `typevisor create: ${path}:4: config parsing error near \`lots': expected a string, a number or a list\n`,
    );
    expect(await tv(['create', '-q', path, 'nonsense'], env)).toEqual({
      code: 2,
      out: '',
      err: 'typevisor create: "nonsense" is not a KEY=VALUE setting\n',
    });
    expect((await tv(['create', '-q', '-p', path], env)).code).toBe(0);
    expect(await tv(['create', '-q', '-p', path], env)).toEqual({
      code: 1,
      out: '',
      err: 'typevisor create: a domain named "dry" already exists\n',
    });
    expect(await tv(['create', '-q', path, 'name="Domain-0"'], env)).toEqual({
      code: 1,
      out: '',
      err: 'typevisor create: the name "Domain-0" is taken by dom0\n',
    });
    await tv(['destroy', 'dry'], env);
  });
});
