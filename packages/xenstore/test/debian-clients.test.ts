/**
 * Real clients: Debian's xenstore-utils (`xenstore-read`, `-write`, `-ls`, …, all linked
 * against libxenstore) and Debian's pyxs, pointed at Typevisor's daemon with
 * XENSTORED_PATH. Every command runs against the reference C xenstored too, and the
 * outputs must be identical.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Daemon,
  haveReference,
  haveTool,
  startReference,
  startTypevisor,
} from './helpers/daemons.ts';

const haveClients = haveTool('xenstore-read') && haveTool('xenstore-ls');

/** Xen's own xenstore test program from xen-utils-4.17 (installed, or unpacked by reference-xenstored). */
function testXenstore(): { bin: string; env: Record<string, string> } | undefined {
  const installed = '/usr/lib/xen-4.17/bin/test-xenstore';
  if (existsSync(installed)) return { bin: installed, env: {} };
  const root = join(
    process.env.REFERENCE_XENSTORED_CACHE ??
      join(homedir(), '.cache/typevisor-reference-xenstored'),
    'root',
  );
  const bin = join(root, 'usr/lib/xen-4.17/bin/test-xenstore');
  if (!existsSync(bin)) return undefined;
  return {
    bin,
    env: { LD_LIBRARY_PATH: `${root}/usr/lib/x86_64-linux-gnu:${root}/usr/lib/xen-4.17/lib` },
  };
}
const PYTHON = '/usr/bin/python3';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(
  socket: string,
  argv: readonly string[],
  input?: string,
  extraEnv: Record<string, string> = {},
): Promise<Result> {
  return new Promise((done) => {
    const child = execFile(
      argv[0] as string,
      argv.slice(1),
      {
        env: { ...process.env, ...extraEnv, XENSTORED_PATH: socket },
        timeout: 60_000,
        encoding: 'latin1',
      },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        done({
          code: typeof code === 'number' ? code : 1,
          stdout,
          stderr: stderr.split(socket).join('<socket>'),
        });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Starts `xenstore-watch -n <count>` and resolves with its output once it exits. */
function watch(
  socket: string,
  args: readonly string[],
): { ready: Promise<void>; done: Promise<Result> } {
  const child = spawn('xenstore-watch', args, { env: { ...process.env, XENSTORED_PATH: socket } });
  let stdout = '';
  let stderr = '';
  let readyResolve: () => void = () => {};
  const ready = new Promise<void>((r) => {
    readyResolve = r;
  });
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString('latin1');
    readyResolve();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString('latin1');
  });
  const done = new Promise<Result>((r) =>
    child.on('exit', (code) => r({ code: code ?? -1, stdout, stderr })),
  );
  return { ready, done };
}

const many = Array.from({ length: 120 }, (_, i) => [
  `/big/child-with-a-long-name-number-${i}`,
  `v${i}`,
]).flat();

const COMMANDS: readonly (readonly string[])[] = [
  ['xenstore-write', '/vm/a', 'hello'],
  ['xenstore-read', '/vm/a'],
  ['xenstore-write', '/vm/x', '1', '/vm/y', '2'],
  ['xenstore-read', '/vm/x', '/vm/y'],
  ['xenstore-read', '-p', '/vm/x'],
  ['xenstore-read', '/nope'],
  ['xenstore-read', 'relative/nope'],
  ['xenstore-write', 'rel', 'ative'],
  ['xenstore-read', 'rel'],
  ['xenstore-read', '/local/domain/0/rel'],
  ['xenstore-write', '/bad//path', 'x'],
  ['xenstore-list', '/vm'],
  ['xenstore-list', '-p', '/vm'],
  ['xenstore-list', '/nope'],
  ['xenstore-ls', '/vm'],
  ['xenstore-ls', '-f', '/vm'],
  ['xenstore-ls', '-fp', '/vm'],
  ['xenstore-ls', '-p', '/'],
  ['xenstore-ls', '/nope'],
  ['xenstore-exists', '/vm/a'],
  ['xenstore-exists', '/nope'],
  ['xenstore-chmod', '/vm/a', 'n0', 'r1'],
  ['xenstore-ls', '-p', '/vm'],
  ['xenstore-chmod', '-r', '/vm', 'b2'],
  ['xenstore-ls', '-fp', '/vm'],
  ['xenstore-chmod', '/vm/a', 'x1'],
  ['xenstore-chmod', '/nope', 'r1'],
  ['xenstore-write', '/vm/bin', 'a\\x01b'],
  ['xenstore-read', '/vm/bin'],
  ['xenstore-read', '-R', '/vm/bin'],
  ['xenstore-rm', '/vm/a'],
  ['xenstore-rm', '/vm/a'],
  ['xenstore-rm', '/no/such/parent'],
  ['xenstore-write', '/vm/deep/er/node', 'd'],
  ['xenstore-rm', '-t', '/vm/deep/er/node'],
  ['xenstore-ls', '-f', '/vm'],
  ['xenstore-write', ...many],
  ['xenstore-list', '/big'],
  ['xenstore-ls', '/big'],
  ['xenstore-rm', '/big'],
  ['xenstore-control', 'print', 'hello from the test'],
  ['xenstore-control', 'quota'],
  ['xenstore-control', 'quota', '0'],
  ['xenstore-control', 'quota', '1'],
  ['xenstore-control', 'quota-soft'],
  ['xenstore-control', 'quota', 'set', 'memory', '500000'],
  ['xenstore-control', 'quota', 'set', 'nodes', 'x'],
  ['xenstore-control', 'quota-soft', 'set', 'memory', '400000'],
  ['xenstore-control', 'quota-soft', 'set', 'nodes', '4'],
  ['xenstore-control', 'quota'],
  ['xenstore-control', 'quota-soft'],
  ['xenstore-control', 'help'],
  ['xenstore-control', 'bogus'],
  ['xenstore-control', 'log', 'off'],
  ['xenstore-rm', '/vm'],
  ['xenstore-ls', '/'],
];

describe.skipIf(!(haveClients && haveReference) && !process.env.CI)(
  "Debian's xenstore-utils and pyxs against the daemon",
  () => {
    let ref: Daemon;
    let tv: Daemon;
    beforeAll(async () => {
      ref = startReference();
      tv = await startTypevisor();
    }, 300_000);
    afterAll(async () => {
      await ref?.stop();
      await tv?.stop();
    });

    it('gives every xenstore-utils command the same output and exit status as the C daemon', async () => {
      const mine: string[] = [];
      const theirs: string[] = [];
      for (const argv of COMMANDS) {
        const a = await run(tv.socket, argv);
        const b = await run(ref.socket, argv);
        mine.push(`$ ${argv.join(' ').slice(0, 80)}\n${JSON.stringify(a)}`);
        theirs.push(`$ ${argv.join(' ').slice(0, 80)}\n${JSON.stringify(b)}`);
      }
      expect(mine).toEqual(theirs);
      // Guard against both daemons failing the same way.
      expect(mine[1]).toContain('"code":0,"stdout":"hello\\n"');
      expect(mine.find((l) => l.startsWith('$ xenstore-list /big'))).toContain(
        'child-with-a-long-name-number-119',
      );
    }, 120_000);

    it('reads back what xenstore-write stored, through Typevisor alone', async () => {
      expect((await run(tv.socket, ['xenstore-write', '/check/k', 'v1'])).code).toBe(0);
      expect(await run(tv.socket, ['xenstore-read', '/check/k'])).toEqual({
        code: 0,
        stdout: 'v1\n',
        stderr: '',
      });
      expect((await run(tv.socket, ['xenstore-ls', '-f', '/check'])).stdout).toBe(
        '/check/k = "v1"\n',
      );
      expect((await run(tv.socket, ['xenstore-exists', '/check/none'])).code).toBe(1);
      await run(tv.socket, ['xenstore-rm', '/check']);
    });

    it('fires xenstore-watch for the path, writes below it, and removal, like the C daemon', async () => {
      const outputs: Result[] = [];
      for (const d of [tv, ref]) {
        await run(d.socket, ['xenstore-write', '/w/pre', '0']);
        const w = watch(d.socket, ['-n', '4', '/w']);
        await w.ready;
        await run(d.socket, ['xenstore-write', '/w/a', '1']);
        await run(d.socket, ['xenstore-write', '/elsewhere', '1']);
        await run(d.socket, ['xenstore-write', '/w/a/b', '2']);
        await run(d.socket, ['xenstore-rm', '/w']);
        outputs.push(await w.done);
      }
      expect(outputs[0]).toEqual({ code: 0, stdout: '/w\n/w/a\n/w/a/b\n/w\n', stderr: '' });
      expect(outputs[0]).toEqual(outputs[1]);
    }, 60_000);

    it("passes Xen's own test-xenstore suite, and its random mode, like the C daemon", async () => {
      const t = testXenstore();
      expect(t, 'test-xenstore from xen-utils-4.17 (reference-xenstored unpacks it)').toBeDefined();
      if (t === undefined) return;
      for (const d of [tv, ref]) {
        const all = await run(d.socket, [t.bin, '-i', '3'], undefined, t.env);
        expect(all.code).toBe(0);
        expect(all.stdout.split('\n').filter((l) => /: avg: \d+ ns/.test(l))).toHaveLength(12);
        expect((await run(d.socket, [t.bin, '-r', '2'], undefined, t.env)).code).toBe(0);
      }
    }, 60_000);

    it.skipIf(!haveTool(PYTHON))(
      'serves pyxs (reads, perms, domains, conflicting transactions, watches) exactly like the C daemon',
      async () => {
        const script = resolve(__dirname, 'fixtures/pyxs-session.py');
        const a = await run(tv.socket, [PYTHON, script, tv.socket]);
        const b = await run(ref.socket, [PYTHON, script, ref.socket]);
        expect(a.stderr).toBe('');
        expect(a.stdout).toContain('b-commit True');
        expect(a.stdout).toContain('a-commit False');
        expect(a.stdout).toContain("event Event(path=b'/pyxs/w/a', token=b'tok')");
        expect(a.stdout.split(tv.socket).join('S')).toEqual(b.stdout.split(ref.socket).join('S'));
      },
      60_000,
    );
  },
);
