/**
 * Starting a daemon in the background (`typevisor daemon --detach`, and `create` when none is
 * running): the same executable, detached, its output appended to a log file; the caller waits
 * until the control socket answers.
 * @module
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ToolstackError } from '../errors.ts';
import { DaemonClient } from './client.ts';

/** How to run the `typevisor` executable this module belongs to. */
export function typevisorCommand(): { readonly cwd: string; readonly args: readonly string[] } {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) {
    // Built: this code is bundled into dist/, next to bin.js.
    const bin = fileURLToPath(new URL('./bin.js', here));
    return { cwd: dirname(bin), args: [bin] };
  }
  // From source: run bin.ts through tsx, resolved from the nearest node_modules that has it.
  const bin = fileURLToPath(new URL('../bin.ts', here));
  let dir = dirname(bin);
  while (!existsSync(join(dir, 'node_modules', 'tsx')) && dirname(dir) !== dir) dir = dirname(dir);
  return { cwd: dir, args: ['--import', 'tsx', '--conditions=@typevisor/source', bin] };
}

/** A daemon started in the background. */
export interface DetachedDaemon {
  /** Its process ID. */
  readonly pid: number;
  /** Its log file. */
  readonly logPath: string;
}

/**
 * Starts `typevisor daemon ARGS` detached, output appended to `logPath`, and resolves once its
 * control socket answers `hello` (or rejects with the end of its log if it exits first).
 */
export async function startDetachedDaemon(options: {
  readonly socketPath: string;
  readonly logPath: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly timeoutMs?: number;
}): Promise<DetachedDaemon> {
  const cmd = typevisorCommand();
  const fd = openSync(options.logPath, 'a', 0o600);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.env)) if (v !== undefined) env[k] = v;
  const child = spawn(
    process.execPath,
    [...cmd.args, 'daemon', '--socket', options.socketPath, ...options.args],
    { cwd: cmd.cwd, detached: true, stdio: ['ignore', fd, fd], env },
  );
  closeSync(fd);
  let exited: number | null | undefined;
  child.on('exit', (code) => {
    exited = code;
  });
  child.unref();
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  for (;;) {
    if (exited !== undefined) {
      const tail = readFileSync(options.logPath, 'utf8').trimEnd().split('\n').slice(-3);
      throw new ToolstackError(
        'STATE',
        `the daemon exited at start (status ${exited}): ${tail.join(' / ')}`,
      );
    }
    try {
      const c = await DaemonClient.connect(options.socketPath);
      const hello = await c.call<{ pid: number }>('hello');
      c.close();
      if (hello.pid === child.pid) return { pid: hello.pid, logPath: options.logPath };
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      throw new ToolstackError(
        'STATE',
        `the daemon did not answer on ${options.socketPath} within ${options.timeoutMs ?? 20_000} ms (see ${options.logPath})`,
      );
    }
    await new Promise<void>((resolve) => setTimeout(resolve, 50));
  }
}
