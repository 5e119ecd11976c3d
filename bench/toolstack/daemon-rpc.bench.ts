/**
 * Round trips on the daemon's control socket: what one xl verb costs beyond process start.
 * `hello` and `list` go through the JSON-lines protocol, the dispatcher and (for `list`) the
 * Host's domain table; the peer is a bare unix-socket echo of a line of the same size, the
 * floor any request/reply protocol on this transport pays.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DaemonClient, TypevisorDaemon } from '@typevisor/toolstack';
import { defineSuite } from '../harness.ts';

let dir = '';
let daemon: TypevisorDaemon | undefined;
let client: DaemonClient | undefined;
let echo: Server | undefined;
let echoSocket: Socket | undefined;
let echoWaiter: (() => void) | undefined;

const LINE = `${JSON.stringify({ v: 1, id: 1, method: 'hello', params: {} })}\n`;

function echoOnce(): Promise<void> {
  return new Promise((resolve) => {
    echoWaiter = resolve;
    echoSocket?.write(LINE);
  });
}

export default defineSuite({
  name: 'toolstack/daemon-rpc',
  description:
    'Control-socket round trips per second against an in-process daemon (virtual time, no domains): `hello`, `list`, and a bare unix-socket line echo as the transport floor. Higher is better.',
  unit: 'round trips/s',
  setup: async () => {
    dir = mkdtempSync(join(tmpdir(), 'tv-bench-rpc-'));
    daemon = await TypevisorDaemon.start({ socketPath: join(dir, 'tv.sock'), time: 'virtual' });
    client = await DaemonClient.connect(join(dir, 'tv.sock'));
    echo = createServer((s) => {
      s.setEncoding('utf8');
      s.on('data', (d: string) => s.write(d));
    });
    const echoPath = join(dir, 'echo.sock');
    await new Promise<void>((resolve) => echo?.listen(echoPath, resolve));
    echoSocket = connect(echoPath);
    let got = '';
    echoSocket.setEncoding('utf8');
    echoSocket.on('data', (d: string) => {
      got += d;
      if (got.endsWith('\n')) {
        got = '';
        echoWaiter?.();
      }
    });
    await new Promise<void>((resolve) => echoSocket?.once('connect', () => resolve()));
  },
  teardown: async () => {
    client?.close();
    echoSocket?.destroy();
    await new Promise<void>((resolve) => (echo ? echo.close(() => resolve()) : resolve()));
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  },
  cases: [
    {
      name: 'hello',
      run: async (iters) => {
        let sum = 0;
        for (let i = 0; i < iters; i++)
          sum += (await (client as DaemonClient).call<{ pid: number }>('hello')).pid & 1;
        return sum;
      },
    },
    {
      name: 'list',
      run: async (iters) => {
        let sum = 0;
        for (let i = 0; i < iters; i++)
          sum += (await (client as DaemonClient).call<unknown[]>('list')).length;
        return sum;
      },
    },
    {
      name: 'unix-socket line echo',
      peer: true,
      run: async (iters) => {
        for (let i = 0; i < iters; i++) await echoOnce();
        return iters;
      },
    },
  ],
});
