import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CliIo,
  DAEMON_PROTOCOL_VERSION,
  DaemonClient,
  type DomainListEntry,
  formatList,
  formatUptimeText,
  probeSocket,
  runCli,
  ToolstackError,
  TypevisorDaemon,
} from '../src/index.ts';

function capture(env: Record<string, string>): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    env,
    cwd: process.cwd(),
    stdout(t: string) {
      io.out += t;
    },
    stderr(t: string) {
      io.err += t;
    },
  };
  return io;
}

/** Sends raw lines on a fresh connection and collects what comes back until `want` lines. */
function rawExchange(path: string, payload: string, want: number): Promise<string[]> {
  return new Promise((resolve) => {
    const s = connect(path);
    let buf = '';
    const done = (): void => {
      s.destroy();
      resolve(buf.split('\n').filter((l) => l !== ''));
    };
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      if (buf.split('\n').filter((l) => l !== '').length >= want) done();
    });
    s.on('close', done);
    s.on('error', done);
    s.write(payload);
  });
}

describe('the host daemon control socket', () => {
  let dir: string;
  let daemon: TypevisorDaemon;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tv-daemon-'));
    env = { TYPEVISOR_RUN_DIR: dir };
    daemon = await TypevisorDaemon.start({
      socketPath: join(dir, 'typevisor.sock'),
      xenstoredSocketPath: join(dir, 'xenstored.sock'),
      time: 'virtual',
      memoryMiB: 64,
    });
  });

  afterAll(async () => {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is a mode 0600 unix socket answering hello with the protocol version and its pid', async () => {
    expect(statSync(join(dir, 'typevisor.sock')).mode & 0o777).toBe(0o600);
    const c = await DaemonClient.connect(join(dir, 'typevisor.sock'));
    const hello = await c.call<Record<string, unknown>>('hello');
    c.close();
    expect(hello).toMatchObject({
      protocol: DAEMON_PROTOCOL_VERSION,
      pid: process.pid,
      time: 'virtual',
      totalMemoryMiB: 64,
      domains: 0,
    });
  });

  it('list prints xl list columns with only Domain-0 on an empty host', async () => {
    const io = capture(env);
    expect(await runCli(['list'], io)).toBe(0);
    const lines = io.out.split('\n');
    expect(lines[0]).toBe(
      'Name                                        ID   Mem VCPUs\tState\tTime(s)',
    );
    expect(lines[1]).toMatch(/^Domain-0 {33} {4}0 +\d+ {5}1 {5}r----- +\d+\.\d$/);
    expect(lines).toHaveLength(3);
  });

  it('an unknown domain is a one-line error naming it, exit status 1', async () => {
    for (const verb of ['destroy', 'pause', 'unpause', 'console', 'domid', 'block-list']) {
      const io = capture(env);
      expect(await runCli([verb, 'nosuch'], io)).toBe(1);
      expect(io.err).toBe(`typevisor ${verb}: no domain "nosuch"\n`);
    }
    const io = capture(env);
    expect(await runCli(['list', '7'], io)).toBe(1);
    expect(io.err).toBe('typevisor list: no domain "7"\n');
  });

  it('verbs that act on a guest refuse Domain-0 by name or ID', async () => {
    for (const [verb, dom] of [
      ['destroy', '0'],
      ['pause', 'Domain-0'],
      ['console', '0'],
    ] as const) {
      const io = capture(env);
      expect(await runCli([verb, dom], io)).toBe(1);
      expect(io.err).toBe(
        `typevisor ${verb}: Domain-0 is the daemon itself: ${verb} does not apply to it\n`,
      );
    }
    const io = capture(env);
    expect(await runCli(['domid', 'Domain-0'], io)).toBe(0);
    expect(io.out).toBe('0\n');
  });

  it('a second daemon on the same socket refuses with a clear message', async () => {
    await expect(
      TypevisorDaemon.start({ socketPath: join(dir, 'typevisor.sock'), time: 'virtual' }),
    ).rejects.toThrow(/another daemon is already running on .*typevisor\.sock/);
    const io = capture(env);
    expect(
      await runCli(['daemon', '--socket', join(dir, 'typevisor.sock'), '--time', 'virtual'], io),
    ).toBe(1);
    expect(io.err).toMatch(/^typevisor daemon: another daemon is already running/);
  });

  it('a bad configuration names file, line and key without reaching the daemon', async () => {
    const cfg = join(dir, 'bad.cfg');
    writeFileSync(cfg, 'name = "g"\nkernel = "/k"\nmemory = "lots"\n');
    const io = capture({ TYPEVISOR_RUN_DIR: join(dir, 'nowhere') });
    expect(await runCli(['create', cfg], io)).toBe(1);
    expect(io.err).toBe(
      `Parsing config from ${cfg}\ntypevisor create: ${cfg}:3: memory: expected a number, got "lots"\n`,
    );
    const unknown = capture(env);
    writeFileSync(cfg, 'name = "g"\nkernel = "/k"\n\nfrobnicate = 1\n');
    expect(await runCli(['create', '-q', cfg], unknown)).toBe(1);
    expect(unknown.err).toBe(`typevisor create: ${cfg}:4: frobnicate: unknown key\n`);
    const missing = capture(env);
    expect(await runCli(['create', join(dir, 'none.cfg')], missing)).toBe(1);
    expect(missing.err).toMatch(/cannot read config file .*none\.cfg: ENOENT/);
  });

  it('a kernel the host cannot load is reported by the daemon and leaves no domain behind', async () => {
    const cfg = join(dir, 'nokernel.cfg');
    writeFileSync(cfg, `name = "g"\nkernel = "${join(dir, 'missing-kernel')}"\nmemory = 16\n`);
    const io = capture(env);
    expect(await runCli(['create', '-q', cfg], io)).toBe(1);
    expect(io.err).toMatch(/^typevisor create: cannot read kernel .*missing-kernel/);
    expect(daemon.host.domains.size).toBe(0);
  });

  it('answers malformed requests with errors and keeps serving (fuzz)', async () => {
    const path = join(dir, 'typevisor.sock');
    const [notJson, badVersion, badMethod] = await rawExchange(
      path,
      `{nope\n{"v":99,"id":1,"method":"hello"}\n{"v":${DAEMON_PROTOCOL_VERSION},"id":2,"method":"frob"}\n`,
      3,
    );
    expect(JSON.parse(notJson as string)).toMatchObject({ id: null, ok: false });
    expect(JSON.parse(badVersion as string)).toMatchObject({
      id: 1,
      ok: false,
      error: { code: 'USAGE' },
    });
    expect(JSON.parse(badMethod as string).error.message).toBe('unknown method "frob"');
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.record({
            v: fc.constant(DAEMON_PROTOCOL_VERSION),
            id: fc.integer(),
            method: fc.constantFrom(
              'list',
              'destroy',
              'pause',
              'shutdown',
              'rename',
              'console.input',
              'console.attach',
              'block-list',
              'vcpu-list',
              'create',
            ),
            params: fc.dictionary(
              fc.constantFrom('domain', 'name', 'data', 'text', 'source', 'cwd', 'overrides'),
              fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.array(fc.string())),
            ),
          }),
        ),
        async (req) => {
          const line = typeof req === 'string' ? req.replace(/\n/g, ' ') : JSON.stringify(req);
          if (line.trim() === '') return;
          const [reply] = await rawExchange(path, `${line}\n`, 1);
          const r = JSON.parse(reply as string) as { ok: boolean; error?: { message: string } };
          if (!r.ok) expect(r.error?.message).not.toMatch(/internal error/);
        },
      ),
      { numRuns: 150 },
    );
    const c = await DaemonClient.connect(path);
    expect(await c.call<DomainListEntry[]>('list')).toHaveLength(1);
    c.close();
  });
});

describe('daemon sockets', () => {
  it('with no daemon, verbs say how to start one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tv-nodaemon-'));
    const io = capture({ TYPEVISOR_RUN_DIR: dir });
    expect(await runCli(['list'], io)).toBe(1);
    expect(io.err).toBe(
      `typevisor list: cannot reach the typevisor daemon at ${dir}/typevisor.sock (no daemon is running); start it with 'typevisor daemon --detach'\n`,
    );
    rmSync(dir, { recursive: true, force: true });
  });

  it('a stale socket left by a dead process is detected and replaced; stop removes both sockets', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tv-stale-'));
    const sock = join(dir, 'typevisor.sock');
    // A socket file nobody listens on: what a killed daemon leaves behind.
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    expect(r.signal).toBe('SIGKILL');
    expect(existsSync(sock)).toBe(true);
    expect(await probeSocket(sock)).toBe('stale');
    const d = await TypevisorDaemon.start({
      socketPath: sock,
      xenstoredSocketPath: join(dir, 'xs.sock'),
      time: 'virtual',
      memoryMiB: 32,
    });
    expect(await probeSocket(sock)).toBe('live');
    await d.stop();
    expect(existsSync(sock)).toBe(false);
    expect(existsSync(join(dir, 'xs.sock'))).toBe(false);
    expect(await probeSocket(sock)).toBe('absent');
    rmSync(dir, { recursive: true, force: true });
  });

  it('a live socket that is not ours is not taken over', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tv-live-'));
    const sock = join(dir, 'other.sock');
    const server = createServer((s) => s.end());
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    await expect(TypevisorDaemon.start({ socketPath: sock })).rejects.toBeInstanceOf(
      ToolstackError,
    );
    expect(existsSync(sock)).toBe(true);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('xl text formats', () => {
  it('list rows follow xl\'s "%-40s %5d %5lu %5d     %s  %8.1f"', () => {
    const text = formatList([
      {
        domid: 12,
        name: 'web',
        uuid: 'u',
        memoryMiB: 256,
        maxMemMiB: 256,
        vcpus: 2,
        state: '-b----',
        cpuTimeSec: 3.125,
        uptimeSec: 1,
      },
    ]);
    expect(text.split('\n')[1]).toBe(`${'web'.padEnd(40)}    12   256     2     -b----       3.1`);
  });

  it('uptime is H:MM:SS, with days when there are any', () => {
    expect(formatUptimeText(59)).toBe(' 0:00:59');
    expect(formatUptimeText(3 * 3600 + 27 * 60 + 41)).toBe(' 3:27:41');
    expect(formatUptimeText(86400 + 61)).toBe('1 day,  0:01:01');
    expect(formatUptimeText(3 * 86400)).toBe('3 days,  0:00:00');
  });
});
