/** Test helpers: Ethernet/IPv4/IPv6/TCP/UDP frames and pcap files (tcpdump reads them). */

/** Bytes of a MAC written `aa:bb:cc:dd:ee:ff`. */
export function macBytes(mac: string): number[] {
  return mac.split(':').map((x) => Number.parseInt(x, 16));
}

/** What {@link ipFrame} builds. */
export interface IpFrameSpec {
  readonly dst: string;
  readonly src: string;
  readonly ip: 4 | 6;
  readonly proto: 'tcp' | 'udp';
  readonly payload: Uint8Array;
  /** Value left in the checksum field (a guest using offload leaves garbage or a partial sum). */
  readonly checksumField?: number;
  /** 802.1Q tag to insert. */
  readonly vlan?: number | undefined;
}

/**
 * An Ethernet frame carrying a TCP or UDP segment over IPv4 (10.0.0.1 → 10.0.0.2, with a valid
 * header checksum) or IPv6 (fd00::1 → fd00::2), ports 1234 → 5678, transport checksum left as
 * `checksumField`.
 */
export function ipFrame(spec: IpFrameSpec): Uint8Array {
  const l4hdr = spec.proto === 'tcp' ? 20 : 8;
  const l4len = l4hdr + spec.payload.length;
  const l3hdr = spec.ip === 4 ? 20 : 40;
  const eth = spec.vlan === undefined ? 14 : 18;
  const f = new Uint8Array(eth + l3hdr + l4len);
  const v = new DataView(f.buffer);
  f.set(macBytes(spec.dst), 0);
  f.set(macBytes(spec.src), 6);
  if (spec.vlan !== undefined) {
    v.setUint16(12, 0x8100);
    v.setUint16(14, spec.vlan);
  }
  const l3 = eth;
  v.setUint16(l3 - 2, spec.ip === 4 ? 0x0800 : 0x86dd);
  const proto = spec.proto === 'tcp' ? 6 : 17;
  if (spec.ip === 4) {
    f[l3] = 0x45;
    v.setUint16(l3 + 2, l3hdr + l4len);
    v.setUint16(l3 + 4, 0x1234); // id
    v.setUint16(l3 + 6, 0x4000); // DF
    f[l3 + 8] = 64;
    f[l3 + 9] = proto;
    f.set([10, 0, 0, 1, 10, 0, 0, 2], l3 + 12);
    let s = 0;
    for (let i = 0; i < 20; i += 2) s += v.getUint16(l3 + i);
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    v.setUint16(l3 + 10, ~s & 0xffff);
  } else {
    f[l3] = 0x60;
    v.setUint16(l3 + 4, l4len);
    f[l3 + 6] = proto;
    f[l3 + 7] = 64;
    f.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], l3 + 8);
    f.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], l3 + 24);
  }
  const l4 = l3 + l3hdr;
  v.setUint16(l4, 1234);
  v.setUint16(l4 + 2, 5678);
  if (spec.proto === 'tcp') {
    v.setUint32(l4 + 4, 1000);
    v.setUint32(l4 + 8, 2000);
    f[l4 + 12] = 0x50; // data offset 5 words
    f[l4 + 13] = 0x18; // PSH, ACK
    v.setUint16(l4 + 14, 65535);
    v.setUint16(l4 + 16, spec.checksumField ?? 0);
  } else {
    v.setUint16(l4 + 4, l4len);
    v.setUint16(l4 + 6, spec.checksumField ?? 0);
  }
  f.set(spec.payload, l4 + l4hdr);
  return f;
}

/** A classic pcap file (link type Ethernet) holding `frames`. */
export function pcap(frames: readonly Uint8Array[]): Uint8Array {
  const size = 24 + frames.reduce((n, f) => n + 16 + f.length, 0);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0xa1b2c3d4, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setUint32(16, 262144, true);
  v.setUint32(20, 1, true); // LINKTYPE_ETHERNET
  let at = 24;
  frames.forEach((f, i) => {
    v.setUint32(at, i, true);
    v.setUint32(at + 8, f.length, true);
    v.setUint32(at + 12, f.length, true);
    out.set(f, at + 16);
    at += 16 + f.length;
  });
  return out;
}
