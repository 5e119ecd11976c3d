/**
 * The `typevisor` daemon and xl verbs driving Debian's unmodified GRUB (grub-xen-host) as a PV
 * domain: real daemon process, real sockets, Debian's xenstore-ls and xenstore-read against the
 * daemon's xenstored socket. Virtual time, so the guest's view of time is deterministic.
 */

import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConsoleTap,
  GRUB_X86_64,
  haveTools,
  ROOT,
  runTvProcess,
  spawnTv,
  TV_ARGS,
  tv,
  waitFor,
} from './support.ts';

describe.skipIf(!haveTools && !process.env.CI)('typevisor daemon with Debian GRUB', () => {
  let dir: string;
  let env: Record<string, string>;
  let sock: string;
  let xsSock: string;
  let daemon: ChildProcess;
  let daemonLog = '';
  let daemonExit: Promise<number | null>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tv-cli-'));
    env = { TYPEVISOR_RUN_DIR: dir };
    sock = join(dir, 'typevisor.sock');
    xsSock = join(dir, 'xenstored.sock');
    daemon = spawnTv(['daemon', '--time', 'virtual', '--memory', '256'], env);
    daemon.stderr?.on('data', (d: Buffer) => {
      daemonLog += d.toString();
    });
    daemonExit = new Promise((resolve) => daemon.on('exit', (code) => resolve(code)));
    await waitFor(
      'the daemon to listen',
      () => {
        if (daemon.exitCode !== null) throw new Error(`the daemon exited: ${daemonLog}`);
        return daemonLog.includes('daemon (pid');
      },
      60_000,
    );
    // A small ext2 disk for xvda, built with Debian's mke2fs.
    mkdirSync(join(dir, 'root/boot/grub'), { recursive: true });
    writeFileSync(join(dir, 'root/hello.txt'), 'hello from the disk\n');
    execFileSync('/usr/sbin/mke2fs', [
      '-q',
      '-F',
      '-t',
      'ext2',
      '-d',
      join(dir, 'root'),
      join(dir, 'disk.img'),
      '4M',
    ]);
    writeFileSync(
      join(dir, 'grub.cfg'),
      [
        '# Debian GRUB as a PV guest',
        'name = "grub"',
        `kernel = "${GRUB_X86_64}"`,
        'memory = 32',
        'disk = [ "disk.img,raw,xvda,r" ]',
        '',
      ].join('\n'),
    );
  }, 60_000);

  afterAll(async () => {
    if (daemon.exitCode === null) daemon.kill('SIGTERM');
    await daemonExit;
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates a paused domain, runs it on unpause, types into its console and destroys it', async () => {
    // A relative disk path resolves against the directory create runs in: from elsewhere
    // the image is missing, which fails cleanly and leaves nothing behind.
    const missing = await tv(['create', join(dir, 'grub.cfg')], env);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain(
      `typevisor create: cannot open disk image ${join(ROOT, 'disk.img')}: ENOENT`,
    );
    expect((await tv(['list'], env)).out.split('\n').filter((l) => l !== '')).toHaveLength(2);
    const made = await tv(['create', '-p', 'grub.cfg', 'vcpus=1'], env, dir);
    expect(made).toEqual({ code: 0, out: '', err: 'Parsing config from grub.cfg\n' });

    let list = await tv(['list'], env);
    expect(list.code).toBe(0);
    const row = list.out.split('\n').find((l) => l.startsWith('grub '));
    expect(row).toMatch(/^grub {36} {5}1 {4}32 {5}1 {5}--p--- {7}0\.0$/);

    await waitFor('xenstore entries', () => existsSync(xsSock));
    const ls = execFileSync('/usr/bin/xenstore-ls', ['/local/domain/1'], {
      env: { ...process.env, XENSTORED_PATH: xsSock },
    }).toString();
    expect(ls).toMatch(/^name = "grub"$/m);
    const name = execFileSync('/usr/bin/xenstore-read', ['/local/domain/1/name'], {
      env: { ...process.env, XENSTORED_PATH: xsSock },
    }).toString();
    expect(name).toBe('grub\n');

    expect((await tv(['unpause', 'grub'], env)).code).toBe(0);
    const tap = await ConsoleTap.open(sock, 'grub');
    await tap.expect('grub>');
    const mark = tap.text.length;
    await tap.type('echo hi\r');
    // Typed characters come back between cursor escapes; the command's output is plain.
    await tap.expect('\n\rhi\n\rgrub>', mark);

    // GRUB's blkfront published its ring (event channel, ring-ref) and went to XenbusState 3
    // (Initialised); GRUB never writes 4, it only waits for the backend's Connected.
    const blocks = await tv(['block-list', 'grub'], env);
    expect(blocks.out.split('\n')[0]).toBe(
      'Vdev  BE  handle state evt-ch ring-ref BE-path                       ',
    );
    expect(blocks.out.split('\n')[1]).toMatch(
      /^51712 0 {3}51712 {2}3 +\d+ +\d+ +\/local\/domain\/0\/backend\/vbd\/1\/51712/,
    );
    const ls2 = tap.text.length;
    await tap.type('cat (xen/xvda)/hello.txt\r');
    // GRUB prints a progress line, then the file's bytes.
    await tap.expect('hello from the disk\n\r', ls2);

    list = await tv(['list', '-l', 'grub'], env);
    const long = JSON.parse(list.out) as {
      domid: number;
      config: {
        c_info: { name: string };
        b_info: { target_memkb: number };
        disks: Record<string, unknown>[];
      };
    }[];
    expect(long).toHaveLength(1);
    expect(long[0]?.domid).toBe(1);
    expect(long[0]?.config.c_info.name).toBe('grub');
    expect(long[0]?.config.b_info.target_memkb).toBe(32 * 1024);
    expect(long[0]?.config.disks[0]).toEqual({
      pdev_path: join(dir, 'disk.img'),
      vdev: 'xvda',
      format: 'raw',
      readwrite: 0,
    });

    expect((await tv(['domid', 'grub'], env)).out).toBe('1\n');
    expect((await tv(['domname', '1'], env)).out).toBe('grub\n');
    const vcpus = await tv(['vcpu-list', 'grub'], env);
    expect(vcpus.out.split('\n')[1]).toMatch(
      /^grub {28} {5}1 {5}0 {4}0 {3}[r-][b-]- +\d+\.\d {2}all \/ all$/,
    );
    expect((await tv(['uptime', 'grub'], env)).out).toMatch(/\ngrub {29} {4}1 +\d+:\d\d:\d\d\n$/);

    // shutdown writes control/shutdown as xl does; GRUB ignores it and keeps running.
    const sd = await tv(['shutdown', 'grub'], env);
    expect(sd).toEqual({ code: 0, out: '', err: 'Shutting down domain 1\n' });
    const req = execFileSync('/usr/bin/xenstore-read', ['/local/domain/1/control/shutdown'], {
      env: { ...process.env, XENSTORED_PATH: xsSock },
    }).toString();
    expect(req).toBe('poweroff\n');
    const m2 = tap.text.length;
    await tap.type('echo still here\r');
    await tap.expect('still here\n\rgrub>', m2);

    // pause stops it: no instructions run while paused.
    expect((await tv(['pause', '1'], env)).code).toBe(0);
    const t1 = (await tv(['list', 'grub'], env)).out;
    await new Promise((r) => setTimeout(r, 300));
    expect((await tv(['list', 'grub'], env)).out).toBe(t1);
    expect(t1).toMatch(/--p---/);
    expect((await tv(['unpause', '1'], env)).code).toBe(0);

    // reboot asks through xenstore too; GRUB's own `reboot` follows on_reboot (restart): the
    // domain is rebuilt under a new ID and the old console ends.
    expect(await tv(['reboot', 'grub'], env)).toEqual({
      code: 0,
      out: '',
      err: 'Rebooting domain 1\n',
    });
    const rq = execFileSync('/usr/bin/xenstore-read', ['/local/domain/1/control/shutdown'], {
      env: { ...process.env, XENSTORED_PATH: xsSock },
    }).toString();
    expect(rq).toBe('reboot\n');
    await tap.type('reboot\r');
    await waitFor('the console to end', () => tap.ended, 60_000);
    tap.client.close();
    await waitFor(
      'the restarted domain',
      async () => (await tv(['domid', 'grub'], env)).out === '2\n',
    );
    expect((await tv(['dmesg'], env)).out).toContain(
      '(XEN) dom1 (grub) shut down: reboot, action restart\n',
    );
    expect((await tv(['destroy', 'grub'], env)).code).toBe(0);
    list = await tv(['list'], env);
    expect(list.out.split('\n').filter((l) => l !== '')).toHaveLength(2);
    expect(list.out).toMatch(/\nDomain-0 /);
    const dmesg = await tv(['dmesg'], env);
    expect(dmesg.out).toMatch(/\(XEN\) dom1 \(grub\) created from .*grub\.cfg\n/);
    expect(dmesg.out).toMatch(/\(XEN\) dom2 \(grub\) destroyed\n/);
    expect(ls).toBeTruthy();
  }, 180_000);

  it('create -c attaches the console; Ctrl-] detaches; a killed CLI leaves the domain running', async () => {
    const child = spawnTv(
      [
        'create',
        '-c',
        '-q',
        join(dir, 'grub.cfg'),
        'name="grub2"',
        `disk=["${join(dir, 'disk.img')},raw,xvda,r"]`,
      ],
      env,
    );
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString('latin1');
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    await waitFor('grub> through create -c', () => out.includes('grub>'), 120_000);
    const mark = out.length;
    child.stdin?.write('echo typed\r');
    await waitFor('the echo through create -c', () => out.slice(mark).includes('\n\rtyped\n\r'));
    child.stdin?.write(Buffer.from([0x1d]));
    expect(await exited).toBe(0);
    const row = (await tv(['list'], env)).out.split('\n').find((l) => l.startsWith('grub2 '));
    expect(row).toMatch(/^grub2 +\d+ +32 +1 +[r-][b-]----/);
    const id = Number((await tv(['domid', 'grub2'], env)).out);

    // On a terminal (a pty from util-linux script) the console is raw: one key reaches GRUB
    // without a newline, and Ctrl-] detaches.
    const cmd = `cd ${ROOT} && exec ${process.execPath} ${TV_ARGS.join(' ')} console grub2`;
    const pty = spawn('/usr/bin/script', ['-qfec', cmd, '/dev/null'], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let ptyOut = '';
    pty.stdout?.on('data', (d: Buffer) => {
      ptyOut += d.toString('latin1');
    });
    const ptyExit = new Promise<number | null>((resolve) => pty.on('exit', (c) => resolve(c)));
    await waitFor('the tty console replay', () => ptyOut.includes('grub>'));
    const pm = ptyOut.length;
    pty.stdin?.write('e');
    // GRUB echoes the key at the cursor: "\e[<row>;<col>He".
    await waitFor('a single key to reach GRUB', () => /\[\d+;\d+He/.test(ptyOut.slice(pm)));
    pty.stdin?.write('cho tty\r');
    await waitFor('the echo over the tty', () => /\n\rtty\r?\n\r/.test(ptyOut.slice(pm)));
    pty.stdin?.write(Buffer.from([0x1d]));
    expect(await ptyExit).toBe(0);

    // A console client killed mid-session: the daemon and the domain carry on.
    const con = spawnTv(['console', 'grub2'], env);
    let conOut = '';
    con.stdout?.on('data', (d: Buffer) => {
      conOut += d.toString('latin1');
    });
    await waitFor('the console replay', () => conOut.includes('grub>'));
    const killed = new Promise((resolve) => con.on('exit', resolve));
    con.kill('SIGKILL');
    await killed;
    const tap = await ConsoleTap.open(sock, 'grub2');
    const m = tap.text.length;
    await tap.type('echo alive\r');
    await tap.expect('\n\ralive\n\rgrub>', m);

    // halt powers GRUB off; on_poweroff=destroy removes it; shutdown -w sees it go.
    const waiting = tv(['shutdown', '-w', 'grub2'], env);
    await tap.type('halt\r');
    expect(await waiting).toEqual({
      code: 0,
      out: '',
      err: `Shutting down domain ${id}\nWaiting for 1 domains\nDomain ${id} has been destroyed.\nAll domains have been shut down\n`,
    });
    await waitFor('the console to end', () => tap.ended, 5_000);
    tap.client.close();
    expect((await tv(['list'], env)).out).not.toContain('grub2');
    expect((await tv(['dmesg'], env)).out).toContain(
      `(XEN) dom${id} (grub2) shut down: poweroff, action destroy\n`,
    );
  }, 180_000);

  it('stops cleanly on SIGTERM: exit status 0, both sockets removed', async () => {
    daemon.kill('SIGTERM');
    expect(await daemonExit).toBe(0);
    expect(existsSync(sock)).toBe(false);
    expect(existsSync(xsSock)).toBe(false);
    expect(daemonLog).toContain('shutting down (SIGTERM)');
    const after = await tv(['list'], env);
    expect(after.code).toBe(1);
    expect(after.err).toContain('no daemon is running');
  });
});

describe('create without a daemon', () => {
  it('starts one in the background and says so on stderr', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tv-auto-'));
    const env = { TYPEVISOR_RUN_DIR: dir };
    writeFileSync(join(dir, 'k.cfg'), `name = "k"\nkernel = "${join(dir, 'no-kernel')}"\n`);
    const r = await runTvProcess(['create', join(dir, 'k.cfg')], env);
    expect(r.code).toBe(1);
    const lines = r.stderr.split('\n');
    expect(lines[0]).toBe(`Parsing config from ${join(dir, 'k.cfg')}`);
    expect(lines[1]).toMatch(
      new RegExp(
        `^typevisor: no daemon was running; started one \\(pid \\d+\\) on ${dir}/typevisor.sock, log ${dir}/typevisor.log$`,
      ),
    );
    expect(lines[2]).toMatch(/^typevisor create: cannot read kernel .*no-kernel/);
    const info = await tv(['info'], env);
    const pid = Number(/daemon_pid +: (\d+)/.exec(info.out)?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(info.out).toMatch(/time_mode +: real\n/);
    process.kill(pid, 'SIGINT');
    await waitFor('the daemon to go', () => !existsSync(join(dir, 'typevisor.sock')), 20_000);
    await waitFor('the log to end', () =>
      readFileSync(join(dir, 'typevisor.log'), 'utf8').includes('shutting down (SIGINT)'),
    );
    expect(existsSync(join(dir, 'xenstored.sock'))).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);
});

describe('daemon --detach', () => {
  it('returns once the daemon answers, logs to --log, and a second one refuses', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tv-detach-'));
    const env = { TYPEVISOR_RUN_DIR: dir };
    const log = join(dir, 'custom.log');
    const first = await runTvProcess(
      ['daemon', '--detach', '--time', 'virtual', '--log', log],
      env,
    );
    expect(first.code).toBe(0);
    const pid = Number(/\(pid (\d+)\)/.exec(first.stdout)?.[1]);
    expect(first.stdout).toBe(
      `typevisor daemon: started (pid ${pid}) on ${dir}/typevisor.sock, log ${log}\n`,
    );
    const second = await runTvProcess(['daemon', '--detach'], env);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(
      /^typevisor daemon: the daemon exited at start \(status 1\): .*another daemon is already running on /,
    );
    process.kill(pid, 'SIGTERM');
    await waitFor('the daemon to go', () => !existsSync(join(dir, 'typevisor.sock')), 20_000);
    // The sockets go before the last log line is written: wait for it.
    await waitFor('the log to end', () => readFileSync(log, 'utf8').endsWith('stopped\n'), 20_000);
    const text = readFileSync(log, 'utf8');
    expect(text).toMatch(/^\S+Z typevisor \S+ daemon \(pid \d+\) on /);
    expect(text).toMatch(/shutting down \(SIGTERM\)\n.*stopped\n$/);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);
});
