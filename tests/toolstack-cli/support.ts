/**
 * Helpers for driving the `typevisor` executable and its daemon as real processes on a
 * temporary run directory.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type CliIo, DaemonClient, runCli } from '@typevisor/toolstack';

/** The repository root (where `--import tsx` resolves). */
export const ROOT: string = fileURLToPath(new URL('../../', import.meta.url));

/** Node arguments that run the CLI from source. */
export const TV_ARGS: readonly string[] = [
  '--import',
  'tsx',
  '--conditions=@typevisor/source',
  'packages/toolstack/src/bin.ts',
];

/** Debian's GRUB for 64-bit Xen PV (package grub-xen-host). */
export const GRUB_X86_64 = '/usr/lib/grub-xen/grub-x86_64-xen.bin';

/** Whether the Debian tools the tests use are installed. */
export const haveTools: boolean = [
  GRUB_X86_64,
  '/usr/bin/xenstore-ls',
  '/usr/sbin/mke2fs',
  '/usr/bin/script',
].every((p) => existsSync(p));

/** Spawns `typevisor ARGS` from source. */
export function spawnTv(args: readonly string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [...TV_ARGS, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Runs `typevisor ARGS` to completion in a child process. */
export function runTvProcess(
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...TV_ARGS, ...args],
      { cwd: ROOT, env: { ...process.env, ...env } },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Runs `typevisor ARGS` in this process (the CLI is a library), capturing its output. */
export async function tv(
  args: readonly string[],
  env: Record<string, string>,
  cwd: string = ROOT,
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = {
    stdout: (t) => {
      out += t;
    },
    stderr: (t) => {
      err += t;
    },
    env,
    cwd,
  };
  const code = await runCli(args, io);
  return { code, out, err };
}

/** Polls `check` every 50 ms until it returns true or `timeoutMs` passes. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A console attached through the daemon's RPC, collecting output as text. */
export class ConsoleTap {
  text = '';
  ended = false;
  readonly client: DaemonClient;
  readonly domid: number;
  private constructor(client: DaemonClient, domid: number) {
    this.client = client;
    this.domid = domid;
  }

  /** Attaches to `domain` on the daemon at `socket`. */
  static async open(socket: string, domain: string): Promise<ConsoleTap> {
    const client = await DaemonClient.connect(socket);
    let tap: ConsoleTap | undefined;
    let early = '';
    client.onEvent = (ev) => {
      if (ev.event === 'console') {
        const s = Buffer.from(ev.data, 'base64').toString('latin1');
        if (tap) tap.text += s;
        else early += s;
      } else if (tap) tap.ended = true;
    };
    const r = await client.call<{ domid: number; replay: string }>('console.attach', { domain });
    tap = new ConsoleTap(client, r.domid);
    tap.text = Buffer.from(r.replay, 'base64').toString('latin1') + early;
    return tap;
  }

  /** Types `text` into the guest. */
  type(text: string): Promise<unknown> {
    return this.client.call('console.input', {
      domain: String(this.domid),
      data: Buffer.from(text, 'latin1').toString('base64'),
    });
  }

  /** Waits until the output after `from` contains `needle`. */
  async expect(needle: string, from = 0, timeoutMs = 60_000): Promise<string> {
    try {
      await waitFor(`"${needle}"`, () => this.text.slice(from).includes(needle), timeoutMs);
    } catch (err) {
      const tail = this.text.slice(from).slice(-600);
      throw new Error(`${(err as Error).message}; console after the mark: ${JSON.stringify(tail)}`);
    }
    return this.text.slice(from);
  }
}
