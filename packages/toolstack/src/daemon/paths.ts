/**
 * Where the daemon's sockets and log live: `$TYPEVISOR_RUN_DIR`, else `/run/typevisor` when
 * that is writable, else `${os.tmpdir()}/typevisor-<uid>`.
 * @module
 */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The system-wide run directory, used when it is writable. */
export const SYSTEM_RUN_DIR = '/run/typevisor';

/** Environment variables the paths depend on. */
export type PathEnv = Readonly<Record<string, string | undefined>>;

function writable(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The run directory for `env` (created if missing). */
export function runDir(env: PathEnv): string {
  const fromEnv = env.TYPEVISOR_RUN_DIR;
  if (fromEnv !== undefined && fromEnv !== '') {
    mkdirSync(fromEnv, { recursive: true, mode: 0o700 });
    return fromEnv;
  }
  if (writable(SYSTEM_RUN_DIR)) return SYSTEM_RUN_DIR;
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const dir = join(tmpdir(), `typevisor-${uid}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** The control socket: `$TYPEVISOR_SOCKET`, else `<run dir>/typevisor.sock`. */
export function controlSocketPath(env: PathEnv): string {
  const s = env.TYPEVISOR_SOCKET;
  return s !== undefined && s !== '' ? s : join(runDir(env), 'typevisor.sock');
}

/** The daemon's xenstored socket by default: `<run dir>/xenstored.sock`. */
export function xenstoredSocketPath(env: PathEnv): string {
  return join(runDir(env), 'xenstored.sock');
}

/** The log of a detached daemon by default: `<run dir>/typevisor.log`. */
export function daemonLogPath(env: PathEnv): string {
  return join(runDir(env), 'typevisor.log');
}
