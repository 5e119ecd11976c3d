/**
 * `typevisor top` on a terminal (a pty from util-linux `script`, as a user runs it): without
 * `-b` it clears the screen and redraws a summary and xentop's table on every refresh; piped,
 * it prints one batch snapshot.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TypevisorDaemon } from '@typevisor/toolstack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runTvProcess, TV_ARGS, tv } from '../toolstack-cli/support.ts';

const BALLOON = fileURLToPath(new URL('../guests/balloon/balloon-x86_64.elf', import.meta.url));
const haveScript = existsSync('/usr/bin/script');

describe.skipIf(!haveScript && !process.env.CI)('typevisor top on a terminal', () => {
  let dir: string;
  let env: Record<string, string>;
  let daemon: TypevisorDaemon;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tv-top-'));
    env = { TYPEVISOR_SOCKET: join(dir, 'typevisor.sock') };
    daemon = await TypevisorDaemon.start({
      socketPath: join(dir, 'typevisor.sock'),
      time: 'virtual',
      memoryMiB: 64,
    });
    writeFileSync(join(dir, 'g.cfg'), `name = "topguest"\nkernel = "${BALLOON}"\nmemory = 8\n`);
    expect((await tv(['create', join(dir, 'g.cfg')], env)).code).toBe(0);
  });

  afterAll(async () => {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('redraws the table on a tty and prints one snapshot when piped', async () => {
    const cmd = `cd ${ROOT} && exec ${process.execPath} ${TV_ARGS.join(' ')} top -d 0.2 -i 3`;
    const pty = spawn('/usr/bin/script', ['-qfec', cmd, '/dev/null'], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    pty.stdout?.on('data', (d: Buffer) => {
      out += d.toString('latin1');
    });
    const code = await new Promise<number | null>((resolve) => pty.on('exit', resolve));
    expect(code).toBe(0);
    // Three screens, each cleared first, each with the summary and the guest's row.
    expect(out.split('\x1b[H\x1b[2J')).toHaveLength(4);
    expect(out.match(/Mem: 65536k total, \d+k used, \d+k free {4}CPUs: 1/g)).toHaveLength(3);
    expect(out.match(/ topguest [-a-z]{6} /g)).toHaveLength(3);

    const piped = await runTvProcess(['top'], env);
    expect(piped.code).toBe(0);
    expect(piped.stdout).not.toContain('\x1b[');
    expect(piped.stdout.trimEnd().split('\n')).toHaveLength(3); // header, Domain-0, topguest
  }, 60_000);
});
