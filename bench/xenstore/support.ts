/**
 * Shared setup of the xenstore benchmarks: Typevisor's daemon (a child process) and the C
 * xenstored from Debian (through shared/tools/reference-xenstored), plus a minimal async
 * wire client with one request in flight, the way `bench-xenstore` measures.
 *
 * Like `bench-xenstore`, the client (this process) and every thread of both daemons are
 * pinned to one CPU (`XS_BENCH_CPU`, default 0; `XS_BENCH_NO_PIN=1` to measure unpinned).
 * Unpinned, a request/reply round trip costs a cross-CPU wake-up whose price depends on
 * where the scheduler happens to put the processes, and ratios swung from 0.1x to 10x
 * between runs on the shared 2-vCPU machine; pinned, they compare the CPU cost of the
 * daemons.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeMessage, MessageReader, type XsMessage } from '@typevisor/xenstore/wire';

const here = dirname(fileURLToPath(import.meta.url));
const REFERENCE = resolve(here, '../../../shared/tools/reference-xenstored/reference-xenstored');

/** Sockets of the two daemons. */
export interface Daemons {
  /** Typevisor's daemon socket. */
  tv: string;
  /** The C xenstored socket, or undefined if the reference tool is unavailable. */
  ref: string | undefined;
  /** Process ids of the two daemons (for their CPU time). */
  pids: { tv: number | undefined; ref: number | undefined };
}

/**
 * CPU time a process has used so far, all threads, user and kernel, in nanoseconds
 * (`/proc/<pid>/task/<tid>/schedstat`).
 */
export function cpuNs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread exited meanwhile.
    }
  }
  return ns;
}

let users = 0;
let state:
  | { daemons: Daemons; child: ChildProcess; dir: string; refDir: string | undefined }
  | undefined;

/** Starts both daemons (once for all suites in the process). */
export async function acquire(): Promise<Daemons> {
  users++;
  if (state !== undefined) return state.daemons;
  const dir = mkdtempSync('/tmp/xsb-');
  const tv = join(dir, 'tv.sock');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@typevisor/source', join(here, 'tv-daemon.ts'), tv],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((r) => child.stdout?.once('data', () => r()));
  let ref: string | undefined;
  let refDir: string | undefined;
  if (existsSync(REFERENCE)) {
    refDir = mkdtempSync('/tmp/xsbr-');
    const out = execFileSync(REFERENCE, ['start', '--dir', refDir], { encoding: 'utf8' });
    ref = /XENSTORED_PATH=(\S+)/.exec(out)?.[1];
  }
  const refPid =
    refDir === undefined ? undefined : Number(readFileSync(join(refDir, 'xenstored.pid'), 'utf8'));
  state = { daemons: { tv, ref, pids: { tv: child.pid, ref: refPid } }, child, dir, refDir };
  if (process.env.XS_BENCH_NO_PIN !== '1') {
    const cpu = process.env.XS_BENCH_CPU ?? '0';
    for (const pid of [process.pid, child.pid, refPid]) pin(pid, cpu);
  }
  return state.daemons;
}

/** Pins every thread of `pid` to `cpus` (a taskset list); best effort. */
function pin(pid: number | undefined, cpus: string): void {
  if (pid === undefined) return;
  spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

/** Stops the daemons once the last suite is done. */
export async function release(): Promise<void> {
  if (--users > 0 || state === undefined) return;
  const s = state;
  state = undefined;
  pin(process.pid, `0-${availableParallelism() - 1}`);
  s.child.kill('SIGTERM');
  await new Promise((r) => s.child.once('exit', r));
  if (s.refDir !== undefined) {
    spawnSync(REFERENCE, ['stop', '--dir', s.refDir], { stdio: 'ignore' });
    rmSync(s.refDir, { recursive: true, force: true });
  }
  rmSync(s.dir, { recursive: true, force: true });
}

/** A wire client that resolves each request's reply; watch events go to `onEvent`. */
export class BenchClient {
  private readonly socket: Socket;
  private readonly reader = new MessageReader();
  private readonly waiting: ((m: XsMessage) => void)[] = [];
  /** Called for every watch event. */
  onEvent: (m: XsMessage) => void = () => {};

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      this.reader.push(d, (m) => {
        if (m.type === 15) this.onEvent(m);
        else this.waiting.shift()?.(m);
      });
    });
  }

  /** Connects to a daemon socket. */
  static async open(path: string): Promise<BenchClient> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await new Promise<BenchClient>((res, rej) => {
          const s = connect(path, () => res(new BenchClient(s)));
          s.once('error', rej);
        });
      } catch (err) {
        // The C daemon's listen backlog is short; back off as libxenstore users would retry.
        if ((err as { code?: string }).code !== 'EAGAIN' || attempt > 100) throw err;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  }

  /** Sends a request and resolves with its reply. */
  request(type: number, payload: Uint8Array, txId = 0): Promise<XsMessage> {
    return new Promise((res) => {
      this.waiting.push(res);
      this.socket.write(encodeMessage({ type, reqId: 0, txId, payload }));
    });
  }

  /** Sends without waiting (for pipelining). */
  send(type: number, payload: Uint8Array, txId = 0): Promise<XsMessage> {
    return this.request(type, payload, txId);
  }

  /** Closes the connection. */
  close(): void {
    this.socket.destroy();
  }
}

/** `path\0` or `path\0value` as bytes. */
export function arg(path: string, value?: string): Uint8Array {
  return Buffer.from(value === undefined ? `${path}\0` : `${path}\0${value}`, 'latin1');
}
