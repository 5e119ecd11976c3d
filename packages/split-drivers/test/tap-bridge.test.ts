/**
 * The bridge connected to a host TAP device inside a network namespace the test creates: the
 * Linux network stack on one side, a netfront guest (through netback and the learning bridge)
 * on the other. socat moves frames between the TAP device and a UDP socket, one datagram per
 * frame; Node cannot open a TAP device itself (it needs an ioctl).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NETIF_RSP } from '../src/index.ts';
import { type Guest, mac, network } from './net-rig.ts';
import { ipFrame, macBytes } from './packets.ts';

const NS = `tvsd${process.pid}`;
const TAP = `tvsd${process.pid % 100000}`;
const haveSocat = spawnSync('socat', ['-V']).status === 0;
const canNetns = (() => {
  if (spawnSync('ip', ['netns', 'add', `${NS}p`]).status !== 0) return false;
  spawnSync('ip', ['netns', 'del', `${NS}p`]);
  return true;
})();
const HOST_IP = [10, 9, 0, 1];
const GUEST_IP = [10, 9, 0, 2];

function run(args: string[]): void {
  const r = spawnSync(args[0] as string, args.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
}

/** Runs a command to completion without blocking the event loop (the guest must keep answering). */
function runAsync(args: string[]): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(args[0] as string, args.slice(1));
    let out = '';
    p.stdout.on('data', (d) => {
      out += String(d);
    });
    p.stderr.on('data', (d) => {
      out += String(d);
    });
    p.on('close', (status) => resolve({ status, out }));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function ipSum(b: Uint8Array, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i += 2) s += ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

const same = (b: Uint8Array, at: number, want: number[]) => want.every((x, i) => b[at + i] === x);

/** A minimal IPv4 host in the guest: answers ARP for its address and ICMP echo requests. */
function guestStack(g: Guest, seen: (f: Uint8Array) => void): (f: Uint8Array) => void {
  const me = macBytes(mac(g.domid));
  return (f) => {
    seen(f);
    const type = ((f[12] ?? 0) << 8) | (f[13] ?? 0);
    if (type === 0x0806 && f[21] === 1 && same(f, 38, GUEST_IP)) {
      const r = new Uint8Array(42);
      r.set(f.subarray(6, 12), 0);
      r.set(me, 6);
      r.set([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2], 12);
      r.set(me, 22);
      r.set(GUEST_IP, 28);
      r.set(f.subarray(22, 32), 32); // their MAC and IP
      void g.front.send(r);
    } else if (type === 0x0800 && f[23] === 1 && same(f, 30, GUEST_IP) && f[34] === 8) {
      const ihl = ((f[14] ?? 0) & 15) * 4;
      const total = ((f[16] ?? 0) << 8) | (f[17] ?? 0);
      const r = f.slice(0, 14 + total);
      r.set(f.subarray(6, 12), 0);
      r.set(me, 6);
      r.set(f.subarray(30, 34), 26); // swap addresses
      r.set(f.subarray(26, 30), 30);
      r[24] = 0;
      r[25] = 0;
      const hs = ipSum(r, 14, 14 + ihl);
      r[24] = hs >> 8;
      r[25] = hs & 0xff;
      const icmp = 14 + ihl;
      r[icmp] = 0; // echo reply
      r[icmp + 2] = 0;
      r[icmp + 3] = 0;
      const cs = ipSum(r, icmp, 14 + total);
      r[icmp + 2] = cs >> 8;
      r[icmp + 3] = cs & 0xff;
      void g.front.send(r);
    }
  };
}

describe.skipIf(!canNetns || (!haveSocat && !process.env.CI))(
  'the bridge on a host TAP device in a network namespace',
  () => {
    let socat: ChildProcess | undefined;
    let sock: Socket | undefined;
    let n: Awaited<ReturnType<typeof network>>;
    let guest: Guest;
    const frames: Uint8Array[] = [];
    let hostMac: number[] = [];

    beforeAll(async () => {
      run(['ip', 'netns', 'add', NS]);
      const nodePort = await freePort();
      const socatPort = await freePort();
      const s = createSocket('udp4');
      sock = s;
      await new Promise<void>((resolve) => s.bind(nodePort, '127.0.0.1', resolve));
      socat = spawn('socat', [
        `TUN,tun-type=tap,tun-name=${TAP},iff-no-pi,iff-up`,
        `UDP-DATAGRAM:127.0.0.1:${nodePort},bind=127.0.0.1:${socatPort}`,
      ]);
      for (let i = 0; spawnSync('ip', ['link', 'show', TAP]).status !== 0; i++) {
        if (i > 100) throw new Error('socat did not create the TAP device');
        await new Promise((r) => setTimeout(r, 20));
      }
      run(['ip', 'link', 'set', TAP, 'netns', NS]);
      run(['ip', 'netns', 'exec', NS, 'ip', 'addr', 'add', '10.9.0.1/24', 'dev', TAP]);
      run(['ip', 'netns', 'exec', NS, 'ip', 'link', 'set', TAP, 'up']);
      const link = spawnSync('ip', ['netns', 'exec', NS, 'ip', 'link', 'show', TAP], {
        encoding: 'utf8',
      }).stdout;
      hostMac = macBytes(/link\/ether ([0-9a-f:]{17})/.exec(link)?.[1] ?? '00:00:00:00:00:00');

      n = await network();
      const hostPort = n.bridge.addPort({
        name: TAP,
        deliver: (f) => {
          s.send(f, socatPort, '127.0.0.1');
          return true;
        },
      });
      s.on('message', (msg) => n.bridge.transmit(hostPort, new Uint8Array(msg)));
      let handle: (f: Uint8Array) => void = () => {};
      guest = await n.addGuest(5, { onFrame: (f) => handle(f) });
      handle = guestStack(guest, (f) => frames.push(f));
    });

    afterAll(() => {
      socat?.kill();
      sock?.close();
      spawnSync('ip', ['netns', 'del', NS]);
    });

    it('answers Linux ping through netfront, netback and the bridge', async () => {
      const r = await runAsync([
        'ip',
        'netns',
        'exec',
        NS,
        'ping',
        '-c',
        '3',
        '-W',
        '2',
        '10.9.0.2',
      ]);
      expect(r.out).toContain('3 received');
      expect(r.status).toBe(0);
      expect(guest.back.metrics.txPackets).toBeGreaterThanOrEqual(4); // ARP reply + 3 echo replies
    });

    it('delivers UDP whose checksum netback completed, while Linux drops a corrupt one', async () => {
      const recv = spawn('ip', ['netns', 'exec', NS, 'socat', '-u', 'UDP-RECV:5555', 'STDOUT']);
      let got = '';
      recv.stdout.on('data', (d) => {
        got += String(d);
      });
      const udp = (text: string, checksum: number) => {
        const f = ipFrame({
          dst: hostMac.map((b) => b.toString(16).padStart(2, '0')).join(':'),
          src: mac(5),
          ip: 4,
          proto: 'udp',
          payload: new TextEncoder().encode(text),
          checksumField: checksum,
        });
        f.set(GUEST_IP, 26);
        f.set(HOST_IP, 30);
        f[24] = 0;
        f[25] = 0;
        const hs = ipSum(f, 14, 34);
        f[24] = hs >> 8;
        f[25] = hs & 0xff;
        f[36] = 5555 >> 8; // destination port
        f[37] = 5555 & 0xff;
        return f;
      };
      try {
        for (let i = 0; i < 50 && !got.includes('offloaded'); i++) {
          expect(await guest.front.send(udp('corrupt\n', 0x1234))).toBe(NETIF_RSP.NETIF_RSP_OKAY);
          const st = await guest.front.send(udp('offloaded\n', 0xbeef), { checksumBlank: true });
          expect(st).toBe(NETIF_RSP.NETIF_RSP_OKAY);
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        recv.kill();
      }
      expect(got).toContain('offloaded');
      expect(got).not.toContain('corrupt');
    });
  },
);
