/**
 * `typevisor` verbs as an async function: what scripts and examples use to drive a daemon
 * in-process, with the same parsing, messages and exit statuses as the command line.
 */
import { ToolstackError } from '../errors.ts';
import { runCli } from './main.ts';

/** Options of {@link runVerb}. */
export interface RunVerbOptions {
  /**
   * Environment the verb sees (default: this process's). `TYPEVISOR_SOCKET` names the
   * daemon's control socket.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Directory relative paths (config files, save images) resolve against (default: cwd). */
  readonly cwd?: string;
  /** Receives the verb's standard error as it is written (default: collected for the error). */
  readonly stderr?: (text: string) => void;
}

/**
 * Runs one `typevisor` verb in this process (`runVerb(['list'], { env })`) and resolves to
 * what it wrote on standard output. A non-zero exit status rejects with a
 * {@link ToolstackError} (`USAGE` for status 2, `STATE` otherwise) whose message is the verb's
 * own error line.
 *
 * @example
 * ```ts
 * const listing = await runVerb(['list'], { env: { TYPEVISOR_SOCKET: '/tmp/tv/typevisor.sock' } });
 * ```
 */
export async function runVerb(
  args: readonly string[],
  options: RunVerbOptions = {},
): Promise<string> {
  let out = '';
  let err = '';
  const status = await runCli(args, {
    stdout: (t) => {
      out += t;
    },
    stderr: (t) => {
      err += t;
      options.stderr?.(t);
    },
    env: options.env ?? process.env,
    cwd: options.cwd ?? process.cwd(),
  });
  if (status !== 0) {
    const why = err.trim().split('\n')[0] ?? '';
    throw new ToolstackError(
      status === 2 ? 'USAGE' : 'STATE',
      `typevisor ${args.join(' ')} exited with status ${status}${why === '' ? '' : `: ${why}`}`,
    );
  }
  return out;
}
