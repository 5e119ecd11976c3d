/**
 * `typevisor xenstore …` and `typevisor xenstored`: the verbs run in-process through
 * `runCli`, and their output is compared with Debian's xenstore-utils doing the same
 * thing against an identical daemon.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Xenstore, XenstoreClient } from '@typevisor/xenstore';
import { connectSocket, XenstoreServer } from '@typevisor/xenstore/node';
import { afterEach, describe, expect, it } from 'vitest';
import type { CliIo } from '../src/cli/command.ts';
import { xenstore } from '../src/cli/commands/xenstore.ts';
import { xenstored } from '../src/cli/commands/xenstored.ts';
import { runCli } from '../src/cli/main.ts';

const haveClients =
  spawnSync('sh', ['-c', 'command -v xenstore-ls'], { stdio: 'ignore' }).status === 0;

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

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function daemon(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'xscli-'));
  const socket = join(dir, 'socket');
  const server = new XenstoreServer({ socketPath: socket, xenstore: new Xenstore() });
  await server.listen();
  cleanups.push(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return socket;
}

function debian(
  socket: string,
  argv: readonly string[],
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((done) => {
    execFile(
      `xenstore-${argv[0]}`,
      argv.slice(1),
      { env: { ...process.env, XENSTORED_PATH: socket }, encoding: 'latin1' },
      (err, out, errOut) => {
        const code = err ? ((err as { code?: unknown }).code as number) : 0;
        done({ code, out, err: errOut });
      },
    );
  });
}

async function mine(
  socket: string,
  argv: readonly string[],
): Promise<{ code: number; out: string; err: string }> {
  const io = capture({ XENSTORED_PATH: socket });
  const code = await runCli(['xenstore', ...argv], io, [xenstore]);
  return { code, out: io.out, err: io.err.replace(/typevisor xenstore (\w+)/g, 'xenstore-$1') };
}

const long = 'y'.repeat(100);
const many = Array.from({ length: 150 }, (_, i) => [
  `/big/a-rather-long-child-name-${i}`,
  `${i}`,
]).flat();

const SCRIPT: readonly (readonly string[])[] = [
  [
    'write',
    '/vm/a',
    'hello',
    '/vm/b/c',
    long,
    '/vm/esc',
    'a\\x01b\\\\c"d\\t\\n\\x7f\\xff\\0z\\101',
    '/vm/e',
    '',
  ],
  ['read', '/vm/a'],
  ['read', '/vm/esc'],
  ['read', '-p', '/vm/a', '/vm/e'],
  ['read', '/vm/a', '/nope'],
  ['read', '/nope'],
  ['read'],
  ['write', '/odd'],
  ['write', '-R', '/vm/raw', 'a\\tb'],
  ['read', '/vm/raw'],
  ['chmod', '/vm/a', 'n0', 'r5', 'w7', 'b1x'],
  ['chmod', '/vm/b', 'q1'],
  ['chmod', '/nope', 'r1'],
  ['chmod', '-r', '/vm/b', 'b3'],
  ['chmod', '-u', '/vm/b/c', 'r0'],
  ['ls', '/vm'],
  ['ls', '-p', '/vm'],
  ['ls', '-f', '/vm'],
  ['ls', '-fp', '/vm'],
  ['ls', '/nope'],
  ['ls'],
  ['list', '/vm'],
  ['list', '-p', '/vm'],
  ['list', '/nope'],
  ['exists', '/vm/a'],
  ['exists', '/vm/a', '/nope'],
  ['write', ...many],
  ['list', '/big'],
  ['rm', '/big'],
  ['write', '/t/x/y/z', ''],
  ['rm', '-t', '/t/x/y/z'],
  ['ls', '-f', '/'],
  ['rm', '/vm/a', '/nope/deeper'],
  ['rm', '/vm/a'],
  ['ls', '-fp', '/'],
];

describe.skipIf(!haveClients && !process.env.CI)('typevisor xenstore', () => {
  it('prints exactly what Debian’s xenstore-* tools print, with the same exit statuses', async () => {
    const a = await daemon();
    const b = await daemon();
    const got: string[] = [];
    const want: string[] = [];
    for (const argv of SCRIPT) {
      const d = await debian(a, argv);
      const m = await mine(b, argv);
      want.push(`${argv.join(' ').slice(0, 60)} -> ${JSON.stringify(d)}`);
      got.push(`${argv.join(' ').slice(0, 60)} -> ${JSON.stringify(m)}`);
    }
    expect(got).toEqual(want);
    expect(got[1]).toContain('"out":"hello\\n"');
  }, 60_000);

  it('watches with -n, printing each event path', async () => {
    const socket = await daemon();
    const io = capture({ XENSTORED_PATH: socket });
    const running = runCli(['xenstore', 'watch', '-n', '3', '/w'], io, [xenstore]);
    const c = new XenstoreClient(await connectSocket(socket));
    while (io.out === '') await new Promise((r) => setTimeout(r, 5));
    await c.write('/w/a', '1');
    await c.write('/x', '1');
    await c.rm('/w');
    expect(await running).toBe(0);
    expect(io.out).toBe('/w\n/w/a\n/w\n');
    c.close();
  });

  it('creates nodes with mkdir', async () => {
    const socket = await daemon();
    const io = capture({ XENSTORED_PATH: socket });
    expect(await runCli(['xenstore', 'mkdir', '/m/n', '/o'], io, [xenstore])).toBe(0);
    expect(await runCli(['xenstore', 'ls', '-f', '/'], io, [xenstore])).toBe(0);
    expect(io.out).toBe('/tool = ""\n/tool/xenstored = ""\n/m = ""\n/m/n = ""\n/o = ""\n');
  });

  it('fails cleanly when no daemon listens', async () => {
    const io = capture({ XENSTORED_PATH: '/nonexistent/socket' });
    expect(await runCli(['xenstore', 'read', '/a'], io, [xenstore])).toBe(1);
    expect(io.err).toContain('xs_open');
  });
});

describe('typevisor xenstored', () => {
  it('serves the socket in the foreground, keeps state across restarts, and stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xsd-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const socket = join(dir, 'socket');
    const state = join(dir, 'state');
    for (const round of [1, 2]) {
      const io = capture({});
      const running = runCli(
        ['xenstored', '--socket', socket, '--state', state, '--quota', 'nodes=50'],
        io,
        [xenstored],
      );
      while (!io.err.includes('listening')) await new Promise((r) => setTimeout(r, 5));
      const c = new XenstoreClient(await connectSocket(socket));
      if (round === 1) await c.write('/persist/me', 'yes');
      else expect(await c.readString('/persist/me')).toBe('yes');
      c.close();
      process.emit('SIGTERM', 'SIGTERM');
      expect(await running).toBe(0);
      expect(io.err).toContain('shutting down');
      await expect(
        new Promise((_, reject) => connect(socket).once('error', reject)),
      ).rejects.toThrow();
    }
  });

  it('runs as the typevisor executable, logs to stderr and exits 0 on a real SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xsdp-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const socket = join(dir, 'socket');
    // The real executable, from source, as `typevisor xenstored` runs.
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--conditions=@typevisor/source',
        'packages/toolstack/src/bin.ts',
        'xenstored',
        '--socket',
        socket,
      ],
      { cwd: resolve(__dirname, '../../..'), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    while (!err.includes('listening')) {
      if (child.exitCode !== null) throw new Error(err);
      await new Promise((r) => setTimeout(r, 10));
    }
    const c = new XenstoreClient(await connectSocket(socket));
    await c.write('/alive', '1');
    expect(await c.readString('/alive')).toBe('1');
    c.close();
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.once('exit', (c2) => r(c2)));
    expect(code).toBe(0);
    expect(err).toContain('xenstored: SIGTERM, shutting down');
    expect(existsSync(socket)).toBe(false);
  }, 30_000);

  it('is reachable as `typevisor xenstore` through the executable', async () => {
    const socket = await daemon();
    const run = (args: string[]) =>
      new Promise<{ code: number | null; out: string }>((done) => {
        const c = spawn(
          process.execPath,
          [
            '--import',
            'tsx',
            '--conditions=@typevisor/source',
            'packages/toolstack/src/bin.ts',
            'xenstore',
            ...args,
          ],
          {
            cwd: resolve(__dirname, '../../..'),
            env: { ...process.env, XENSTORED_PATH: socket },
          },
        );
        let out = '';
        c.stdout.on('data', (d: Buffer) => {
          out += d.toString();
        });
        c.on('exit', (code) => done({ code, out }));
      });
    expect((await run(['write', '/via/bin', 'ok'])).code).toBe(0);
    expect(await run(['read', '/via/bin'])).toEqual({ code: 0, out: 'ok\n' });
    expect((await run(['exists', '/via/none'])).code).toBe(1);
  }, 30_000);

  it('requires --socket', async () => {
    const io = capture({});
    expect(await runCli(['xenstored'], io, [xenstored])).toBe(2);
    expect(io.err).toContain('--socket PATH is required');
  });

  it('refuses a quota name it does not know, naming the option', async () => {
    for (const [option, spec] of [
      ['--quota', 'bogus=1'],
      ['--quota-soft', 'nodes=5'],
    ] as const) {
      const io = capture({});
      expect(
        await runCli(['xenstored', '--socket', '/nonexistent/s', option, spec], io, [xenstored]),
      ).toBe(2);
      expect(io.err).toContain(`invalid ${option} '${spec}'`);
    }
  });
});
