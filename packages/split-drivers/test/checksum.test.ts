import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { completeTransportChecksum } from '../src/index.ts';
import { type IpFrameSpec, ipFrame, pcap } from './packets.ts';

const haveTcpdump = spawnSync('tcpdump', ['--version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'split-drivers-csum-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** tcpdump's verdict on each transport checksum in `frames`: counts of good and bad. */
function tcpdumpVerdicts(frames: readonly Uint8Array[]): { good: number; bad: number } {
  const file = join(dir, `f-${Math.random().toString(36).slice(2)}.pcap`);
  writeFileSync(file, pcap(frames));
  const r = spawnSync('tcpdump', ['-vv', '-n', '-r', file], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  const out = r.stdout;
  return {
    good: (out.match(/cksum 0x[0-9a-f]+ \(correct\)|\[udp sum ok\]/g) ?? []).length,
    bad: (out.match(/\(incorrect -> |\[bad udp cksum/g) ?? []).length,
  };
}

const spec: fc.Arbitrary<IpFrameSpec> = fc.record({
  dst: fc.constant('00:16:3e:00:00:02'),
  src: fc.constant('00:16:3e:00:00:01'),
  ip: fc.constantFrom(4 as const, 6 as const),
  proto: fc.constantFrom('tcp' as const, 'udp' as const),
  payload: fc.uint8Array({ maxLength: 1400 }),
  checksumField: fc.integer({ min: 0, max: 0xffff }),
  vlan: fc.option(fc.integer({ min: 1, max: 4094 }), { nil: undefined }),
});

describe.skipIf(!haveTcpdump && !process.env.CI)('checksum offload against tcpdump', () => {
  it('fills TCP and UDP checksums over IPv4 and IPv6 that tcpdump verifies (property)', () => {
    const specs = fc.sample(spec, { numRuns: 300, seed: 7 });
    const frames = specs.map((s) => {
      const f = ipFrame(s);
      expect(completeTransportChecksum(f)).toBe(true);
      return f;
    });
    expect(tcpdumpVerdicts(frames)).toEqual({ good: frames.length, bad: 0 });
  });

  it('is checked by a tcpdump that does report wrong checksums', () => {
    const frames = (['tcp', 'udp'] as const).flatMap((proto) =>
      ([4, 6] as const).map((ip) =>
        ipFrame({
          dst: '00:16:3e:00:00:02',
          src: '00:16:3e:00:00:01',
          ip,
          proto,
          payload: new Uint8Array([1, 2, 3]),
          checksumField: 0xbeef,
        }),
      ),
    );
    expect(tcpdumpVerdicts(frames)).toEqual({ good: 0, bad: 4 });
  });
});

describe('checksum completion on guest-controlled frames', () => {
  const base = (over: Partial<IpFrameSpec> = {}) =>
    ipFrame({
      dst: '00:16:3e:00:00:02',
      src: '00:16:3e:00:00:01',
      ip: 4,
      proto: 'udp',
      payload: new Uint8Array(10),
      checksumField: 0x1111,
      ...over,
    });

  it('refuses fragments, truncated packets and other protocols, leaving the frame untouched', () => {
    const cases: Uint8Array[] = [];
    const frag = base();
    frag[14 + 6] = 0x20; // more fragments
    cases.push(frag);
    const later = base();
    later[14 + 7] = 1; // fragment offset 8
    cases.push(later);
    const long = base();
    long[14 + 3] = (long[14 + 3] ?? 0) + 1; // IPv4 total length beyond the frame
    cases.push(long);
    const icmp = base();
    icmp[14 + 9] = 1;
    cases.push(icmp);
    const shortUdp = base({ payload: new Uint8Array(0) });
    shortUdp[14 + 3] = 20 + 7; // a UDP "segment" shorter than its header
    cases.push(shortUdp.subarray(0, 14 + 27));
    const shortTcp = base({ proto: 'tcp', ip: 6, payload: new Uint8Array(0) });
    shortTcp[14 + 5] = 19; // IPv6 payload shorter than a TCP header
    cases.push(shortTcp);
    const arp = base();
    arp[12] = 0x08;
    arp[13] = 0x06;
    cases.push(arp);
    cases.push(base().subarray(0, 30)); // IPv4 header cut off
    cases.push(base({ ip: 6 }).subarray(0, 50)); // IPv6 header cut off
    for (const f of cases) {
      const before = f.slice();
      expect(completeTransportChecksum(f)).toBe(false);
      expect(f).toEqual(before);
    }
  });

  it('writes 0xffff for a UDP checksum that sums to zero', () => {
    // With a zero payload word the checksum is c = ~S; putting c in that word makes the sum
    // 0xffff, whose complement 0 must go out as 0xffff (RFC 768).
    const probe = base({ payload: new Uint8Array(2) });
    expect(completeTransportChecksum(probe)).toBe(true);
    const c = ((probe[14 + 20 + 6] ?? 0) << 8) | (probe[14 + 20 + 7] ?? 0);
    const f = base({ payload: new Uint8Array([c >> 8, c & 0xff]) });
    expect(completeTransportChecksum(f)).toBe(true);
    expect([f[14 + 20 + 6], f[14 + 20 + 7]]).toEqual([0xff, 0xff]);
    const tcp = base({ proto: 'tcp', payload: new Uint8Array(2) });
    expect(completeTransportChecksum(tcp)).toBe(true);
  });

  it('never throws on arbitrary bytes and changes at most the two checksum bytes (property)', () => {
    const mutated = fc
      .tuple(spec, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }))
      .map(([s, edits]) => {
        const f = ipFrame(s);
        for (const [at, v] of edits) f[at % f.length] = v;
        return f;
      });
    fc.assert(
      fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 200 })), (f) => {
        const before = f.slice();
        const ok = completeTransportChecksum(f);
        const changed: number[] = [];
        for (let i = 0; i < f.length; i++) if (f[i] !== before[i]) changed.push(i);
        if (!ok) expect(changed).toEqual([]);
        expect(changed.length).toBeLessThanOrEqual(2);
        if (changed.length === 2) expect((changed[1] ?? 0) - (changed[0] ?? 0)).toBe(1);
      }),
      { numRuns: 2000 },
    );
  });
});
