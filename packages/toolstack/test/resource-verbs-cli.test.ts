import { describe, expect, it } from 'vitest';
import {
  type CliIo,
  EXIT_USAGE,
  formatNetworkList,
  formatTop,
  runCli,
  type TopSnapshot,
} from '../src/index.ts';

function capture(): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    // No daemon answers here: every check below must fail before connecting.
    env: { TYPEVISOR_SOCKET: '/nonexistent/typevisor.sock' },
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

async function tv(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = capture();
  const code = await runCli(args, io);
  return { code, out: io.out, err: io.err };
}

describe('the resource verbs check their arguments before asking the daemon', () => {
  it("mem-set and mem-max reject sizes xl's parser rejects, with xl's message", async () => {
    expect(await tv('mem-set', 'g', '10x')).toEqual({
      code: 1,
      out: '',
      err: 'invalid memory size: 10x\n',
    });
    expect((await tv('mem-max', 'g', '1kb')).err).toBe('invalid memory size: 1kb\n');
    expect((await tv('mem-set', 'g')).code).toBe(EXIT_USAGE);
  });

  it("sched-credit and sched-sedf refuse xl's invalid combinations", async () => {
    expect((await tv('sched-credit', '-c', '10')).err).toBe('Must specify a domain.\n');
    expect((await tv('sched-credit', '-p', 'Pool-0', '-d', 'g')).err).toBe(
      'Specifying a cpupool or schedparam is not allowed with domain options.\n',
    );
    expect((await tv('sched-sedf', '-c', 'Pool-0', '-d', 'g')).err).toBe(
      'Specifying a cpupool is not allowed with other options.\n',
    );
    expect((await tv('sched-credit', '-d', 'g', '-w', '1.5')).code).toBe(EXIT_USAGE);
  });

  it('daemon --sched accepts only credit and sedf', async () => {
    const r = await tv('daemon', '--sched', 'rtds');
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.err).toMatch(/--sched must be credit or sedf, got "rtds"/);
  });

  it('top rejects a zero iteration count and a bad delay', async () => {
    expect((await tv('top', '-b', '-i', '0')).code).toBe(EXIT_USAGE);
    expect((await tv('top', '-b', '-d', 'soon')).code).toBe(EXIT_USAGE);
  });
});

describe("top's and network-list's tables", () => {
  const row = {
    name: 'web',
    domid: 3,
    state: '--b---',
    cpuSec: 2,
    memKiB: 262144,
    maxMemKiB: 263168,
    vcpus: 1,
    nets: 1,
    netTxKiB: 10,
    netRxKiB: 20,
    vbds: 1,
    vbdOo: 0,
    vbdRd: 5,
    vbdWr: 6,
    vbdRsect: 40,
    vbdWsect: 48,
  };
  const snap = (ns: number, cpuSec: number): TopSnapshot => ({
    systemTimeNs: ns,
    totalKiB: 1048576,
    freeKiB: 524288,
    cpus: 1,
    rows: [{ ...row, cpuSec }],
  });

  it('CPU(%) is the CPU time over the system time between two snapshots', () => {
    const first = formatTop(snap(1e9, 2), undefined).split('\n');
    expect(first[1]).toBe(
      '       web --b---          2    0.0     262144   25.0     263168      25.1     1    1       10       20    1        0        5        6         40         48    0',
    );
    const second = formatTop(snap(3e9, 2.5), snap(1e9, 2)).split('\n')[1] ?? '';
    expect(second.trim().split(/\s+/)[3]).toBe('25.0'); // 0.5 s of CPU in 2 s
  });

  it("network-list prints xl's columns", () => {
    expect(
      formatNetworkList([
        {
          idx: 0,
          backendId: 0,
          mac: '00:16:3e:00:00:01',
          handle: 0,
          state: 4,
          evtch: 9,
          txRingRef: 768,
          rxRingRef: 769,
          backendPath: '/local/domain/0/backend/vif/1/0',
        },
      ]),
    ).toBe(
      [
        'Idx BE Mac Addr.         handle state evt-ch   tx-/rx-ring-ref BE-path                       ',
        '0   0  00:16:3e:00:00:01     0     4      9   768/769         /local/domain/0/backend/vif/1/0',
        '',
      ].join('\n'),
    );
  });
});
