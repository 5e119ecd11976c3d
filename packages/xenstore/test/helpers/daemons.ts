/** Starting the two daemons under test: the reference C xenstored and Typevisor's, in-process. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { XenstoreServer, type XenstoreServerOptions } from '../../src/node/server.ts';
import { Xenstore, type XenstoreOptions } from '../../src/xenstore.ts';

export const REFERENCE_TOOL = resolve(
  __dirname,
  '../../../../../shared/tools/reference-xenstored/reference-xenstored',
);

export const haveReference: boolean =
  existsSync(REFERENCE_TOOL) &&
  spawnSync('sh', ['-c', 'command -v gcc && command -v apt-get'], { stdio: 'ignore' }).status === 0;

export function haveTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

export interface Daemon {
  socket: string;
  stop(): Promise<void>;
}

/** Starts the reference C xenstored in a fresh short directory. */
export function startReference(args: readonly string[] = []): Daemon {
  const dir = mkdtempSync('/tmp/xsr-');
  const out = execFileSync(
    REFERENCE_TOOL,
    ['start', '--dir', dir, ...(args.length ? ['--', ...args] : [])],
    {
      encoding: 'utf8',
      timeout: 240_000,
    },
  );
  const m = /XENSTORED_PATH=(\S+)/.exec(out);
  if (!m) throw new Error(`reference-xenstored did not start: ${out}`);
  return {
    socket: m[1] as string,
    async stop() {
      spawnSync(REFERENCE_TOOL, ['stop', '--dir', dir], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts Typevisor's daemon in-process on a fresh socket. */
export async function startTypevisor(
  options: XenstoreOptions = {},
  serverOptions: Partial<XenstoreServerOptions> = {},
): Promise<Daemon & { xs: Xenstore; server: XenstoreServer }> {
  const dir = mkdtempSync(join(tmpdir(), 'xst-'));
  const socket = join(dir, 'socket');
  const xs = new Xenstore(options);
  const server = new XenstoreServer({ ...serverOptions, socketPath: socket, xenstore: xs });
  await server.listen();
  return {
    socket,
    xs,
    server,
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
